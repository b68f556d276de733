/**
 * TEMPORARY: the synchronous API-key store over better-sqlite3 that serve.ts, demo.ts and their tests still
 * call while they move to `ApiKeyStore` (keys.ts) on `VigilDatabase`. Same table and rules; not audited
 * here (its callers append their own entries). Delete this file once nothing imports it.
 */
import { timingSafeEqual } from 'node:crypto';
import { VigilError } from '../core/errors.js';
import { migrateComponent, type StateDb } from '../state/sqlite.js';
import { copyKey, keyIdOfSecret, newKey, secretSha256, toKey, type ApiKey, type CreateKeyInput } from './keys.js';
import { AUTH_MIGRATIONS, type ApiKeysTable } from './schema.js';
import type { SyncAuditLog } from '../audit/legacy-sync.js';

export class SyncApiKeyStore {
  private readonly now: () => Date;
  private readonly lastMarked = new Map<string, number>();
  private readonly getStmt;

  constructor(private readonly db: StateDb, options: { now?: () => Date } = {}) {
    this.now = options.now ?? (() => new Date());
    // A database the new migration system made already has the table (and no component_versions row).
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'api_keys'").get()) {
      migrateComponent(db, 'auth', [{ version: 1, description: AUTH_MIGRATIONS[0]!.description, sql: AUTH_MIGRATIONS[0]!.sqlite }]);
    }
    this.getStmt = db.prepare<[string], ApiKeysTable>('SELECT * FROM api_keys WHERE id = ?');
  }

  create(input: CreateKeyInput): { key: ApiKey; secret: string } {
    const { row, secret } = newKey(input, this.now());
    const changes = this.db.prepare(`INSERT INTO api_keys (id, name, scopes, rate_limit_per_minute, secret_sha256, created_at, expires_at)
      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`).run(row.id, row.name, row.scopes, row.rate_limit_per_minute, row.secret_sha256, row.created_at, row.expires_at).changes;
    if (changes !== 1) throw new VigilError('VIGIL_ERR_CONFLICT', `An API key with id ${row.id} already exists`);
    return { key: toKey(row), secret };
  }

  /** Uncached (one indexed read per request, as the revision read was): a shim until serve.ts uses ApiKeyStore. */
  authenticate(secret: string): ApiKey | undefined {
    const id = keyIdOfSecret(secret);
    if (!id) return undefined;
    const row = this.getStmt.get(id);
    if (!row || row.secret_sha256.length !== 32 || !timingSafeEqual(secretSha256(secret), row.secret_sha256)) return undefined;
    if (row.revoked_at !== null || (row.expires_at !== null && Date.parse(row.expires_at) <= this.now().getTime())) return undefined;
    return copyKey(toKey(row));
  }

  revoke(id: string): ApiKey {
    const row = this.getStmt.get(id);
    if (!row) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No API key with id ${JSON.stringify(id)}`);
    if (row.revoked_at === null) this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.now().toISOString(), id);
    return toKey(this.getStmt.get(id) ?? row);
  }

  list(): ApiKey[] {
    return this.db.prepare<[], ApiKeysTable>('SELECT * FROM api_keys ORDER BY created_at, id').all().map(toKey);
  }

  markUsed(id: string): boolean {
    const nowMs = this.now().getTime();
    const last = this.lastMarked.get(id);
    if (last !== undefined && nowMs - last < 60_000 && nowMs >= last) return false;
    if (this.db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(new Date(nowMs).toISOString(), id).changes === 0) return false;
    this.lastMarked.set(id, nowMs);
    return true;
  }
}

/** Counts requests per key and route; flushes 'key.used' audit entries (the sync twin of service/auth.ts KeyUsage). */
export class SyncKeyUsage {
  private counts = new Map<string, { requests: number; denied: number; routes: Record<string, number> }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly audit: SyncAuditLog, private readonly keys: SyncApiKeyStore) {}

  count(keyId: string, route: string, denied: boolean): void {
    let c = this.counts.get(keyId);
    if (!c) this.counts.set(keyId, (c = { requests: 0, denied: 0, routes: {} }));
    c.requests++;
    if (denied) c.denied++;
    c.routes[route] = (c.routes[route] ?? 0) + 1;
  }

  flush(): void {
    if (this.counts.size === 0) return;
    const batch = this.counts;
    this.counts = new Map();
    this.audit.appendMany([...batch].map(([keyId, c]) => ({ actor: `key:${keyId}`, action: 'key.used', subject: `key:${keyId}`, details: c })));
    for (const keyId of batch.keys()) this.keys.markUsed(keyId);
  }

  start(intervalMs = 60_000): void {
    this.timer ??= setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
