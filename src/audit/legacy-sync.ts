/**
 * TEMPORARY: the synchronous audit log over better-sqlite3 that the pipeline, routes and serve.ts still
 * call while they move to `AuditLog` (log.ts) on `VigilDatabase`. Same table, same chain, same hashes;
 * delete this file once nothing imports it.
 */
import { invalidArgument } from '../core/errors.js';
import { migrateComponent, type StateDb } from '../state/sqlite.js';
import { auditHashInput, checkAnchor, checkAuditInput, ChainChecker, type AuditAnchor, type AuditEntry, type AuditInput, type AuditListFilter, type AuditVerifyResult } from './log.js';
import { AUDIT_MIGRATIONS, GENESIS_HASH, type AuditLogTable } from './schema.js';
import { createHash } from 'node:crypto';

export class SyncAuditLog {
  private readonly now: () => Date;

  constructor(private readonly db: StateDb, options: { now?: () => Date } = {}) {
    this.now = options.now ?? (() => new Date());
    // A database the new migration system made already has the table (and no component_versions row).
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'").get()) {
      migrateComponent(db, 'audit', [{ version: 1, description: AUDIT_MIGRATIONS[0]!.description, sql: AUDIT_MIGRATIONS[0]!.sqlite }]);
    }
  }

  append(input: AuditInput): AuditEntry {
    return this.appendMany([input])[0]!;
  }

  appendMany(inputs: readonly AuditInput[]): AuditEntry[] {
    if (!Array.isArray(inputs)) throw invalidArgument('an array of audit inputs', 'inputs', inputs);
    const checked = inputs.map(checkAuditInput);
    const run = () => checked.map((c) => {
      const head = this.head();
      // No request ids here: a database of the first release has no column for them.
      const fields = { seq: head.seq + 1, at: this.now().toISOString(), actor: c.actor, action: c.action, subject: c.subject, requestId: null, prevHash: head.hash };
      const hash = createHash('sha256').update(auditHashInput(fields, c.detailsJson), 'utf8').digest('hex');
      this.db.prepare('INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(fields.seq, fields.at, fields.actor, fields.action, fields.subject, c.detailsJson, fields.prevHash, hash);
      return { ...fields, details: JSON.parse(c.detailsJson) as Record<string, unknown>, hash };
    });
    return this.db.inTransaction ? run() : this.db.transaction(run).immediate();
  }

  list(filter: AuditListFilter = {}): AuditEntry[] {
    const limit = filter.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw invalidArgument('an integer from 1 to 10000', 'limit', limit);
    const where = ['seq > ?'];
    const params: (string | number)[] = [filter.afterSeq ?? 0];
    if (filter.action !== undefined) {
      const prefix = filter.action.endsWith('.*') ? filter.action.slice(0, -1) : undefined;
      where.push(prefix ? 'action >= ? AND action < ?' : 'action = ?');
      params.push(...(prefix ? [prefix, prefix.slice(0, -1) + '/'] : [filter.action]));
    }
    if (filter.subject !== undefined) {
      where.push('subject = ?');
      params.push(filter.subject);
    }
    return this.db.prepare<(string | number)[], AuditLogTable>(`SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`)
      .all(...params, limit)
      .map((r) => ({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, subject: r.subject, details: JSON.parse(r.details) as Record<string, unknown>, requestId: r.request_id ?? null, prevHash: r.prev_hash, hash: r.hash }));
  }

  head(): AuditAnchor {
    const row = this.db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get();
    return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  verify(options: { anchor?: AuditAnchor } = {}): AuditVerifyResult {
    const checker = new ChainChecker(options.anchor ? checkAnchor(options.anchor) : undefined);
    for (const row of this.db.prepare<[], AuditLogTable>('SELECT * FROM audit_log ORDER BY seq').iterate()) {
      const bad = checker.check(row);
      if (bad) return bad;
    }
    return checker.finish();
  }

  async verifyAsync(options: { anchor?: AuditAnchor } = {}): Promise<AuditVerifyResult> {
    return this.verify(options);
  }
}
