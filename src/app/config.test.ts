import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from './config.js';

describe('configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults to the embedded store with nothing configured', () => {
    const c = loadConfig();
    assert.equal(c.database.url, 'vigil.db');
    assert.equal(c.server.port, 8080);
    assert.deepEqual(c.server.anonymousScopes, []);
  });

  it('merges file < environment < flags', () => {
    const file = join(dir, 'vigil.json');
    writeFileSync(file, JSON.stringify({ database: { url: 'from-file.db' }, server: { port: 1000, host: '0.0.0.0' } }));
    const c = loadConfig({ file, env: { PORT: '2000', VIGIL_DATABASE_URL: 'postgres://db/vigil' }, flags: { server: { port: 3000 } } });
    assert.equal(c.server.port, 3000);
    assert.equal(c.server.host, '0.0.0.0');
    assert.equal(c.database.url, 'postgres://db/vigil');
  });

  it('trusts a reverse proxy only when told: true, a hop count or addresses', () => {
    assert.equal(loadConfig().server.trustProxy, false);
    assert.equal(loadConfig({ env: { VIGIL_TRUST_PROXY: 'true' } }).server.trustProxy, true);
    assert.equal(loadConfig({ env: { VIGIL_TRUST_PROXY: '2' } }).server.trustProxy, 2);
    assert.equal(loadConfig({ env: { VIGIL_TRUST_PROXY: '127.0.0.1,10.0.0.0/8' } }).server.trustProxy, '127.0.0.1,10.0.0.0/8');
    assert.throws(() => loadConfig({ flags: { server: { trustProxy: -1 } } }), /server\.trustProxy/);
  });

  it('names every bad key and the reason', () => {
    assert.throws(() => loadConfig({ env: { PORT: 'eighty' }, flags: { queue: { concurrency: 0 } } }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'VIGIL_ERR_INVALID_CONFIG');
      assert.match(err.message, /server\.port/);
      assert.match(err.message, /queue\.concurrency/);
      return true;
    });
    const file = join(dir, 'unknown.json');
    writeFileSync(file, JSON.stringify({ server: { prot: 80 } }));
    assert.throws(() => loadConfig({ file }), /server.*prot/);
    writeFileSync(file, '{ not json');
    assert.throws(() => loadConfig({ file }), /not valid JSON/);
    assert.throws(() => loadConfig({ file: join(dir, 'missing.json') }), /cannot be read/);
  });

  it('audit checkpoints: file and key from the environment, together or not at all', () => {
    const c = loadConfig({ env: { VIGIL_AUDIT_CHECKPOINTS: '/var/lib/vigil/checkpoints.jsonl', VIGIL_AUDIT_CHECKPOINT_KEY: '/etc/vigil/checkpoint.key' } });
    assert.deepEqual(c.audit, { checkpointFile: '/var/lib/vigil/checkpoints.jsonl', checkpointKeyFile: '/etc/vigil/checkpoint.key', checkpointIntervalMs: 60_000 });
    assert.throws(() => loadConfig({ env: { VIGIL_AUDIT_CHECKPOINTS: '/tmp/c.jsonl' } }), /audit: checkpointFile and checkpointKeyFile go together/);
  });
});

describe('fleet configuration (issue #16)', () => {
  it('VIGIL_REDIS_URL selects Redis; without it there is none and nothing else changes', () => {
    assert.equal(loadConfig({ env: {} }).redis.url, undefined);
    const c = loadConfig({ env: { VIGIL_DATABASE_URL: 'postgres://db/vigil', VIGIL_REDIS_URL: 'redis://127.0.0.1:6379', VIGIL_REDIS_PREFIX: 'prod' } });
    assert.equal(c.redis.url, 'redis://127.0.0.1:6379');
    assert.equal(c.redis.prefix, 'prod');
    assert.equal(c.database.url, 'postgres://db/vigil');
    assert.equal(c.fleet.relayBatch, 500);
  });

  it('refuses a Redis URL that is not one, naming the key', () => {
    assert.throws(() => loadConfig({ env: { VIGIL_REDIS_URL: 'http://x' } }), /redis\.url/);
  });

  it('takes per-queue rate limits', () => {
    const c = loadConfig({ flags: { fleet: { rateLimits: { webhook: { max: 50, durationMs: 1000 } } } } });
    assert.deepEqual(c.fleet.rateLimits.webhook, { max: 50, durationMs: 1000 });
  });

  it('keeps the remote matcher off by default; enabled from the environment needs its credentials', () => {
    assert.equal(loadConfig().remoteMatchers.arachnid.enabled, false);
    const c = loadConfig({ env: { VIGIL_ARACHNID_ENABLED: 'true', VIGIL_ARACHNID_USERNAME: 'u', VIGIL_ARACHNID_PASSWORD: 'secret-pass', VIGIL_ARACHNID_TIMEOUT_MS: '2500' } });
    assert.deepEqual([c.remoteMatchers.arachnid.enabled, c.remoteMatchers.arachnid.username, c.remoteMatchers.arachnid.timeoutMs], [true, 'u', 2500]);
    assert.throws(() => loadConfig({ env: { VIGIL_ARACHNID_ENABLED: 'true', VIGIL_ARACHNID_USERNAME: 'u' } }), /remoteMatchers\.arachnid: enabled needs username and password/);
    assert.throws(() => loadConfig({ env: { VIGIL_ARACHNID_ENABLED: 'yes' } }), /remoteMatchers\.arachnid\.enabled/);
  });
});
