/**
 * BullMQ side of the fleet: one BullMQ queue per outbox queue, the relay loop that feeds them, and the workers
 * that run Vigil's handlers. A BullMQ job carries only the outbox id: the handler reads the row (its payload)
 * from the database, skips it when already done, and marks it done there after the handler's effect committed.
 * Delivery is at-least-once (a worker killed mid-job loses its lock and another takes the job); effects are
 * exactly-once because each is recorded under an idempotency key (decisions on content+fingerprint, webhook
 * jobs on endpoint+event id), and every webhook repeats its `vigil-delivery-id` for receivers.
 */
import { Queue, UnrecoverableError, Worker, type Job as BullJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { SqlJobQueue } from '../queue/sql-queue.js';
import type { Job } from '../queue/types.js';
import { isPermanentError, type JobHandler } from '../queue/worker.js';
import type { VigilDatabase } from '../state/database.js';
import { markDead, markDone, OutboxRelay } from './relay.js';

export interface QueueMetrics {
  /** Waiting in BullMQ (wait + prioritized + delayed) plus outbox rows not yet relayed. */
  depth: number;
  active: number;
  /** Age of the oldest unfinished job (outbox or BullMQ), ms. */
  oldestAgeMs: number;
  /** Jobs BullMQ gave up on (kept a week) plus dead outbox rows. */
  failed: number;
  /** Outbox rows waiting for the relay. */
  unrelayed: number;
}

export interface FleetQueuesOptions {
  redis: Redis;
  prefix: string;
  names: readonly string[];
}

/** The BullMQ queues (producer side: relay, metrics, status). */
export class FleetQueues {
  readonly queues: Record<string, Queue>;
  constructor(private readonly o: FleetQueuesOptions) {
    this.queues = Object.fromEntries(o.names.map((n) => [n, new Queue(n, { connection: o.redis, prefix: o.prefix })]));
  }

  async metrics(db: VigilDatabase, now = Date.now()): Promise<Record<string, QueueMetrics>> {
    const { rows } = await sql<{ queue: string; unrelayed: number; oldest: number | null; dead: number }>`SELECT queue,
        SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS unrelayed,
        MIN(CASE WHEN state IN ('pending', 'running') THEN created_at END) AS oldest,
        SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead
      FROM queue_jobs WHERE state IN ('pending', 'running', 'dead') GROUP BY queue`.execute(db.k);
    const out: Record<string, QueueMetrics> = {};
    for (const [name, queue] of Object.entries(this.queues)) {
      const c = await queue.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'failed');
      const r = rows.find((x) => x.queue === name);
      out[name] = {
        depth: (c.wait ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0) + Number(r?.unrelayed ?? 0),
        active: c.active ?? 0,
        oldestAgeMs: r?.oldest == null ? 0 : Math.max(0, now - Number(r.oldest)),
        failed: (c.failed ?? 0) + Number(r?.dead ?? 0),
        unrelayed: Number(r?.unrelayed ?? 0),
      };
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }
}

/** Runs the relay in rounds: at once after a wake-up (NOTIFY of the outbox), else every `intervalMs`. */
export class RelayLoop {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  errors = 0;

  constructor(private readonly relay: OutboxRelay, private readonly intervalMs: number, private readonly onError: (err: unknown) => void) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false;
      let full = false;
      try {
        full = (await this.relay.round()) > 0;
      } catch (err) {
        this.errors++;
        this.onError(err);
      }
      if (full || !this.running || this.woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.intervalMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wakeUp = () => {
          this.wakeUp = undefined;
          done();
        };
      });
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
  }
}

export interface FleetWorkersOptions {
  db: VigilDatabase;
  queue: SqlJobQueue;
  redis: Redis;
  prefix: string;
  handlers: Record<string, JobHandler>;
  concurrency: number;
  /** Per BullMQ queue, where it differs from `concurrency` (background queues). */
  concurrencyOf?: (queue: string) => number | undefined;
  lockMs: number;
  rateLimits: Record<string, { max: number; durationMs: number }>;
  onError?: (job: Job | undefined, err: unknown) => void;
  onDead?: (job: Job) => void;
}

/** The handler side: one BullMQ worker per queue in this process. */
export class FleetWorkers {
  readonly workers: Worker[];
  processed = 0;
  failures = 0;
  private readonly inFlight = new Set<string>();

  constructor(private readonly o: FleetWorkersOptions) {
    this.workers = Object.keys(o.handlers).map((name) => {
      const limit = o.rateLimits[name];
      const worker = new Worker(name, (job) => this.process(job), {
        connection: o.redis,
        prefix: o.prefix,
        concurrency: o.concurrencyOf?.(name) ?? o.concurrency,
        lockDuration: o.lockMs,
        stalledInterval: Math.max(500, Math.floor(o.lockMs / 2)),
        // A job whose worker died this many times is failed (the outbox marks it dead): poison is bounded.
        maxStalledCount: 3,
        autorun: false,
        ...(limit ? { limiter: { max: limit.max, duration: limit.durationMs } } : {}),
      });
      worker.on('failed', (job, err) => {
        this.failures++;
        if ((job && job.attemptsMade >= (job.opts.attempts ?? 1)) || err instanceof UnrecoverableError) void this.dead(job, err);
      });
      worker.on('error', (err) => o.onError?.(undefined, err));
      return worker;
    });
  }

  start(): void {
    for (const w of this.workers) void w.run().catch((err: unknown) => this.o.onError?.(undefined, err));
  }

  get active(): number {
    return this.inFlight.size;
  }

  private async process(bj: BullJob<{ id: number }>): Promise<void> {
    const id = bj.data.id;
    const job = await this.o.queue.get(id);
    // Done (a re-delivery after the effect committed) or gone (purged): nothing to do.
    if (!job || job.state === 'done' || job.state === 'dead') return;
    const handler = this.o.handlers[job.queue];
    if (!handler) throw new UnrecoverableError(`No handler for queue "${job.queue}"`);
    this.inFlight.add(bj.id ?? String(id));
    try {
      await handler({ ...job, attempts: job.attempts + bj.attemptsMade });
    } catch (err) {
      this.o.onError?.(job, err);
      if (isPermanentError(err)) throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
      throw err;
    } finally {
      this.inFlight.delete(bj.id ?? String(id));
    }
    // If this fails (database away), BullMQ retries the job; the handler's effect is idempotent.
    await markDone(this.o.db, id);
    this.processed++;
  }

  private async dead(bj: BullJob<{ id: number }> | undefined, err: Error): Promise<void> {
    if (!bj) return;
    try {
      await markDead(this.o.db, bj.data.id, err.message, bj.attemptsMade);
      const job = await this.o.queue.get(bj.data.id);
      if (job) this.o.onDead?.(job);
    } catch (e) {
      this.o.onError?.(undefined, e);
    }
  }

  /** Drain: stop taking jobs and wait for the ones running (BullMQ's close waits for them). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
