/**
 * The embedded default store: one SQLite file (better-sqlite3, WAL). Writers serialise on SQLite's lock,
 * so the change-feed sequence is a counter row updated inside each write transaction.
 */
import { availableParallelism } from 'node:os';
import Database from 'better-sqlite3';
import { VigilError } from '../core/errors.js';
import type { ListItem } from '../lists/types.js';
import type { SignalTypeName } from '../signals/registry.js';
import { bankFromRow, canonicalJson, currentHourBucket, isPlainRow, KeyFilter, nowIso, RowCollector, SIGNAL_SELECT, signalFromRow, validateBankInput, validateBankName, type SignalRow } from './_shared.js';
import type { Tx, VigilDatabase } from '../state/database.js';
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

const SIGNALS_KEY_INDEX = 'CREATE UNIQUE INDEX signals_key ON signals (value, type, bank_id)';
/** Below this many new rows an import inserts into the key index as it goes (see mergeStaged). */
const REBUILD_MIN_ROWS = 50_000;
/** Changes per JSON text in changesSince. */
const FEED_CHUNK = 1000;
/** Rows per multi-row staging INSERT: one statement step per chunk instead of one per row. */
const STAGE_CHUNK = 100;

interface StagedCounts {
  /** Staged rows; their rowids are 1..rows in file order. */
  rows: number;
  /** Rows with a hash (the others withdraw a source id). */
  keyed: number;
  /** Deletions by hash. */
  deletions: number;
  /** Deletions by source id. */
  withdrawals: number;
  /** Rows whose hash may have been staged before (see KeyFilter). */
  flagged: number;
}

/**
 * Writes an import's rows into the connection's temporary staging tables. Most rows carry only a hash and
 * take a two-column insert; a chunk of rows is one statement. Rows keep their file order as rowids.
 */
class SqliteStager {
  private readonly counts: StagedCounts = { rows: 0, keyed: 0, deletions: 0, withdrawals: 0, flagged: 0 };
  private readonly filter = new KeyFilter();
  private readonly plainOne: Database.Statement;
  private readonly plainChunk: Database.Statement;
  private readonly fullOne: Database.Statement;
  private readonly fullChunk: Database.Statement;
  private readonly flag: Database.Statement;
  private readonly write: (rows: SignalRow[]) => void;
  private readonly args: unknown[] = [];
  private pendingPlain = true;
  private pending = 0;

  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TEMP TABLE IF NOT EXISTS import_staging (type TEXT, value TEXT, labels TEXT, source_id TEXT, file_name TEXT,
      file_size INTEGER, metadata TEXT, deleted INTEGER)`);
    db.exec('CREATE TEMP TABLE IF NOT EXISTS import_flagged (pos INTEGER PRIMARY KEY)');
    db.exec('CREATE TEMP TABLE IF NOT EXISTS import_dups (type TEXT, value TEXT, keep INTEGER, PRIMARY KEY (type, value)) WITHOUT ROWID');
    this.clear();
    const plain = '(?, ?)';
    const full = '(?, ?, ?, ?, ?, ?, ?, ?)';
    this.plainOne = db.prepare(`INSERT INTO import_staging (type, value) VALUES ${plain}`);
    this.plainChunk = db.prepare(`INSERT INTO import_staging (type, value) VALUES ${Array(STAGE_CHUNK).fill(plain).join(',')}`);
    this.fullOne = db.prepare(`INSERT INTO import_staging VALUES ${full}`);
    this.fullChunk = db.prepare(`INSERT INTO import_staging VALUES ${Array(STAGE_CHUNK).fill(full).join(',')}`);
    this.flag = db.prepare('INSERT INTO import_flagged (pos) VALUES (?)');
    this.write = db.transaction((rows: SignalRow[]) => this.writeRows(rows));
  }

  add(rows: SignalRow[]): void {
    if (rows.length > 0) this.write(rows);
  }

  private writeRows(rows: SignalRow[]): void {
    const c = this.counts;
    for (const r of rows) {
      const pos = ++c.rows;
      if (r.value === null) c.withdrawals++;
      else {
        c.keyed++;
        if (r.deleted) c.deletions++;
        if (this.filter.seen(r.type!, r.value)) {
          c.flagged++;
          this.flag.run(pos);
        }
      }
      const plain = isPlainRow(r);
      if (plain !== this.pendingPlain) {
        this.flush();
        this.pendingPlain = plain;
      }
      const a = this.args;
      if (plain) a.push(r.type, r.value);
      else a.push(r.type, r.value, r.labels, r.sourceId, r.fileName, r.fileSize, r.metadata, r.deleted ? 1 : 0);
      if (++this.pending === STAGE_CHUNK) this.flush();
    }
    this.flush();
  }

  private flush(): void {
    if (this.pending === 0) return;
    const a = this.args;
    if (this.pending === STAGE_CHUNK) (this.pendingPlain ? this.plainChunk : this.fullChunk).run(a);
    else {
      const width = this.pendingPlain ? 2 : 8;
      const one = this.pendingPlain ? this.plainOne : this.fullOne;
      for (let i = 0; i < a.length; i += width) one.run(a.slice(i, i + width));
    }
    a.length = 0;
    this.pending = 0;
  }

  /** Prepares what the merge looks up, outside the write lock. */
  finish(): StagedCounts {
    // Positions counted here and rowids must agree (the merge numbers rows by rowid).
    const last = Number(this.db.prepare('SELECT coalesce(max(rowid), 0) FROM import_staging').pluck().get());
    if (last !== this.counts.rows) throw new VigilError('VIGIL_ERR_INTERNAL', `Staged ${this.counts.rows} rows but the last rowid is ${last}`);
    if (this.counts.flagged > 0) {
      this.db.exec(`INSERT INTO import_dups (type, value, keep)
        SELECT s.type, s.value, max(s.rowid) FROM import_flagged f JOIN import_staging s ON s.rowid = f.pos GROUP BY s.type, s.value`);
    }
    // Withdrawals look hashes up in the staged rows ("listed again later?").
    if (this.counts.withdrawals > 0) this.db.exec('CREATE INDEX IF NOT EXISTS temp.import_staging_key ON import_staging (type, value)');
    return { ...this.counts };
  }

  clear(): void {
    this.db.exec('DROP INDEX IF EXISTS temp.import_staging_key; DELETE FROM import_staging; DELETE FROM import_flagged; DELETE FROM import_dups');
  }
}

/** Imports share the connection's staging tables: one at a time per connection, bound or not. */
const importQueues = new WeakMap<Database.Database, { tail: Promise<void> }>();

export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;

  private constructor(private readonly vdb: VigilDatabase, private readonly tx?: Tx, private readonly ownsDatabase = false) {
    this.db = vdb.sqlite!;
  }

  /** The store over an open SQLite database, migrated. */
  static async over(db: VigilDatabase, options: { ownsDatabase?: boolean } = {}): Promise<SqliteStore> {
    if (db.engine !== 'sqlite') throw new VigilError('VIGIL_ERR_INTERNAL', 'SqliteStore needs a SQLite database');
    await migrate(db, [STORE_COMPONENT]);
    return new SqliteStore(db, undefined, options.ownsDatabase);
  }

  /** The same store inside a unit of work: its writes commit with the caller's. */
  in(tx: Tx): SqliteStore {
    return new SqliteStore(this.vdb, tx);
  }

  /**
   * Synchronous work on the shared connection. Outside a unit of work it waits for the connection's gate, so
   * it never runs inside someone else's open transaction; inside one the gate is already held.
   */
  private x<T>(fn: () => T): Promise<T> {
    if (this.tx) return Promise.resolve().then(fn);
    return this.vdb.runExclusive(fn);
  }

  /**
   * Builds the key index in one sort. SQLite sorts in runs the size of the page cache; runs that fit the CPU
   * caches and sort in helper threads build it about twice as fast as the import's large cache does.
   */
  private buildKeyIndex(): void {
    const cache = this.db.pragma('cache_size', { simple: true }) as number;
    this.db.pragma('cache_size = -1024');
    this.db.pragma(`threads = ${Math.min(4, availableParallelism())}`);
    try {
      this.db.exec(SIGNALS_KEY_INDEX);
    } finally {
      this.db.pragma(`cache_size = ${cache}`);
      this.db.pragma('threads = 0');
    }
  }

  /** Allocates `n` consecutive change-feed numbers; call inside a write transaction. */
  private allocateSeq(n: number): number {
    const row = this.db.prepare("UPDATE meta SET value = value + ? WHERE key = 'seq' RETURNING value").get(n) as Row;
    return Number(row.value) - n + 1;
  }

  /** Closes the database only when this store opened it (openStore); under createVigil the core owns it. */
  async close(): Promise<void> {
    if (this.ownsDatabase) await this.vdb.close();
  }

  async createBank(input: NewBank): Promise<Bank> {
    return this.x(() => {
      validateBankInput(input);
      validateBankName(input.name);
      const now = nowIso();
      try {
        const row = this.db
          .prepare(
            `INSERT INTO banks (name, description, kind, enabled, source, provenance, thresholds, fp_policy, spike_threshold, enabled_ratio, degenerate_policy, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          )
          .get(
            input.name,
            input.description ?? '',
            input.kind ?? 'block',
            input.enabled === false ? 0 : 1,
            input.source ?? '',
            canonicalJson(input.provenance ?? {}),
            canonicalJson(input.thresholds ?? {}),
            input.falsePositivePolicy ?? 'suppress',
            input.spikeThreshold ?? 0,
            input.enabledRatio ?? 1,
            input.degeneratePolicy ?? 'exact',
            now,
            now,
          ) as Row;
        return bankFromRow(row);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new VigilError('VIGIL_ERR_CONFLICT', `A bank named ${input.name} already exists`);
        }
        throw err;
      }
    });
  }

  async getBank(name: string): Promise<Bank | undefined> {
    return this.x(() => {
      const row = this.db.prepare('SELECT * FROM banks WHERE name = ? AND deleted_at IS NULL').get(name) as Row | undefined;
      return row ? bankFromRow(row) : undefined;
    });
  }

  async getBankById(id: number): Promise<Bank | undefined> {
    return this.x(() => {
      const row = this.db.prepare('SELECT * FROM banks WHERE id = ?').get(id) as Row | undefined;
      return row ? bankFromRow(row) : undefined;
    });
  }

  async listBanks(): Promise<Bank[]> {
    return this.x(() => {
      return (this.db.prepare('SELECT * FROM banks WHERE deleted_at IS NULL ORDER BY name').all() as Row[]).map(bankFromRow);
    });
  }

  private requireBank(name: string): Bank {
    const row = this.db.prepare('SELECT * FROM banks WHERE name = ? AND deleted_at IS NULL').get(name) as Row | undefined;
    if (!row) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${name}`);
    return bankFromRow(row);
  }

  async updateBank(name: string, patch: BankPatch): Promise<Bank> {
    return this.x(() => {
      validateBankInput(patch);
      const bank = this.requireBank(name);
      const next = { ...bank, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) } as Bank;
      // Thresholds are per signal type: a patch for one type keeps the others.
      next.thresholds = { ...bank.thresholds, ...patch.thresholds };
      try {
        const row = this.db
          .prepare(
            `UPDATE banks SET name = ?, description = ?, kind = ?, enabled = ?, source = ?, provenance = ?, thresholds = ?,
               fp_policy = ?, spike_threshold = ?, enabled_ratio = ?, degenerate_policy = ?, updated_at = ? WHERE id = ? RETURNING *`,
          )
          .get(next.name, next.description, next.kind, next.enabled ? 1 : 0, next.source, canonicalJson(next.provenance), canonicalJson(next.thresholds), next.falsePositivePolicy, next.spikeThreshold, next.enabledRatio, next.degeneratePolicy, nowIso(), bank.id) as Row;
        return bankFromRow(row);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new VigilError('VIGIL_ERR_CONFLICT', `A bank named ${patch.name} already exists`);
        throw err;
      }
    });
  }

  async deleteBank(name: string): Promise<Bank> {
    return this.x(() => {
      const bank = this.requireBank(name);
      const now = nowIso();
      return bankFromRow(this.db.prepare('UPDATE banks SET enabled = 0, deleted_at = ?, updated_at = ? WHERE id = ? RETURNING *').get(now, now, bank.id) as Row);
    });
  }

  async setSignalDisabledUntil(signalId: number, disableUntilTs: number | null): Promise<Signal> {
    const changed = await this.x(() => this.db.prepare('UPDATE signals SET disable_until_ts = ?, updated_at = ? WHERE id = ?').run(disableUntilTs, nowIso(), signalId));
    if (changed.changes === 0) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No signal ${signalId}`);
    return (await this.getSignal(signalId))!;
  }

  /**
   * Rows are first staged in connection-private temporary tables (no lock on the database while the file
   * is read and parsed), then merged in one write transaction, in file order (ids and change-feed numbers
   * follow the file; the hashes of one record get consecutive ids). The last line wins for a hash listed
   * twice. A crash before the merge leaves nothing; during it, SQLite's transaction does.
   */
  async importList(bankName: string, items: AsyncIterable<ListItem> | Iterable<ListItem>, options: ImportOptions = {}): Promise<ImportResult> {
    // One set of staging tables per connection: imports run one after another.
    let queue = importQueues.get(this.db);
    if (!queue) importQueues.set(this.db, (queue = { tail: Promise.resolve() }));
    const previous = queue.tail;
    let release!: () => void;
    queue.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await this.importOne(bankName, items, options);
    } finally {
      release();
    }
  }

  /** Parsing awaits the source; each staging batch and the merge hold the connection only while they write. */
  private async importOne(bankName: string, items: AsyncIterable<ListItem> | Iterable<ListItem>, options: ImportOptions): Promise<ImportResult> {
    const bank = await this.x(() => this.requireBank(bankName));
    const collector = new RowCollector(options.keepErrors ?? 1000);
    const batchSize = options.batchSize ?? 5000;
    const stager = await this.x(() => new SqliteStager(this.db));
    try {
      let batch: SignalRow[] = [];
      for await (const item of items) {
        collector.collect(item, batch);
        if (batch.length >= batchSize) {
          const rows = batch;
          await this.x(() => stager.add(rows));
          batch = [];
          options.onProgress?.(collector.rows);
        }
      }
      const rows = batch;
      await this.x(() => stager.add(rows));
      options.onProgress?.(collector.rows);
      const within = options.withinCommit;
      if (!within) return await this.x(() => this.mergeStaged(bank, collector, stager.finish(), options));
      // The merge and the caller's writes in one transaction (the merge's own becomes a savepoint).
      const merge = async (tx: Tx) => {
        const result = this.mergeStaged(bank, collector, stager.finish(), options);
        await within(tx, result);
        return result;
      };
      return this.tx ? await merge(this.tx) : await this.vdb.transaction(merge);
    } finally {
      await this.x(() => stager.clear());
    }
  }

  private mergeStaged(bank: Bank, collector: RowCollector, st: StagedCounts, options: ImportOptions): ImportResult {
    // The merge writes only the bank checked above and the import row it creates: foreign-key checks, a
    // lookup per row, would only slow it. (Synchronous code: nothing else runs on the connection meanwhile.)
    // (The pragma cannot change inside a transaction; there the checks simply stay on.)
    if (this.db.inTransaction) return this.mergeTransaction(bank, collector, st, options);
    this.db.pragma('foreign_keys = OFF');
    try {
      return this.mergeTransaction(bank, collector, st, options);
    } finally {
      this.db.pragma('foreign_keys = ON');
    }
  }

  private mergeTransaction(bank: Bank, collector: RowCollector, st: StagedCounts, options: ImportOptions): ImportResult {
    const db = this.db;
    const now = nowIso();
    return db.transaction(() => {
      if (db.prepare('SELECT 1 FROM banks WHERE id = ?').get(bank.id) === undefined) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${bank.name}`);
      const importId = Number(
        (db.prepare('INSERT INTO imports (bank_id, file_name, format, started_at) VALUES (?, ?, ?, ?) RETURNING id').get(bank.id, options.fileName ?? null, options.format ?? null, now) as Row).id,
      );
      const base = this.allocateSeq(0);
      const maxId = Number((db.prepare('SELECT coalesce(max(id), 0) AS n FROM signals').get() as Row).n);
      const bankEmpty = db.prepare('SELECT 1 FROM signals WHERE bank_id = ? LIMIT 1').get(bank.id) === undefined;
      // Of a hash staged twice, only its last row counts (import_dups holds the hashes that may repeat).
      const latest = st.flagged > 0 ? 'AND NOT EXISTS (SELECT 1 FROM import_dups d WHERE d.type = s.type AND d.value = s.value AND d.keep <> s.rowid)' : '';
      // Every staged row inserted (empty bank, no repeats, no deletions): its number is its position.
      const gapless = bankEmpty && st.flagged === 0 && st.deletions === 0 && st.withdrawals === 0;
      const seq = gapless ? '@base + s.rowid - 1' : '@base + row_number() OVER (ORDER BY s.rowid) - 1';
      const insert = `INSERT INTO signals (bank_id, type, value, labels, source_id, file_name, file_size, metadata, status, import_id, seq, added_seq, added_at, updated_at, deleted_at)
        SELECT @bank, s.type, s.value, coalesce(s.labels, '{}'), s.source_id, s.file_name, s.file_size, coalesce(s.metadata, '{}'), 'active', @import, ${seq}, ${seq}, @now, @now, NULL
        FROM import_staging s WHERE s.value IS NOT NULL AND s.deleted IS NOT 1 ${latest} ORDER BY s.rowid`;
      const params = { bank: bank.id, import: importId, base, now };
      let inserted: number;
      let updated = 0;
      if (bankEmpty) {
        // Nothing to conflict with. When the import is at least as large as the table, building the key
        // index afterwards (one sort) costs a fraction of inserting random keys into it one by one. Other
        // connections keep reading the old index until commit; a rollback restores it.
        const candidates = st.keyed - st.deletions;
        const rebuild = candidates >= REBUILD_MIN_ROWS && maxId <= candidates;
        if (rebuild) db.exec('DROP INDEX signals_key');
        inserted = db.prepare(insert).run(params).changes;
        if (rebuild) this.buildKeyIndex();
      } else {
        const changes = db
          .prepare(
            `${insert}
             ON CONFLICT (bank_id, type, value) DO UPDATE SET labels = excluded.labels, source_id = excluded.source_id,
               file_name = excluded.file_name, file_size = excluded.file_size, metadata = excluded.metadata,
               import_id = excluded.import_id, seq = excluded.seq, updated_at = excluded.updated_at, deleted_at = NULL
             WHERE signals.labels IS NOT excluded.labels OR signals.source_id IS NOT excluded.source_id
               OR signals.file_name IS NOT excluded.file_name OR signals.file_size IS NOT excluded.file_size
               OR signals.metadata IS NOT excluded.metadata OR signals.deleted_at IS NOT NULL`,
          )
          .run(params).changes;
        // New rows get ids above the old maximum (ids are max + 1 and signals are never removed).
        inserted = Number((db.prepare('SELECT count(*) AS n FROM signals WHERE id > ?').get(maxId) as Row).n);
        updated = changes - inserted;
      }
      let deleted = 0;
      if (st.deletions > 0 || st.withdrawals > 0) {
        let next = Math.max(base, Number((db.prepare('SELECT coalesce(max(seq), 0) AS n FROM signals').get() as Row).n) + 1);
        const markDeleted = db.prepare('UPDATE signals SET deleted_at = ?, updated_at = ?, seq = ? WHERE id = ? AND deleted_at IS NULL');
        const byValue = st.deletions === 0 ? [] : (db.prepare(
          `SELECT t.id FROM import_staging s JOIN signals t ON t.bank_id = ? AND t.type = s.type AND t.value = s.value
           WHERE s.deleted = 1 AND s.value IS NOT NULL ${latest} AND t.deleted_at IS NULL ORDER BY t.id`,
        ).all(bank.id) as Row[]);
        const bySource = st.withdrawals === 0 ? [] : (db.prepare(
          `SELECT t.id FROM signals t
           JOIN (SELECT source_id, max(rowid) AS pos FROM import_staging WHERE value IS NULL AND deleted = 1 GROUP BY source_id) w ON w.source_id = t.source_id
           WHERE t.bank_id = ? AND t.deleted_at IS NULL
             -- a hash listed again after its source was withdrawn stays
             AND NOT EXISTS (SELECT 1 FROM import_staging s WHERE s.type = t.type AND s.value = t.value AND s.deleted IS NOT 1 AND s.rowid > w.pos ${latest})
           ORDER BY t.id`,
        ).all(bank.id) as Row[]);
        for (const r of [...byValue, ...bySource]) {
          if (markDeleted.run(now, now, next, r.id).changes > 0) {
            deleted++;
            next++;
          }
        }
      }
      // Numbers reserved for rows that turned out unchanged stay unused: an unchanged re-import moves nothing.
      const maxUsed = Number((db.prepare('SELECT coalesce(max(seq), 0) AS n FROM signals').get() as Row).n);
      db.prepare("UPDATE meta SET value = ? WHERE key = 'seq'").run(Math.max(base - 1, maxUsed));
      const signals = st.rows;
      const unchanged = Math.max(0, signals - inserted - updated - deleted);
      db.prepare('UPDATE imports SET finished_at = ?, rows = ?, inserted = ?, updated = ?, unchanged = ?, deleted = ?, errors = ? WHERE id = ?').run(nowIso(), collector.rows, inserted, updated, unchanged, deleted, collector.errorCount, importId);
      return { importId, bank: bank.name, rows: collector.rows, signals, inserted, updated, unchanged, deleted, errorCount: collector.errorCount, errors: collector.errors };
    }).immediate();
  }

  async getSignal(id: number): Promise<Signal | undefined> {
    return this.x(() => {
      const row = this.db.prepare(`${SIGNAL_SELECT} WHERE s.id = ?`).get(id) as Row | undefined;
      return row ? signalFromRow(row) : undefined;
    });
  }

  async getSignals(ids: readonly number[]): Promise<Signal[]> {
    return this.x(() => {
      if (ids.length === 0) return [];
      const rows = this.db.prepare(`${SIGNAL_SELECT} WHERE s.id IN (SELECT value FROM json_each(?)) ORDER BY s.id`).all(JSON.stringify(ids)) as Row[];
      return rows.map(signalFromRow);
    });
  }

  async findSignals(type: SignalTypeName, value: string): Promise<Signal[]> {
    return this.x(() => {
      // Per bank through the (bank_id, type, value) key: no second index on (type, value) to maintain on import.
      const rows = this.db.prepare(`${SIGNAL_SELECT} WHERE s.bank_id IN (SELECT id FROM banks WHERE deleted_at IS NULL) AND s.type = ? AND s.value = ? AND s.deleted_at IS NULL ORDER BY s.id`).all(type, value) as Row[];
      return rows.map(signalFromRow);
    });
  }

  async *listSignals(bankName: string, options: { includeDeleted?: boolean; pageSize?: number } = {}): AsyncGenerator<Signal> {
    const bank = await this.x(() => this.requireBank(bankName));
    const page = options.pageSize ?? 10_000;
    const stmt = this.db.prepare(`${SIGNAL_SELECT} WHERE s.bank_id = ? AND s.id > ? ${options.includeDeleted ? '' : 'AND s.deleted_at IS NULL'} ORDER BY s.id LIMIT ?`);
    let after = 0;
    for (;;) {
      const from = after;
      const rows = await this.x(() => stmt.all(bank.id, from, page) as Row[]);
      if (rows.length === 0) return;
      for (const row of rows) yield signalFromRow(row);
      after = Number(rows[rows.length - 1].id);
    }
  }

  async changesSince(afterSeq: number, limit: number): Promise<SignalChange[]> {
    return this.x(() => {
      // A cold matcher reads millions of changes: as one JSON text per chunk they cost about a third of
      // better-sqlite3's per-row objects (JSON.parse builds the arrays natively).
      const chunk = this.db
        .prepare(
          `SELECT json_group_array(json_array(seq, id, bank_id, type, value, status, deleted_at IS NOT NULL))
           FROM (SELECT seq, id, bank_id, type, value, status, deleted_at FROM signals WHERE seq > ? ORDER BY seq LIMIT ?)`,
        )
        .pluck();
      const out: SignalChange[] = [];
      let after = afterSeq;
      while (out.length < limit) {
        const n = Math.min(FEED_CHUNK, limit - out.length);
        const rows = JSON.parse(chunk.get(after, n) as string) as [number, number, number, SignalTypeName, string, SignalStatus, number][];
        // The aggregate takes the rows in the subquery's order; an ORDER BY inside it would sort them again (a
        // third of the cost). Checked, not assumed.
        for (let i = 1; i < rows.length; i++) {
          if (rows[i][0] < rows[i - 1][0]) {
            rows.sort((a, b) => a[0] - b[0]);
            break;
          }
        }
        for (const r of rows) out.push({ seq: r[0], id: r[1], bankId: r[2], type: r[3], value: r[4], status: r[5], deleted: r[6] === 1 });
        if (rows.length < n) break;
        after = rows[rows.length - 1][0];
      }
      return out;
    });
  }

  async latestSeq(): Promise<number> {
    return this.x(() => {
      return Number((this.db.prepare("SELECT value FROM meta WHERE key = 'seq'").get() as Row).value);
    });
  }

  async addOpinion(signalId: number, opinion: { kind: OpinionKind; actor: string; reason?: string }): Promise<Signal> {
    if (!['confirmed', 'false_positive', 'disputed'].includes(opinion.kind)) {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected confirmed, false_positive or disputed for opinion but received ${JSON.stringify(opinion.kind)}`);
    }
    if (!opinion.actor) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a non-empty actor for an opinion');
    await this.x(() => this.db.transaction(() => {
      const exists = this.db.prepare('SELECT status FROM signals WHERE id = ?').get(signalId) as Row | undefined;
      if (!exists) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No signal with id ${signalId}`);
      const now = nowIso();
      this.db.prepare('INSERT INTO opinions (signal_id, kind, actor, reason, created_at) VALUES (?, ?, ?, ?, ?)').run(signalId, opinion.kind, opinion.actor, opinion.reason ?? '', now);
      const status: SignalStatus | undefined = opinion.kind === 'false_positive' ? 'false_positive' : opinion.kind === 'confirmed' ? 'active' : undefined;
      if (status && status !== exists.status) {
        this.db.prepare('UPDATE signals SET status = ?, seq = ?, updated_at = ? WHERE id = ?').run(status, this.allocateSeq(1), now, signalId);
      }
    }).immediate());
    return (await this.getSignal(signalId))!;
  }

  async listOpinions(signalId: number): Promise<Opinion[]> {
    return this.x(() => {
      const rows = this.db.prepare('SELECT * FROM opinions WHERE signal_id = ? ORDER BY id').all(signalId) as Row[];
      return rows.map((r) => ({ id: Number(r.id), signalId: Number(r.signal_id), kind: r.kind as OpinionKind, actor: String(r.actor), reason: String(r.reason), createdAt: String(r.created_at) }));
    });
  }

  async recordMatches(signalIds: readonly number[], at = new Date()): Promise<number[]> {
    return this.x(() => {
      const bucket = currentHourBucket(at);
      const iso = at.toISOString();
      const quarantined: number[] = [];
      this.db.transaction(() => {
        const bump = this.db.prepare(
          `INSERT INTO signal_stats (signal_id, match_count, last_match_at, hour_bucket, hour_count) VALUES (?, 1, ?, ?, 1)
           ON CONFLICT (signal_id) DO UPDATE SET match_count = match_count + 1, last_match_at = excluded.last_match_at,
             hour_count = CASE WHEN hour_bucket = excluded.hour_bucket THEN hour_count + 1 ELSE 1 END, hour_bucket = excluded.hour_bucket
           RETURNING hour_count`,
        );
        const check = this.db.prepare('SELECT s.status, b.spike_threshold FROM signals s JOIN banks b ON b.id = s.bank_id WHERE s.id = ?');
        const quarantine = this.db.prepare("UPDATE signals SET status = 'quarantined', seq = ?, updated_at = ? WHERE id = ?");
        for (const id of signalIds) {
          const info = check.get(id) as Row | undefined;
          if (!info) continue;
          const hourCount = Number((bump.get(id, iso, bucket) as Row).hour_count);
          const threshold = Number(info.spike_threshold);
          if (threshold > 0 && hourCount > threshold && info.status === 'active') {
            quarantine.run(this.allocateSeq(1), iso, id);
            quarantined.push(id);
          }
        }
      }).immediate();
      return quarantined;
    });
  }

  async bankStats(bankName: string): Promise<BankStats> {
    return this.x(() => {
      const bank = this.requireBank(bankName);
      const byTypeRows = this.db.prepare('SELECT type, count(*) AS n FROM signals WHERE bank_id = ? AND deleted_at IS NULL GROUP BY type').all(bank.id) as Row[];
      const status = this.db.prepare(
        `SELECT sum(CASE WHEN deleted_at IS NULL AND status = 'active' THEN 1 ELSE 0 END) AS active,
                sum(CASE WHEN deleted_at IS NULL AND status = 'false_positive' THEN 1 ELSE 0 END) AS fp,
                sum(CASE WHEN deleted_at IS NULL AND status = 'quarantined' THEN 1 ELSE 0 END) AS quarantined,
                sum(CASE WHEN deleted_at IS NOT NULL THEN 1 ELSE 0 END) AS deleted
         FROM signals WHERE bank_id = ?`,
      ).get(bank.id) as Row;
      const matches = this.db.prepare('SELECT coalesce(sum(st.match_count), 0) AS n FROM signal_stats st JOIN signals s ON s.id = st.signal_id WHERE s.bank_id = ?').get(bank.id) as Row;
      const imports = this.db.prepare('SELECT count(*) AS n, max(finished_at) AS last FROM imports WHERE bank_id = ? AND finished_at IS NOT NULL').get(bank.id) as Row;
      return {
        bank: bank.name,
        byType: Object.fromEntries(byTypeRows.map((r) => [r.type, Number(r.n)])),
        active: Number(status.active ?? 0),
        falsePositive: Number(status.fp ?? 0),
        quarantined: Number(status.quarantined ?? 0),
        deleted: Number(status.deleted ?? 0),
        matches: Number(matches.n),
        imports: Number(imports.n),
        lastImportAt: (imports.last as string | null) ?? null,
      };
    });
  }
}
