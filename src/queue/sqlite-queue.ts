/**
 * The job queue in the service's SQLite state DB. Claims run in IMMEDIATE transactions, so several processes
 * sharing one DB file never lease the same job twice; a lease that expires (the worker died or hung) makes the
 * job claimable again and counts as a failed attempt, so a job that kills its worker every time still ends
 * dead instead of looping forever.
 */
import { invalidArgument, VigilError } from '../core/errors.js';
import { migrateComponent, type ComponentMigration, type StateDb } from '../state/sqlite.js';
import { JOB_STATES, type Job, type JobQueue, type JobState, type NewJob, type QueueStats } from './types.js';

const MIGRATIONS: readonly ComponentMigration[] = [
  {
    version: 1,
    description: 'queue_jobs with claim-order, due-time, lease, dead-letter and purge indexes',
    // AUTOINCREMENT: ids are handed to handlers as stable identifiers and must never be reused after a purge.
    sql: `
      CREATE TABLE queue_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        queue TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        priority INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'dead')),
        attempts INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        run_at INTEGER NOT NULL,
        lease_until INTEGER,
        lease_owner TEXT,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        finished_at INTEGER
      );
      CREATE INDEX queue_jobs_claim ON queue_jobs (queue, priority DESC, run_at, id) WHERE state = 'pending';
      CREATE INDEX queue_jobs_due ON queue_jobs (queue, run_at) WHERE state = 'pending';
      CREATE INDEX queue_jobs_lease ON queue_jobs (queue, lease_until) WHERE state = 'running';
      CREATE INDEX queue_jobs_state ON queue_jobs (state, id);
      CREATE INDEX queue_jobs_done ON queue_jobs (finished_at) WHERE state = 'done';
    `,
  },
];

const DEFAULT_MAX_ATTEMPTS = 10;
const MAX_ERROR_CHARS = 2000;
const MAX_LIST_LIMIT = 1000;
const PURGE_BATCH = 5000;
const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 3_600_000;

/**
 * 1 s doubling per attempt, capped at 1 h before jitter, times a deterministic factor in [0.9, 1.1] derived
 * from the job id and attempt: jobs that failed together (an endpoint outage) spread out instead of retrying
 * in lockstep, while tests can still predict the schedule.
 */
export function defaultBackoff(attempt: number, jobId: number): number {
  const base = Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1), BACKOFF_CAP_MS);
  return Math.round(base * (0.9 + 0.2 * unitHash(jobId, attempt)));
}

/** A well-mixed value in [0, 1) from two integers (murmur3 finaliser). */
function unitHash(a: number, b: number): number {
  let h = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul(b | 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

interface JobRow {
  id: number;
  queue: string;
  idempotency_key: string;
  payload: string;
  priority: number;
  state: JobState;
  attempts: number;
  max_attempts: number;
  run_at: number;
  lease_until: number | null;
  lease_owner: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

function toJob(r: JobRow): Job {
  return {
    id: r.id, queue: r.queue, idempotencyKey: r.idempotency_key, payload: JSON.parse(r.payload) as unknown,
    priority: r.priority, state: r.state, attempts: r.attempts, maxAttempts: r.max_attempts, runAt: r.run_at,
    leaseUntil: r.lease_until, lastError: r.last_error, createdAt: r.created_at, updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

interface ValidJob {
  queue: string;
  key: string;
  payload: string;
  priority: number;
  maxAttempts: number;
  runAt: number | undefined;
}

function validate(job: NewJob, i: number): ValidJob {
  const at = `jobs[${i}]`;
  if (typeof job?.queue !== 'string' || job.queue === '') throw invalidArgument('a non-empty string', `${at}.queue`, job?.queue);
  if (typeof job.idempotencyKey !== 'string' || job.idempotencyKey === '') {
    throw invalidArgument('a non-empty string', `${at}.idempotencyKey`, job.idempotencyKey);
  }
  const priority = job.priority ?? 0;
  if (!Number.isSafeInteger(priority)) throw invalidArgument('an integer', `${at}.priority`, priority);
  const maxAttempts = job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw invalidArgument('an integer >= 1', `${at}.maxAttempts`, maxAttempts);
  if (job.runAt !== undefined && !Number.isFinite(job.runAt)) throw invalidArgument('epoch milliseconds', `${at}.runAt`, job.runAt);
  let payload: string | undefined;
  try {
    payload = JSON.stringify(job.payload);
  } catch (err) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `${at}.payload is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
  }
  if (payload === undefined) throw invalidArgument('a JSON value', `${at}.payload`, job.payload);
  return { queue: job.queue, key: job.idempotencyKey, payload, priority, maxAttempts, runAt: job.runAt === undefined ? undefined : Math.round(job.runAt) };
}

function checkQueues(queues: readonly string[]): void {
  if (!Array.isArray(queues) || queues.some((q) => typeof q !== 'string' || q === '')) {
    throw invalidArgument('an array of non-empty queue names', 'queues', queues);
  }
}

function notFound(id: number): VigilError {
  return new VigilError('VIGIL_ERR_NOT_FOUND', `No job with id ${id}`);
}

function prepare(db: StateDb) {
  return {
    insert: db.prepare(`INSERT INTO queue_jobs (queue, idempotency_key, payload, priority, state, attempts, max_attempts,
        run_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)
      ON CONFLICT (idempotency_key) DO NOTHING`),
    byId: db.prepare('SELECT * FROM queue_jobs WHERE id = ?'),
    byKey: db.prepare('SELECT * FROM queue_jobs WHERE idempotency_key = ?'),
    duePending: db.prepare(`SELECT * FROM queue_jobs INDEXED BY queue_jobs_claim
      WHERE queue = ? AND state = 'pending' AND run_at <= ? ORDER BY priority DESC, run_at, id LIMIT ?`),
    expiredRunning: db.prepare(`SELECT * FROM queue_jobs WHERE queue = ? AND state = 'running' AND lease_until <= ?
      ORDER BY priority DESC, run_at, id LIMIT ?`),
    lease: db.prepare(`UPDATE queue_jobs SET state = 'running', lease_owner = ?, lease_until = ?, attempts = ?,
      last_error = ?, updated_at = ? WHERE id = ?`),
    expire: db.prepare(`UPDATE queue_jobs SET state = 'dead', attempts = ?, last_error = ?, lease_owner = NULL,
      lease_until = NULL, updated_at = ?, finished_at = ? WHERE id = ?`),
    complete: db.prepare(`UPDATE queue_jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = ?,
      finished_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?`),
    fail: db.prepare(`UPDATE queue_jobs SET state = ?, attempts = ?, run_at = ?, last_error = ?, lease_owner = NULL,
      lease_until = NULL, updated_at = ?, finished_at = ? WHERE id = ?`),
    retry: db.prepare(`UPDATE queue_jobs SET state = 'pending', attempts = 0, run_at = ?, updated_at = ?, finished_at = NULL
      WHERE id = ? AND state = 'dead'`),
    stats: db.prepare('SELECT queue, state, COUNT(*) AS n FROM queue_jobs GROUP BY queue, state'),
    nextPending: db.prepare(`SELECT MIN(run_at) AS t FROM queue_jobs WHERE queue = ? AND state = 'pending'`),
    nextLease: db.prepare(`SELECT MIN(lease_until) AS t FROM queue_jobs WHERE queue = ? AND state = 'running'`),
    purge: db.prepare(`DELETE FROM queue_jobs WHERE id IN (SELECT id FROM queue_jobs INDEXED BY queue_jobs_done
      WHERE state = 'done' AND finished_at < ? LIMIT ?)`),
  };
}

export interface SqliteJobQueueOptions {
  now?: () => number;
  /** Delay in ms before retry number `attempt` (1 after the first failure); default {@link defaultBackoff}. */
  backoff?: (attempt: number) => number;
}

export class SqliteJobQueue implements JobQueue {
  private readonly db: StateDb;
  private readonly now: () => number;
  private readonly backoff: (attempt: number, jobId: number) => number;
  private readonly stmt: ReturnType<typeof prepare>;

  constructor(db: StateDb, options: SqliteJobQueueOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    const custom = options.backoff;
    this.backoff = custom ? (attempt) => custom(attempt) : defaultBackoff;
    migrateComponent(db, 'queue', MIGRATIONS);
    this.stmt = prepare(db);
  }

  /**
   * Synchronous enqueue, for callers that enqueue inside their own `db.transaction(...)` (transactional
   * outbox: a decision row and its action jobs commit together or not at all; nested, this is a savepoint).
   */
  enqueueSync(jobs: readonly NewJob[]): { job: Job; created: boolean }[] {
    if (!Array.isArray(jobs)) throw invalidArgument('an array of jobs', 'jobs', jobs);
    const valid = jobs.map(validate);
    return this.db.transaction(() => {
      const now = this.now();
      return valid.map((v) => {
        const created = this.stmt.insert.run(v.queue, v.key, v.payload, v.priority, v.maxAttempts, v.runAt ?? now, now, now).changes === 1;
        return { job: toJob(this.stmt.byKey.get(v.key) as JobRow), created };
      });
    })();
  }

  async enqueue(jobs: readonly NewJob[]): Promise<{ job: Job; created: boolean }[]> {
    return this.enqueueSync(jobs);
  }

  async claim(queues: readonly string[], options: { limit: number; leaseMs: number; workerId: string }): Promise<Job[]> {
    checkQueues(queues);
    const { limit, leaseMs, workerId } = options;
    if (!Number.isSafeInteger(limit) || limit < 0) throw invalidArgument('an integer >= 0', 'limit', limit);
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw invalidArgument('a positive number of ms', 'leaseMs', leaseMs);
    if (typeof workerId !== 'string' || workerId === '') throw invalidArgument('a non-empty string', 'workerId', workerId);
    if (limit === 0 || queues.length === 0) return [];
    // IMMEDIATE takes the write lock before reading, so two processes cannot select the same rows.
    return this.db.transaction(() => {
      const now = this.now();
      const candidates: JobRow[] = [];
      // Per queue, so each query walks its index in claim order instead of sorting every due row.
      for (const q of new Set(queues)) {
        candidates.push(...(this.stmt.duePending.all(q, now, limit) as JobRow[]));
        candidates.push(...(this.stmt.expiredRunning.all(q, now, limit) as JobRow[]));
      }
      candidates.sort((a, b) => b.priority - a.priority || a.run_at - b.run_at || a.id - b.id);
      const leaseUntil = now + Math.ceil(leaseMs);
      const claimed: Job[] = [];
      for (const r of candidates) {
        if (claimed.length === limit) break;
        let attempts = r.attempts;
        let lastError = r.last_error;
        if (r.state === 'running') {
          attempts += 1;
          lastError = `lease expired (worker ${r.lease_owner ?? '?'} lost or too slow)`;
          if (attempts >= r.max_attempts) {
            this.stmt.expire.run(attempts, lastError, now, now, r.id);
            continue;
          }
        }
        this.stmt.lease.run(workerId, leaseUntil, attempts, lastError, now, r.id);
        claimed.push(toJob({ ...r, state: 'running', lease_owner: workerId, lease_until: leaseUntil, attempts, last_error: lastError, updated_at: now }));
      }
      return claimed;
    }).immediate();
  }

  async complete(id: number, workerId: string): Promise<void> {
    const now = this.now();
    if (this.stmt.complete.run(now, now, id, workerId).changes === 1) return;
    const row = this.stmt.byId.get(id) as JobRow | undefined;
    if (!row) throw notFound(id);
    throw new VigilError('VIGIL_ERR_CONFLICT', `Job ${id} is not leased by ${workerId} (state ${row.state}${row.lease_owner ? `, leased by ${row.lease_owner}` : ''}); completion ignored`);
  }

  async fail(id: number, workerId: string, error: string, options: { permanent?: boolean; retryAt?: number } = {}): Promise<Job> {
    return this.db.transaction(() => {
      const row = this.stmt.byId.get(id) as JobRow | undefined;
      if (!row) throw notFound(id);
      if (row.state !== 'running' || row.lease_owner !== workerId) {
        throw new VigilError('VIGIL_ERR_CONFLICT', `Job ${id} is not leased by ${workerId} (state ${row.state}); failure ignored`);
      }
      const now = this.now();
      const attempts = row.attempts + 1;
      const dead = options.permanent === true || attempts >= row.max_attempts;
      const runAt = dead ? row.run_at : Math.round(options.retryAt ?? now + this.backoff(attempts, id));
      const lastError = String(error).slice(0, MAX_ERROR_CHARS);
      this.stmt.fail.run(dead ? 'dead' : 'pending', attempts, runAt, lastError, now, dead ? now : null, id);
      return toJob(this.stmt.byId.get(id) as JobRow);
    }).immediate();
  }

  async get(id: number): Promise<Job | undefined> {
    const row = this.stmt.byId.get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  async getByKey(idempotencyKey: string): Promise<Job | undefined> {
    const row = this.stmt.byKey.get(idempotencyKey) as JobRow | undefined;
    return row && toJob(row);
  }

  async list(filter: { queue?: string; state?: JobState; afterId?: number; limit?: number } = {}): Promise<Job[]> {
    const where: string[] = ['id > ?'];
    const params: (string | number)[] = [filter.afterId ?? 0];
    if (filter.state !== undefined) {
      if (!JOB_STATES.includes(filter.state)) throw invalidArgument(`one of ${JOB_STATES.join(', ')}`, 'state', filter.state);
      where.push('state = ?');
      params.push(filter.state);
    }
    if (filter.queue !== undefined) {
      where.push('queue = ?');
      params.push(filter.queue);
    }
    const limit = filter.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw invalidArgument(`an integer in 1..${MAX_LIST_LIMIT}`, 'limit', limit);
    const rows = this.db.prepare(`SELECT * FROM queue_jobs WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`).all(...params, limit) as JobRow[];
    return rows.map(toJob);
  }

  async retry(id: number): Promise<Job> {
    const now = this.now();
    if (this.stmt.retry.run(now, now, id).changes === 0) {
      const row = this.stmt.byId.get(id) as JobRow | undefined;
      if (!row) throw notFound(id);
      throw new VigilError('VIGIL_ERR_CONFLICT', `Job ${id} is ${row.state}; only dead jobs can be retried`);
    }
    return toJob(this.stmt.byId.get(id) as JobRow);
  }

  async stats(): Promise<QueueStats> {
    const out: QueueStats = {};
    for (const r of this.stmt.stats.all() as { queue: string; state: JobState; n: number }[]) {
      out[r.queue] ??= { pending: 0, running: 0, done: 0, dead: 0 };
      out[r.queue][r.state] = r.n;
    }
    return out;
  }

  async nextDueAt(queues: readonly string[]): Promise<number | null> {
    checkQueues(queues);
    let next: number | null = null;
    for (const q of new Set(queues)) {
      for (const stmt of [this.stmt.nextPending, this.stmt.nextLease]) {
        const t = (stmt.get(q) as { t: number | null }).t;
        if (t !== null && (next === null || t < next)) next = t;
      }
    }
    return next;
  }

  /**
   * Deletes done jobs finished more than `olderThanMs` ago; returns how many. Their idempotency keys are
   * forgotten with them, so keep done jobs longer than any producer might re-send the same key. Dead jobs
   * stay until an operator retries them.
   */
  purgeDone(olderThanMs: number): number {
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) throw invalidArgument('a non-negative number of ms', 'olderThanMs', olderThanMs);
    const cutoff = this.now() - olderThanMs;
    let total = 0;
    // In batches, each its own transaction, so enqueues and claims are not held up behind one huge delete.
    for (;;) {
      const n = this.stmt.purge.run(cutoff, PURGE_BATCH).changes;
      total += n;
      if (n < PURGE_BATCH) return total;
    }
  }
}
