/**
 * Hashes many files on all cores (piscina worker threads). Results come back in input order through a
 * bounded window, so memory stays constant whatever the number of files, and output is reproducible.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { ItemBudget, type BudgetLimits } from '../core/budget.js';
import type { WalkEntry } from '../media/walk.js';
import { expectedCost } from './expected-cost.js';
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
}

// Under tsx (tests, benchmarks) the sources are .ts; compiled, .js. Workers inherit tsx via execArgv.
const workerFile = new URL(import.meta.url.endsWith('.ts') ? './hash-worker.ts' : './hash-worker.js', import.meta.url);

export class HashPool {
  private readonly pool: Piscina;
  private readonly lanes: LaneScheduler | undefined;
  private readonly heavyPool: Piscina | undefined;
  readonly threads: number;

  constructor(readonly options: HashPoolOptions = {}) {
    this.threads = Math.max(1, options.threads ?? availableParallelism());
    this.pool = new Piscina({ filename: workerFile.href, minThreads: this.threads, maxThreads: this.threads, idleTimeout: 1000 });
    // The scheduler hands piscina at most one item per thread, so piscina's own queue stays empty.
    this.lanes = options.schedule === 'by-cost' ? new LaneScheduler(this.threads) : undefined;
    // Heavy items run on threads of their own that end a second after their last item: what a hostile
    // animation left in the thread (its V8 heap, buffers awaiting collection) goes back with it instead of
    // staying in a pool thread for good. The scheduler still counts them against `threads`.
    this.heavyPool = this.lanes ? new Piscina({ filename: workerFile.href, minThreads: 0, maxThreads: this.lanes.heavySlots, idleTimeout: 1000 }) : undefined;
  }

  /**
   * Never rejects: a crashed worker becomes a per-file VIGIL_ERR_INTERNAL record. `budget` (default: one
   * from the pool's limits, started now) bounds the item; cancelling it stops the worker's decoding at
   * its next step, or before it starts when the item is still queued.
   */
  async hash(path: string, budget: ItemBudget = new ItemBudget(this.options.budget)): Promise<FileHashRecord> {
    if (!this.lanes) return this.run(path, budget);
    const cost = await expectedCost(path, budget.limits.pixels);
    return this.lanes.run(cost, () => this.run(path, budget, cost.heavy ? (this.heavyPool ?? this.pool) : this.pool));
  }

  private run(path: string, budget: ItemBudget, pool: Piscina = this.pool): Promise<FileHashRecord> {
    const { threads: _threads, budget: _limits, schedule: _schedule, ...hashOptions } = this.options;
    return (pool.run({ path, options: hashOptions, budget: budget.toInit() }) as Promise<FileHashRecord>).catch((err: unknown) => ({
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
    await Promise.all([this.pool.destroy(), this.heavyPool?.destroy()]);
  }
}
