/**
 * API keys: a public id, a name, scopes and a per-key rate limit; the secret itself is never stored.
 *
 * Secret: 'vigil_' + id + '_' + 32 random bytes in base64url, shown once at creation. The database holds
 * SHA-256(secret). A slow password hash (bcrypt, scrypt) is for low-entropy human passwords; a 256-bit
 * random secret cannot be brute-forced from its SHA-256, and `authenticate` runs on every request and must
 * stay well under a millisecond. The id inside the secret selects the row, so the check is one
 * constant-time comparison of two 32-byte digests, not a scan.
 *
 * Roles for people (roadmap: review UI) map onto scopes: see ROLE_SCOPES.
 *
 * Key changes are not audited here: callers append 'key.created' / 'key.revoked' to the AuditLog in the
 * same transaction (the CLI does), with their own actor.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalidArgument, VigilError } from '../core/errors.js';
import { migrateComponent, type ComponentMigration, type StateDb } from '../state/sqlite.js';

export const SCOPES = ['submit', 'lookup', 'curate', 'review', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** What each role may do, for people signing in to the review UI (roadmap). */
export const ROLE_SCOPES = {
  reviewer: ['review', 'lookup'],
  investigator: ['lookup', 'curate'],
  admin: ['admin'],
} as const satisfies Record<string, readonly Scope[]>;

export interface ApiKey {
  /** Public: 'k_' + 12 base32 characters. Safe to log. */
  id: string;
  name: string;
  scopes: Scope[];
  /** 0 = unlimited. */
  rateLimitPerMinute: number;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export const DEFAULT_RATE_LIMIT_PER_MINUTE = 6000;
const MARK_USED_INTERVAL_MS = 60_000;
const ID_CHARS = 12;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
// The id alphabet has no '_', so the first '_' after it ends the id even though base64url may contain '_'.
const SECRET = /^vigil_(k_[a-z2-7]{12})_[A-Za-z0-9_-]{32,128}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export const AUTH_MIGRATIONS: readonly ComponentMigration[] = [
  {
    version: 1,
    description: 'API keys (hashed secrets, scopes, rate limits), cache revision',
    sql: `
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        rate_limit_per_minute INTEGER NOT NULL CHECK (rate_limit_per_minute >= 0),
        secret_sha256 BLOB NOT NULL CHECK (length(secret_sha256) = 32),
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        last_used_at TEXT
      );
      -- Bumped by any change that can affect authentication, so each process drops its cached rows when
      -- another process (vigil key revoke) changes a key. random(), not +1: a rolled-back bump must not
      -- let a later, different change reproduce a revision a process already cached under.
      CREATE TABLE api_key_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL);
      INSERT INTO api_key_revision (id, revision) VALUES (1, 0);
      CREATE TRIGGER api_keys_revision_update AFTER UPDATE OF id, name, scopes, rate_limit_per_minute, secret_sha256, expires_at, revoked_at ON api_keys
        BEGIN UPDATE api_key_revision SET revision = random() WHERE id = 1; END;
      CREATE TRIGGER api_keys_revision_delete AFTER DELETE ON api_keys
        BEGIN UPDATE api_key_revision SET revision = random() WHERE id = 1; END;
      CREATE TRIGGER api_keys_revision_insert AFTER INSERT ON api_keys
        BEGIN UPDATE api_key_revision SET revision = random() WHERE id = 1; END;
    `,
  },
];

interface Row {
  id: string;
  name: string;
  scopes: string;
  rate_limit_per_minute: number;
  secret_sha256: Buffer;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

interface Cached {
  key: ApiKey;
  secretSha256: Buffer;
  expiresAtMs: number;
}

export function hasScope(key: Pick<ApiKey, 'scopes'>, scope: Scope): boolean {
  return key.scopes.includes('admin') || key.scopes.includes(scope);
}

function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** 'submit,lookup' → ['submit', 'lookup']: validated, deduplicated, in SCOPES order; at least one. */
export function parseScopes(csv: string): Scope[] {
  if (typeof csv !== 'string') throw invalidArgument(`a comma-separated list of scopes (${SCOPES.join(', ')})`, 'scopes', csv);
  const names = csv.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return normaliseScopes(names);
}

function normaliseScopes(names: readonly string[]): Scope[] {
  for (const name of names) {
    if (!isScope(name)) throw invalidArgument(`a scope (${SCOPES.join(', ')})`, 'scope', name);
  }
  if (names.length === 0) throw invalidArgument(`at least one scope (${SCOPES.join(', ')})`, 'scopes', names.join(','));
  return SCOPES.filter((s) => names.includes(s));
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function newId(): string {
  const bytes = randomBytes(ID_CHARS);
  let id = 'k_';
  for (const b of bytes) id += BASE32[b & 31]; // 256 is a multiple of 32: no bias
  return id;
}

function toKey(row: Row): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.split(',').filter(isScope),
    rateLimitPerMinute: row.rate_limit_per_minute,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

function copy(key: ApiKey): ApiKey {
  return { ...key, scopes: [...key.scopes] };
}

export class ApiKeyStore {
  private readonly now: () => Date;
  private readonly cache = new Map<string, Cached>();
  private cacheRevision: number | undefined;
  private readonly lastMarked = new Map<string, number>();
  private readonly getStmt;
  private readonly revisionStmt;
  private readonly markUsedStmt;

  constructor(private readonly db: StateDb, options: { now?: () => Date } = {}) {
    this.now = options.now ?? (() => new Date());
    migrateComponent(db, 'auth', AUTH_MIGRATIONS);
    this.getStmt = db.prepare<[string], Row>('SELECT * FROM api_keys WHERE id = ?');
    this.revisionStmt = db.prepare<[], number>('SELECT revision FROM api_key_revision WHERE id = 1').pluck();
    this.markUsedStmt = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?');
  }

  /**
   * Creates a key and returns its secret, which is not recoverable afterwards. `secret` (format as
   * generated, id included) makes a deterministic key for demos and tests only: such a secret is public.
   */
  create(input: { name: string; scopes: readonly Scope[]; rateLimitPerMinute?: number; expiresAt?: string | null; secret?: string }): { key: ApiKey; secret: string } {
    const { name } = input;
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200 || CONTROL.test(name)) throw invalidArgument('a key name (1–200 printable characters)', 'name', name);
    if (!Array.isArray(input.scopes)) throw invalidArgument('an array of scopes', 'scopes', input.scopes);
    const scopes = normaliseScopes(input.scopes);
    const rate = input.rateLimitPerMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE;
    if (!Number.isSafeInteger(rate) || rate < 0) throw invalidArgument('a non-negative integer (0 = unlimited)', 'rateLimitPerMinute', rate);
    const now = this.now();
    let expiresAt: string | null = null;
    if (input.expiresAt !== undefined && input.expiresAt !== null) {
      const ms = typeof input.expiresAt === 'string' ? Date.parse(input.expiresAt) : NaN;
      if (Number.isNaN(ms)) throw invalidArgument('an ISO 8601 date-time', 'expiresAt', input.expiresAt);
      if (ms <= now.getTime()) throw invalidArgument('an expiry in the future', 'expiresAt', input.expiresAt);
      expiresAt = new Date(ms).toISOString();
    }
    let id: string;
    let secret: string;
    if (input.secret !== undefined) {
      const m = typeof input.secret === 'string' ? SECRET.exec(input.secret) : null;
      if (!m) throw invalidArgument("a secret 'vigil_k_<12 of a-z2-7>_<32–128 base64url characters>'", 'secret', '(hidden)');
      id = m[1];
      secret = input.secret;
    } else {
      id = newId();
      secret = `vigil_${id}_${randomBytes(32).toString('base64url')}`;
    }
    const key: ApiKey = { id, name, scopes, rateLimitPerMinute: rate, createdAt: now.toISOString(), expiresAt, revokedAt: null, lastUsedAt: null };
    try {
      this.db
        .prepare('INSERT INTO api_keys (id, name, scopes, rate_limit_per_minute, secret_sha256, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(id, name, scopes.join(','), rate, sha256(secret), key.createdAt, expiresAt);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new VigilError('VIGIL_ERR_CONFLICT', `An API key with id ${id} already exists`, { cause: err });
      throw err;
    }
    return { key: copy(key), secret };
  }

  /** The key for a presented secret; undefined when malformed, unknown, wrong, revoked or expired. */
  authenticate(secret: string): ApiKey | undefined {
    if (typeof secret !== 'string' || secret.length > 200) return undefined;
    const m = SECRET.exec(secret);
    if (!m) return undefined;
    const cached = this.cached(m[1]);
    // Ids are public, so returning early for an unknown id leaks nothing; the secret part is compared in constant time.
    if (!cached || cached.secretSha256.length !== 32 || !timingSafeEqual(sha256(secret), cached.secretSha256)) return undefined;
    if (cached.key.revokedAt !== null || cached.expiresAtMs <= this.now().getTime()) return undefined;
    return copy(cached.key);
  }

  list(): ApiKey[] {
    return this.db.prepare<[], Row>('SELECT * FROM api_keys ORDER BY created_at, id').all().map(toKey);
  }

  get(id: string): ApiKey | undefined {
    const row = this.getStmt.get(id);
    return row ? toKey(row) : undefined;
  }

  /** Idempotent: revoking a revoked key returns it unchanged (compare revokedAt to tell). */
  revoke(id: string): ApiKey {
    const row = this.getStmt.get(id);
    if (!row) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No API key with id ${JSON.stringify(id)}`);
    if (row.revoked_at !== null) return toKey(row);
    const revokedAt = this.now().toISOString();
    const changed = this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(revokedAt, id).changes;
    this.cache.delete(id);
    // 0 changes: another process revoked it meanwhile; report its time, not ours.
    return changed ? toKey({ ...row, revoked_at: revokedAt }) : toKey(this.getStmt.get(id) ?? row);
  }

  /**
   * Records use, writing last_used_at at most once per key per minute (per process), so that calling it
   * on every request costs a map lookup. Returns whether it wrote: callers that audit 'key.used' can do
   * so at the same cadence.
   */
  markUsed(id: string): boolean {
    const nowMs = this.now().getTime();
    const last = this.lastMarked.get(id);
    if (last !== undefined && nowMs - last < MARK_USED_INTERVAL_MS && nowMs >= last) return false;
    const at = new Date(nowMs).toISOString();
    if (this.markUsedStmt.run(at, id).changes === 0) return false;
    this.lastMarked.set(id, nowMs);
    const cached = this.cache.get(id);
    if (cached) cached.key.lastUsedAt = at;
    return true;
  }

  private cached(id: string): Cached | undefined {
    // One indexed single-row read per call: a revocation from another process takes effect on the next request.
    const revision = this.revisionStmt.get();
    if (revision !== this.cacheRevision) {
      this.cache.clear();
      this.cacheRevision = revision;
    }
    let entry = this.cache.get(id);
    if (!entry) {
      const row = this.getStmt.get(id);
      if (!row) return undefined; // misses are not cached: random ids must not grow memory
      entry = { key: toKey(row), secretSha256: row.secret_sha256, expiresAtMs: row.expires_at === null ? Infinity : Date.parse(row.expires_at) };
      this.cache.set(id, entry);
    }
    return entry;
  }
}
