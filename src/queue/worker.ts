/**
 * Runs queue handlers. `start()` keeps up to `concurrency` jobs in flight and sleeps between claims until
 * `notify()`, a handler finishing, or a timer set to the next due job / lease expiry, with a slow fallback poll
 * for jobs enqueued by other processes. Handlers must finish well within `leaseMs`: past it, the job is
 * claimable again (at-least-once), and this worker's late completion is refused.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { invalidArgument, VigilError } from '../core/errors.js';
import type { Job, JobQueue } from './types.js';

const MIN_SLEEP_MS = 25;

export type JobHandler = (job: Job) => Promise<void>;

export interface QueueWorkerOptions {
  queue: JobQueue;
  /** Queue name → handler; the worker claims from exactly these queues. */
  handlers: Record<string, JobHandler>;
  /** Default 4. */
  concurrency?: number;
  /** Default 60 s. */
  leaseMs?: number;
  /** Default `<host>:<pid>:<random>`: unique per worker, so a restarted process never inherits old leases. */
  workerId?: string;
  now?: () => number;
  /** Longest sleep when nothing is due (catches other processes' enqueues); default 5 s. */
  pollMs?: number;
  /** A handler threw (the job is retried or dead-lettered), or a stale completion/failure was refused. */
  onError?: (job: Job, err: unknown) => void;
  /** A job reached 'dead' through this worker. */
  onDead?: (job: Job) => void;
  /** Claiming itself failed (e.g. the DB is locked); the loop retries after `pollMs`. */
  onLoopError?: (err: unknown) => void;
}

/** Marks an error so the worker dead-letters the job at once instead of retrying it. */
export function permanentError<E extends Error>(err: E): E & { permanent: true } {
  return Object.assign(err, { permanent: true as const });
}

export function isPermanentError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { permanent?: unknown }).permanent === true;
}

/** An error carrying `retryAt` (epoch ms, e.g. from a Retry-After header) overrides the backoff. */
function retryAtOf(err: unknown): number | undefined {
  const t = typeof err === 'object' && err !== null ? (err as { retryAt?: unknown }).retryAt : undefined;
  return typeof t === 'number' && Number.isFinite(t) ? t : undefined;
}

function errorMessage(err: unknown): string {
  if (err instanceof VigilError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export class QueueWorker {
  readonly workerId: string;
  private readonly queue: JobQueue;
  private readonly handlers: Record<string, JobHandler>;
  private readonly queues: string[];
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;
  private readonly options: QueueWorkerOptions;
  private readonly inFlight = new Map<number, Promise<void>>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: QueueWorkerOptions) {
    this.options = options;
    this.queue = options.queue;
    this.handlers = options.handlers;
    this.queues = Object.keys(options.handlers);
    this.concurrency = options.concurrency ?? 4;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.pollMs = options.pollMs ?? 5_000;
    this.now = options.now ?? Date.now;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    if (!Number.isSafeInteger(this.concurrency) || this.concurrency < 1) throw invalidArgument('an integer >= 1', 'concurrency', this.concurrency);
    if (!Number.isFinite(this.leaseMs) || this.leaseMs <= 0) throw invalidArgument('a positive number of ms', 'leaseMs', this.leaseMs);
    if (!Number.isFinite(this.pollMs) || this.pollMs <= 0) throw invalidArgument('a positive number of ms', 'pollMs', this.pollMs);
    if (this.queues.length === 0) throw invalidArgument('at least one handler', 'handlers', '{}');
  }

  /** Claims what is due (up to the free slots) and runs it to the end; resolves to the number claimed. */
  async runOnce(): Promise<number> {
    const tasks = await this.claimFree();
    await Promise.all(tasks);
    return tasks.length;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Something was enqueued: claim now instead of at the next timer. */
  notify(): void {
    this.woken = true;
    this.wake?.();
  }

  /** Stops claiming and resolves once every in-flight handler has settled. */
  async stop(): Promise<void> {
    this.running = false;
    this.notify();
    await this.loop;
    this.loop = undefined;
    await Promise.all(this.inFlight.values());
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false;
      let delay: number | undefined;
      try {
        const claimed = await this.claimFree();
        const free = this.concurrency - this.inFlight.size;
        // A full pool waits for a handler to finish; otherwise everything due was taken, so sleep until the next.
        if (free > 0 && claimed.length === 0) {
          const due = await this.queue.nextDueAt(this.queues);
          // The floor keeps a clock skew between this worker and the queue from becoming a busy loop.
          delay = due === null ? this.pollMs : Math.min(Math.max(MIN_SLEEP_MS, due - this.now()), this.pollMs);
        } else if (free > 0) {
          continue;
        }
      } catch (err) {
        this.safely(() => this.options.onLoopError?.(err));
        delay = this.pollMs;
      }
      if (this.running && !this.woken) await this.sleep(delay);
    }
  }

  private sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        resolve();
      };
      if (ms !== undefined) this.timer = setTimeout(this.wake, ms);
    });
  }

  /** Starts the claimed jobs and returns their tasks (which never reject). */
  private async claimFree(): Promise<Promise<void>[]> {
    const free = this.concurrency - this.inFlight.size;
    if (free <= 0) return [];
    const claimed = await this.queue.claim(this.queues, { limit: free, leaseMs: this.leaseMs, workerId: this.workerId });
    const started: Promise<void>[] = [];
    for (const job of claimed) {
      // Our own job re-claimed after its lease ran out while its handler still runs: the claim renewed the
      // lease; running it a second time here would only duplicate the work.
      if (this.inFlight.has(job.id)) continue;
      const task = this.execute(job).finally(() => {
        this.inFlight.delete(job.id);
        this.notify();
      });
      this.inFlight.set(job.id, task);
      started.push(task);
    }
    return started;
  }

  private async execute(job: Job): Promise<void> {
    try {
      const handler = this.handlers[job.queue];
      if (!handler) throw permanentError(new VigilError('VIGIL_ERR_NOT_FOUND', `No handler for queue "${job.queue}"`));
      await handler(job);
    } catch (err) {
      this.safely(() => this.options.onError?.(job, err));
      try {
        const failed = await this.queue.fail(job.id, this.workerId, errorMessage(err), { permanent: isPermanentError(err), retryAt: retryAtOf(err) });
        if (failed.state === 'dead') this.safely(() => this.options.onDead?.(failed));
      } catch (failErr) {
        this.safely(() => this.options.onError?.(job, failErr));
      }
      return;
    }
    try {
      await this.queue.complete(job.id, this.workerId);
    } catch (err) {
      this.safely(() => this.options.onError?.(job, err));
    }
  }

  /** A throwing callback must not take the worker loop down with it. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch {
      // Deliberately dropped: callbacks are for observability only.
    }
  }
}
