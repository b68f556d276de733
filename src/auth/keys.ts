/**
 * API keys: a public id, a name, scopes and a per-key rate limit; the secret itself is never stored.
 *
 * Secret: 'vigil_' + id + '_' + 32 random bytes in base64url, shown once at creation. The database holds
 * SHA-256(secret). A slow password hash (scrypt, see users.ts) is for low-entropy human passwords; a 256-bit
 * random secret cannot be brute-forced from its SHA-256, and `authenticate` runs on every request and must
 * stay well under a millisecond. The id inside the secret selects the cached row, so the check is one
 * constant-time comparison of two 32-byte digests, not a scan.
 *
 * Each process caches key rows and a revision number that triggers change on any write to `api_keys`
 * (schema.ts). The revision is read again at most every `revisionTtlMs` (default 1 s), and at once after a
 * change made through this store: a revocation by another process — `vigil key revoke`, another worker
 * or server of a fleet — takes effect within that second, one made here on the next request. On PostgreSQL
 * a key change also NOTIFYs (API_KEYS_CHANNEL) and a serving process calls `invalidate()` on it. Reading it on
 * every request (revisionTtlMs 0) cost ≈ 5 % of a lookup's CPU on SQLite (a Kysely compile and a statement
 * prepared per request) and a round trip per request on PostgreSQL (docs/security.md).
 *
 * Creating and revoking a key write its audit entry ('key.created', 'key.revoked') in the same transaction.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalidArgument, VigilError } from '../core/errors.js';
import { auditBy, type AuditActor, type AuditLog } from '../audit/log.js';
import type { Tx, VigilDatabase } from '../state/database.js';
import type { ApiKeysTable } from './schema.js';

export { API_KEYS_CHANNEL, AUTH_COMPONENT, AUTH_MIGRATIONS } from './schema.js';

/**
 * 'device': a key held by one user's device (client-side hashing, docs/client.md): it may submit hashes (never a
 * file) and make range lookups, nothing else; routes open to it say so (`config.device`). One key per device,
 * so its own rate limit (DEVICE_RATE_LIMIT_PER_MINUTE by default) is the device's.
 */
export const SCOPES = ['submit', 'lookup', 'curate', 'review', 'admin', 'device'] as const;
export type Scope = (typeof SCOPES)[number];

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

export interface CreateKeyInput {
  name: string;
  scopes: readonly Scope[];
  rateLimitPerMinute?: number;
  expiresAt?: string | null;
  /** A given secret (format as generated, id included) makes a deterministic key: demos and tests only. */
  secret?: string;
}

export const DEFAULT_RATE_LIMIT_PER_MINUTE = 6000;
/** How long another process's key change may go unseen (the revision is read again after it). */
export const DEFAULT_REVISION_TTL_MS = 1000;
/** A device hashes what its user sends: a few pictures a minute, with room for bursts. */
export const DEVICE_RATE_LIMIT_PER_MINUTE = 60;
const MARK_USED_INTERVAL_MS = 60_000;
const ID_CHARS = 12;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
// The id alphabet has no '_', so the first '_' after it ends the id even though base64url may contain '_'.
const SECRET = /^vigil_(k_[a-z2-7]{12})_[A-Za-z0-9_-]{32,128}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

type Row = ApiKeysTable;

interface Cached {
  key: ApiKey;
  secretSha256: Buffer;
  expiresAtMs: number;
}

export function hasScope(key: Pick<ApiKey, 'scopes'>, scope: Scope): boolean {
  return key.scopes.includes('admin') || key.scopes.includes(scope);
}

/** A key that may do nothing but what devices do (not admin, submit, … as well). */
export function isDeviceOnly(key: Pick<ApiKey, 'scopes'>): boolean {
  return key.scopes.length > 0 && key.scopes.every((s) => s === 'device');
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

export function normaliseScopes(names: readonly string[]): Scope[] {
  for (const name of names) {
    if (!isScope(name)) throw invalidArgument(`a scope (${SCOPES.join(', ')})`, 'scope', name);
  }
  if (names.length === 0) throw invalidArgument(`at least one scope (${SCOPES.join(', ')})`, 'scopes', names.join(','));
  return SCOPES.filter((s) => names.includes(s));
}

export function secretSha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function newId(): string {
  const bytes = randomBytes(ID_CHARS);
  let id = 'k_';
  for (const b of bytes) id += BASE32[b & 31]; // 256 is a multiple of 32: no bias
  return id;
}

/** The key id a well-formed secret names, else undefined. */
export function keyIdOfSecret(secret: unknown): string | undefined {
  if (typeof secret !== 'string' || secret.length > 200) return undefined;
  return SECRET.exec(secret)?.[1];
}

/** Validates a creation request and draws the id and secret: the new row and the secret to show once. */
export function newKey(input: CreateKeyInput, now: Date): { row: Row; secret: string } {
  if (typeof input !== 'object' || input === null) throw invalidArgument('a key description', 'input', input);
  const { name } = input;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200 || CONTROL.test(name)) throw invalidArgument('a key name (1–200 printable characters)', 'name', name);
  if (!Array.isArray(input.scopes)) throw invalidArgument('an array of scopes', 'scopes', input.scopes);
  const scopes = normaliseScopes(input.scopes);
  const rate = input.rateLimitPerMinute ?? (isDeviceOnly({ scopes }) ? DEVICE_RATE_LIMIT_PER_MINUTE : DEFAULT_RATE_LIMIT_PER_MINUTE);
  if (!Number.isSafeInteger(rate) || rate < 0) throw invalidArgument('a non-negative integer (0 = unlimited)', 'rateLimitPerMinute', rate);
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
    const given = keyIdOfSecret(input.secret);
    if (!given) throw invalidArgument("a secret 'vigil_k_<12 of a-z2-7>_<32–128 base64url characters>'", 'secret', '(hidden)');
    id = given;
    secret = input.secret;
  } else {
    id = newId();
    secret = `vigil_${id}_${randomBytes(32).toString('base64url')}`;
  }
  const row: Row = {
    id, name, scopes: scopes.join(','), rate_limit_per_minute: rate, secret_sha256: secretSha256(secret),
    created_at: now.toISOString(), expires_at: expiresAt, revoked_at: null, last_used_at: null,
  };
  return { row, secret };
}

export function toKey(row: Omit<Row, 'secret_sha256'>): ApiKey {
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

export function copyKey(key: ApiKey): ApiKey {
  return { ...key, scopes: [...key.scopes] };
}

const PUBLIC_COLUMNS = ['id', 'name', 'scopes', 'rate_limit_per_minute', 'created_at', 'expires_at', 'revoked_at', 'last_used_at'] as const;

/** The tables must exist: run `migrate(db, [AUTH_COMPONENT, AUDIT_COMPONENT, …])` first. */
export class ApiKeyStore {
  private readonly now: () => Date;
  private readonly cache = new Map<string, Cached>();
  private cacheRevision: number | undefined;
  private revisionReadAt = -Infinity;
  private readonly revisionTtlMs: number;
  private readonly lastMarked = new Map<string, number>();

  constructor(private readonly db: VigilDatabase, private readonly audit: AuditLog, options: { now?: () => Date; revisionTtlMs?: number } = {}) {
    this.now = options.now ?? (() => new Date());
    this.revisionTtlMs = options.revisionTtlMs ?? DEFAULT_REVISION_TTL_MS;
    if (!Number.isSafeInteger(this.revisionTtlMs) || this.revisionTtlMs < 0) throw invalidArgument('a non-negative integer of milliseconds', 'revisionTtlMs', options.revisionTtlMs);
  }

  /** Creates a key inside `tx`, audited as `by`; returns its secret, which is not recoverable afterwards. */
  async create(tx: Tx, input: CreateKeyInput, by: AuditActor): Promise<{ key: ApiKey; secret: string }> {
    const { row, secret } = newKey(input, this.now());
    // DO NOTHING rather than catching the violation: on PostgreSQL a failed statement would poison the caller's transaction.
    const inserted = await tx.k.insertInto('api_keys').values(row).onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) throw new VigilError('VIGIL_ERR_CONFLICT', `An API key with id ${row.id} already exists`);
    const key = toKey(row);
    // Never the secret or its hash.
    await this.audit.append(tx, auditBy(by, 'key.created', key.id, { name: key.name, scopes: key.scopes, rateLimitPerMinute: key.rateLimitPerMinute, expiresAt: key.expiresAt }));
    return { key, secret };
  }

  /** create in a transaction of its own. */
  createNow(input: CreateKeyInput, by: AuditActor): Promise<{ key: ApiKey; secret: string }> {
    return this.db.transaction((tx) => this.create(tx, input, by));
  }

  /**
   * Revokes inside `tx`, audited as `by`. Idempotent: revoking a revoked key returns it unchanged and writes
   * no entry (compare revokedAt to tell). NOT_FOUND for an unknown id.
   */
  async revoke(tx: Tx, id: string, by: AuditActor): Promise<ApiKey> {
    const before = await this.get(id, tx);
    if (!before) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No API key with id ${JSON.stringify(id)}`);
    if (before.revokedAt !== null) return before;
    const revokedAt = this.now().toISOString();
    const updated = await tx.k.updateTable('api_keys').set({ revoked_at: revokedAt }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    this.invalidate(id);
    // 0 rows: another process revoked it meanwhile (PostgreSQL); report its time, not ours, and leave its entry alone.
    if (Number(updated.numUpdatedRows) === 0) return (await this.get(id, tx)) ?? before;
    await this.audit.append(tx, auditBy(by, 'key.revoked', id, { name: before.name }));
    return { ...before, revokedAt };
  }

  async revokeNow(id: string, by: AuditActor): Promise<ApiKey> {
    const key = await this.db.transaction((tx) => this.revoke(tx, id, by));
    // Again after the commit: a request between the update and the commit may have cached the row as it was.
    this.invalidate(id);
    return key;
  }

  /**
   * Forgets `id` (all keys without one) and reads the revision on the next authentication, whatever the TTL.
   * For changes this process made or heard of (a change notification); others are seen within revisionTtlMs.
   */
  invalidate(id?: string): void {
    if (id === undefined) this.cache.clear();
    else this.cache.delete(id);
    this.revisionReadAt = -Infinity;
  }

  /** The key for a presented secret; undefined when malformed, unknown, wrong, revoked or expired. */
  async authenticate(secret: string): Promise<ApiKey | undefined> {
    const id = keyIdOfSecret(secret);
    if (!id) return undefined;
    const cached = await this.cached(id);
    // Ids are public, so returning early for an unknown id leaks nothing; the secret part is compared in constant time.
    if (!cached || cached.secretSha256.length !== 32 || !timingSafeEqual(secretSha256(secret), cached.secretSha256)) return undefined;
    if (cached.key.revokedAt !== null || cached.expiresAtMs <= this.now().getTime()) return undefined;
    return copyKey(cached.key);
  }

  async list(tx?: Tx): Promise<ApiKey[]> {
    const rows = await (tx?.k ?? this.db.k).selectFrom('api_keys').select(PUBLIC_COLUMNS).orderBy('created_at').orderBy('id').execute();
    return rows.map(toKey);
  }

  async get(id: string, tx?: Tx): Promise<ApiKey | undefined> {
    if (typeof id !== 'string') return undefined;
    const row = await (tx?.k ?? this.db.k).selectFrom('api_keys').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row ? toKey(row) : undefined;
  }

  /**
   * Records use, writing last_used_at at most once per key per minute (per process), so that calling it
   * on every request costs a map lookup. Returns whether it wrote: callers that audit 'key.used' can do
   * so at the same cadence.
   */
  async markUsed(id: string, tx?: Tx): Promise<boolean> {
    const nowMs = this.now().getTime();
    const last = this.lastMarked.get(id);
    if (last !== undefined && nowMs - last < MARK_USED_INTERVAL_MS && nowMs >= last) return false;
    const at = new Date(nowMs).toISOString();
    const updated = await (tx?.k ?? this.db.k).updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) return false;
    this.lastMarked.set(id, nowMs);
    const cached = this.cache.get(id);
    if (cached) cached.key.lastUsedAt = at;
    return true;
  }

  private async cached(id: string): Promise<Cached | undefined> {
    // One indexed single-row read per revisionTtlMs (every call with 0): another process's changes show within it.
    const nowMs = this.now().getTime();
    let revision = this.cacheRevision;
    if (!(nowMs - this.revisionReadAt < this.revisionTtlMs && nowMs >= this.revisionReadAt)) {
      revision = (await this.db.k.selectFrom('api_key_revision').select('revision').where('id', '=', 1).executeTakeFirstOrThrow()).revision;
      this.revisionReadAt = nowMs;
      if (revision !== this.cacheRevision) {
        this.cache.clear();
        this.cacheRevision = revision;
      }
    }
    let entry = this.cache.get(id);
    if (!entry) {
      const row = await this.db.k.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined; // misses are not cached: random ids must not grow memory
      entry = { key: toKey(row), secretSha256: Buffer.from(row.secret_sha256), expiresAtMs: row.expires_at === null ? Infinity : Date.parse(row.expires_at) };
      // A read that raced a change may be stale: keep it only if the revision it was read under still holds.
      if (this.cacheRevision === revision) this.cache.set(id, entry);
    }
    return entry;
  }
}
