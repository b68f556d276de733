/**
 * The fleet's database part: change notifications on PostgreSQL. A statement-level trigger on the store's
 * `signals` table and on the jobs outbox NOTIFYs at commit (PostgreSQL delivers notifications only for committed
 * transactions, in commit order), with the schema as payload so deployments (and tests) sharing one database
 * ignore each other's. The notification carries no data: a listener reads the change feed from its own
 * sequence number, so a missed or coalesced notification only delays it until the next one or the poll.
 * SQLite has no notifications (processes on one file poll the feed).
 */
import type { Component } from '../state/migrate.js';

export const SIGNALS_CHANNEL = 'vigil_signals';
export const OUTBOX_CHANNEL = 'vigil_outbox';

export const FLEET_COMPONENT: Component = {
  name: 'fleet',
  migrations: [
    {
      version: 1,
      description: 'NOTIFY on signal changes and on new outbox jobs',
      sqlite: 'SELECT 1',
      postgres: `
        CREATE OR REPLACE FUNCTION vigil_notify_signals() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('${SIGNALS_CHANNEL}', current_schema()); RETURN NULL; END $$;
        CREATE TRIGGER vigil_signals_notify AFTER INSERT OR UPDATE OR DELETE ON signals
          FOR EACH STATEMENT EXECUTE FUNCTION vigil_notify_signals();
        CREATE OR REPLACE FUNCTION vigil_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('${OUTBOX_CHANNEL}', current_schema()); RETURN NULL; END $$;
        CREATE TRIGGER vigil_outbox_notify AFTER INSERT ON queue_jobs
          FOR EACH STATEMENT EXECUTE FUNCTION vigil_notify_outbox();`,
    },
  ],
};
