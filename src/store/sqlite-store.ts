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

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 10000');
    // Imports insert random hash keys into B-trees: a larger page cache keeps them off the disk.
    this.db.pragma('cache_size = -262144');
    this.db.pragma('temp_store = MEMORY');
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

  async importList(bankName: string, items: AsyncIterable<ListItem> | Iterable<ListItem>, options: ImportOptions = {}): Promise<ImportResult> {
    const bank = this.requireBank(bankName);
    const collector = new RowCollector(options.keepErrors ?? 1000);
    const batchSize = options.batchSize ?? 5000;
    const counts = { signals: 0, inserted: 0, updated: 0, unchanged: 0, deleted: 0 };
    const now = nowIso();
    const db = this.db;
    // One transaction for the whole import: all of it lands, or none (crash, error, Ctrl-C).
    db.exec('BEGIN IMMEDIATE');
    try {
      const importId = Number(
        (db.prepare('INSERT INTO imports (bank_id, file_name, format, started_at) VALUES (?, ?, ?, ?) RETURNING id').get(bank.id, options.fileName ?? null, options.format ?? null, now) as Row).id,
      );
      // New rows take the cheap path (plain insert); only existing keys pay for change detection.
      const insertNew = db.prepare(
        `INSERT INTO signals (bank_id, type, value, labels, source_id, file_name, file_size, metadata, status, import_id, seq, added_seq, added_at, updated_at, deleted_at)
         VALUES (@bank, @type, @value, @labels, @source, @file, @size, @meta, 'active', @import, @seq, @seq, @now, @now, NULL)
         ON CONFLICT (bank_id, type, value) DO NOTHING`,
      );
      const upsert = db.prepare(
        `INSERT INTO signals (bank_id, type, value, labels, source_id, file_name, file_size, metadata, status, import_id, seq, added_seq, added_at, updated_at, deleted_at)
         VALUES (@bank, @type, @value, @labels, @source, @file, @size, @meta, 'active', @import, @seq, @seq, @now, @now, NULL)
         ON CONFLICT (bank_id, type, value) DO UPDATE SET labels = excluded.labels, source_id = excluded.source_id,
           file_name = excluded.file_name, file_size = excluded.file_size, metadata = excluded.metadata,
           import_id = excluded.import_id, seq = excluded.seq, updated_at = excluded.updated_at, deleted_at = NULL
         WHERE signals.labels IS NOT excluded.labels OR signals.source_id IS NOT excluded.source_id
           OR signals.file_name IS NOT excluded.file_name OR signals.file_size IS NOT excluded.file_size
           OR signals.metadata IS NOT excluded.metadata OR signals.deleted_at IS NOT NULL
         RETURNING added_seq`,
      );
      const deleteByValue = db.prepare('UPDATE signals SET deleted_at = @now, updated_at = @now, seq = @seq WHERE bank_id = @bank AND type = @type AND value = @value AND deleted_at IS NULL');
      const idsBySource = db.prepare('SELECT id FROM signals WHERE bank_id = ? AND source_id = ? AND deleted_at IS NULL');
      const deleteById = db.prepare('UPDATE signals SET deleted_at = @now, updated_at = @now, seq = @seq WHERE id = @id');
      let seq = this.allocateSeq(0) ; // next free number
      const apply = (rows: SignalRow[]) => {
        for (const row of rows) {
          counts.signals++;
          if (row.deleted) {
            if (row.type !== null && row.value !== null) {
              if (deleteByValue.run({ now, seq, bank: bank.id, type: row.type, value: row.value }).changes > 0) {
                counts.deleted++;
                seq++;
              } else counts.unchanged++;
            } else {
              for (const r of idsBySource.all(bank.id, row.sourceId) as Row[]) {
                deleteById.run({ now, seq, id: r.id });
                counts.deleted++;
                seq++;
              }
            }
            continue;
          }
          const params = { bank: bank.id, type: row.type, value: row.value, labels: row.labels, source: row.sourceId, file: row.fileName, size: row.fileSize, meta: row.metadata, import: importId, seq, now };
          if (insertNew.run(params).changes > 0) {
            counts.inserted++;
            seq++;
            continue;
          }
          const result = upsert.get(params) as Row | undefined;
          if (!result) counts.unchanged++;
          else {
            if (Number(result.added_seq) === seq) counts.inserted++;
            else counts.updated++;
            seq++;
          }
        }
      };
      let batch: SignalRow[] = [];
      for await (const item of items) {
        collector.collect(item, batch);
        if (batch.length >= batchSize) {
          apply(batch);
          batch = [];
          options.onProgress?.(collector.rows);
        }
      }
      apply(batch);
      options.onProgress?.(collector.rows);
      db.prepare("UPDATE meta SET value = ? WHERE key = 'seq'").run(seq - 1);
      db.prepare('UPDATE imports SET finished_at = ?, rows = ?, inserted = ?, updated = ?, unchanged = ?, deleted = ?, errors = ? WHERE id = ?').run(nowIso(), collector.rows, counts.inserted, counts.updated, counts.unchanged, counts.deleted, collector.errorCount, importId);
      db.exec('COMMIT');
      return { importId, bank: bank.name, rows: collector.rows, ...counts, errorCount: collector.errorCount, errors: collector.errors };
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
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
