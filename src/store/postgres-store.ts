/**
 * The PostgreSQL store, for deployments that outgrow one file. Same model and behaviour as SqliteStore
 * (the same test suite runs against both). Bulk imports stream through COPY into a temporary table and
 * merge in one statement, inside one transaction.
 *
 * The change feed orders by a sequence; writers serialise on an advisory lock while they hold numbers, so
 * commits become visible in sequence order (see transaction()).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { VigilError } from '../core/errors.js';
import type { ListItem } from '../lists/types.js';
import type { SignalTypeName } from '../signals/registry.js';
import { bankFromRow, canonicalJson, currentHourBucket, RowCollector, SIGNAL_SELECT, signalFromRow, validateBankInput, validateBankName, type SignalRow } from './_shared.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import type {
  Bank,
  BankPatch,
  BankStats,
  ImportOptions,
  ImportResult,
  NewBank,
  Opinion,
  OpinionKind,
  Signal,
  SignalChange,
  SignalStatus,
  Store,
} from './types.js';

type Row = Record<string, unknown>;

// BIGINT columns come back as strings by default; ids and counts here stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));



/** COPY text format: backslash, tab, newline and carriage return escaped; \N is NULL. */
function copyField(v: string | number | boolean | null): string {
  if (v === null) return '\\N';
  if (typeof v !== 'string') return String(v);
  return v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

function copyLine(r: SignalRow): string {
  return [r.line, r.type, r.value, r.labels, r.sourceId, r.fileName, r.fileSize, r.metadata, r.deleted].map(copyField).join('\t') + '\n';
}

function uniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;

  private constructor(private readonly pool: pg.Pool) {}

  /** Connects, creates `schema` if given (tests use a fresh one), and applies pending migrations. */
  static async open(url: string, schema?: string): Promise<PostgresStore> {
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a lower-case SQL identifier for the schema but received ${JSON.stringify(schema)}`);
    }
    if (schema) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      } finally {
        await admin.end();
      }
    }
    const pool = new pg.Pool({ connectionString: url, max: 8, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
    const store = new PostgresStore(pool);
    await store.migrate();
    return store;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // One migrator at a time across processes.
      await client.query('SELECT pg_advisory_xact_lock(7351001)');
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
      const done = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r: Row) => Number(r.version)));
      for (const m of POSTGRES_MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * A write transaction. Writers that take change-feed numbers hold one advisory lock until they commit,
   * so numbers become visible in the order they were taken and a reader's cursor never skips a change.
   */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>, feedWriter = true): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      if (feedWriter) await client.query('SELECT pg_advisory_xact_lock(7351002)');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Drops everything this store created in its schema (tests). */
  async dropSchema(schema: string): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }

  async createBank(input: NewBank): Promise<Bank> {
    validateBankInput(input);
    validateBankName(input.name);
    try {
      const { rows } = await this.pool.query(
        `INSERT INTO banks (name, description, kind, enabled, source, provenance, thresholds, fp_policy, spike_threshold)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
        [input.name, input.description ?? '', input.kind ?? 'block', input.enabled !== false, input.source ?? '', canonicalJson(input.provenance ?? {}), canonicalJson(input.thresholds ?? {}), input.falsePositivePolicy ?? 'suppress', input.spikeThreshold ?? 0],
      );
      return bankFromRow(rows[0]);
    } catch (err) {
      if (uniqueViolation(err)) throw new VigilError('VIGIL_ERR_CONFLICT', `A bank named ${input.name} already exists`);
      throw err;
    }
  }

  async getBank(name: string): Promise<Bank | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM banks WHERE name = $1', [name]);
    return rows[0] ? bankFromRow(rows[0]) : undefined;
  }

  async getBankById(id: number): Promise<Bank | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM banks WHERE id = $1', [id]);
    return rows[0] ? bankFromRow(rows[0]) : undefined;
  }

  async listBanks(): Promise<Bank[]> {
    const { rows } = await this.pool.query('SELECT * FROM banks ORDER BY name');
    return rows.map(bankFromRow);
  }

  private async requireBank(name: string): Promise<Bank> {
    const bank = await this.getBank(name);
    if (!bank) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${name}`);
    return bank;
  }

  async updateBank(name: string, patch: BankPatch): Promise<Bank> {
    validateBankInput(patch);
    const bank = await this.requireBank(name);
    const next = { ...bank, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) } as Bank;
    // Thresholds are per signal type: a patch for one type keeps the others.
    next.thresholds = { ...bank.thresholds, ...patch.thresholds };
    try {
      const { rows } = await this.pool.query(
        `UPDATE banks SET name = $1, description = $2, kind = $3, enabled = $4, source = $5, provenance = $6, thresholds = $7,
           fp_policy = $8, spike_threshold = $9, updated_at = now() WHERE id = $10 RETURNING *`,
        [next.name, next.description, next.kind, next.enabled, next.source, canonicalJson(next.provenance), canonicalJson(next.thresholds), next.falsePositivePolicy, next.spikeThreshold, bank.id],
      );
      return bankFromRow(rows[0]);
    } catch (err) {
      if (uniqueViolation(err)) throw new VigilError('VIGIL_ERR_CONFLICT', `A bank named ${patch.name} already exists`);
      throw err;
    }
  }

  async importList(bankName: string, items: AsyncIterable<ListItem> | Iterable<ListItem>, options: ImportOptions = {}): Promise<ImportResult> {
    const bank = await this.requireBank(bankName);
    const collector = new RowCollector(options.keepErrors ?? 1000);
    return this.transaction(async (client) => {
      const importId = Number((await client.query('INSERT INTO imports (bank_id, file_name, format) VALUES ($1, $2, $3) RETURNING id', [bank.id, options.fileName ?? null, options.format ?? null])).rows[0].id);
      await client.query(
        `CREATE TEMP TABLE staging (line BIGINT, type TEXT, value TEXT, labels TEXT, source_id TEXT, file_name TEXT,
           file_size BIGINT, metadata TEXT, deleted BOOLEAN) ON COMMIT DROP`,
      );
      let signals = 0;
      let deletions = 0;
      const batchEvery = options.batchSize ?? 5000;
      async function* lines(): AsyncGenerator<string> {
        let chunk = '';
        const rows: SignalRow[] = [];
        for await (const item of items) {
          collector.collect(item, rows);
          for (const row of rows) {
            chunk += copyLine(row);
            if (row.deleted) deletions++;
          }
          signals += rows.length;
          rows.length = 0;
          if (collector.rows % batchEvery === 0) {
            options.onProgress?.(collector.rows);
            if (chunk.length > 0) {
              yield chunk;
              chunk = '';
            }
          }
        }
        if (chunk.length > 0) yield chunk;
        options.onProgress?.(collector.rows);
      }
      await pipeline(Readable.from(lines()), client.query(copyFrom('COPY staging FROM STDIN (FORMAT text)')));
      // Only the merge holds the feed lock: reading the file does not block the match path's writes.
      await client.query('SELECT pg_advisory_xact_lock(7351002)');
      // Counted in the database: returning one row per signal to Node would cost more than the insert.
      const upserted = await client.query(
        `WITH src AS (
           SELECT DISTINCT ON (type, value) * FROM staging WHERE value IS NOT NULL ORDER BY type, value, line DESC
         ), changed AS (
           -- Unchanged rows never reach the INSERT: no sequence number, no id is spent on them.
           SELECT src.* FROM src LEFT JOIN signals t ON t.bank_id = $1 AND t.type = src.type AND t.value = src.value
           WHERE NOT src.deleted AND (t.id IS NULL OR t.deleted_at IS NOT NULL OR t.labels IS DISTINCT FROM src.labels
             OR t.source_id IS DISTINCT FROM src.source_id OR t.file_name IS DISTINCT FROM src.file_name
             OR t.file_size IS DISTINCT FROM src.file_size OR t.metadata IS DISTINCT FROM src.metadata)
         ), numbered AS (
           -- In file order, so the hashes of one source row get consecutive ids (export regroups them).
           SELECT c.*, nextval('signal_seq') AS s FROM (SELECT * FROM changed ORDER BY line, type) c
         ), up AS (
           INSERT INTO signals AS t (bank_id, type, value, labels, source_id, file_name, file_size, metadata, status, import_id, seq, added_seq)
           SELECT $1, type, value, labels, source_id, file_name, file_size, metadata, 'active', $2, s, s FROM numbered ORDER BY s
           ON CONFLICT (bank_id, type, value) DO UPDATE SET labels = EXCLUDED.labels, source_id = EXCLUDED.source_id,
             file_name = EXCLUDED.file_name, file_size = EXCLUDED.file_size, metadata = EXCLUDED.metadata,
             import_id = EXCLUDED.import_id, seq = EXCLUDED.seq, updated_at = now(), deleted_at = NULL
           RETURNING (xmax = 0) AS inserted
         )
         SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM up`,
        [bank.id, importId],
      );
      const inserted = Number(upserted.rows[0].inserted);
      const updated = Number(upserted.rows[0].updated);
      const noDeletions = { rowCount: 0 };
      const deletedByValue = deletions === 0 ? noDeletions : await client.query(
        `UPDATE signals t SET deleted_at = now(), updated_at = now(), seq = nextval('signal_seq')
         FROM (SELECT DISTINCT ON (type, value) type, value, deleted FROM staging WHERE value IS NOT NULL ORDER BY type, value, line DESC) d
         WHERE d.deleted AND t.bank_id = $1 AND t.type = d.type AND t.value = d.value AND t.deleted_at IS NULL`,
        [bank.id],
      );
      const deletedBySource = deletions === 0 ? noDeletions : await client.query(
        `UPDATE signals t SET deleted_at = now(), updated_at = now(), seq = nextval('signal_seq')
         FROM (SELECT source_id, max(line) AS line FROM staging WHERE value IS NULL AND deleted GROUP BY source_id) d
         WHERE t.bank_id = $1 AND t.deleted_at IS NULL AND t.source_id = d.source_id
           -- a hash listed again after its source was withdrawn stays
           AND NOT EXISTS (SELECT 1 FROM staging l WHERE l.type = t.type AND l.value = t.value AND NOT l.deleted AND l.line > d.line)`,
        [bank.id],
      );
      const deleted = (deletedByValue.rowCount ?? 0) + (deletedBySource.rowCount ?? 0);
      const unchanged = Math.max(0, signals - inserted - updated - deleted);
      await client.query('UPDATE imports SET finished_at = now(), rows = $1, inserted = $2, updated = $3, unchanged = $4, deleted = $5, errors = $6 WHERE id = $7', [collector.rows, inserted, updated, unchanged, deleted, collector.errorCount, importId]);
      return { importId, bank: bank.name, rows: collector.rows, signals, inserted, updated, unchanged, deleted, errorCount: collector.errorCount, errors: collector.errors };
    }, false);
  }

  async getSignal(id: number): Promise<Signal | undefined> {
    const { rows } = await this.pool.query(`${SIGNAL_SELECT} WHERE s.id = $1`, [id]);
    return rows[0] ? signalFromRow(rows[0]) : undefined;
  }

  async getSignals(ids: readonly number[]): Promise<Signal[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query(`${SIGNAL_SELECT} WHERE s.id = ANY($1::bigint[]) ORDER BY s.id`, [ids]);
    return rows.map(signalFromRow);
  }

  async findSignals(type: SignalTypeName, value: string): Promise<Signal[]> {
    // Per bank through the (bank_id, type, value) key: no second index on (type, value) to maintain on import.
    const { rows } = await this.pool.query(`${SIGNAL_SELECT} WHERE s.bank_id = ANY(SELECT id FROM banks) AND s.type = $1 AND s.value = $2 AND s.deleted_at IS NULL ORDER BY s.id`, [type, value]);
    return rows.map(signalFromRow);
  }

  async *listSignals(bankName: string, options: { includeDeleted?: boolean; pageSize?: number } = {}): AsyncGenerator<Signal> {
    const bank = await this.requireBank(bankName);
    const page = options.pageSize ?? 10_000;
    let after = 0;
    for (;;) {
      const { rows } = await this.pool.query(`${SIGNAL_SELECT} WHERE s.bank_id = $1 AND s.id > $2 ${options.includeDeleted ? '' : 'AND s.deleted_at IS NULL'} ORDER BY s.id LIMIT $3`, [bank.id, after, page]);
      if (rows.length === 0) return;
      for (const row of rows) yield signalFromRow(row);
      after = Number(rows[rows.length - 1].id);
    }
  }

  async changesSince(afterSeq: number, limit: number): Promise<SignalChange[]> {
    const { rows } = await this.pool.query('SELECT seq, id, bank_id, type, value, status, deleted_at FROM signals WHERE seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit]);
    return rows.map((r: Row) => ({ seq: Number(r.seq), id: Number(r.id), bankId: Number(r.bank_id), type: r.type as SignalTypeName, value: String(r.value), status: r.status as SignalStatus, deleted: r.deleted_at !== null }));
  }

  async latestSeq(): Promise<number> {
    const { rows } = await this.pool.query('SELECT coalesce(max(seq), 0) AS seq FROM signals');
    return Number(rows[0].seq);
  }

  async addOpinion(signalId: number, opinion: { kind: OpinionKind; actor: string; reason?: string }): Promise<Signal> {
    if (!['confirmed', 'false_positive', 'disputed'].includes(opinion.kind)) {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected confirmed, false_positive or disputed for opinion but received ${JSON.stringify(opinion.kind)}`);
    }
    if (!opinion.actor) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a non-empty actor for an opinion');
    await this.transaction(async (client) => {
      const { rows } = await client.query('SELECT status FROM signals WHERE id = $1 FOR UPDATE', [signalId]);
      if (!rows[0]) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No signal with id ${signalId}`);
      await client.query('INSERT INTO opinions (signal_id, kind, actor, reason) VALUES ($1, $2, $3, $4)', [signalId, opinion.kind, opinion.actor, opinion.reason ?? '']);
      const status: SignalStatus | undefined = opinion.kind === 'false_positive' ? 'false_positive' : opinion.kind === 'confirmed' ? 'active' : undefined;
      if (status && status !== rows[0].status) {
        await client.query("UPDATE signals SET status = $1, seq = nextval('signal_seq'), updated_at = now() WHERE id = $2", [status, signalId]);
      }
    });
    return (await this.getSignal(signalId))!;
  }

  async listOpinions(signalId: number): Promise<Opinion[]> {
    const { rows } = await this.pool.query('SELECT * FROM opinions WHERE signal_id = $1 ORDER BY id', [signalId]);
    return rows.map((r: Row) => ({ id: Number(r.id), signalId: Number(r.signal_id), kind: r.kind as OpinionKind, actor: String(r.actor), reason: String(r.reason), createdAt: iso(r.created_at) }));
  }

  async recordMatches(signalIds: readonly number[], at = new Date()): Promise<number[]> {
    const bucket = currentHourBucket(at);
    return this.transaction(async (client) => {
      const quarantined: number[] = [];
      for (const id of signalIds) {
        const info = (await client.query('SELECT s.status, b.spike_threshold FROM signals s JOIN banks b ON b.id = s.bank_id WHERE s.id = $1', [id])).rows[0];
        if (!info) continue;
        const { rows } = await client.query(
          `INSERT INTO signal_stats (signal_id, match_count, last_match_at, hour_bucket, hour_count) VALUES ($1, 1, $2, $3, 1)
           ON CONFLICT (signal_id) DO UPDATE SET match_count = signal_stats.match_count + 1, last_match_at = EXCLUDED.last_match_at,
             hour_count = CASE WHEN signal_stats.hour_bucket = EXCLUDED.hour_bucket THEN signal_stats.hour_count + 1 ELSE 1 END,
             hour_bucket = EXCLUDED.hour_bucket
           RETURNING hour_count`,
          [id, at, bucket],
        );
        const threshold = Number(info.spike_threshold);
        if (threshold > 0 && Number(rows[0].hour_count) > threshold && info.status === 'active') {
          await client.query("UPDATE signals SET status = 'quarantined', seq = nextval('signal_seq'), updated_at = now() WHERE id = $1", [id]);
          quarantined.push(id);
        }
      }
      return quarantined;
    });
  }

  async bankStats(bankName: string): Promise<BankStats> {
    const bank = await this.requireBank(bankName);
    const byType = (await this.pool.query('SELECT type, count(*) AS n FROM signals WHERE bank_id = $1 AND deleted_at IS NULL GROUP BY type', [bank.id])).rows;
    const status = (
      await this.pool.query(
        `SELECT count(*) FILTER (WHERE deleted_at IS NULL AND status = 'active') AS active,
                count(*) FILTER (WHERE deleted_at IS NULL AND status = 'false_positive') AS fp,
                count(*) FILTER (WHERE deleted_at IS NULL AND status = 'quarantined') AS quarantined,
                count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted
         FROM signals WHERE bank_id = $1`,
        [bank.id],
      )
    ).rows[0];
    const matches = (await this.pool.query('SELECT coalesce(sum(st.match_count), 0) AS n FROM signal_stats st JOIN signals s ON s.id = st.signal_id WHERE s.bank_id = $1', [bank.id])).rows[0];
    const imports = (await this.pool.query('SELECT count(*) AS n, max(finished_at) AS last FROM imports WHERE bank_id = $1 AND finished_at IS NOT NULL', [bank.id])).rows[0];
    return {
      bank: bank.name,
      byType: Object.fromEntries(byType.map((r: Row) => [r.type, Number(r.n)])),
      active: Number(status.active),
      falsePositive: Number(status.fp),
      quarantined: Number(status.quarantined),
      deleted: Number(status.deleted),
      matches: Number(matches.n),
      imports: Number(imports.n),
      lastImportAt: isoOrNull(imports.last),
    };
  }
}
