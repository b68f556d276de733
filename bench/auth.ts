/**
 * npm run bench:auth — API-key authentication, which runs on every request: microseconds per call with a
 * warm cache, on SQLite and PostgreSQL (a fresh schema on the test server), beside a same-run baseline —
 * the synchronous, uncached better-sqlite3 lookup the service used before the async stores — and with
 * `revisionTtlMs` (no revision round trip per call). The load average is printed: on a shared machine
 * the figures follow it.
 */
import { loadavg } from 'node:os';
import { AUDIT_COMPONENT, AuditLog } from '../src/audit/log.js';
import { timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import { ApiKeyStore, AUTH_COMPONENT, keyIdOfSecret, secretSha256 } from '../src/auth/keys.js';
import { migrate } from '../src/state/migrate.js';
import { ENGINES } from '../src/state/test-engines.js';

const N = Number(process.argv[2] ?? 20_000);

async function perCall(fn: () => unknown): Promise<number> {
  for (let i = 0; i < 2000; i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await fn();
  return ((performance.now() - t0) * 1000) / N;
}

/** The baseline: the synchronous, uncached lookup the service made before the async stores (one indexed read, a constant-time compare). */
function syncLookup(db: Database.Database): (secret: string) => boolean {
  const get = db.prepare<[string], { secret_sha256: Buffer; revoked_at: string | null; expires_at: string | null }>('SELECT secret_sha256, revoked_at, expires_at FROM api_keys WHERE id = ?');
  return (secret) => {
    const id = keyIdOfSecret(secret);
    const row = id ? get.get(id) : undefined;
    return !!row && row.secret_sha256.length === 32 && timingSafeEqual(secretSha256(secret), row.secret_sha256)
      && row.revoked_at === null && (row.expires_at === null || Date.parse(row.expires_at) > Date.now());
  };
}

for (const engine of ENGINES) {
  const t = await engine.open();
  try {
    await migrate(t.db, [AUDIT_COMPONENT, AUTH_COMPONENT]);
    const audit = new AuditLog(t.db);
    const keys = new ApiKeyStore(t.db, audit);
    const { secret } = await keys.createNow({ name: 'bench', scopes: ['lookup'] }, { actor: 'cli' });
    const cached = new ApiKeyStore(t.db, audit, { revisionTtlMs: 1000 });
    const every = await perCall(() => keys.authenticate(secret));
    const ttl = await perCall(() => cached.authenticate(secret));
    let line = `${engine.name}: authenticate ${every.toFixed(1)} µs/call (revision read each call), ${ttl.toFixed(1)} µs/call (revisionTtlMs 1000)`;
    if (engine.name === 'sqlite') {
      const lookup = syncLookup(t.db.sqlite!);
      const base = await perCall(() => lookup(secret));
      line += `; baseline sync lookup ${base.toFixed(1)} µs/call, ratio ${(every / base).toFixed(2)}`;
    }
    console.log(`${line}; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await t.drop();
  }
}
