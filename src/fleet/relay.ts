/**
 * The outbox relay: moves committed jobs from the SQL queue (the outbox every unit of work writes to) into
 * BullMQ. One round, in one database transaction: claim due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
 * relays in several workers never take the same row), add them to BullMQ with jobId = `outbox-<id>`, mark them
 * relayed (running, leased by `relay`). A relay that dies after the add and before the commit leaves the rows
 * pending; the next round adds them again under the same job id, which BullMQ ignores — never a duplicate.
 * A relayed row not finished within `relayLeaseMs` is added again (a no-op while BullMQ still has it; after
 * Redis lost its data, the job comes back): BullMQ holds the work, the outbox stays the record of it.
 */
import { sql } from 'kysely';
import type { Job as BullJob, Queue } from 'bullmq';
import type { VigilDatabase } from '../state/database.js';

/** The lease owner of relayed rows (one for every relay: the worker that finishes a job completes it as this). */
export const RELAY_OWNER = 'relay';

export interface OutboxRow {
  id: number;
  queue: string;
  priority: number;
  attempts: number;
  max_attempts: number;
}

/** BullMQ's job id for an outbox row: deterministic (BullMQ refuses integer ids and ids with ':'). */
export function bullJobId(outboxId: number): string {
  return `outbox-${outboxId}`;
}

/** SQL priority (higher first, e.g. live 10, backfill 0) → BullMQ's (1 first); every job gets one, so one order. */
export function bullPriority(priority: number): number {
  return 1 + Math.min(2_000_000, Math.max(0, 1000 - Math.round(priority)));
}

/** Outbox priority at or below which a row is background work (backfills, imports: CONTENT_PRIORITY.backfill). */
export const BACKGROUND_PRIORITY = 0;

/**
 * The BullMQ queue of a queue's background work. Its own worker slots (fleet.backgroundConcurrency) and rate
 * limit: BullMQ's priorities order only waiting jobs, so without it a backfill holding every slot makes live
 * work wait for one, and takes the CPU besides.
 */
export function backgroundQueue(name: string): string {
  return `${name}-background`;
}

export interface RelayOptions {
  db: VigilDatabase;
  /** Queue name → its BullMQ queue; only these queues' rows are relayed. */
  queues: Record<string, Queue>;
  /** Queue name → the BullMQ queue its background rows go to (else `queues`' own). */
  background?: Record<string, Queue>;
  /** Background rows held relayed and unfinished per queue at most: the outbox, not Redis, holds a 1M backfill. */
  backgroundWindow?: number;
  batch: number;
  leaseMs: number;
  now?: () => number;
}

export class OutboxRelay {
  relayed = 0;
  readded = 0;
  constructor(private readonly o: RelayOptions) {}

  /** One round; returns how many rows it relayed (a full batch means: run again). */
  async round(): Promise<number> {
    const { db, queues, batch, leaseMs } = this.o;
    const names = Object.keys(queues);
    if (names.length === 0) return 0;
    return db.transaction(async (tx) => {
      const now = (this.o.now ?? Date.now)();
      const lock = sql.raw(tx.engine === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '');
      const rows: (OutboxRow & { again: boolean })[] = [];
      for (const q of names) {
        const want = batch - rows.length;
        if (want <= 0) break;
        const bg = this.o.background?.[q];
        const pending = await sql<OutboxRow>`SELECT id, queue, priority, attempts, max_attempts FROM queue_jobs WHERE queue = ${q}
          AND state = 'pending' AND run_at <= ${now} ${bg ? sql`AND priority > ${BACKGROUND_PRIORITY}` : sql``} ORDER BY priority DESC, run_at, id LIMIT ${want} ${lock}`.execute(tx.k);
        rows.push(...pending.rows.map((r) => ({ ...r, again: false })));
        if (bg) {
          const held = await sql<{ n: number }>`SELECT count(*) AS n FROM queue_jobs WHERE queue = ${q} AND state = 'running' AND lease_owner = ${RELAY_OWNER}
            AND priority <= ${BACKGROUND_PRIORITY}`.execute(tx.k);
          const room = Math.min(batch - rows.length, (this.o.backgroundWindow ?? Infinity) - Number(held.rows[0]!.n));
          if (room > 0) {
            const more = await sql<OutboxRow>`SELECT id, queue, priority, attempts, max_attempts FROM queue_jobs WHERE queue = ${q}
              AND state = 'pending' AND run_at <= ${now} AND priority <= ${BACKGROUND_PRIORITY} ORDER BY priority DESC, run_at, id LIMIT ${room} ${lock}`.execute(tx.k);
            rows.push(...more.rows.map((r) => ({ ...r, again: false })));
          }
        }
        const expired = await sql<OutboxRow>`SELECT id, queue, priority, attempts, max_attempts FROM queue_jobs WHERE queue = ${q}
          AND state = 'running' AND lease_owner = ${RELAY_OWNER} AND lease_until <= ${now} ORDER BY id LIMIT ${batch - rows.length} ${lock}`.execute(tx.k);
        rows.push(...expired.rows.map((r) => ({ ...r, again: true })));
      }
      if (rows.length === 0) return 0;
      const targets = new Map<Queue, (OutboxRow & { again: boolean })[]>();
      for (const r of rows) {
        const target = (r.priority <= BACKGROUND_PRIORITY ? this.o.background?.[r.queue] : undefined) ?? queues[r.queue]!;
        const list = targets.get(target);
        if (list) list.push(r);
        else targets.set(target, [r]);
      }
      for (const [target, mine] of targets) {
        await target.addBulk(mine.map((r) => ({
          name: r.queue,
          data: { id: r.id },
          opts: {
            jobId: bullJobId(r.id),
            priority: bullPriority(r.priority),
            attempts: Math.max(1, r.max_attempts - r.attempts),
            backoff: { type: 'exponential', delay: 1000 },
            // Kept a day so a re-add of a finished job stays a no-op; failed ones a week for operators.
            removeOnComplete: { age: 86_400, count: 1_000_000 },
            removeOnFail: { age: 7 * 86_400 },
          },
        })));
      }
      const ids = rows.map((r) => r.id);
      for (let i = 0; i < ids.length; i += 500) {
        await sql`UPDATE queue_jobs SET state = 'running', lease_owner = ${RELAY_OWNER}, lease_until = ${now + leaseMs}, updated_at = ${now}
          WHERE id IN (${sql.join(ids.slice(i, i + 500))})`.execute(tx.k);
      }
      this.relayed += rows.filter((r) => !r.again).length;
      this.readded += rows.filter((r) => r.again).length;
      return rows.length;
    });
  }
}

/** Where a job's effect is recorded as finished: done whatever its lease (the row is the record, not the lease). */
export async function markDone(db: VigilDatabase, id: number, now = Date.now()): Promise<void> {
  await sql`UPDATE queue_jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = ${now}, finished_at = ${now}
    WHERE id = ${id} AND state IN ('pending', 'running')`.execute(db.k);
}

/** BullMQ gave up on it (attempts spent or a permanent error): dead in the outbox, for `vigil` operators. */
export async function markDead(db: VigilDatabase, id: number, error: string, attempts: number, now = Date.now()): Promise<void> {
  await sql`UPDATE queue_jobs SET state = 'dead', attempts = attempts + ${attempts}, last_error = ${error.slice(0, 2000)}, lease_owner = NULL,
    lease_until = NULL, updated_at = ${now}, finished_at = ${now} WHERE id = ${id} AND state IN ('pending', 'running')`.execute(db.k);
}

export type { BullJob };
