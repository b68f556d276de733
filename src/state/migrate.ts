/**
 * One migration system for everything in the database — the store and each state component — on both
 * engines. A component (`store`, `audit`, `keys`, …) owns its tables and an append-only list of versions;
 * `vigil_migrations` records (component, version). Migrations run under one lock (SQLite's write lock, a
 * PostgreSQL advisory lock), so processes starting together never race each other to create a table.
 *
 * Databases made before this system recorded versions in `schema_migrations` (the store) and
 * `component_versions` (state components); those are read once and carried over.
 */
import { VigilError } from '../core/errors.js';
import { pgTransaction, type Engine, type VigilDatabase } from './database.js';

export interface Migration {
  version: number;
  description: string;
  /** SQL per engine; one string may hold several statements. */
  sqlite: string;
  postgres: string;
  /** SQLite: run with foreign keys off (a table rebuild, SQLite's documented procedure); checked before commit. */
  rebuildsTables?: boolean;
}

export interface Component {
  name: string;
  migrations: readonly Migration[];
}

const LOCK_ID = 7351001;

export async function migrate(db: VigilDatabase, components: readonly Component[]): Promise<void> {
  for (const c of components) {
    const versions = c.migrations.map((m) => m.version);
    if (new Set(versions).size !== versions.length) throw new VigilError('VIGIL_ERR_INTERNAL', `Duplicate migration version in ${c.name}`);
  }
  if (db.engine === 'sqlite') await migrateSqlite(db, components);
  else await migratePostgres(db, components);
}

function pendingOf(c: Component, done: ReadonlySet<string>): Migration[] {
  return [...c.migrations].sort((a, b) => a.version - b.version).filter((m) => !done.has(`${c.name}:${m.version}`));
}

const TABLE = `CREATE TABLE IF NOT EXISTS vigil_migrations (
  component TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL, applied_at TEXT NOT NULL,
  PRIMARY KEY (component, version))`;

async function migrateSqlite(db: VigilDatabase, components: readonly Component[]): Promise<void> {
  const sqlite = db.sqlite!;
  await db.runExclusive(() => {
    const all = (sql: string) => sqlite.prepare(sql).all() as Record<string, unknown>[];
    const exists = (table: string) => sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
    sqlite.transaction(() => {
      sqlite.exec(TABLE);
      carryOverLegacy('sqlite', exists, all, (c, v, d) => sqlite.prepare('INSERT OR IGNORE INTO vigil_migrations VALUES (?, ?, ?, ?)').run(c, v, d, new Date().toISOString()));
    }).immediate();
    for (const c of components) {
      const done = new Set(all('SELECT component, version FROM vigil_migrations').map((r) => `${String(r.component)}:${Number(r.version)}`));
      for (const m of pendingOf(c, done)) {
        if (m.rebuildsTables) sqlite.pragma('foreign_keys = OFF');
        try {
          sqlite.transaction(() => {
            if (sqlite.prepare('SELECT 1 FROM vigil_migrations WHERE component = ? AND version = ?').get(c.name, m.version) !== undefined) return;
            sqlite.exec(m.sqlite);
            const violations = sqlite.pragma('foreign_key_check') as unknown[];
            if (violations.length > 0) throw new VigilError('VIGIL_ERR_INTERNAL', `Migration ${c.name} ${m.version} would break ${violations.length} foreign keys`);
            sqlite.prepare('INSERT INTO vigil_migrations VALUES (?, ?, ?, ?)').run(c.name, m.version, m.description, new Date().toISOString());
          }).immediate();
        } finally {
          if (m.rebuildsTables) sqlite.pragma('foreign_keys = ON');
        }
      }
    }
  });
}

async function migratePostgres(db: VigilDatabase, components: readonly Component[]): Promise<void> {
  await pgTransaction(db.pool!, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
    await client.query(TABLE);
    const tables = new Set((await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")).rows.map((r: { table_name: string }) => r.table_name));
    const legacy: Array<[string, number, string]> = [];
    const legacyRows: Record<string, Record<string, unknown>[]> = {};
    for (const t of ['schema_migrations', 'component_versions']) if (tables.has(t)) legacyRows[t] = (await client.query(`SELECT * FROM ${t}`)).rows;
    carryOverLegacy('postgres', (t) => tables.has(t), (sql) => legacyRows[/FROM (\w+)/.exec(sql)![1]!] ?? [], (c, v, d) => legacy.push([c, v, d]));
    for (const [c, v, d] of legacy) {
      await client.query('INSERT INTO vigil_migrations VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [c, v, d, new Date().toISOString()]);
    }
    const done = new Set((await client.query('SELECT component, version FROM vigil_migrations')).rows.map((r: { component: string; version: number }) => `${r.component}:${Number(r.version)}`));
    for (const c of components) {
      for (const m of pendingOf(c, done)) {
        await client.query(m.postgres);
        await client.query('INSERT INTO vigil_migrations VALUES ($1, $2, $3, $4)', [c.name, m.version, m.description, new Date().toISOString()]);
      }
    }
  });
}

/** Versions recorded by the two older systems become rows of `vigil_migrations` (once; then ignored). */
function carryOverLegacy(
  _engine: Engine,
  exists: (table: string) => boolean,
  all: (sql: string) => Record<string, unknown>[],
  record: (component: string, version: number, description: string) => void,
): void {
  if (exists('schema_migrations')) {
    for (const r of all('SELECT version FROM schema_migrations')) record('store', Number(r.version), 'recorded by schema_migrations');
  }
  if (exists('component_versions')) {
    for (const r of all('SELECT component, version FROM component_versions')) {
      for (let v = 1; v <= Number(r.version); v++) record(String(r.component), v, 'recorded by component_versions');
    }
  }
}
