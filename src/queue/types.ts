/**
 * The durable job queue behind actions (webhooks, account actions, holds). Delivery is at-least-once: a job
 * whose worker died is claimed again once its lease expires, so a handler can run twice for one job. Handlers
 * stay idempotent by keying side effects on stable identifiers (the job id, the idempotency key, or an id in
 * the payload such as a webhook event id), never on "this is the first call".
 */
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

/**
 * Durable queue. At-least-once: a job whose worker died is re-claimed after its lease; handlers get stable
 * ids to stay idempotent. The interface stays async so a Redis/BullMQ implementation (roadmap scale-out) can
 * implement it.
 */
export interface JobQueue {
  /** Idempotent on idempotencyKey: a second enqueue returns the existing job, created=false. */
  enqueue(jobs: readonly NewJob[]): Promise<{ job: Job; created: boolean }[]>;
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
  /** The earliest time a job of these queues becomes claimable (a pending runAt or a running lease end). */
  nextDueAt(queues: readonly string[]): Promise<number | null>;
}
