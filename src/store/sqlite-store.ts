/**
 * The embedded default store: one SQLite file (better-sqlite3, WAL). Writers serialise on SQLite's lock,
 * so the change-feed sequence is a counter row updated inside each write transaction.
 */
import Database from 'better-sqlite3';
import { VigilError } from '../core/errors.js';
import type { ListItem } from '../lists/types.js';
import type { SignalTypeName } from '../signals/registry.js';
import { bankFromRow, canonicalJson, currentHourBucket, nowIso, RowCollector, SIGNAL_SELECT, signalFromRow, validateBankInput, validateBankName, type SignalRow } from './_shared.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
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



export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;
  private importQueue: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 10000');
    // Imports insert random hash keys into B-trees: a larger page cache keeps them off the disk.
    this.db.pragma('cache_size = -262144');
    // Import staging and its sort spill to temporary files: memory stays bounded for any list size.
    this.db.pragma('temp_store = FILE');
    this.migrate();
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    const done = new Set((this.db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => Number(r.version)));
    for (const m of SQLITE_MIGRATIONS) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, nowIso());
      }).immediate();
    }
  }

  /** Allocates `n` consecutive change-feed numbers; call inside a write transaction. */
  private allocateSeq(n: number): number {
    const row = this.db.prepare("UPDATE meta SET value = value + ? WHERE key = 'seq' RETURNING value").get(n) as Row;
    return Number(row.value) - n + 1;
  }

  async close(): Promise<void> {
    this.db.close();
  }

  async createBank(input: NewBank): Promise<Bank> {
    validateBankInput(input);
    validateBankName(input.name);
    const now = nowIso();
    try {
      const row = this.db
        .prepare(
          `INSERT INTO banks (name, description, kind, enabled, source, provenance, thresholds, fp_policy, spike_threshold, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
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
  }

  async getBank(name: string): Promise<Bank | undefined> {
    const row = this.db.prepare('SELECT * FROM banks WHERE name = ?').get(name) as Row | undefined;
    return row ? bankFromRow(row) : undefined;
  }

  async getBankById(id: number): Promise<Bank | undefined> {
    const row = this.db.prepare('SELECT * FROM banks WHERE id = ?').get(id) as Row | undefined;
    return row ? bankFromRow(row) : undefined;
  }

  async listBanks(): Promise<Bank[]> {
    return (this.db.prepare('SELECT * FROM banks ORDER BY name').all() as Row[]).map(bankFromRow);
  }

  private requireBank(name: string): Bank {
    const row = this.db.prepare('SELECT * FROM banks WHERE name = ?').get(name) as Row | undefined;
    if (!row) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${name}`);
    return bankFromRow(row);
  }

  async updateBank(name: string, patch: BankPatch): Promise<Bank> {
    validateBankInput(patch);
    const bank = this.requireBank(name);
    const next = { ...bank, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) } as Bank;
    // Thresholds are per signal type: a patch for one type keeps the others.
    next.thresholds = { ...bank.thresholds, ...patch.thresholds };
    try {
      const row = this.db
        .prepare(
          `UPDATE banks SET name = ?, description = ?, kind = ?, enabled = ?, source = ?, provenance = ?, thresholds = ?,
             fp_policy = ?, spike_threshold = ?, updated_at = ? WHERE id = ? RETURNING *`,
        )
        .get(next.name, next.description, next.kind, next.enabled ? 1 : 0, next.source, canonicalJson(next.provenance), canonicalJson(next.thresholds), next.falsePositivePolicy, next.spikeThreshold, nowIso(), bank.id) as Row;
      return bankFromRow(row);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new VigilError('VIGIL_ERR_CONFLICT', `A bank named ${patch.name} already exists`);
      throw err;
    }
  }

  /**
   * Rows are first staged in a connection-private temporary table (no lock on the database while the file
   * is read and parsed), then merged in one short write transaction: one INSERT … ON CONFLICT over the
   * staged rows sorted by key (B-tree inserts in order, several times faster than random ones), the last
   * line winning for a hash listed twice. A crash before the merge leaves nothing; during it, SQLite's
   * transaction does.
   */
  async importList(bankName: string, items: AsyncIterable<ListItem> | Iterable<ListItem>, options: ImportOptions = {}): Promise<ImportResult> {
    // One staging table per connection: imports through this store run one after another.
    const previous = this.importQueue;
    let release!: () => void;
    this.importQueue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await this.importOne(bankName, items, options);
    } finally {
      release();
    }
  }

  private async importOne(bankName: string, items: AsyncIterable<ListItem> | Iterable<ListItem>, options: ImportOptions): Promise<ImportResult> {
    const bank = this.requireBank(bankName);
    const collector = new RowCollector(options.keepErrors ?? 1000);
    const batchSize = options.batchSize ?? 5000;
    const db = this.db;
    db.exec(`CREATE TEMP TABLE IF NOT EXISTS import_staging (line INTEGER, type TEXT, value TEXT, labels TEXT,
      source_id TEXT, file_name TEXT, file_size INTEGER, metadata TEXT, deleted INTEGER)`);
    db.exec('DELETE FROM import_staging');
    const stage = db.prepare('INSERT INTO import_staging VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const stageBatch = db.transaction((rows: SignalRow[]) => {
      for (const r of rows) stage.run(r.line, r.type, r.value, r.labels, r.sourceId, r.fileName, r.fileSize, r.metadata, r.deleted ? 1 : 0);
    });
    let signals = 0;
    try {
      let batch: SignalRow[] = [];
      for await (const item of items) {
        collector.collect(item, batch);
        if (batch.length >= batchSize) {
          stageBatch(batch);
          signals += batch.length;
          batch = [];
          options.onProgress?.(collector.rows);
        }
      }
      stageBatch(batch);
      signals += batch.length;
      options.onProgress?.(collector.rows);
      return this.mergeStaged(bank, collector, signals, options);
    } finally {
      db.exec('DELETE FROM import_staging');
    }
  }

  private mergeStaged(bank: Bank, collector: RowCollector, signals: number, options: ImportOptions): ImportResult {
    const db = this.db;
    const now = nowIso();
    return db.transaction(() => {
      const importId = Number(
        (db.prepare('INSERT INTO imports (bank_id, file_name, format, started_at) VALUES (?, ?, ?, ?) RETURNING id').get(bank.id, options.fileName ?? null, options.format ?? null, now) as Row).id,
      );
      const base = this.allocateSeq(0);
      const before = Number((db.prepare('SELECT count(*) AS n FROM signals WHERE bank_id = ?').get(bank.id) as Row).n);
      // The latest line per hash decides (a hash listed, then deleted, then listed again ends listed).
      db.exec(`CREATE TEMP TABLE IF NOT EXISTS import_latest AS SELECT * FROM import_staging WHERE 0`);
      db.exec('DELETE FROM import_latest');
      db.exec(`INSERT INTO import_latest SELECT line, type, value, labels, source_id, file_name, file_size, metadata, deleted FROM (
                 SELECT *, row_number() OVER (PARTITION BY type, value ORDER BY line DESC) AS rn FROM import_staging WHERE value IS NOT NULL
               ) WHERE rn = 1`);
      const candidates = Number((db.prepare('SELECT count(*) AS n FROM import_latest WHERE NOT deleted').get() as Row).n);
      const upsert = db
        .prepare(
          `INSERT INTO signals (bank_id, type, value, labels, source_id, file_name, file_size, metadata, status, import_id, seq, added_seq, added_at, updated_at, deleted_at)
           SELECT @bank, type, value, labels, source_id, file_name, file_size, metadata, 'active', @import,
                  @base + row_number() OVER (ORDER BY line, type) - 1, @base + row_number() OVER (ORDER BY line, type) - 1, @now, @now, NULL
           FROM import_latest WHERE NOT deleted ORDER BY line, type
           ON CONFLICT (bank_id, type, value) DO UPDATE SET labels = excluded.labels, source_id = excluded.source_id,
             file_name = excluded.file_name, file_size = excluded.file_size, metadata = excluded.metadata,
             import_id = excluded.import_id, seq = excluded.seq, updated_at = excluded.updated_at, deleted_at = NULL
           WHERE signals.labels IS NOT excluded.labels OR signals.source_id IS NOT excluded.source_id
             OR signals.file_name IS NOT excluded.file_name OR signals.file_size IS NOT excluded.file_size
             OR signals.metadata IS NOT excluded.metadata OR signals.deleted_at IS NOT NULL`,
        )
        .run({ bank: bank.id, import: importId, base, now });
      const inserted = Number((db.prepare('SELECT count(*) AS n FROM signals WHERE bank_id = ?').get(bank.id) as Row).n) - before;
      const updated = upsert.changes - inserted;
      let seq = base + candidates;
      let deleted = 0;
      const markDeleted = db.prepare('UPDATE signals SET deleted_at = ?, updated_at = ?, seq = ? WHERE id = ?');
      const deletedRows = [
        ...(db.prepare(
          `SELECT s.id FROM import_latest l JOIN signals s ON s.bank_id = ? AND s.type = l.type AND s.value = l.value
           WHERE l.deleted AND s.deleted_at IS NULL ORDER BY s.id`,
        ).all(bank.id) as Row[]),
        ...(db.prepare(
          `SELECT s.id FROM signals s
           JOIN (SELECT source_id, max(line) AS line FROM import_staging WHERE value IS NULL AND deleted GROUP BY source_id) d ON d.source_id = s.source_id
           WHERE s.bank_id = ? AND s.deleted_at IS NULL
             -- a hash listed again after its source was withdrawn stays
             AND NOT EXISTS (SELECT 1 FROM import_latest l WHERE l.type = s.type AND l.value = s.value AND NOT l.deleted AND l.line > d.line)
           ORDER BY s.id`,
        ).all(bank.id) as Row[]),
      ];
      for (const r of deletedRows) {
        if (markDeleted.run(now, now, seq, r.id).changes > 0) {
          deleted++;
          seq++;
        }
      }
      // Numbers reserved for rows that turned out unchanged stay unused: an unchanged re-import moves nothing.
      const maxUsed = Number((db.prepare('SELECT coalesce(max(seq), 0) AS n FROM signals').get() as Row).n);
      db.prepare("UPDATE meta SET value = ? WHERE key = 'seq'").run(Math.max(base - 1, maxUsed));
      const unchanged = Math.max(0, signals - inserted - updated - deleted);
      db.prepare('UPDATE imports SET finished_at = ?, rows = ?, inserted = ?, updated = ?, unchanged = ?, deleted = ?, errors = ? WHERE id = ?').run(nowIso(), collector.rows, inserted, updated, unchanged, deleted, collector.errorCount, importId);
      return { importId, bank: bank.name, rows: collector.rows, signals, inserted, updated, unchanged, deleted, errorCount: collector.errorCount, errors: collector.errors };
    }).immediate();
  }

  async getSignal(id: number): Promise<Signal | undefined> {
    const row = this.db.prepare(`${SIGNAL_SELECT} WHERE s.id = ?`).get(id) as Row | undefined;
    return row ? signalFromRow(row) : undefined;
  }

  async getSignals(ids: readonly number[]): Promise<Signal[]> {
    if (ids.length === 0) return [];
    const rows = this.db.prepare(`${SIGNAL_SELECT} WHERE s.id IN (SELECT value FROM json_each(?)) ORDER BY s.id`).all(JSON.stringify(ids)) as Row[];
    return rows.map(signalFromRow);
  }

  async findSignals(type: SignalTypeName, value: string): Promise<Signal[]> {
    // Per bank through the (bank_id, type, value) key: no second index on (type, value) to maintain on import.
    const rows = this.db.prepare(`${SIGNAL_SELECT} WHERE s.bank_id IN (SELECT id FROM banks) AND s.type = ? AND s.value = ? AND s.deleted_at IS NULL ORDER BY s.id`).all(type, value) as Row[];
    return rows.map(signalFromRow);
  }

  async *listSignals(bankName: string, options: { includeDeleted?: boolean; pageSize?: number } = {}): AsyncGenerator<Signal> {
    const bank = this.requireBank(bankName);
    const page = options.pageSize ?? 10_000;
    const stmt = this.db.prepare(`${SIGNAL_SELECT} WHERE s.bank_id = ? AND s.id > ? ${options.includeDeleted ? '' : 'AND s.deleted_at IS NULL'} ORDER BY s.id LIMIT ?`);
    let after = 0;
    for (;;) {
      const rows = stmt.all(bank.id, after, page) as Row[];
      if (rows.length === 0) return;
      for (const row of rows) yield signalFromRow(row);
      after = Number(rows[rows.length - 1].id);
    }
  }

  async changesSince(afterSeq: number, limit: number): Promise<SignalChange[]> {
    const rows = this.db.prepare('SELECT seq, id, bank_id, type, value, status, deleted_at FROM signals WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as Row[];
    return rows.map((r) => ({ seq: Number(r.seq), id: Number(r.id), bankId: Number(r.bank_id), type: r.type as SignalTypeName, value: String(r.value), status: r.status as SignalStatus, deleted: r.deleted_at !== null }));
  }

  async latestSeq(): Promise<number> {
    return Number((this.db.prepare("SELECT value FROM meta WHERE key = 'seq'").get() as Row).value);
  }

  async addOpinion(signalId: number, opinion: { kind: OpinionKind; actor: string; reason?: string }): Promise<Signal> {
    if (!['confirmed', 'false_positive', 'disputed'].includes(opinion.kind)) {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected confirmed, false_positive or disputed for opinion but received ${JSON.stringify(opinion.kind)}`);
    }
    if (!opinion.actor) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a non-empty actor for an opinion');
    this.db.transaction(() => {
      const exists = this.db.prepare('SELECT status FROM signals WHERE id = ?').get(signalId) as Row | undefined;
      if (!exists) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No signal with id ${signalId}`);
      const now = nowIso();
      this.db.prepare('INSERT INTO opinions (signal_id, kind, actor, reason, created_at) VALUES (?, ?, ?, ?, ?)').run(signalId, opinion.kind, opinion.actor, opinion.reason ?? '', now);
      const status: SignalStatus | undefined = opinion.kind === 'false_positive' ? 'false_positive' : opinion.kind === 'confirmed' ? 'active' : undefined;
      if (status && status !== exists.status) {
        this.db.prepare('UPDATE signals SET status = ?, seq = ?, updated_at = ? WHERE id = ?').run(status, this.allocateSeq(1), now, signalId);
      }
    }).immediate();
    return (await this.getSignal(signalId))!;
  }

  async listOpinions(signalId: number): Promise<Opinion[]> {
    const rows = this.db.prepare('SELECT * FROM opinions WHERE signal_id = ? ORDER BY id').all(signalId) as Row[];
    return rows.map((r) => ({ id: Number(r.id), signalId: Number(r.signal_id), kind: r.kind as OpinionKind, actor: String(r.actor), reason: String(r.reason), createdAt: String(r.created_at) }));
  }

  async recordMatches(signalIds: readonly number[], at = new Date()): Promise<number[]> {
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
  }

  async bankStats(bankName: string): Promise<BankStats> {
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
  }
}
