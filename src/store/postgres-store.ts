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
import { bankFromRow, canonicalJson, currentHourBucket, isPlainRow, KeyFilter, RowCollector, SIGNAL_SELECT, signalFromRow, validateBankInput, validateBankName, type SignalRow } from './_shared.js';
import { postgresTx, type Tx, type VigilDatabase } from '../state/database.js';
import { migrate } from '../state/migrate.js';
import { STORE_COMPONENT } from './migrations.js';
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

const COPY_SPECIAL = /[\\\t\n\r]/;

/** COPY text format: backslash, tab, newline and carriage return escaped. */
function copyText(v: string): string {
  return COPY_SPECIAL.test(v) ? v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : v;
}

/** A COPY field; \N is NULL. */
function copyField(v: string | number | null): string {
  if (v === null) return '\\N';
  return typeof v === 'string' ? copyText(v) : String(v);
}

/** Past this many new rows an import refreshes the planner's statistics of signals. */
const ANALYZE_MIN_ROWS = 100_000;
/** From this many rows, the first import into an empty store builds the key index afterwards (insertNew). */
const REBUILD_MIN_ROWS = 50_000;
const SIGNALS_KEY_INDEX = 'CREATE UNIQUE INDEX signals_key ON signals (value, type, bank_id)';

function uniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;

  private readonly pool: pg.Pool;
  /** Statements outside a transaction go to the pool; a store bound to a unit of work uses its client. */
  private readonly runner: pg.Pool | pg.PoolClient;

  private constructor(private readonly vdb: VigilDatabase, private readonly tx?: Tx, private readonly ownsDatabase = false) {
    this.pool = vdb.pool!;
    this.runner = tx?.pg ?? this.pool;
  }

  /** The store over an open PostgreSQL database, migrated. */
  static async over(db: VigilDatabase, options: { ownsDatabase?: boolean } = {}): Promise<PostgresStore> {
    if (db.engine !== 'postgres') throw new VigilError('VIGIL_ERR_INTERNAL', 'PostgresStore needs a PostgreSQL database');
    await migrate(db, [STORE_COMPONENT]);
    return new PostgresStore(db, undefined, options.ownsDatabase);
  }

  /** The same store inside a unit of work: its writes commit with the caller's. */
  in(tx: Tx): PostgresStore {
    return new PostgresStore(this.vdb, tx);
  }

  /**
   * A write transaction. Writers that take change-feed numbers hold one advisory lock until they commit,
   * so numbers become visible in the order they were taken and a reader's cursor never skips a change.
   */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>, feedWriter = true): Promise<T> {
    if (this.tx?.pg) {
      // Inside the caller's unit of work: its transaction, its commit.
      if (feedWriter) await this.tx.pg.query('SELECT pg_advisory_xact_lock(7351002)');
      return fn(this.tx.pg);
    }
    const client = await this.pool.connect();
    // A connection that dies between two statements emits 'error' on the checked-out client; unheard, that would
    // crash the process (seen with pg_terminate_backend in the fleet's fault test). The next statement fails instead.
    const ignore = () => undefined;
    client.on('error', ignore);
    try {
      await client.query('BEGIN');
      if (feedWriter) await client.query('SELECT pg_advisory_xact_lock(7351002)');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // The error that failed the transaction is rethrown; a ROLLBACK on a broken connection adds nothing.
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.removeListener('error', ignore);
      client.release();
    }
  }

  /** Closes the database only when this store opened it (openStore); under createVigil the core owns it. */
  async close(): Promise<void> {
    if (this.ownsDatabase) await this.vdb.close();
  }

  /** Drops everything this store created in its schema (tests). */
  async dropSchema(schema: string): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }

  async createBank(input: NewBank): Promise<Bank> {
    validateBankInput(input);
    validateBankName(input.name);
    try {
      const { rows } = await this.runner.query(
        `INSERT INTO banks (name, description, kind, enabled, source, provenance, thresholds, fp_policy, spike_threshold, enabled_ratio, degenerate_policy)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
        [input.name, input.description ?? '', input.kind ?? 'block', input.enabled !== false, input.source ?? '', canonicalJson(input.provenance ?? {}), canonicalJson(input.thresholds ?? {}), input.falsePositivePolicy ?? 'suppress', input.spikeThreshold ?? 0, input.enabledRatio ?? 1, input.degeneratePolicy ?? 'exact'],
      );
      return bankFromRow(rows[0]);
    } catch (err) {
      if (uniqueViolation(err)) throw new VigilError('VIGIL_ERR_CONFLICT', `A bank named ${input.name} already exists`);
      throw err;
    }
  }

  async getBank(name: string): Promise<Bank | undefined> {
    const { rows } = await this.runner.query('SELECT * FROM banks WHERE name = $1 AND deleted_at IS NULL', [name]);
    return rows[0] ? bankFromRow(rows[0]) : undefined;
  }

  async getBankById(id: number): Promise<Bank | undefined> {
    const { rows } = await this.runner.query('SELECT * FROM banks WHERE id = $1', [id]);
    return rows[0] ? bankFromRow(rows[0]) : undefined;
  }

  async listBanks(): Promise<Bank[]> {
    const { rows } = await this.runner.query('SELECT * FROM banks WHERE deleted_at IS NULL ORDER BY name');
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
      const { rows } = await this.runner.query(
        `UPDATE banks SET name = $1, description = $2, kind = $3, enabled = $4, source = $5, provenance = $6, thresholds = $7,
           fp_policy = $8, spike_threshold = $9, enabled_ratio = $10, degenerate_policy = $11, updated_at = now() WHERE id = $12 RETURNING *`,
        [next.name, next.description, next.kind, next.enabled, next.source, canonicalJson(next.provenance), canonicalJson(next.thresholds), next.falsePositivePolicy, next.spikeThreshold, next.enabledRatio, next.degeneratePolicy, bank.id],
      );
      return bankFromRow(rows[0]);
    } catch (err) {
      if (uniqueViolation(err)) throw new VigilError('VIGIL_ERR_CONFLICT', `A bank named ${patch.name} already exists`);
      throw err;
    }
  }

  async deleteBank(name: string): Promise<Bank> {
    const bank = await this.requireBank(name);
    const { rows } = await this.runner.query('UPDATE banks SET enabled = FALSE, deleted_at = now(), updated_at = now() WHERE id = $1 RETURNING *', [bank.id]);
    return bankFromRow(rows[0]);
  }

  async setSignalDisabledUntil(signalId: number, disableUntilTs: number | null): Promise<Signal> {
    const { rowCount } = await this.runner.query('UPDATE signals SET disable_until_ts = $1, updated_at = now() WHERE id = $2', [disableUntilTs, signalId]);
    if (!rowCount) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No signal ${signalId}`);
    return (await this.getSignal(signalId))!;
  }

  /**
   * Rows stream through COPY into a temporary table while the file is read (no lock held); then, under the
   * feed lock, they merge in file order (ids and change-feed numbers follow the file; the hashes of one
   * record get consecutive ids), the last line winning for a hash listed twice. One transaction throughout.
   */
  async importList(bankName: string, items: AsyncIterable<ListItem> | Iterable<ListItem>, options: ImportOptions = {}): Promise<ImportResult> {
    const bank = await this.requireBank(bankName);
    const collector = new RowCollector(options.keepErrors ?? 1000);
    const filter = new KeyFilter();
    const st = { rows: 0, keyed: 0, deletions: 0, withdrawals: 0, flagged: 0 };
    return this.transaction(async (client) => {
      const importId = Number((await client.query('INSERT INTO imports (bank_id, file_name, format) VALUES ($1, $2, $3) RETURNING id', [bank.id, options.fileName ?? null, options.format ?? null])).rows[0].id);
      // Two imports in one unit of work (a service adding several signals) each start from empty tables.
      await client.query('DROP TABLE IF EXISTS pg_temp.import_staging, pg_temp.import_dups');
      // pos: the row's place in the file. flagged: its hash may have come before (see KeyFilter).
      await client.query(
        `CREATE TEMP TABLE import_staging (pos BIGINT, type TEXT COLLATE "C", value TEXT COLLATE "C", labels TEXT, source_id TEXT,
           file_name TEXT, file_size BIGINT, metadata TEXT, deleted BOOLEAN, flagged BOOLEAN) ON COMMIT DROP`,
      );
      const batchEvery = options.batchSize ?? 5000;
      async function* lines(): AsyncGenerator<string> {
        let chunk = '';
        const rows: SignalRow[] = [];
        for await (const item of items) {
          collector.collect(item, rows);
          for (const r of rows) {
            const pos = ++st.rows;
            let flag = 'f';
            if (r.value === null) st.withdrawals++;
            else {
              st.keyed++;
              if (r.deleted) st.deletions++;
              if (filter.seen(r.type!, r.value)) {
                st.flagged++;
                flag = 't';
              }
            }
            chunk += isPlainRow(r)
              ? `${pos}\t${r.type}\t${copyText(r.value!)}\t\\N\t\\N\t\\N\t\\N\t\\N\tf\t${flag}\n`
              : `${pos}\t${copyField(r.type)}\t${copyField(r.value)}\t${copyField(r.labels)}\t${copyField(r.sourceId)}\t${copyField(r.fileName)}\t${copyField(r.fileSize)}\t${copyField(r.metadata)}\t${r.deleted ? 't' : 'f'}\t${flag}\n`;
          }
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
      await pipeline(Readable.from(lines()), client.query(copyFrom('COPY import_staging FROM STDIN (FORMAT text)')));
      if (st.flagged > 0) {
        await client.query(`CREATE TEMP TABLE import_dups ON COMMIT DROP AS
          SELECT type, value, max(pos) AS keep FROM import_staging WHERE flagged AND value IS NOT NULL GROUP BY type, value`);
        await client.query('ANALYZE import_dups');
      }
      // Of a hash staged twice, only its last row counts.
      const latest = st.flagged > 0 ? 'AND NOT EXISTS (SELECT 1 FROM import_dups d WHERE d.type = s.type AND d.value = s.value AND d.keep <> s.pos)' : '';
      // Only the merge holds the feed lock: reading the file does not block the match path's writes.
      await client.query('SELECT pg_advisory_xact_lock(7351002)');
      await client.query("SET LOCAL work_mem = '64MB'");
      const bankEmpty = (await client.query('SELECT 1 FROM signals WHERE bank_id = $1 LIMIT 1', [bank.id])).rowCount === 0;
      let inserted: number;
      let updated = 0;
      if (bankEmpty) {
        inserted = await this.insertNew(client, bank.id, importId, st, latest);
      } else {
        await client.query('ANALYZE import_staging');
        // Counted in the database: returning one row per signal to Node would cost more than the insert.
        const upserted = await client.query(
          `WITH changed AS (
             -- Unchanged rows never reach the INSERT: no sequence number, no id is spent on them.
             SELECT s.* FROM import_staging s LEFT JOIN signals t ON t.bank_id = $1 AND t.type = s.type AND t.value = s.value
             WHERE s.value IS NOT NULL AND NOT s.deleted ${latest}
               AND (t.id IS NULL OR t.deleted_at IS NOT NULL OR t.labels IS DISTINCT FROM coalesce(s.labels, '{}')
                 OR t.source_id IS DISTINCT FROM s.source_id OR t.file_name IS DISTINCT FROM s.file_name
                 OR t.file_size IS DISTINCT FROM s.file_size OR t.metadata IS DISTINCT FROM coalesce(s.metadata, '{}'))
           ), numbered AS (
             SELECT c.*, nextval('signal_seq') AS sq FROM (SELECT * FROM changed ORDER BY pos) c
           ), up AS (
             INSERT INTO signals AS t (bank_id, type, value, labels, source_id, file_name, file_size, metadata, status, import_id, seq, added_seq)
             SELECT $1, type, value, coalesce(labels, '{}'), source_id, file_name, file_size, coalesce(metadata, '{}'), 'active', $2, sq, sq FROM numbered ORDER BY sq
             ON CONFLICT (bank_id, type, value) DO UPDATE SET labels = EXCLUDED.labels, source_id = EXCLUDED.source_id,
               file_name = EXCLUDED.file_name, file_size = EXCLUDED.file_size, metadata = EXCLUDED.metadata,
               import_id = EXCLUDED.import_id, seq = EXCLUDED.seq, updated_at = now(), deleted_at = NULL
             RETURNING (xmax = 0) AS inserted
           )
           SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM up`,
          [bank.id, importId],
        );
        inserted = Number(upserted.rows[0].inserted);
        updated = Number(upserted.rows[0].updated);
      }
      const noDeletions = { rowCount: 0 };
      const deletedByValue = st.deletions === 0 ? noDeletions : await client.query(
        `UPDATE signals t SET deleted_at = now(), updated_at = now(), seq = nextval('signal_seq')
         FROM import_staging s
         WHERE s.deleted AND s.value IS NOT NULL ${latest} AND t.bank_id = $1 AND t.type = s.type AND t.value = s.value AND t.deleted_at IS NULL`,
        [bank.id],
      );
      const deletedBySource = st.withdrawals === 0 ? noDeletions : await client.query(
        `UPDATE signals t SET deleted_at = now(), updated_at = now(), seq = nextval('signal_seq')
         FROM (SELECT source_id, max(pos) AS pos FROM import_staging WHERE value IS NULL AND deleted GROUP BY source_id) w
         WHERE t.bank_id = $1 AND t.deleted_at IS NULL AND t.source_id = w.source_id
           -- a hash listed again after its source was withdrawn stays
           AND NOT EXISTS (SELECT 1 FROM import_staging s WHERE s.type = t.type AND s.value = t.value AND NOT s.deleted AND s.pos > w.pos ${latest})`,
        [bank.id],
      );
      const deleted = (deletedByValue.rowCount ?? 0) + (deletedBySource.rowCount ?? 0);
      // Without statistics (autovacuum may be off, or not yet round) the planner reads the change feed of a
      // table it believes empty with a full scan per page.
      const { rows: [stats] } = await client.query("SELECT reltuples FROM pg_class WHERE oid = 'signals'::regclass");
      if (inserted >= ANALYZE_MIN_ROWS && inserted >= Number(stats.reltuples) / 10) await client.query('ANALYZE signals');
      const signals = st.rows;
      const unchanged = Math.max(0, signals - inserted - updated - deleted);
      await client.query('UPDATE imports SET finished_at = now(), rows = $1, inserted = $2, updated = $3, unchanged = $4, deleted = $5, errors = $6 WHERE id = $7', [collector.rows, inserted, updated, unchanged, deleted, collector.errorCount, importId]);
      const result = { importId, bank: bank.name, rows: collector.rows, signals, inserted, updated, unchanged, deleted, errorCount: collector.errorCount, errors: collector.errors };
      if (options.withinCommit) await options.withinCommit(this.tx ?? postgresTx(client), result);
      return result;
    }, false);
  }

  /**
   * Into an empty bank (nothing to conflict with): a plain INSERT, ids and change-feed numbers taken as one
   * block each (numbers for a few million rows one nextval at a time cost seconds). Only imports insert
   * signals and they do it under the feed lock, so moving the sequences here is safe.
   *
   * The first large import into an empty store (the initial load of a list) builds the key index after the
   * rows, in one sort: random keys inserted one by one cost several times more, mostly in full-page WAL
   * images as checkpoints come round. Dropping the index locks the table until commit, so this is only
   * done while it is empty and nobody is reading it (NOWAIT); readers arriving meanwhile wait for the load.
   */
  private async insertNew(client: pg.PoolClient, bankId: number, importId: number, st: { keyed: number; deletions: number; withdrawals: number; flagged: number }, latest: string): Promise<number> {
    const most = st.keyed - st.deletions;
    if (most === 0) return 0;
    let rebuild = false;
    if (most >= REBUILD_MIN_ROWS && (await client.query('SELECT 1 FROM signals LIMIT 1')).rowCount === 0) {
      await client.query('SAVEPOINT rebuild_key');
      try {
        // banks and imports too, for re-adding the foreign keys: taken now or not at all, so an import
        // that already holds imports (and waits for the feed lock) cannot deadlock with this one.
        await client.query('LOCK TABLE signals IN ACCESS EXCLUSIVE MODE NOWAIT');
        await client.query('LOCK TABLE banks, imports IN SHARE ROW EXCLUSIVE MODE NOWAIT');
        await client.query('DROP INDEX signals_key');
        // Checked per row, the two foreign keys cost more than the rows; checked once afterwards, little.
        await client.query('ALTER TABLE signals DROP CONSTRAINT signals_bank_id_fkey, DROP CONSTRAINT signals_import_id_fkey');
        await client.query('RELEASE SAVEPOINT rebuild_key');
        rebuild = true;
      } catch (err) {
        // Busy (lock_not_available) or a schema not as expected (undefined_object): the ordinary path.
        if (!['55P03', '42704'].includes((err as { code?: string }).code ?? '')) throw err;
        await client.query('ROLLBACK TO SAVEPOINT rebuild_key');
      }
    }
    const { rows: [base] } = await client.query("SELECT nextval('signals_id_seq') AS id, nextval('signal_seq') AS seq");
    const [id, seq] = [Number(base.id), Number(base.seq)];
    await client.query("SELECT setval('signals_id_seq', $1), setval('signal_seq', $2)", [id + most - 1, seq + most - 1]);
    // Every staged row goes in when none repeats or deletes: its number is its position.
    const gapless = st.flagged === 0 && st.deletions === 0 && st.withdrawals === 0;
    const k = gapless ? 'pos - 1' : 'row_number() OVER (ORDER BY pos) - 1';
    const { rowCount } = await client.query(
      `INSERT INTO signals (id, bank_id, type, value, labels, source_id, file_name, file_size, metadata, status, import_id, seq, added_seq)
       SELECT $1::bigint + k, $3, type, value, coalesce(labels, '{}'), source_id, file_name, file_size, coalesce(metadata, '{}'), 'active', $4, $2::bigint + k, $2::bigint + k
       FROM (SELECT s.*, ${k} AS k FROM import_staging s WHERE s.value IS NOT NULL AND NOT s.deleted ${latest}) s`,
      [id, seq, bankId, importId],
    );
    const inserted = rowCount ?? 0;
    if (rebuild) {
      await client.query("SET LOCAL maintenance_work_mem = '256MB'");
      await client.query(SIGNALS_KEY_INDEX);
      await client.query(`ALTER TABLE signals ADD CONSTRAINT signals_bank_id_fkey FOREIGN KEY (bank_id) REFERENCES banks (id),
        ADD CONSTRAINT signals_import_id_fkey FOREIGN KEY (import_id) REFERENCES imports (id)`);
    }
    // Hand back what repeats and deletions left unused.
    if (inserted < most) await client.query("SELECT setval('signals_id_seq', $1, false), setval('signal_seq', $2, false)", [id + inserted, seq + inserted]);
    return inserted;
  }

  async getSignal(id: number): Promise<Signal | undefined> {
    const { rows } = await this.runner.query(`${SIGNAL_SELECT} WHERE s.id = $1`, [id]);
    return rows[0] ? signalFromRow(rows[0]) : undefined;
  }

  async getSignals(ids: readonly number[]): Promise<Signal[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.runner.query(`${SIGNAL_SELECT} WHERE s.id = ANY($1::bigint[]) ORDER BY s.id`, [ids]);
    return rows.map(signalFromRow);
  }

  async findSignals(type: SignalTypeName, value: string): Promise<Signal[]> {
    // Per bank through the (bank_id, type, value) key: no second index on (type, value) to maintain on import.
    const { rows } = await this.runner.query(`${SIGNAL_SELECT} WHERE s.bank_id = ANY(SELECT id FROM banks WHERE deleted_at IS NULL) AND s.type = $1 AND s.value = $2 AND s.deleted_at IS NULL ORDER BY s.id`, [type, value]);
    return rows.map(signalFromRow);
  }

  async *listSignals(bankName: string, options: { includeDeleted?: boolean; pageSize?: number } = {}): AsyncGenerator<Signal> {
    const bank = await this.requireBank(bankName);
    const page = options.pageSize ?? 10_000;
    let after = 0;
    for (;;) {
      const { rows } = await this.runner.query(`${SIGNAL_SELECT} WHERE s.bank_id = $1 AND s.id > $2 ${options.includeDeleted ? '' : 'AND s.deleted_at IS NULL'} ORDER BY s.id LIMIT $3`, [bank.id, after, page]);
      if (rows.length === 0) return;
      for (const row of rows) yield signalFromRow(row);
      after = Number(rows[rows.length - 1].id);
    }
  }

  async changesSince(afterSeq: number, limit: number): Promise<SignalChange[]> {
    // Arrays and a boolean: no per-row objects or timestamps to decode (a cold matcher reads millions).
    type Change = [number, number, number, SignalTypeName, string, SignalStatus, boolean];
    const { rows } = await this.runner.query<Change>({ text: 'SELECT seq, id, bank_id, type, value, status, deleted_at IS NOT NULL FROM signals WHERE seq > $1 ORDER BY seq LIMIT $2', values: [afterSeq, limit], rowMode: 'array' });
    return rows.map((r) => ({ seq: r[0], id: r[1], bankId: r[2], type: r[3], value: r[4], status: r[5], deleted: r[6] }));
  }

  async latestSeq(): Promise<number> {
    const { rows } = await this.runner.query('SELECT coalesce(max(seq), 0) AS seq FROM signals');
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
    const { rows } = await this.runner.query('SELECT * FROM opinions WHERE signal_id = $1 ORDER BY id', [signalId]);
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
    const byType = (await this.runner.query('SELECT type, count(*) AS n FROM signals WHERE bank_id = $1 AND deleted_at IS NULL GROUP BY type', [bank.id])).rows;
    const status = (
      await this.runner.query(
        `SELECT count(*) FILTER (WHERE deleted_at IS NULL AND status = 'active') AS active,
                count(*) FILTER (WHERE deleted_at IS NULL AND status = 'false_positive') AS fp,
                count(*) FILTER (WHERE deleted_at IS NULL AND status = 'quarantined') AS quarantined,
                count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted
         FROM signals WHERE bank_id = $1`,
        [bank.id],
      )
    ).rows[0];
    const matches = (await this.runner.query('SELECT coalesce(sum(st.match_count), 0) AS n FROM signal_stats st JOIN signals s ON s.id = st.signal_id WHERE s.bank_id = $1', [bank.id])).rows[0];
    const imports = (await this.runner.query('SELECT count(*) AS n, max(finished_at) AS last FROM imports WHERE bank_id = $1 AND finished_at IS NOT NULL', [bank.id])).rows[0];
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
