/**
 * Evidence in PostgreSQL, for a fleet that keeps no local files: the header in `vigil_evidence_blobs`, the
 * body as ~256 KiB rows of `vigil_evidence_chunks`. A writer holds one transaction for the whole item, so
 * a crash (or abort) leaves nothing; a reader fetches a few rows at a time, so memory stays bounded.
 */
import pg from 'pg';
import { Readable, Writable } from 'node:stream';
import { VigilError } from '../core/errors.js';
import type { BlobStore, BlobWriter } from './blob-store.js';
import { pgTransaction } from '../state/database.js';

const ROW_BYTES = 256 * 1024;
const ROWS_PER_READ = 4;

const SCHEMA_SQL = `
  CREATE TABLE IF NOT EXISTS vigil_evidence_blobs (
    id TEXT PRIMARY KEY,
    header BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS vigil_evidence_chunks (
    blob_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (blob_id, seq)
  )`;

const uniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';
const conflict = (id: string, cause?: unknown) => new VigilError('VIGIL_ERR_CONFLICT', `Evidence ${id} already exists`, cause === undefined ? undefined : { cause });

export class PostgresBlobStore implements BlobStore {
  readonly kind = 'postgres' as const;

  private constructor(private readonly pool: pg.Pool, private readonly ownsPool: boolean) {}

  /** Connects (or uses `pool`), creating the two tables when missing; `schema` (tests) is created too. */
  static async open(target: string | pg.Pool, schema?: string): Promise<PostgresBlobStore> {
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a lower-case SQL identifier for the schema but received ${JSON.stringify(schema)}`);
    }
    const pool = typeof target === 'string' ? new pg.Pool({ connectionString: target, max: 4, ...(schema ? { options: `-c search_path=${schema}` } : {}) }) : target;
    // An idle pooled connection that dies emits 'error' on the pool: the pool drops it; unheard, it would crash.
    if (typeof target === 'string') pool.on('error', () => undefined);
    const store = new PostgresBlobStore(pool, typeof target === 'string');
    try {
      if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      // One creator at a time across processes (CREATE TABLE IF NOT EXISTS races on the catalog).
      await pgTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(7351077)');
        await client.query(SCHEMA_SQL);
      });
    } catch (err) {
      if (store.ownsPool) await pool.end();
      throw err;
    }
    return store;
  }

  async create(id: string): Promise<BlobWriter> {
    if (await this.readHeader(id)) throw conflict(id);
    const client = await this.pool.connect();
    // A connection that dies between two chunks emits 'error' on the held client: heard here, the next write fails.
    const ignore = () => undefined;
    client.on('error', ignore);
    let released = false;
    const release = (err?: Error) => {
      if (!released) {
        client.removeListener('error', ignore);
        client.release(err);
      }
      released = true;
    };
    await client.query('BEGIN');
    let seq = 0;
    let row: Buffer[] = [];
    let rowBytes = 0;
    const flushRow = async () => {
      if (rowBytes === 0) return;
      const data = Buffer.concat(row, rowBytes);
      row = [];
      rowBytes = 0;
      // A concurrent writer of the same id holds these keys: this one waits, then fails as a duplicate.
      await client.query('INSERT INTO vigil_evidence_chunks (blob_id, seq, data) VALUES ($1, $2, $3)', [id, seq++, data]).catch((err: unknown) => {
        throw uniqueViolation(err) ? conflict(id, err) : err;
      });
    };
    const body = new Writable({
      highWaterMark: ROW_BYTES,
      write(chunk: Buffer, _enc, done) {
        row.push(chunk);
        rowBytes += chunk.length;
        if (rowBytes < ROW_BYTES) return done();
        flushRow().then(() => done(), done);
      },
      final(done) {
        flushRow().then(() => done(), done);
      },
    });
    return {
      body,
      abort: async () => {
        body.destroy();
        if (released) return;
        try {
          await client.query('ROLLBACK');
          release();
        } catch (err) {
          release(err as Error);
        }
      },
      commit: async (header) => {
        try {
          await client.query('INSERT INTO vigil_evidence_blobs (id, header) VALUES ($1, $2)', [id, header]);
          await client.query('COMMIT');
          release();
        } catch (err) {
          // The error that failed the transaction is rethrown; a ROLLBACK on a broken connection adds nothing.
          await client.query('ROLLBACK').catch(() => undefined);
          release();
          throw uniqueViolation(err) ? conflict(id, err) : err;
        }
      },
    };
  }

  async readHeader(id: string): Promise<Buffer | undefined> {
    const { rows } = await this.pool.query<{ header: Buffer }>('SELECT header FROM vigil_evidence_blobs WHERE id = $1', [id]);
    return rows[0]?.header;
  }

  readBody(id: string): Readable {
    const pool = this.pool;
    let next = 0;
    return new Readable({
      highWaterMark: ROW_BYTES,
      read() {
        pool
          .query<{ seq: number; data: Buffer }>('SELECT seq, data FROM vigil_evidence_chunks WHERE blob_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3', [id, next, ROWS_PER_READ])
          .then(({ rows }) => {
            for (const r of rows) {
              // A missing row (deleted mid-read) would silently shorten the body; the reader's checks catch it too.
              if (r.seq !== next) return this.destroy(new VigilError('VIGIL_ERR_EVIDENCE_INTEGRITY', `Evidence ${id}: body row ${next} is missing`));
              next++;
              this.push(r.data);
            }
            if (rows.length < ROWS_PER_READ) this.push(null);
          }, (err: Error) => this.destroy(err));
      },
    });
  }

  async replaceHeader(id: string, header: Buffer, expected: Buffer): Promise<boolean> {
    const { rowCount } = await this.pool.query('UPDATE vigil_evidence_blobs SET header = $2 WHERE id = $1 AND header = $3', [id, header, expected]);
    return rowCount === 1;
  }

  async delete(id: string): Promise<void> {
    await pgTransaction(this.pool, async (client) => {
      await client.query('DELETE FROM vigil_evidence_blobs WHERE id = $1', [id]);
      await client.query('DELETE FROM vigil_evidence_chunks WHERE blob_id = $1', [id]);
    });
  }

  async *ids(): AsyncIterable<string> {
    let after = '';
    for (;;) {
      const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM vigil_evidence_blobs WHERE id > $1 ORDER BY id LIMIT 500', [after]);
      for (const r of rows) yield r.id;
      if (rows.length < 500) return;
      after = rows[rows.length - 1].id;
    }
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}
