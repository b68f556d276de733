/**
 * Hashing off the main thread: a pool of module workers the app sizes (default: hardware threads − 1, at
 * most 4), each taking one picture at a time, the rest queued. Where the runtime has no Web Workers (Node,
 * React Native's JS thread) or no worker URL is given, the pool hashes in the calling thread, so one API
 * works everywhere.
 */
import { hashHere, type HashInput, type HashOptions, type ImageHashes } from './hash.js';
import { web, type WorkerLike } from './web-types.js';

export interface HashPoolOptions {
  /** URL of the worker bundle (built from src/client/worker.ts). Without it the pool hashes inline. */
  workerUrl?: string | URL;
  /** Number of workers (default: navigator.hardwareConcurrency − 1, between 1 and 4). */
  size?: number;
  /** Hash in the calling thread even where workers exist (tests, tiny pictures). */
  inline?: boolean;
}

interface Job {
  input: HashInput;
  options: HashOptions;
  resolve: (r: ImageHashes) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: WorkerLike;
  job?: Job & { id: number };
}

export class HashPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  readonly inline: boolean;

  constructor(options: HashPoolOptions = {}) {
    const Worker = web.Worker;
    this.inline = options.inline === true || !options.workerUrl || typeof Worker !== 'function';
    if (this.inline) return;
    const cores = web.navigator?.hardwareConcurrency ?? 2;
    const size = Math.max(1, Math.floor(options.size ?? Math.min(4, Math.max(1, cores - 1))));
    for (let i = 0; i < size; i++) {
      const slot: Slot = { worker: new Worker!(options.workerUrl!, { type: 'module', name: `vigil-hash-${i}` }) };
      slot.worker.addEventListener('message', (event) => this.finish(slot, event.data as { id: number; result?: ImageHashes; error?: string }));
      slot.worker.addEventListener('error', (event) => this.fail(slot, event.message ?? 'The hashing worker failed'));
      this.slots.push(slot);
    }
  }

  get size(): number {
    return this.slots.length;
  }

  /** Hashes one picture (see HashInput); resolves with its hashes. */
  hash(input: HashInput, options: HashOptions = {}): Promise<ImageHashes> {
    if (this.closed) return Promise.reject(new Error('The hash pool is closed'));
    if (this.inline) return hashHere(input, options);
    return new Promise((resolve, reject) => {
      this.queue.push({ input, options, resolve, reject });
      this.pump();
    });
  }

  /** Stops the workers; queued pictures are refused. */
  close(): void {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('The hash pool is closed'));
    for (const slot of this.slots) {
      slot.job?.reject(new Error('The hash pool is closed'));
      slot.worker.terminate();
    }
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue;
      const job = { ...this.queue.shift()!, id: this.nextId++ };
      slot.job = job;
      // Blobs and ImageData are copied by structured clone (the caller keeps its own); ImageBitmaps must be
      // transferred to reach a worker at all, so they leave the caller.
      const transfer = isTransferable(job.input) ? [job.input] : [];
      slot.worker.postMessage({ id: job.id, input: job.input, options: job.options }, transfer);
    }
  }

  /** A worker that failed (its script did not load, or it crashed) is dropped; with none left, the queue is refused. */
  private fail(slot: Slot, message: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    slot.worker.terminate();
    slot.job?.reject(new Error(message));
    if (this.slots.length === 0) for (const job of this.queue.splice(0)) job.reject(new Error(`No hashing worker left: ${message}`));
    else this.pump();
  }

  private finish(slot: Slot, message: { id: number; result?: ImageHashes; error?: string }): void {
    const job = slot.job;
    if (!job || job.id !== message.id) return;
    slot.job = undefined;
    if (message.error !== undefined) job.reject(new Error(message.error));
    else job.resolve(message.result!);
    this.pump();
  }
}

function isTransferable(value: unknown): boolean {
  const B = web.ImageBitmap;
  return B !== undefined && value instanceof B;
}
