/**
 * The job queue's table (component `queue`). It is also the outbox: jobs are inserted in the caller's unit of
 * work, so a decision and its webhook jobs commit together, and a later relay (BullMQ, issue #16) can read
 * committed rows from here without losing or repeating work. Times are epoch milliseconds (integers), unlike
 * the ISO text of other components, because version 1 shipped that way and existing databases carry over.
 */
import type { Generated } from 'kysely';
import type { Migration } from '../state/migrate.js';
import type { JobState } from './types.js';

export interface QueueJobsTable {
  id: Generated<number>;
  queue: string;
  idempotency_key: string;
  /** JSON text. */
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

export interface QueueTables {
  queue_jobs: QueueJobsTable;
}

// Unchanged from the first release (recorded as `queue` 1 in component_versions), so those files carry over.
// AUTOINCREMENT: ids are handed to handlers as stable identifiers and must never be reused after a purge.
const SQLITE_V1 = `
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
    `;

// The same table: an identity (never reused, like AUTOINCREMENT) and BIGINT epoch ms (parsed back as numbers).
const POSTGRES_V1 = `
      CREATE TABLE queue_jobs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        queue TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        priority INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'dead')),
        attempts INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        run_at BIGINT NOT NULL,
        lease_until BIGINT,
        lease_owner TEXT,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        finished_at BIGINT
      );
      CREATE INDEX queue_jobs_claim ON queue_jobs (queue, priority DESC, run_at, id) WHERE state = 'pending';
      CREATE INDEX queue_jobs_due ON queue_jobs (queue, run_at) WHERE state = 'pending';
      CREATE INDEX queue_jobs_lease ON queue_jobs (queue, lease_until) WHERE state = 'running';
      CREATE INDEX queue_jobs_state ON queue_jobs (state, id);
      CREATE INDEX queue_jobs_done ON queue_jobs (finished_at) WHERE state = 'done';
    `;

export const QUEUE_COMPONENT = {
  name: 'queue',
  migrations: [
    { version: 1, description: 'queue_jobs with claim-order, due-time, lease, dead-letter and purge indexes', sqlite: SQLITE_V1, postgres: POSTGRES_V1 },
  ] satisfies Migration[],
} as const;
