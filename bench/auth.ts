/**
 * npm run bench:auth — API-key authentication, which runs on every request: microseconds per call with a
 * warm cache, on SQLite and PostgreSQL (a fresh schema on the test server), beside a same-run baseline —
 * the synchronous, uncached better-sqlite3 lookup the service used before the async stores — and with
 * `revisionTtlMs` (no revision round trip per call). The load average is printed: on a shared machine
 * the figures follow it.
 */
import { loadavg } from 'node:os';
import { AUDIT_COMPONENT, AuditLog } from '../src/audit/log.js';
import { ApiKeyStore, AUTH_COMPONENT } from '../src/auth/keys.js';
import { SyncApiKeyStore } from '../src/auth/legacy-sync.js';
import { migrate } from '../src/state/migrate.js';
import { ENGINES } from '../src/state/test-engines.js';

const N = Number(process.argv[2] ?? 20_000);

async function perCall(fn: () => unknown): Promise<number> {
  for (let i = 0; i < 2000; i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await fn();
  return ((performance.now() - t0) * 1000) / N;
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
      const legacy = new SyncApiKeyStore(t.db.sqlite!);
      const base = await perCall(() => legacy.authenticate(secret));
      line += `; baseline sync lookup ${base.toFixed(1)} µs/call, ratio ${(every / base).toFixed(2)}`;
    }
    console.log(`${line}; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await t.drop();
  }
}
