/**
 * The one database connection that the store (banks, signals) and the service state (decisions, review, audit,
 * keys, jobs) share, on either engine, and the unit of work over it: `transaction(fn)` gives `fn` a `Tx` whose
 * writes — to the store and to the state, through Kysely or raw SQL — commit or roll back together. That is
 * what lets a service write a change and its audit entry in one transaction, whoever calls it.
 *
 * SQLite has a single connection per process. A transaction that awaits (Kysely is async) would let any other
 * statement on that connection run inside it, so everything that touches the connection goes through one
 * async `Gate`: a transaction holds it from BEGIN to COMMIT, a lone query holds it for the statement. The store's
 * synchronous bulk paths call `runExclusive` for the same reason. PostgreSQL has a pool; a transaction holds one
 * client and everything in it runs on that client.
 *
 * Kysely is used as a typed query builder and executor over these connections (a small driver per connection
 * below) rather than through its own dialects, because its dialects own the connection and its transactions,
 * and here the unit of work must also carry the store's raw statements.
 */
import Database from 'better-sqlite3';
import {
  CompiledQuery, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, SqliteAdapter, SqliteIntrospector,
  SqliteQueryCompiler, type DatabaseConnection, type Dialect, type Driver, type QueryResult,
} from 'kysely';
import { userInfo } from 'node:os';
import pg from 'pg';
import { VigilError } from '../core/errors.js';
import { createPrivateFile } from '../core/private-file.js';
import type { StateSchema } from './schema.js';

export type Engine = 'sqlite' | 'postgres';

/** One unit of work: everything done through it commits together. */
export interface Tx {
  readonly engine: Engine;
  readonly k: Kysely<StateSchema>;
  /** SQLite: the connection, inside this transaction (statements run synchronously). */
  readonly sqlite?: Database.Database;
  /** PostgreSQL: the client holding this transaction. */
  readonly pg?: pg.PoolClient;
}

export interface VigilDatabase {
  readonly engine: Engine;
  /** Queries outside a transaction (each statement on its own). */
  readonly k: Kysely<StateSchema>;
  readonly sqlite?: Database.Database;
  readonly pool?: pg.Pool;
  /** Runs `fn` in one transaction; rolls back if it throws. Not re-entrant: pass the `Tx` down instead. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** SQLite: holds the connection for synchronous work (`fn` must not await). PostgreSQL: runs `fn` at once. */
  runExclusive<T>(fn: () => T | Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A FIFO async mutex. */
export class Gate {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(() => undefined, () => undefined);
    return result;
  }
}

/** Statements prepared once per SQL text (better-sqlite3 re-parses otherwise). */
class SqliteConnection implements DatabaseConnection {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private statement(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const stmt = this.statement(query.sql);
    const params = query.parameters.map(sqliteValue);
    if (stmt.reader) return { rows: stmt.all(params) as R[] };
    const { changes, lastInsertRowid } = stmt.run(params);
    return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new VigilError('VIGIL_ERR_INTERNAL', 'Streaming queries are not used on SQLite: page with keyset queries');
  }
}

/** better-sqlite3 binds numbers, strings, bigints, buffers and null; booleans become 0/1. */
function sqliteValue(v: unknown): unknown {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

class PgConnection implements DatabaseConnection {
  constructor(private readonly client: pg.PoolClient | pg.Pool) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.client.query(query.sql, query.parameters as unknown[]);
    const affected = result.command === 'INSERT' || result.command === 'UPDATE' || result.command === 'DELETE' ? { numAffectedRows: BigInt(result.rowCount ?? 0) } : {};
    return { rows: result.rows as R[], ...affected };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new VigilError('VIGIL_ERR_INTERNAL', 'Streaming queries are not used: page with keyset queries');
  }
}

/** A Kysely driver over one connection that someone else opened, locks and closes. */
class BorrowedDriver implements Driver {
  constructor(private readonly connection: () => Promise<{ conn: DatabaseConnection; release: () => void }>) {}
  private readonly held = new Map<DatabaseConnection, () => void>();
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    const { conn, release } = await this.connection();
    this.held.set(conn, release);
    return conn;
  }
  async beginTransaction(): Promise<void> {
    throw new VigilError('VIGIL_ERR_INTERNAL', 'Use VigilDatabase.transaction() for transactions');
  }
  async commitTransaction(): Promise<void> {}
  async rollbackTransaction(): Promise<void> {}
  async releaseConnection(conn: DatabaseConnection): Promise<void> {
    const release = this.held.get(conn);
    this.held.delete(conn);
    release?.();
  }
  async destroy(): Promise<void> {}
}

function kyselyOver(engine: Engine, driver: Driver): Kysely<StateSchema> {
  const dialect: Dialect = engine === 'sqlite'
    ? { createAdapter: () => new SqliteAdapter(), createDriver: () => driver, createIntrospector: (db) => new SqliteIntrospector(db), createQueryCompiler: () => new SqliteQueryCompiler() }
    : { createAdapter: () => new PostgresAdapter(), createDriver: () => driver, createIntrospector: (db) => new PostgresIntrospector(db), createQueryCompiler: () => new PostgresQueryCompiler() };
  return new Kysely<StateSchema>({ dialect });
}

const noop = () => undefined;

class SqliteDatabase implements VigilDatabase {
  readonly engine = 'sqlite' as const;
  readonly k: Kysely<StateSchema>;
  private readonly gate = new Gate();
  private readonly conn: SqliteConnection;
  private readonly txKysely: Kysely<StateSchema>;
  private closed = false;

  constructor(readonly sqlite: Database.Database) {
    this.conn = new SqliteConnection(sqlite);
    // Outside a transaction each statement takes the gate; inside one the gate is already held.
    this.k = kyselyOver('sqlite', new BorrowedDriver(() => new Promise((resolveHeld) => {
      void this.gate.run(() => new Promise<void>((release) => resolveHeld({ conn: this.conn, release: () => release() })));
    })));
    this.txKysely = kyselyOver('sqlite', new BorrowedDriver(async () => ({ conn: this.conn, release: noop })));
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.gate.run(async () => {
      // IMMEDIATE takes the write lock up front: reading then writing never fails on another process's commit.
      this.sqlite.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn({ engine: 'sqlite', k: this.txKysely, sqlite: this.sqlite });
        this.sqlite.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.sqlite.inTransaction) this.sqlite.exec('ROLLBACK');
        throw err;
      }
    });
  }

  runExclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.gate.run(fn);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.gate.run(() => this.sqlite.close());
  }
}

/**
 * One PostgreSQL transaction on a pooled client: BEGIN, `fn`, COMMIT — or ROLLBACK and the error that failed it.
 * (The few places that need a raw client in a transaction — migrations, the evidence blob store — share it.)
 */
export async function pgTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection that dies between two statements (no query to reject) emits 'error' on the checked-out
  // client; unheard, that would crash the process. The next statement fails instead, and the pool drops it.
  client.on('error', noop);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // The error that failed the transaction is rethrown; a ROLLBACK on a broken connection adds nothing.
    await client.query('ROLLBACK').catch(noop);
    throw err;
  } finally {
    client.removeListener('error', noop);
    client.release();
  }
}

/** A unit of work over a PostgreSQL client that already holds a transaction (the store's own). */
export function postgresTx(client: pg.PoolClient): Tx {
  const conn = new PgConnection(client);
  return { engine: 'postgres', k: kyselyOver('postgres', new BorrowedDriver(async () => ({ conn, release: noop }))), pg: client };
}

class PostgresDatabase implements VigilDatabase {
  readonly engine = 'postgres' as const;
  readonly k: Kysely<StateSchema>;

  constructor(readonly pool: pg.Pool) {
    const conn = new PgConnection(pool);
    this.k = kyselyOver('postgres', new BorrowedDriver(async () => ({ conn, release: noop })));
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return pgTransaction(this.pool, (client) => fn(postgresTx(client)));
  }

  async runExclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    return fn();
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export interface OpenDatabaseOptions {
  /** PostgreSQL: a schema to create and use (tests use a fresh one per run). */
  schema?: string;
  /** PostgreSQL: pool size (default 10). */
  poolSize?: number;
  /** PostgreSQL: the user for a URL without one (configuration passes PGUSER; else the login name, as libpq). */
  pgUser?: string;
  /** SQLite: FULL survives power loss too, at some write throughput (default NORMAL survives kill -9). */
  synchronous?: 'NORMAL' | 'FULL';
}

const LOST_CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH']);

/** A database connection that went away (server restart, pg_terminate_backend, network): the pool reconnects on the next call. */
export function isLostConnection(err: unknown): boolean {
  if (err instanceof VigilError) return false;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return (typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P') || LOST_CONNECTION_CODES.has(code)))
    || /connection terminated|connection error|not queryable|server closed the connection/i.test(message);
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/** int8 (counts, sums, bigint ids) as JS numbers: every id and count here stays below 2^53. */
const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * Opens the database named by a URL: a file path or `sqlite:PATH` (embedded default), or `postgres://…`. A
 * PostgreSQL URL without a user name connects as libpq would (PGUSER, else the operating-system user).
 */
export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<VigilDatabase> {
  if (isPostgresUrl(url)) {
    const { schema } = options;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a lower-case SQL identifier for the schema but received ${JSON.stringify(schema)}`);
    }
    const config = { connectionString: url, ...pgUserDefault(url, options.pgUser) };
    if (schema) {
      const admin = new pg.Client(config);
      await connectOrExplain(admin, url);
      try {
        await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      } finally {
        await admin.end();
      }
    }
    const pool = new pg.Pool({ ...config, types: PG_TYPES, max: options.poolSize ?? 10, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
    // A connection that dies while idle (server restart, pg_terminate_backend) must not crash the process;
    // the pool drops it and the next query opens a new one.
    pool.on('error', noop);
    const probe = await connectOrExplain(pool, url);
    probe.release();
    return new PostgresDatabase(pool);
  }
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (path === '') throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a SQLite file path or a postgres:// URL');
  // Created 0600 before SQLite opens it: the WAL and shared-memory files take the database file's mode.
  createPrivateFile(path);
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 10000');
  // Imports insert random hash keys into B-trees: a larger page cache keeps them off the disk.
  sqlite.pragma('cache_size = -262144');
  // Import staging and its sort spill to temporary files: memory stays bounded for any list size.
  sqlite.pragma('temp_store = FILE');
  return new SqliteDatabase(sqlite);
}

/** node-postgres needs a user name where libpq would fall back to PGUSER or the login name. */
function pgUserDefault(url: string, fallbackUser?: string): { user?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'The PostgreSQL URL could not be parsed (expected postgres://[user[:password]@]host[:port]/database)');
  }
  if (parsed.username) return {};
  const user = fallbackUser ?? osUser();
  return user ? { user } : {};
}

function osUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

async function connectOrExplain<C extends { connect(): Promise<unknown> }>(target: C, url: string): Promise<pg.PoolClient> {
  try {
    return (await target.connect()) as pg.PoolClient;
  } catch (err) {
    const safe = url.replace(/\/\/([^:@/]*)(:[^@/]*)?@/, (_m, user: string) => `//${user ? `${user}:***@` : ''}`);
    throw new VigilError('VIGIL_ERR_UNAVAILABLE', `Cannot connect to PostgreSQL at ${safe}: ${(err as Error).message}`);
  }
}

/** Connection settings for a dedicated PostgreSQL client beside the pool (LISTEN needs one held connection). */
export function pgClientConfig(url: string, options: Pick<OpenDatabaseOptions, 'schema' | 'pgUser'> = {}): pg.ClientConfig {
  return { connectionString: url, ...pgUserDefault(url, options.pgUser), ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}) };
}
