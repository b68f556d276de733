/**
 * Append-only, hash-chained audit log: every decision, rule change, key use and data access.
 *
 * Each entry's hash is SHA-256 (hex) of the canonical JSON (core/canonical-json.ts, RFC 8785-compatible) of
 * {seq, at, actor, action, subject, details, prevHash} plus requestId when the entry has one (so chains
 * written before request ids existed still verify); prevHash is the previous entry's hash, 64 zeros for
 * seq 1. Seqs are contiguous from 1. Triggers refuse edits (schema.ts), but `verify` trusts nothing in the
 * database: it recomputes every hash and link. What a chain alone cannot show is a consistent rewrite or
 * truncation of the tail; for that, operators keep an anchor (seq:hash printed by `vigil audit verify`, or
 * shipped to logs) outside the database and pass it to the next verify.
 *
 * `append(tx, …)` writes inside the caller's unit of work: a change and its audit entry commit, or roll
 * back, together. Appenders are serialised so two of them never fork the chain: SQLite's transactions
 * hold the write lock from BEGIN IMMEDIATE; on PostgreSQL an append takes a transaction-scoped advisory
 * lock, held until the caller commits — so append last in a long unit of work.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { invalidArgument } from '../core/errors.js';
import type { Tx, VigilDatabase } from '../state/database.js';
import { GENESIS_HASH, type AuditLogTable } from './schema.js';
import { canonicalJson } from '../core/canonical-json.js';

export { AUDIT_COMPONENT, AUDIT_MIGRATIONS, GENESIS_HASH } from './schema.js';

export interface AuditInput {
  /** Who: 'key:<keyId>' | 'user:<id>' | 'cli' | 'system'. */
  actor: string;
  /** What, dotted: 'decision.created', 'rules.changed', 'key.created', 'key.revoked', 'key.used', 'data.accessed', … */
  action: string;
  /** What it was done to: a key id, bank name, decision id … */
  subject?: string;
  /** JSON-serialisable facts; never secrets. */
  details?: Record<string, unknown>;
  /** The request (HTTP request id, CLI invocation, job) that made the change, when there is one. */
  requestId?: string | null;
}

/** Who is acting, passed down to the services that audit their changes. */
export interface AuditActor {
  actor: string;
  requestId?: string | null;
  /** Facts about the actor merged into each entry's details (e.g. the CLI's operating-system user). */
  details?: Record<string, unknown>;
}

export interface AuditEntry extends Required<Pick<AuditInput, 'actor' | 'action'>> {
  seq: number;
  /** ISO 8601 timestamp. */
  at: string;
  subject: string | null;
  details: Record<string, unknown>;
  requestId: string | null;
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

type Row = AuditLogTable;

interface Checked {
  actor: string;
  action: string;
  subject: string | null;
  detailsJson: string;
  requestId: string | null;
}

/** Serialises appenders on PostgreSQL (7351001: migrations, 7351002: the store's change feed). */
const AUDIT_LOCK_ID = 7351003;
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const ACTION_PREFIX = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const HEX64 = /^[0-9a-f]{64}$/;
const MAX_LIST = 10_000;

type HashFields = Omit<AuditEntry, 'details' | 'hash' | 'requestId'> & { requestId?: string | null };

/**
 * The text that is hashed: canonicalJson of the entry without its hash (requestId only when not null),
 * built directly so that verify can hash the stored details text without parsing it (a test pins it to
 * canonicalJson).
 */
export function auditHashInput(e: HashFields, detailsJson: string): string {
  const requestId = e.requestId === undefined || e.requestId === null ? '' : `"requestId":${JSON.stringify(e.requestId)},`;
  return (
    `{"action":${JSON.stringify(e.action)},"actor":${JSON.stringify(e.actor)},"at":${JSON.stringify(e.at)},` +
    `"details":${detailsJson},"prevHash":${JSON.stringify(e.prevHash)},${requestId}"seq":${JSON.stringify(e.seq)},` +
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

export function checkAnchor(anchor: AuditAnchor): AuditAnchor {
  if (!Number.isSafeInteger(anchor.seq) || anchor.seq < 0) throw invalidArgument('a non-negative integer', 'anchor.seq', anchor.seq);
  if (typeof anchor.hash !== 'string' || !HEX64.test(anchor.hash)) throw invalidArgument('64 lowercase hex digits', 'anchor.hash', anchor.hash);
  if (anchor.seq === 0 && anchor.hash !== GENESIS_HASH) throw invalidArgument('the genesis hash (64 zeros) for seq 0', 'anchor.hash', anchor.hash);
  return anchor;
}

export function checkAuditInput(input: AuditInput): Checked {
  if (typeof input !== 'object' || input === null) throw invalidArgument('an audit input object', 'input', input);
  const { actor, action, subject, details, requestId } = input;
  if (typeof actor !== 'string' || actor.length === 0 || actor.length > 200 || CONTROL.test(actor)) throw invalidArgument("an actor ('cli', 'system', 'key:<id>', 'user:<id>')", 'actor', actor);
  if (typeof action !== 'string' || action.length > 100 || !ACTION.test(action)) throw invalidArgument("a dotted lowercase action such as 'key.created'", 'action', action);
  if (subject !== undefined && subject !== null && (typeof subject !== 'string' || subject.length > 1000)) throw invalidArgument('a subject string (at most 1000 characters)', 'subject', subject);
  if (details !== undefined && (typeof details !== 'object' || details === null || Array.isArray(details))) throw invalidArgument('a details object', 'details', details);
  if (requestId !== undefined && requestId !== null && (typeof requestId !== 'string' || requestId.length === 0 || requestId.length > 200 || CONTROL.test(requestId))) {
    throw invalidArgument('a request id (1–200 printable characters)', 'requestId', requestId);
  }
  return { actor, action, subject: subject ?? null, detailsJson: canonicalJson(details ?? {}), requestId: requestId ?? null };
}

/** An entry for `by` doing `action` to `subject`. */
export function auditBy(by: AuditActor, action: string, subject: string | undefined, details: Record<string, unknown> = {}): AuditInput {
  return { actor: by.actor, action, ...(subject !== undefined ? { subject } : {}), details: { ...by.details, ...details }, requestId: by.requestId ?? null };
}

function toEntry(row: Row): AuditEntry {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    details: JSON.parse(row.details) as Record<string, unknown>,
    requestId: row.request_id ?? null,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export interface AuditListFilter {
  afterSeq?: number;
  limit?: number;
  /** Exact ('key.created') or a prefix ('key.*'). */
  action?: string;
  subject?: string;
}

/** The tables must exist: run `migrate(db, [AUDIT_COMPONENT, …])` first. */
export class AuditLog {
  private readonly now: () => Date;

  constructor(private readonly db: VigilDatabase, options: { now?: () => Date } = {}) {
    this.now = options.now ?? (() => new Date());
  }

  /** Appends inside the caller's transaction. */
  async append(tx: Tx, input: AuditInput): Promise<AuditEntry> {
    return (await this.appendMany(tx, [input]))[0]!;
  }

  /** All or nothing with the caller's transaction; inputs are validated before anything is written. */
  async appendMany(tx: Tx, inputs: readonly AuditInput[]): Promise<AuditEntry[]> {
    if (!Array.isArray(inputs)) throw invalidArgument('an array of audit inputs', 'inputs', inputs);
    const checked = inputs.map(checkAuditInput);
    if (checked.length === 0) return [];
    // Keyed by schema too: deployments (or test runs) in other schemas of one database do not wait on each other.
    if (tx.engine === 'postgres') await sql`SELECT pg_advisory_xact_lock(${AUDIT_LOCK_ID}, hashtext(current_schema()))`.execute(tx.k);
    let head = await this.head(tx);
    const added: AuditEntry[] = [];
    for (const c of checked) {
      const fields = { seq: head.seq + 1, at: this.now().toISOString(), actor: c.actor, action: c.action, subject: c.subject, requestId: c.requestId, prevHash: head.hash };
      const hash = sha256Hex(auditHashInput(fields, c.detailsJson));
      await tx.k.insertInto('audit_log').values({
        seq: fields.seq, at: fields.at, actor: c.actor, action: c.action, subject: c.subject, details: c.detailsJson,
        prev_hash: fields.prevHash, hash, request_id: c.requestId,
      }).execute();
      added.push({ ...fields, details: JSON.parse(c.detailsJson) as Record<string, unknown>, hash });
      head = { seq: fields.seq, hash };
    }
    return added;
  }

  /** Appends in a transaction of its own (for events that change nothing else). */
  async appendNow(input: AuditInput): Promise<AuditEntry> {
    return (await this.appendManyNow([input]))[0]!;
  }

  async appendManyNow(inputs: readonly AuditInput[]): Promise<AuditEntry[]> {
    if (!Array.isArray(inputs)) throw invalidArgument('an array of audit inputs', 'inputs', inputs);
    inputs.forEach(checkAuditInput); // fail before taking the write lock
    return this.db.transaction((tx) => this.appendMany(tx, inputs));
  }

  /** Entries in seq order. Default limit 100, at most 10 000; page with afterSeq. */
  async list(filter: AuditListFilter = {}): Promise<AuditEntry[]> {
    const afterSeq = filter.afterSeq ?? 0;
    const limit = filter.limit ?? 100;
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw invalidArgument('a non-negative integer', 'afterSeq', afterSeq);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST) throw invalidArgument(`an integer from 1 to ${MAX_LIST}`, 'limit', limit);
    let q = this.db.k.selectFrom('audit_log').selectAll().where('seq', '>', afterSeq);
    if (filter.action !== undefined) {
      if (ACTION_PREFIX.test(filter.action)) {
        // 'key.*' → key. <= action < key/ ('/' follows '.'), which the (action, seq) index serves.
        const prefix = filter.action.slice(0, -1);
        q = q.where('action', '>=', prefix).where('action', '<', prefix.slice(0, -1) + '/');
      } else if (ACTION.test(filter.action)) {
        q = q.where('action', '=', filter.action);
      } else {
        throw invalidArgument("an action such as 'key.created' or a prefix such as 'key.*'", 'action', filter.action);
      }
    }
    if (filter.subject !== undefined) q = q.where('subject', '=', filter.subject);
    return (await q.orderBy('seq').limit(limit).execute()).map(toEntry);
  }

  /** The last entry (inside `tx` when given: it sees the transaction's own appends). */
  async head(tx?: Tx): Promise<AuditAnchor> {
    const row = await (tx?.k ?? this.db.k).selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  /**
   * Recomputes every hash and link, reading keyset pages of `batchSize` rows (default 5000), so memory
   * stays flat and other work runs between pages. Stops at the first problem. Pages are separate reads,
   * which is sound for an append-only log: entries appended meanwhile are verified too. With an anchor
   * (seq:hash from an earlier head), also proves the log still reaches that entry unchanged: without one,
   * a consistent rewrite or truncation of the tail is undetectable.
   */
  async verify(options: { anchor?: AuditAnchor; batchSize?: number } = {}): Promise<AuditVerifyResult> {
    const checker = new ChainChecker(options.anchor ? checkAnchor(options.anchor) : undefined);
    const batchSize = options.batchSize ?? 5000;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalidArgument('a positive integer', 'batchSize', batchSize);
    let after = Number.MIN_SAFE_INTEGER; // not 0: rows with forged seqs <= 0 must be seen
    for (;;) {
      const rows = await this.db.k.selectFrom('audit_log').selectAll().where('seq', '>', after).orderBy('seq').limit(batchSize).execute();
      for (const row of rows) {
        const bad = checker.check(row);
        if (bad) return bad;
      }
      if (rows.length < batchSize) return checker.finish();
      after = rows[rows.length - 1]!.seq;
    }
  }
}

/** The chain checks: rows arrive in seq order. */
export class ChainChecker {
  private prevSeq = 0;
  private prevHash = GENESIS_HASH;

  constructor(private readonly anchor: AuditAnchor | undefined) {}

  /** A failed result at the first problem, else undefined. */
  check(row: Omit<Row, 'request_id'> & { request_id?: string | null }): AuditVerifyResult | undefined {
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
    const input = { seq: row.seq, at: row.at, actor: row.actor, action: row.action, subject: row.subject, requestId: row.request_id ?? null, prevHash: row.prev_hash };
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
