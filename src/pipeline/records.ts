/**
 * What the pipeline keeps, in the service state DB: decisions on matched content (never content that matched
 * nothing), the review queue and report drafts they open (the review UI and reporting build on these), hashes
 * retained for retroactive matching when the operator enables it, and persisted settings (the live rules).
 */
import type { BankMatch } from '../banks/matcher.js';
import { migrateComponent, type StateDb } from '../state/sqlite.js';
import type { FiredRule, PlannedAction, Verdict } from '../rules/types.js';

export interface ActionOutcome extends PlannedAction {
  status: 'done' | 'queued' | 'skipped';
  /** Why an action was skipped (e.g. preserve_evidence on a hash-only submission: there are no bytes). */
  note?: string;
  jobId?: number;
  reviewItemId?: number;
  reportDraftId?: number;
  evidenceId?: string;
}

export interface DecisionRecord {
  id: number;
  contentId: string;
  fingerprint: string;
  accountId: string | null;
  verdict: Verdict;
  late: boolean;
  md5: string | null;
  sha1: string | null;
  sha256: string | null;
  matches: BankMatch[];
  fired: FiredRule[];
  actions: ActionOutcome[];
  context: Record<string, unknown>;
  rulesVersion: string;
  evidenceId: string | null;
  actor: string;
  createdAt: string;
}

export interface ReviewItem {
  id: number;
  decisionId: number;
  priority: number;
  state: 'open' | 'claimed' | 'closed';
  createdAt: string;
}

export interface RetainedHashes {
  id: number;
  contentId: string;
  fingerprint: string;
  accountId: string | null;
  context: Record<string, unknown>;
  query: string;
  createdAt: string;
  expiresAt: string;
  checkedSeq: number;
}

const MIGRATIONS = [
  {
    version: 1,
    description: 'decisions, review items, report drafts, retained hashes, settings',
    sql: `
      CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        content_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        account_id TEXT,
        verdict TEXT NOT NULL CHECK (verdict IN ('allow', 'review', 'block')),
        late INTEGER NOT NULL DEFAULT 0,
        md5 TEXT, sha1 TEXT, sha256 TEXT,
        matches TEXT NOT NULL,
        fired TEXT NOT NULL,
        actions TEXT NOT NULL,
        context TEXT NOT NULL DEFAULT '{}',
        rules_version TEXT NOT NULL,
        evidence_id TEXT,
        actor TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (content_id, fingerprint)
      );
      CREATE INDEX decisions_account ON decisions (account_id);
      CREATE TABLE review_items (
        id INTEGER PRIMARY KEY,
        decision_id INTEGER NOT NULL UNIQUE REFERENCES decisions (id),
        priority INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'claimed', 'closed')),
        created_at TEXT NOT NULL
      );
      CREATE INDEX review_items_queue ON review_items (state, priority DESC, id);
      CREATE TABLE report_drafts (
        id INTEGER PRIMARY KEY,
        decision_id INTEGER NOT NULL UNIQUE REFERENCES decisions (id),
        state TEXT NOT NULL DEFAULT 'draft',
        created_at TEXT NOT NULL
      );
      CREATE TABLE retained_hashes (
        id INTEGER PRIMARY KEY,
        content_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        account_id TEXT,
        context TEXT NOT NULL DEFAULT '{}',
        query TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        checked_seq INTEGER NOT NULL DEFAULT 0,
        UNIQUE (content_id, fingerprint)
      );
      CREATE INDEX retained_hashes_expiry ON retained_hashes (expires_at);
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);
    `,
  },
];

type Row = Record<string, unknown>;

function decisionOf(r: Row): DecisionRecord {
  return {
    id: Number(r.id),
    contentId: String(r.content_id),
    fingerprint: String(r.fingerprint),
    accountId: (r.account_id as string | null) ?? null,
    verdict: r.verdict as Verdict,
    late: r.late === 1,
    md5: (r.md5 as string | null) ?? null,
    sha1: (r.sha1 as string | null) ?? null,
    sha256: (r.sha256 as string | null) ?? null,
    matches: JSON.parse(String(r.matches)) as BankMatch[],
    fired: JSON.parse(String(r.fired)) as FiredRule[],
    actions: JSON.parse(String(r.actions)) as ActionOutcome[],
    context: JSON.parse(String(r.context)) as Record<string, unknown>,
    rulesVersion: String(r.rules_version),
    evidenceId: (r.evidence_id as string | null) ?? null,
    actor: String(r.actor),
    createdAt: String(r.created_at),
  };
}

function retainedOf(r: Row): RetainedHashes {
  return {
    id: Number(r.id),
    contentId: String(r.content_id),
    fingerprint: String(r.fingerprint),
    accountId: (r.account_id as string | null) ?? null,
    context: JSON.parse(String(r.context)) as Record<string, unknown>,
    query: String(r.query),
    createdAt: String(r.created_at),
    expiresAt: String(r.expires_at),
    checkedSeq: Number(r.checked_seq),
  };
}

/** Synchronous on purpose: the pipeline writes a decision, its queue jobs and its audit entry in one transaction. */
export class PipelineRecords {
  constructor(readonly db: StateDb) {
    migrateComponent(db, 'pipeline', MIGRATIONS);
  }

  findDecision(contentId: string, fingerprint: string): DecisionRecord | undefined {
    const row = this.db.prepare('SELECT * FROM decisions WHERE content_id = ? AND fingerprint = ?').get(contentId, fingerprint) as Row | undefined;
    return row ? decisionOf(row) : undefined;
  }

  getDecision(id: number): DecisionRecord | undefined {
    const row = this.db.prepare('SELECT * FROM decisions WHERE id = ?').get(id) as Row | undefined;
    return row ? decisionOf(row) : undefined;
  }

  decisionsForContent(contentId: string): DecisionRecord[] {
    return (this.db.prepare('SELECT * FROM decisions WHERE content_id = ? ORDER BY id').all(contentId) as Row[]).map(decisionOf);
  }

  listDecisions(filter: { afterId?: number; limit?: number; verdict?: string; accountId?: string } = {}): DecisionRecord[] {
    const where = ['id > ?'];
    const args: unknown[] = [filter.afterId ?? 0];
    if (filter.verdict) {
      where.push('verdict = ?');
      args.push(filter.verdict);
    }
    if (filter.accountId) {
      where.push('account_id = ?');
      args.push(filter.accountId);
    }
    const rows = this.db.prepare(`SELECT * FROM decisions WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`).all(...args, Math.min(filter.limit ?? 100, 1000)) as Row[];
    return rows.map(decisionOf);
  }

  accountHistory(accountId: string): { priorMatchedDecisions: number; priorBlocks: number } {
    const row = this.db.prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(verdict = 'block'), 0) AS blocks FROM decisions WHERE account_id = ?`).get(accountId) as { n: number; blocks: number };
    return { priorMatchedDecisions: row.n, priorBlocks: row.blocks };
  }

  /** Inserts unless (content id, fingerprint) exists; returns undefined on that conflict (a concurrent twin won). */
  insertDecision(d: Omit<DecisionRecord, 'id' | 'actions'>): number | undefined {
    const result = this.db.prepare(`INSERT INTO decisions (content_id, fingerprint, account_id, verdict, late, md5, sha1, sha256, matches, fired, actions, context, rules_version, evidence_id, actor, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?) ON CONFLICT (content_id, fingerprint) DO NOTHING`)
      .run(d.contentId, d.fingerprint, d.accountId, d.verdict, d.late ? 1 : 0, d.md5, d.sha1, d.sha256, JSON.stringify(d.matches), JSON.stringify(d.fired), JSON.stringify(d.context), d.rulesVersion, d.evidenceId, d.actor, d.createdAt);
    return result.changes === 1 ? Number(result.lastInsertRowid) : undefined;
  }

  setActions(decisionId: number, actions: ActionOutcome[]): void {
    this.db.prepare('UPDATE decisions SET actions = ? WHERE id = ?').run(JSON.stringify(actions), decisionId);
  }

  openReviewItem(decisionId: number, priority: number, at: string): number {
    return Number(this.db.prepare('INSERT INTO review_items (decision_id, priority, created_at) VALUES (?, ?, ?)').run(decisionId, priority, at).lastInsertRowid);
  }

  listReviewItems(filter: { state?: string; limit?: number } = {}): ReviewItem[] {
    const rows = this.db.prepare('SELECT * FROM review_items WHERE state = ? ORDER BY priority DESC, id LIMIT ?').all(filter.state ?? 'open', Math.min(filter.limit ?? 100, 1000)) as Row[];
    return rows.map((r) => ({ id: Number(r.id), decisionId: Number(r.decision_id), priority: Number(r.priority), state: r.state as ReviewItem['state'], createdAt: String(r.created_at) }));
  }

  openReportDraft(decisionId: number, at: string): number {
    return Number(this.db.prepare('INSERT INTO report_drafts (decision_id, created_at) VALUES (?, ?)').run(decisionId, at).lastInsertRowid);
  }

  countOpen(): { reviewItems: number; reportDrafts: number } {
    const review = this.db.prepare(`SELECT COUNT(*) AS n FROM review_items WHERE state = 'open'`).get() as { n: number };
    const drafts = this.db.prepare(`SELECT COUNT(*) AS n FROM report_drafts WHERE state = 'draft'`).get() as { n: number };
    return { reviewItems: review.n, reportDrafts: drafts.n };
  }

  retain(r: Omit<RetainedHashes, 'id' | 'checkedSeq'>, checkedSeq: number): void {
    this.db.prepare(`INSERT INTO retained_hashes (content_id, fingerprint, account_id, context, query, created_at, expires_at, checked_seq)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (content_id, fingerprint) DO UPDATE SET expires_at = excluded.expires_at`)
      .run(r.contentId, r.fingerprint, r.accountId, JSON.stringify(r.context), r.query, r.createdAt, r.expiresAt, checkedSeq);
  }

  /** Retained hashes not yet checked against the store as of `seq`, oldest first. */
  retainedBefore(seq: number, afterId: number, limit: number): RetainedHashes[] {
    return (this.db.prepare('SELECT * FROM retained_hashes WHERE checked_seq < ? AND id > ? ORDER BY id LIMIT ?').all(seq, afterId, limit) as Row[]).map(retainedOf);
  }

  markRetainedChecked(ids: readonly number[], seq: number): void {
    const stmt = this.db.prepare('UPDATE retained_hashes SET checked_seq = ? WHERE id = ?');
    this.db.transaction(() => ids.forEach((id) => stmt.run(seq, id)))();
  }

  dropRetained(id: number): void {
    this.db.prepare('DELETE FROM retained_hashes WHERE id = ?').run(id);
  }

  purgeExpired(now: string): number {
    return this.db.prepare('DELETE FROM retained_hashes WHERE expires_at <= ?').run(now).changes;
  }

  countRetained(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM retained_hashes').get() as { n: number }).n;
  }

  /** When a setting last changed (another process may have changed it). */
  settingUpdatedAt(key: string): string | undefined {
    return (this.db.prepare('SELECT updated_at FROM settings WHERE key = ?').get(key) as { updated_at: string } | undefined)?.updated_at;
  }

  getSetting(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setSetting(key: string, value: string, at: string): void {
    this.db.prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at').run(key, value, at);
  }
}
