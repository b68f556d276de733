/**
 * Frame hashing on several cores. ffmpeg decodes in its own process; with every frame hashed
 * (secondsPerHash 0) PDQ in JavaScript becomes the bottleneck, and worker threads lift it. Frames
 * are moved (not copied) to the workers and features come back in frame order through a bounded
 * window, so memory stays a few frames per thread.
 *
 *   const pool = new VpdqHashPool({ threads: 4 });
 *   const { features } = await hashVideo(path, { secondsPerHash: 0, pool });
 *   await pool.close();
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { RgbFrame, VpdqFeature } from '../signals/vpdq/hasher.js';

// Under tsx (tests, benchmarks) the sources are .ts; compiled, .js. Workers inherit tsx via execArgv.
const workerFile = new URL(import.meta.url.endsWith('.ts') ? './vpdq-worker.ts' : './vpdq-worker.js', import.meta.url);

export interface VpdqHashPoolOptions {
  /** Worker threads; default one per core. */
  threads?: number;
}

export class VpdqHashPool {
  readonly threads: number;
  private readonly pool: Piscina;

  constructor(options: VpdqHashPoolOptions = {}) {
    this.threads = Math.max(1, options.threads ?? availableParallelism());
    this.pool = new Piscina({ filename: workerFile.href, minThreads: this.threads, maxThreads: this.threads, idleTimeout: 5000 });
  }

  /**
   * Features of the frames, in order. At most `window` frames are in flight. A frame whose pixels are
   * a whole ArrayBuffer is moved to a worker (detached here), so sources must not reuse buffers.
   */
  async *hash(frames: AsyncIterable<RgbFrame>, window = this.threads * 2): AsyncGenerator<VpdqFeature> {
    const pending: Promise<VpdqFeature>[] = [];
    try {
      for await (const frame of frames) {
        pending.push(this.hashOne(frame));
        if (pending.length >= window) yield await pending.shift()!;
      }
      while (pending.length > 0) yield await pending.shift()!;
    } finally {
      // Leave no rejected promise unobserved when the caller stops early or a frame fails.
      await Promise.allSettled(pending);
    }
  }

  private async hashOne(frame: RgbFrame): Promise<VpdqFeature> {
    const { width, height, frameNumber, timestamp } = frame;
    // Only a buffer the frame owns whole can be moved; a view into a larger one is copied.
    const owned = frame.data.byteOffset === 0 && frame.data.byteLength === frame.data.buffer.byteLength;
    const data = owned ? frame.data : frame.data.slice();
    const task = { data, width, height };
    const { hash, quality } = (await this.pool.run(task, { transferList: [data.buffer as ArrayBuffer] })) as { hash: Uint8Array; quality: number };
    return { hash, quality, timestamp, frameNumber };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
