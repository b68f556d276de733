/**
 * Append-only, hash-chained audit log: every decision, rule change, key use and data access.
 *
 * Each entry's hash is SHA-256 (hex) of the canonical JSON (canonical.ts, RFC 8785-compatible) of
 * {seq, at, actor, action, subject, details, prevHash}; prevHash is the previous entry's hash, 64 zeros for
 * seq 1. Seqs are contiguous from 1. Triggers refuse UPDATE and DELETE and any INSERT that does not extend
 * the chain, but they only stop mistakes: whoever can write the file can drop them. `verify` therefore
 * trusts nothing in the database: it recomputes every hash and link. What a chain alone cannot show is a
 * consistent rewrite or truncation of the tail; for that, operators keep an anchor (seq:hash printed by
 * `vigil audit verify`, or shipped to logs) outside the database and pass it to the next verify.
 *
 * `append` is synchronous so that it can run inside a caller's `db.transaction(...)`: the decision and
 * its audit entry commit, or roll back, together. Callers that append inside their own transaction
 * should start it with `.immediate()`: a deferred transaction that reads and then writes can fail with
 * SQLITE_BUSY_SNAPSHOT when another process appended meanwhile.
 */
import { createHash } from 'node:crypto';
import { invalidArgument } from '../core/errors.js';
import { migrateComponent, type ComponentMigration, type StateDb } from '../state/sqlite.js';
import { canonicalJson } from './canonical.js';

export interface AuditInput {
  /** Who: 'key:<keyId>' | 'cli' | 'system' | 'user:<name>'. */
  actor: string;
  /** What, dotted: 'decision.created', 'rules.changed', 'key.created', 'key.revoked', 'key.used', 'data.accessed', … */
  action: string;
  /** What it was done to: a key id, bank name, decision id … */
  subject?: string;
  /** JSON-serialisable facts; never secrets. */
  details?: Record<string, unknown>;
}

export interface AuditEntry extends Required<Pick<AuditInput, 'actor' | 'action'>> {
  seq: number;
  /** ISO 8601 timestamp. */
  at: string;
  subject: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditVerifyResult {
  ok: boolean;
  /** Entries checked and found sound (all of them when ok). */
  entries: number;
  /** The last sound entry: the head when ok, a trustworthy prefix's end otherwise (0 and 64 zeros when none). */
  headSeq: number;
  headHash: string;
  firstBadSeq?: number;
  problem?: string;
}

export interface AuditAnchor {
  seq: number;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

export const AUDIT_MIGRATIONS: readonly ComponentMigration[] = [
  {
    version: 1,
    description: 'hash-chained audit log, append-only triggers',
    sql: `
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX audit_log_action ON audit_log (action, seq);
      CREATE INDEX audit_log_subject ON audit_log (subject, seq);
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      CREATE TRIGGER audit_log_extends_chain BEFORE INSERT ON audit_log
        WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1
          OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_log WHERE seq = NEW.seq - 1), '${GENESIS_HASH}')
        BEGIN SELECT RAISE(ABORT, 'audit_log entries must extend the chain'); END;
    `,
  },
];

interface Row {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const ACTION_PREFIX = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const HEX64 = /^[0-9a-f]{64}$/;
const MAX_LIST = 10_000;

/**
 * The text that is hashed: canonicalJson of the entry without its hash, built directly so that verify
 * can hash the stored details text without parsing it (a test pins it to canonicalJson).
 */
export function auditHashInput(e: Omit<AuditEntry, 'details' | 'hash'>, detailsJson: string): string {
  return (
    `{"action":${JSON.stringify(e.action)},"actor":${JSON.stringify(e.actor)},"at":${JSON.stringify(e.at)},` +
    `"details":${detailsJson},"prevHash":${JSON.stringify(e.prevHash)},"seq":${JSON.stringify(e.seq)},` +
    `"subject":${e.subject === null ? 'null' : JSON.stringify(e.subject)}}`
  );
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** '<seq>:<hash>' as printed by `vigil audit verify`. */
export function parseAuditAnchor(text: string): AuditAnchor {
  const m = /^(\d{1,15}):([0-9a-fA-F]{64})$/.exec(text.trim());
  if (!m) throw invalidArgument('an anchor <seq>:<64 hex digits>', 'anchor', text);
  return checkAnchor({ seq: Number(m[1]), hash: m[2].toLowerCase() });
}

export function formatAuditAnchor(anchor: AuditAnchor): string {
  return `${anchor.seq}:${anchor.hash}`;
}

function checkAnchor(anchor: AuditAnchor): AuditAnchor {
  if (!Number.isSafeInteger(anchor.seq) || anchor.seq < 0) throw invalidArgument('a non-negative integer', 'anchor.seq', anchor.seq);
  if (typeof anchor.hash !== 'string' || !HEX64.test(anchor.hash)) throw invalidArgument('64 lowercase hex digits', 'anchor.hash', anchor.hash);
  if (anchor.seq === 0 && anchor.hash !== GENESIS_HASH) throw invalidArgument('the genesis hash (64 zeros) for seq 0', 'anchor.hash', anchor.hash);
  return anchor;
}

function checkInput(input: AuditInput): { actor: string; action: string; subject: string | null; detailsJson: string } {
  if (typeof input !== 'object' || input === null) throw invalidArgument('an audit input object', 'input', input);
  const { actor, action, subject, details } = input;
  if (typeof actor !== 'string' || actor.length === 0 || actor.length > 200 || CONTROL.test(actor)) throw invalidArgument("an actor ('cli', 'system', 'key:<id>', 'user:<name>')", 'actor', actor);
  if (typeof action !== 'string' || action.length > 100 || !ACTION.test(action)) throw invalidArgument("a dotted lowercase action such as 'key.created'", 'action', action);
  if (subject !== undefined && subject !== null && (typeof subject !== 'string' || subject.length > 1000)) throw invalidArgument('a subject string (at most 1000 characters)', 'subject', subject);
  if (details !== undefined && (typeof details !== 'object' || details === null || Array.isArray(details))) throw invalidArgument('a details object', 'details', details);
  return { actor, action, subject: subject ?? null, detailsJson: canonicalJson(details ?? {}) };
}

function toEntry(row: Row): AuditEntry {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    details: JSON.parse(row.details) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export class AuditLog {
  private readonly now: () => Date;
  private readonly headStmt;
  private readonly insertStmt;

  constructor(private readonly db: StateDb, options: { now?: () => Date } = {}) {
    this.now = options.now ?? (() => new Date());
    migrateComponent(db, 'audit', AUDIT_MIGRATIONS);
    this.headStmt = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    this.insertStmt = db.prepare(
      'INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
  }

  append(input: AuditInput): AuditEntry {
    const checked = checkInput(input);
    return this.inTransaction(() => this.insert(checked));
  }

  /** All or nothing, in one transaction (the caller's, when inside one). */
  appendMany(inputs: readonly AuditInput[]): AuditEntry[] {
    if (!Array.isArray(inputs)) throw invalidArgument('an array of audit inputs', 'inputs', inputs);
    const checked = inputs.map(checkInput);
    return this.inTransaction(() => checked.map((c) => this.insert(c)));
  }

  /** Entries in seq order. `action` is exact, or a prefix such as 'key.*'. Default limit 100, at most 10 000; page with afterSeq. */
  list(filter: { afterSeq?: number; limit?: number; action?: string; subject?: string } = {}): AuditEntry[] {
    const afterSeq = filter.afterSeq ?? 0;
    const limit = filter.limit ?? 100;
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw invalidArgument('a non-negative integer', 'afterSeq', afterSeq);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST) throw invalidArgument(`an integer from 1 to ${MAX_LIST}`, 'limit', limit);
    const where = ['seq > ?'];
    const params: (string | number)[] = [afterSeq];
    if (filter.action !== undefined) {
      if (ACTION_PREFIX.test(filter.action)) {
        // 'key.*' → key. <= action < key/ ('/' follows '.'), which the (action, seq) index serves.
        const prefix = filter.action.slice(0, -1);
        where.push('action >= ? AND action < ?');
        params.push(prefix, prefix.slice(0, -1) + '/');
      } else if (ACTION.test(filter.action)) {
        where.push('action = ?');
        params.push(filter.action);
      } else {
        throw invalidArgument("an action such as 'key.created' or a prefix such as 'key.*'", 'action', filter.action);
      }
    }
    if (filter.subject !== undefined) {
      where.push('subject = ?');
      params.push(filter.subject);
    }
    const rows = this.db
      .prepare<(string | number)[], Row>(`SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`)
      .all(...params, limit);
    return rows.map(toEntry);
  }

  head(): AuditAnchor {
    const row = this.headStmt.get();
    return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  /**
   * Recomputes every hash and link, in one read snapshot, streaming rows. Stops at the first problem.
   * With an anchor (seq:hash from an earlier head), also proves the log still reaches that entry unchanged:
   * without one, a consistent rewrite or truncation of the tail is undetectable. Synchronous: a long log
   * blocks the event loop (about 10 s per million entries), so servers use verifyAsync.
   */
  verify(options: { anchor?: AuditAnchor } = {}): AuditVerifyResult {
    const checker = new ChainChecker(options.anchor ? checkAnchor(options.anchor) : undefined);
    for (const row of this.db.prepare<[], Row>('SELECT * FROM audit_log ORDER BY seq').iterate()) {
      const bad = checker.check(row);
      if (bad) return bad;
    }
    return checker.finish();
  }

  /**
   * verify in pages of `batchSize` rows (default 5000), yielding to the event loop between pages. Pages are
   * separate reads, which is sound for an append-only log: entries appended meanwhile are verified too.
   */
  async verifyAsync(options: { anchor?: AuditAnchor; batchSize?: number } = {}): Promise<AuditVerifyResult> {
    const checker = new ChainChecker(options.anchor ? checkAnchor(options.anchor) : undefined);
    const batchSize = options.batchSize ?? 5000;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalidArgument('a positive integer', 'batchSize', batchSize);
    const page = this.db.prepare<[number, number], Row>('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?');
    let after = Number.MIN_SAFE_INTEGER; // not 0: rows with forged seqs <= 0 must be seen
    for (;;) {
      const rows = page.all(after, batchSize);
      for (const row of rows) {
        const bad = checker.check(row);
        if (bad) return bad;
      }
      if (rows.length < batchSize) return checker.finish();
      after = rows[rows.length - 1].seq;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private inTransaction<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    // IMMEDIATE takes the write lock before reading the head, so two processes cannot fork the chain.
    return this.db.transaction(fn).immediate();
  }

  private insert(c: { actor: string; action: string; subject: string | null; detailsJson: string }): AuditEntry {
    const head = this.head();
    const fields = { seq: head.seq + 1, at: this.now().toISOString(), actor: c.actor, action: c.action, subject: c.subject, prevHash: head.hash };
    const hash = sha256Hex(auditHashInput(fields, c.detailsJson));
    this.insertStmt.run(fields.seq, fields.at, fields.actor, fields.action, fields.subject, c.detailsJson, fields.prevHash, hash);
    return { ...fields, details: JSON.parse(c.detailsJson) as Record<string, unknown>, hash };
  }
}

/** The chain checks shared by verify and verifyAsync: rows arrive in seq order. */
class ChainChecker {
  private prevSeq = 0;
  private prevHash = GENESIS_HASH;

  constructor(private readonly anchor: AuditAnchor | undefined) {}

  /** A failed result at the first problem, else undefined. */
  check(row: Row): AuditVerifyResult | undefined {
    const { prevSeq, prevHash, anchor } = this;
    const expected = prevSeq + 1;
    if (row.seq !== expected) {
      return this.bad(expected, row.seq > expected
        ? `entry ${expected}${row.seq > expected + 1 ? `–${row.seq - 1}` : ''} missing (deleted): the next entry present is ${row.seq}`
        : `entry with invalid seq ${String(row.seq)} where ${expected} was expected`);
    }
    if (row.prev_hash !== prevHash) {
      return this.bad(row.seq, `broken link: prevHash of entry ${row.seq} does not match ${prevSeq ? `the hash of entry ${prevSeq}` : 'the genesis hash'} (an entry was inserted, reordered or rewritten)`);
    }
    const input = { seq: row.seq, at: row.at, actor: row.actor, action: row.action, subject: row.subject, prevHash: row.prev_hash };
    if (typeof row.details !== 'string' || sha256Hex(auditHashInput(input, row.details)) !== row.hash) {
      return this.bad(row.seq, `hash mismatch: entry ${row.seq}'s contents or stored hash were edited`);
    }
    if (anchor && row.seq === anchor.seq && row.hash !== anchor.hash) {
      return this.bad(row.seq, `anchor mismatch: entry ${row.seq}'s hash differs from the anchor (the log was rewritten up to entry ${row.seq})`);
    }
    this.prevSeq = row.seq;
    this.prevHash = row.hash;
    return undefined;
  }

  finish(): AuditVerifyResult {
    if (this.anchor && this.anchor.seq > this.prevSeq) {
      return this.bad(this.prevSeq + 1, `truncated: the log ends at entry ${this.prevSeq} but the anchor records entry ${this.anchor.seq}`);
    }
    return { ok: true, entries: this.prevSeq, headSeq: this.prevSeq, headHash: this.prevHash };
  }

  private bad(firstBadSeq: number, problem: string): AuditVerifyResult {
    return { ok: false, entries: this.prevSeq, headSeq: this.prevSeq, headHash: this.prevHash, firstBadSeq, problem };
  }
}
