/**
 * Hashes many files on all cores (piscina worker threads). Results come back in input order through a
 * bounded window, so memory stays constant whatever the number of files, and output is reproducible.
 */
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import { ItemBudget, type BudgetLimits } from '../core/budget.js';
import type { WalkEntry } from '../media/walk.js';
import { LaneScheduler } from './lanes.js';
import type { FileHashRecord, HashOptions } from './hash-file.js';

export interface HashPoolOptions extends HashOptions {
  /** Worker threads; default: one per core. */
  threads?: number;
  /** Per-item limits (pixels across frames, frames, wall time) for items hashed without their own budget. */
  budget?: Partial<BudgetLimits>;
  /**
   * 'by-cost' (the service): cheapest expected item first, and heavy items (animations, videos, huge
   * pictures) on at most all but one thread, so an ordinary upload never waits behind a burst of them
   * (lanes.ts). 'fifo' (default; batches, where only throughput counts): in order, on every thread.
   */
  schedule?: 'fifo' | 'by-cost';
  /**
   * Hash on the calling thread: for a single file, starting a worker costs more than the work (`vigil
   * hash one-file`). Blocks the event loop while hashing: not for a service.
   */
  inProcess?: boolean;
}

// Under tsx (tests, benchmarks) the sources are .ts; compiled, .js. Workers inherit tsx via execArgv.
const workerFile = new URL(import.meta.url.endsWith('.ts') ? './hash-worker.ts' : './hash-worker.js', import.meta.url);

/** Kept, not re-imported per file: see hash-file.ts (a repeated import() costs a resolve step each time). */
let inProcessHasher: Promise<typeof import('./hash-file.js')> | undefined;
/** Only the by-cost schedule needs it, and it loads the image decoder (sharp): `vigil hash one-file` must not. */
let costModel: Promise<typeof import('./expected-cost.js')> | undefined;

export class HashPool {
  /** Loaded on construction, never in process (piscina and a worker cost more to start than one file's work). */
  private pool: Promise<Piscina> | undefined;
  private heavyPool: Promise<Piscina> | undefined;
  private readonly lanes: LaneScheduler | undefined;
  readonly threads: number;

  constructor(readonly options: HashPoolOptions = {}) {
    this.threads = options.inProcess ? 1 : Math.max(1, options.threads ?? availableParallelism());
    // The scheduler hands piscina at most one item per thread, so piscina's own queue stays empty.
    this.lanes = options.schedule === 'by-cost' && !options.inProcess ? new LaneScheduler(this.threads) : undefined;
    // Workers start now (warm for the first file); a failure to start surfaces as each file's error.
    if (!options.inProcess) this.workers().catch(() => undefined);
  }

  private workers(): Promise<Piscina> {
    this.pool ??= import('piscina').then(({ Piscina }) => new Piscina({ filename: workerFile.href, minThreads: this.threads, maxThreads: this.threads, idleTimeout: 1000 }));
    return this.pool;
  }

  /**
   * Heavy items run on threads of their own that end a second after their last item: what a hostile
   * animation left in the thread (its V8 heap, buffers awaiting collection) goes back with it instead of
   * staying in a pool thread for good. The scheduler still counts them against `threads`.
   */
  private heavyWorkers(): Promise<Piscina> {
    const slots = this.lanes?.heavySlots ?? 1;
    this.heavyPool ??= import('piscina').then(({ Piscina }) => new Piscina({ filename: workerFile.href, minThreads: 0, maxThreads: slots, idleTimeout: 1000 }));
    return this.heavyPool;
  }

  /**
   * Never rejects: a crashed worker becomes a per-file VIGIL_ERR_INTERNAL record. `budget` (default: one
   * from the pool's limits, started now) bounds the item; cancelling it stops the worker's decoding at
   * its next step, or before it starts when the item is still queued.
   */
  async hash(path: string, budget: ItemBudget = new ItemBudget(this.options.budget)): Promise<FileHashRecord> {
    if (!this.lanes) return this.run(path, budget);
    const { expectedCost } = await (costModel ??= import('./expected-cost.js'));
    const cost = await expectedCost(path, budget.limits.pixels);
    return this.lanes.run(cost, () => this.run(path, budget, cost.heavy));
  }

  private run(path: string, budget: ItemBudget, heavy = false): Promise<FileHashRecord> {
    const { threads: _threads, budget: _limits, schedule: _schedule, inProcess, ...options } = this.options;
    // Several files at once keep the cores busy: ffmpeg's frame-threaded decoding would only add its own
    // overhead (2–7 % more CPU at 1 frame/s, docs/video.md). One file alone keeps ffmpeg's default.
    const hashOptions = !inProcess && this.threads > 1 && options.videoDecoderThreads === undefined ? { ...options, videoDecoderThreads: 1 } : options;
    const run = inProcess
      ? (inProcessHasher ??= import('./hash-file.js')).then(({ hashFile }) => hashFile(path, hashOptions, budget))
      : (heavy ? this.heavyWorkers() : this.workers()).then((pool) => pool.run({ path, options: hashOptions, budget: budget.toInit() }) as Promise<FileHashRecord>);
    return run.catch((err: unknown) => ({
      path,
      error: { code: 'VIGIL_ERR_INTERNAL' as const, message: `Hashing worker failed: ${(err as Error)?.message ?? String(err)}` },
    }));
  }

  /**
   * Hashes every file entry, passing walk errors through as error records, in input order.
   * At most `window` files are in flight or waiting to be emitted.
   */
  async *hashAll(entries: AsyncIterable<WalkEntry>, window = this.threads * 4): AsyncGenerator<FileHashRecord> {
    const pending: Promise<FileHashRecord>[] = [];
    for await (const entry of entries) {
      pending.push(
        entry.kind === 'file'
          ? this.hash(entry.path)
          : Promise.resolve({ path: entry.path, error: { code: entry.error.code, message: entry.error.message } }),
      );
      if (pending.length >= window) yield await pending.shift()!;
    }
    while (pending.length > 0) yield await pending.shift()!;
  }

  async close(): Promise<void> {
    await Promise.all([this.pool ? (await this.pool).destroy() : undefined, this.heavyPool ? (await this.heavyPool).destroy() : undefined]);
  }
}
