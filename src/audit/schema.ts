/**
 * The audit log's table (component `audit`) on both engines. Version 1 is the SQLite text of the first
 * release, unchanged, so existing databases carry over; version 2 adds the request id.
 *
 * The append-only rules are triggers on both engines: refuse UPDATE and DELETE (and TRUNCATE on
 * PostgreSQL), and any INSERT that does not extend the chain. They stop mistakes, not an owner of the
 * database, who can drop them: `verify` trusts nothing stored.
 */
import type { Component, Migration } from '../state/migrate.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditLogTable {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string | null;
  details: string;
  prev_hash: string;
  hash: string;
  request_id: string | null;
}

export interface AuditTables {
  audit_log: AuditLogTable;
}

const SQLITE_V1 = `
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX audit_log_action ON audit_log (action, seq);
      CREATE INDEX audit_log_subject ON audit_log (subject, seq);
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      CREATE TRIGGER audit_log_extends_chain BEFORE INSERT ON audit_log
        WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1
          OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_log WHERE seq = NEW.seq - 1), '${GENESIS_HASH}')
        BEGIN SELECT RAISE(ABORT, 'audit_log entries must extend the chain'); END;
    `;

const POSTGRES_V1 = `
  CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT,
    details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
  CREATE INDEX audit_log_action ON audit_log (action, seq);
  CREATE INDEX audit_log_subject ON audit_log (subject, seq);
  CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
  CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
  CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
  CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
  CREATE FUNCTION audit_log_extends_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE head_seq BIGINT; head_hash TEXT;
    BEGIN
      SELECT seq, hash INTO head_seq, head_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
      IF NEW.seq IS DISTINCT FROM COALESCE(head_seq, 0) + 1 OR NEW.prev_hash IS DISTINCT FROM COALESCE(head_hash, '${GENESIS_HASH}') THEN
        RAISE EXCEPTION 'audit_log entries must extend the chain';
      END IF;
      RETURN NEW;
    END $$;
  CREATE TRIGGER audit_log_extends_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_extends_chain();
`;

export const AUDIT_MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'hash-chained audit log, append-only triggers', sqlite: SQLITE_V1, postgres: POSTGRES_V1 },
  {
    version: 2,
    description: 'request id of each entry (hashed only when present, so earlier chains still verify)',
    sqlite: 'ALTER TABLE audit_log ADD COLUMN request_id TEXT;',
    postgres: 'ALTER TABLE audit_log ADD COLUMN request_id TEXT;',
  },
];

export const AUDIT_COMPONENT: Component = { name: 'audit', migrations: AUDIT_MIGRATIONS };
