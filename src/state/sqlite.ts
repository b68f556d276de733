/**
 * The service's own state (job queue, audit log, API keys, decisions) in SQLite: by default the same file as
 * the embedded store, one connection per process. Each component owns its tables and a versioned migration
 * list, recorded in `component_versions`, so components evolve independently of the bank store's schema.
 *
 * Durability: WAL with synchronous=NORMAL survives a killed process (kill -9) without losing a committed
 * transaction; set `synchronous: 'FULL'` to survive power loss as well, at some write throughput.
 */
import Database from 'better-sqlite3';
import { createPrivateFile } from '../core/private-file.js';

export type StateDb = Database.Database;

export interface ComponentMigration {
  version: number;
  description: string;
  sql: string;
}

export interface StateDbOptions {
  synchronous?: 'NORMAL' | 'FULL';
}

export function openStateDb(path: string, options: StateDbOptions = {}): StateDb {
  createPrivateFile(path);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 10000');
  return db;
}

/** Applies a component's migrations newer than its recorded version, each in its own transaction. */
export function migrateComponent(db: StateDb, component: string, migrations: readonly ComponentMigration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS component_versions (
    component TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at TEXT NOT NULL)`);
  const current = (db.prepare('SELECT version FROM component_versions WHERE component = ?').get(component) as { version: number } | undefined)?.version ?? 0;
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare(`INSERT INTO component_versions (component, version, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (component) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`)
        .run(component, m.version, new Date().toISOString());
    })();
  }
}

/**
 * Where the service state lives for a store URL: the same file as an embedded SQLite store (one file for
 * everything), or `vigil-state.db` beside a PostgreSQL store until the state has a PostgreSQL implementation.
 */
export function stateDbPathFor(storeUrl: string, explicit?: string): string {
  if (explicit) return explicit;
  if (/^postgres(ql)?:\/\//.test(storeUrl)) return process.env.VIGIL_STATE_DB ?? 'vigil-state.db';
  return storeUrl.startsWith('sqlite:') ? storeUrl.slice('sqlite:'.length) : storeUrl;
}
