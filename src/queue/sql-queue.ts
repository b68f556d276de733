/**
 * The job queue in the Vigil database, on SQLite or PostgreSQL. `enqueue(tx, jobs)` writes inside the caller's
 * unit of work, so the table doubles as the outbox: a decision and its webhook jobs commit together or not at
 * all. Claims never lease one job twice across processes: on PostgreSQL the candidate rows are taken
 * `FOR UPDATE SKIP LOCKED` (concurrent claimers pass over each other's rows instead of waiting), on SQLite the
 * claim holds the write lock (`BEGIN IMMEDIATE`). A lease that expires (the worker died or hung) makes the job
 * claimable again and counts as a failed attempt, so a job that kills its worker every time still ends dead.
 *
 * The per-job statements (enqueue, claim, complete) are `sql` templates: building and compiling a Kysely query
 * costs ~0.2 ms here, more than the statement itself on SQLite (bench/queue.ts). Cold paths use the builder.
 */
import { sql, type Selectable } from 'kysely';
import { invalidArgument, VigilError } from '../core/errors.js';
import { isLostConnection, type Tx, type VigilDatabase } from '../state/database.js';
import { migrate } from '../state/migrate.js';
import { QUEUE_COMPONENT, type QueueJobsTable } from './schema.js';
import { JOB_STATES, type Job, type JobQueue, type JobState, type NewJob, type QueueHealth, type QueueStats } from './types.js';

const DEFAULT_MAX_ATTEMPTS = 10;
const MAX_ERROR_CHARS = 2000;
const MAX_LIST_LIMIT = 1000;
const PURGE_BATCH = 5000;
/** Rows per INSERT / IN list: well under SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK = 500;
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

type JobRow = Selectable<QueueJobsTable>;

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

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** Reads are retried this many times on a lost connection: right after an outage the pool may still hand out dead idle clients. */
const READ_RETRIES = 2;

/**
 * A database that went away (server restart, pg_terminate_backend, network) becomes one clear error,
 * VIGIL_ERR_UNAVAILABLE naming the operation, instead of a driver message; the pool reconnects on the next
 * call. Anything else passes through unchanged.
 */
function explain(op: string, err: unknown): unknown {
  if (!isLostConnection(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new VigilError('VIGIL_ERR_UNAVAILABLE', `Job queue ${op} failed: the database connection was lost (${message}); an unacknowledged change was not kept, retry`, { cause: err });
}

export interface SqlJobQueueOptions {
  now?: () => number;
  /** Delay in ms before retry number `attempt` (1 after the first failure); default {@link defaultBackoff}. */
  backoff?: (attempt: number) => number;
}

export class SqlJobQueue implements JobQueue {
  private readonly now: () => number;
  private readonly backoff: (attempt: number, jobId: number) => number;

  /** The `queue` component's tables must exist: see {@link SqlJobQueue.open} or migrate {@link QUEUE_COMPONENT}. */
  constructor(private readonly db: VigilDatabase, options: SqlJobQueueOptions = {}) {
    this.now = options.now ?? Date.now;
    const custom = options.backoff;
    this.backoff = custom ? (attempt) => custom(attempt) : defaultBackoff;
  }

  /** Migrates the `queue` component, then builds the queue. */
  static async open(db: VigilDatabase, options: SqlJobQueueOptions = {}): Promise<SqlJobQueue> {
    await migrate(db, [QUEUE_COMPONENT]);
    return new SqlJobQueue(db, options);
  }

  private async guard<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw explain(op, err);
    }
  }

  /** A read changes nothing, so a lost connection is retried at once (the pool reconnects) before it is reported. */
  private async read<T>(op: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= READ_RETRIES || !isLostConnection(err)) throw explain(op, err);
      }
    }
  }

  async enqueue(tx: Tx, jobs: readonly NewJob[]): Promise<{ job: Job; created: boolean }[]> {
    if (!Array.isArray(jobs)) throw invalidArgument('an array of jobs', 'jobs', jobs);
    const valid = jobs.map(validate);
    if (valid.length === 0) return [];
    return this.guard('enqueue', async () => {
      const now = this.now();
      const seen = new Set<string>();
      const unique = valid.filter((v) => !seen.has(v.key) && seen.add(v.key));
      // New rows are known from what was inserted; only keys that existed already are read back.
      const byKey = new Map<string, Job>();
      const created = new Set<string>();
      for (const part of chunks(unique)) {
        const values = sql.join(part.map((v) => sql`(${v.queue}, ${v.key}, ${v.payload}, ${v.priority}, 'pending', 0, ${v.maxAttempts}, ${v.runAt ?? now}, ${now}, ${now})`));
        const { rows } = await sql<{ id: number; idempotency_key: string }>`INSERT INTO queue_jobs (queue, idempotency_key, payload,
            priority, state, attempts, max_attempts, run_at, created_at, updated_at) VALUES ${values}
          ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key`.execute(tx.k);
        const ids = new Map(rows.map((r) => [r.idempotency_key, r.id]));
        for (const v of part) {
          const id = ids.get(v.key);
          if (id === undefined) continue;
          created.add(v.key);
          byKey.set(v.key, {
            id, queue: v.queue, idempotencyKey: v.key, payload: JSON.parse(v.payload) as unknown, priority: v.priority, state: 'pending',
            attempts: 0, maxAttempts: v.maxAttempts, runAt: v.runAt ?? now, leaseUntil: null, lastError: null, createdAt: now, updatedAt: now, finishedAt: null,
          });
        }
      }
      for (const part of chunks(unique.filter((v) => !created.has(v.key)).map((v) => v.key))) {
        for (const r of await tx.k.selectFrom('queue_jobs').selectAll().where('idempotency_key', 'in', part).execute()) byKey.set(r.idempotency_key, toJob(r));
      }
      // A key repeated within the batch is created once: later repeats report created=false.
      return valid.map((v) => {
        const isNew = created.delete(v.key);
        return { job: byKey.get(v.key)!, created: isNew };
      });
    });
  }

  /** Enqueues in a transaction of its own (nothing else to commit with the jobs). */
  enqueueAlone(jobs: readonly NewJob[]): Promise<{ job: Job; created: boolean }[]> {
    return this.guard('enqueue', () => this.db.transaction((tx) => this.enqueue(tx, jobs)));
  }

  async claim(queues: readonly string[], options: { limit: number; leaseMs: number; workerId: string }): Promise<Job[]> {
    checkQueues(queues);
    const { limit, leaseMs, workerId } = options;
    if (!Number.isSafeInteger(limit) || limit < 0) throw invalidArgument('an integer >= 0', 'limit', limit);
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw invalidArgument('a positive number of ms', 'leaseMs', leaseMs);
    if (typeof workerId !== 'string' || workerId === '') throw invalidArgument('a non-empty string', 'workerId', workerId);
    if (limit === 0 || queues.length === 0) return [];
    return this.guard('claim', () => this.db.transaction(async (tx) => {
      const now = this.now();
      const leaseUntil = now + Math.ceil(leaseMs);
      const claimed: Job[] = [];
      for (;;) {
        const want = limit - claimed.length;
        const candidates = await this.candidates(tx, [...new Set(queues)], now, want);
        const fresh: number[] = [];
        let expiredToDead = 0;
        for (const r of candidates) {
          if (claimed.length === limit) break;
          let { attempts, last_error: lastError } = r;
          if (r.state === 'running') {
            attempts += 1;
            lastError = `lease expired (worker ${r.lease_owner ?? '?'} lost or too slow)`;
            const dead = attempts >= r.max_attempts;
            await (dead
              ? sql`UPDATE queue_jobs SET state = 'dead', attempts = ${attempts}, last_error = ${lastError}, lease_owner = NULL,
                  lease_until = NULL, updated_at = ${now}, finished_at = ${now} WHERE id = ${r.id}`
              : sql`UPDATE queue_jobs SET state = 'running', attempts = ${attempts}, last_error = ${lastError}, lease_owner = ${workerId},
                  lease_until = ${leaseUntil}, updated_at = ${now} WHERE id = ${r.id}`).execute(tx.k);
            if (dead) {
              expiredToDead++;
              continue;
            }
          } else {
            fresh.push(r.id);
          }
          claimed.push(toJob({ ...r, state: 'running', lease_owner: workerId, lease_until: leaseUntil, attempts, last_error: lastError, updated_at: now }));
        }
        for (const part of chunks(fresh)) {
          await sql`UPDATE queue_jobs SET state = 'running', lease_owner = ${workerId}, lease_until = ${leaseUntil}, updated_at = ${now}
            WHERE id IN (${sql.join(part)})`.execute(tx.k);
        }
        // Jobs that died on an expired lease took candidate places: look again for what else is due.
        if (expiredToDead === 0 || candidates.length < want || claimed.length === limit) return claimed;
      }
    }));
  }

  /**
   * Due pending jobs and running jobs whose lease ran out, best first. Per queue and state, so each query
   * walks its partial index in claim order instead of sorting every due row; PostgreSQL locks each row it
   * returns and skips rows another claimer holds (its WHERE is re-checked on a row changed meanwhile).
   */
  private async candidates(tx: Tx, queues: readonly string[], now: number, limit: number): Promise<JobRow[]> {
    const pg = tx.engine === 'postgres';
    const indexedBy = sql.raw(pg ? '' : 'INDEXED BY queue_jobs_claim');
    const lock = sql.raw(pg ? 'FOR UPDATE SKIP LOCKED' : '');
    const out: JobRow[] = [];
    for (const q of queues) {
      const pending = await sql<JobRow>`SELECT * FROM queue_jobs ${indexedBy} WHERE queue = ${q} AND state = 'pending'
        AND run_at <= ${now} ORDER BY priority DESC, run_at, id LIMIT ${limit} ${lock}`.execute(tx.k);
      const expired = await sql<JobRow>`SELECT * FROM queue_jobs WHERE queue = ${q} AND state = 'running'
        AND lease_until <= ${now} ORDER BY priority DESC, run_at, id LIMIT ${limit} ${lock}`.execute(tx.k);
      out.push(...pending.rows, ...expired.rows);
    }
    return out.sort((a, b) => b.priority - a.priority || a.run_at - b.run_at || a.id - b.id).slice(0, limit);
  }

  async complete(id: number, workerId: string): Promise<void> {
    return this.guard('complete', async () => {
      const now = this.now();
      const done = await sql`UPDATE queue_jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = ${now},
        finished_at = ${now} WHERE id = ${id} AND state = 'running' AND lease_owner = ${workerId}`.execute(this.db.k);
      if (Number(done.numAffectedRows) === 1) return;
      const row = await this.row(id);
      if (!row) throw notFound(id);
      throw new VigilError('VIGIL_ERR_CONFLICT', `Job ${id} is not leased by ${workerId} (state ${row.state}${row.lease_owner ? `, leased by ${row.lease_owner}` : ''}); completion ignored`);
    });
  }

  async fail(id: number, workerId: string, error: string, options: { permanent?: boolean; retryAt?: number } = {}): Promise<Job> {
    return this.guard('fail', () => this.db.transaction(async (tx) => {
      const row = await tx.k.selectFrom('queue_jobs').selectAll().where('id', '=', id)
        .$if(tx.engine === 'postgres', (qb) => qb.forUpdate()).executeTakeFirst();
      if (!row) throw notFound(id);
      if (row.state !== 'running' || row.lease_owner !== workerId) {
        throw new VigilError('VIGIL_ERR_CONFLICT', `Job ${id} is not leased by ${workerId} (state ${row.state}); failure ignored`);
      }
      const now = this.now();
      const attempts = row.attempts + 1;
      const dead = options.permanent === true || attempts >= row.max_attempts;
      const runAt = dead ? row.run_at : Math.round(options.retryAt ?? now + this.backoff(attempts, id));
      const next: JobRow = {
        ...row, state: dead ? 'dead' : 'pending', attempts, run_at: runAt, last_error: String(error).slice(0, MAX_ERROR_CHARS),
        lease_owner: null, lease_until: null, updated_at: now, finished_at: dead ? now : null,
      };
      const { id: _id, ...changes } = next;
      await tx.k.updateTable('queue_jobs').set(changes).where('id', '=', id).execute();
      return toJob(next);
    }));
  }

  private async row(id: number): Promise<JobRow | undefined> {
    return this.db.k.selectFrom('queue_jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async get(id: number): Promise<Job | undefined> {
    const row = await this.read('read', () => this.row(id));
    return row && toJob(row);
  }

  async getByKey(idempotencyKey: string): Promise<Job | undefined> {
    const row = await this.read('read', () => this.db.k.selectFrom('queue_jobs').selectAll().where('idempotency_key', '=', idempotencyKey).executeTakeFirst());
    return row && toJob(row);
  }

  async list(filter: { queue?: string; state?: JobState; afterId?: number; limit?: number } = {}): Promise<Job[]> {
    if (filter.state !== undefined && !JOB_STATES.includes(filter.state)) throw invalidArgument(`one of ${JOB_STATES.join(', ')}`, 'state', filter.state);
    const limit = filter.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw invalidArgument(`an integer in 1..${MAX_LIST_LIMIT}`, 'limit', limit);
    const afterId = filter.afterId ?? 0;
    if (!Number.isSafeInteger(afterId)) throw invalidArgument('an integer', 'afterId', afterId);
    const rows = await this.read('list', () => this.db.k.selectFrom('queue_jobs').selectAll()
      .where('id', '>', afterId)
      .$if(filter.state !== undefined, (qb) => qb.where('state', '=', filter.state!))
      .$if(filter.queue !== undefined, (qb) => qb.where('queue', '=', filter.queue!))
      .orderBy('id').limit(limit).execute());
    return rows.map(toJob);
  }

  /** Re-queues a dead job; `withinCommit` (its audit entry) commits with the change. */
  async retry(id: number, withinCommit?: (tx: Tx, job: Job) => Promise<void>): Promise<Job> {
    return this.guard('retry', () => this.db.transaction(async (tx) => {
      const now = this.now();
      const res = await tx.k.updateTable('queue_jobs')
        .set({ state: 'pending', attempts: 0, run_at: now, updated_at: now, finished_at: null })
        .where('id', '=', id).where('state', '=', 'dead').executeTakeFirst();
      const row = await tx.k.selectFrom('queue_jobs').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw notFound(id);
      if (Number(res.numUpdatedRows) === 0) throw new VigilError('VIGIL_ERR_CONFLICT', `Job ${id} is ${row.state}; only dead jobs can be retried`);
      const job = toJob(row);
      await withinCommit?.(tx, job);
      return job;
    }));
  }

  async stats(): Promise<QueueStats> {
    const rows = await this.read('stats', () => this.db.k.selectFrom('queue_jobs')
      .select(['queue', 'state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy(['queue', 'state']).execute());
    const out: QueueStats = {};
    for (const r of rows) {
      out[r.queue] ??= { pending: 0, running: 0, done: 0, dead: 0 };
      out[r.queue]![r.state] = Number(r.n);
    }
    return out;
  }

  /** Per queue: the due backlog and its oldest wait, retries waiting, running and dead jobs (done jobs are not read). */
  async health(): Promise<Record<string, QueueHealth>> {
    const now = this.now();
    const { rows } = await this.read('health', () => sql<{ queue: string; due: number; oldest: number | null; retrying: number; running: number; dead: number }>`
      SELECT queue,
        SUM(CASE WHEN state = 'pending' AND run_at <= ${now} THEN 1 ELSE 0 END) AS due,
        MIN(CASE WHEN state = 'pending' AND run_at <= ${now} THEN run_at END) AS oldest,
        SUM(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END) AS retrying,
        SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running,
        SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead
      FROM queue_jobs WHERE state IN ('pending', 'running', 'dead') GROUP BY queue`.execute(this.db.k));
    const out: Record<string, QueueHealth> = {};
    for (const r of rows) {
      out[r.queue] = {
        due: Number(r.due), oldestDueAgeMs: r.oldest === null ? 0 : Math.max(0, now - Number(r.oldest)),
        retrying: Number(r.retrying), running: Number(r.running), dead: Number(r.dead),
      };
    }
    return out;
  }

  async nextDueAt(queues: readonly string[]): Promise<number | null> {
    checkQueues(queues);
    return this.read('nextDueAt', async () => {
      let next: number | null = null;
      for (const q of new Set(queues)) {
        const { rows } = await sql<{ t: number | null }>`SELECT MIN(t) AS t FROM (
            SELECT MIN(run_at) AS t FROM queue_jobs WHERE queue = ${q} AND state = 'pending'
            UNION ALL SELECT MIN(lease_until) AS t FROM queue_jobs WHERE queue = ${q} AND state = 'running') due`.execute(this.db.k);
        const t = rows[0]?.t ?? null;
        if (t !== null && (next === null || Number(t) < next)) next = Number(t);
      }
      return next;
    });
  }

  /**
   * Deletes done jobs finished more than `olderThanMs` ago; returns how many. Their idempotency keys are
   * forgotten with them, so keep done jobs longer than any producer might re-send the same key. Dead jobs
   * stay until an operator retries them.
   */
  async purgeDone(olderThanMs: number): Promise<number> {
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) throw invalidArgument('a non-negative number of ms', 'olderThanMs', olderThanMs);
    const cutoff = this.now() - olderThanMs;
    const indexedBy = sql.raw(this.db.engine === 'sqlite' ? 'INDEXED BY queue_jobs_done' : '');
    let total = 0;
    // In batches, each its own statement, so enqueues and claims are not held up behind one huge delete.
    for (;;) {
      const res = await this.guard('purge', () => sql`DELETE FROM queue_jobs WHERE id IN (SELECT id FROM queue_jobs ${indexedBy}
        WHERE state = 'done' AND finished_at < ${cutoff} LIMIT ${PURGE_BATCH})`.execute(this.db.k));
      const n = Number(res.numAffectedRows ?? 0);
      total += n;
      if (n < PURGE_BATCH) return total;
    }
  }
}
