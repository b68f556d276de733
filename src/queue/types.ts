/**
 * The durable job queue behind actions (webhooks, account actions, holds). Delivery is at-least-once: a job
 * whose worker died is claimed again once its lease expires, so a handler can run twice for one job. Handlers
 * stay idempotent by keying side effects on stable identifiers (the job id, the idempotency key, or an id in
 * the payload such as a webhook event id), never on "this is the first call".
 */
import type { Tx } from '../state/database.js';

export type JobState = 'pending' | 'running' | 'done' | 'dead';

export const JOB_STATES: readonly JobState[] = ['pending', 'running', 'done', 'dead'];

export interface NewJob {
  queue: string;
  /** Enqueueing the same key again returns the existing job (created=false) instead of a second one. */
  idempotencyKey: string;
  /** Any JSON value. */
  payload: unknown;
  /** Higher first; default 0. */
  priority?: number;
  /** Default 10. */
  maxAttempts?: number;
  /** Epoch ms; default now. */
  runAt?: number;
}

export interface Job {
  id: number;
  queue: string;
  idempotencyKey: string;
  payload: unknown;
  priority: number;
  state: JobState;
  /** Attempts that ended without success (a failure, or a lease that expired under a lost worker). */
  attempts: number;
  maxAttempts: number;
  runAt: number;
  leaseUntil: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface QueueStats {
  [queue: string]: Record<JobState, number>;
}

/** Per queue, for metrics and alerts. */
export interface QueueHealth {
  /** Pending jobs whose runAt has come (the backlog a worker could take now). */
  due: number;
  /** How long the oldest due job has waited past its runAt, in ms (0 when nothing is due). */
  oldestDueAgeMs: number;
  /** Pending jobs that failed at least once and wait for their retry. */
  retrying: number;
  running: number;
  dead: number;
}

/**
 * Durable queue. At-least-once: a job whose worker died is re-claimed after its lease; handlers get stable
 * ids to stay idempotent. Enqueueing writes to the database inside the caller's unit of work (the outbox);
 * a Redis/BullMQ queue (issue #16) is fed from those committed rows, so the interface stays async.
 */
export interface JobQueue {
  /**
   * Inside the caller's transaction: the jobs commit or roll back with whatever else it writes. Idempotent on
   * idempotencyKey: a second enqueue returns the existing job, created=false.
   */
  enqueue(tx: Tx, jobs: readonly NewJob[]): Promise<{ job: Job; created: boolean }[]>;
  /** Due pending jobs (runAt<=now) and running jobs with expired leases; priority desc, runAt, id. */
  claim(queues: readonly string[], options: { limit: number; leaseMs: number; workerId: string }): Promise<Job[]>;
  /** Only while still leased by workerId: a stale worker's late completion is refused (VIGIL_ERR_CONFLICT). */
  complete(id: number, workerId: string): Promise<void>;
  /** attempts+1; back to pending with backoff, or 'dead' after maxAttempts or when permanent. */
  fail(id: number, workerId: string, error: string, options?: { permanent?: boolean; retryAt?: number }): Promise<Job>;
  get(id: number): Promise<Job | undefined>;
  getByKey(idempotencyKey: string): Promise<Job | undefined>;
  /** Ascending id; page with afterId. */
  list(filter?: { queue?: string; state?: JobState; afterId?: number; limit?: number }): Promise<Job[]>;
  /** An operator re-queues a dead job (attempts reset). */
  retry(id: number): Promise<Job>;
  stats(): Promise<QueueStats>;
  health(): Promise<Record<string, QueueHealth>>;
  /** The earliest time a job of these queues becomes claimable (a pending runAt or a running lease end). */
  nextDueAt(queues: readonly string[]): Promise<number | null>;
}
