import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { after, describe, test } from 'node:test';
import { AUDIT_COMPONENT, AuditLog } from '../audit/log.js';
import { ApiKeyStore, AUTH_COMPONENT } from '../auth/keys.js';
import { migrate } from '../state/migrate.js';
import { ENGINES, type TestDatabase } from '../state/test-engines.js';
import { FailedKeyThrottle, KeyUsage, registerAuth } from './auth.js';
import { sendError } from './http-errors.js';

for (const engine of ENGINES) {
  describe(`key authentication and use (${engine.name})`, () => {
    let t: TestDatabase;
    after(() => t?.drop());

    test('routes with a scope need a key that has it; use is flushed to the audit log with last-used times', async () => {
      t = await engine.open();
      await migrate(t.db, [AUDIT_COMPONENT, AUTH_COMPONENT]);
      const audit = new AuditLog(t.db);
      const keys = new ApiKeyStore(t.db, audit);
      const errors: unknown[] = [];
      const usage = new KeyUsage(t.db, audit, keys, { onError: (err) => errors.push(err) });
      const lookup = await keys.createNow({ name: 'lookup', scopes: ['lookup'] }, { actor: 'cli' });
      const app = Fastify();
      app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
      registerAuth(app, keys, usage);
      app.get('/open', async () => ({ ok: true }));
      app.get('/look', { config: { scope: 'lookup' } }, async (request) => ({ key: request.apiKey?.id }));
      app.get('/curate', { config: { scope: 'curate' } }, async () => ({ ok: true }));
      try {
        const auth = { authorization: `Bearer ${lookup.secret}` };
        assert.equal((await app.inject({ url: '/open' })).statusCode, 200);
        assert.equal((await app.inject({ url: '/look' })).statusCode, 401);
        assert.equal((await app.inject({ url: '/look', headers: { authorization: 'Bearer vigil_k_aaaaaaaaaaaa_' + 'A'.repeat(43) } })).statusCode, 401);
        assert.deepEqual((await app.inject({ url: '/look', headers: auth })).json(), { key: lookup.key.id });
        assert.equal((await app.inject({ url: '/look', headers: { 'x-api-key': lookup.secret } })).statusCode, 200);
        assert.equal((await app.inject({ url: '/curate', headers: auth })).statusCode, 403);

        await usage.flush();
        const used = await audit.list({ action: 'key.used' });
        assert.deepEqual(used.map((e) => [e.actor, e.details]), [[`key:${lookup.key.id}`, { requests: 3, denied: 1, routes: { '/look': 2, '/curate': 1 } }]]);
        assert.ok((await keys.get(lookup.key.id))?.lastUsedAt);
        await usage.flush();
        assert.equal((await audit.list({ action: 'key.used' })).length, 1, 'nothing new, nothing written');

        await keys.revokeNow(lookup.key.id, { actor: 'cli' });
        assert.equal((await app.inject({ url: '/look', headers: auth })).statusCode, 401);
        assert.deepEqual(errors, []);
      } finally {
        await app.close();
        await usage.stop();
      }
    });

    test('a failed flush keeps the counts for the next one', async () => {
      const audit = new AuditLog(t.db);
      const keys = new ApiKeyStore(t.db, audit);
      const usage = new KeyUsage(t.db, audit, keys);
      usage.count('k_aaaaaaaaaaaa', '/x', false);
      const appendMany = audit.appendMany.bind(audit);
      audit.appendMany = async () => { throw new Error('database away'); };
      await assert.rejects(usage.flush(), /database away/);
      usage.count('k_aaaaaaaaaaaa', '/x', true);
      audit.appendMany = appendMany;
      await usage.flush();
      const [entry] = await audit.list({ action: 'key.used', subject: 'key:k_aaaaaaaaaaaa' });
      assert.deepEqual(entry?.details, { requests: 2, denied: 1, routes: { '/x': 2 } });
    });
  });
}

describe('failed key attempts are throttled per client address', () => {
  test('the window slides with the (injected) clock; other addresses are unaffected; memory is bounded', () => {
    let now = 1_000_000;
    const throttle = new FailedKeyThrottle({ maxFailures: 3, windowMs: 60_000, maxClients: 2, now: () => now });
    for (let i = 0; i < 3; i++) {
      assert.equal(throttle.blockedFor('198.51.100.1'), 0, `attempt ${i + 1} may go ahead`);
      throttle.fail('198.51.100.1');
      now += 1000;
    }
    assert.equal(throttle.blockedFor('198.51.100.1'), 57_000, 'until the first failure is a minute old');
    assert.equal(throttle.blockedFor('198.51.100.2'), 0);
    now += 57_000;
    assert.equal(throttle.blockedFor('198.51.100.1'), 0, 'one failure left the window: one more try');
    throttle.fail('198.51.100.1');
    assert.ok(throttle.blockedFor('198.51.100.1') > 0);
    throttle.fail('198.51.100.2');
    throttle.fail('198.51.100.3');
    assert.equal(throttle.blockedFor('198.51.100.1'), 0, 'the stalest address was dropped (maxClients 2)');
  });

  test('over HTTP: 429 with retry-after after N failures, even with a valid key; valid keys do not count', async () => {
    const keys = { authenticate: (secret: string) => (secret === 'good' ? { id: 'k_aaaaaaaaaaaa', name: 'g', scopes: ['lookup' as const], rateLimitPerMinute: 0, createdAt: '', expiresAt: null, revokedAt: null, lastUsedAt: null } : undefined) };
    let now = 0;
    const app = Fastify();
    app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
    registerAuth(app, keys, { count: () => undefined }, { throttle: new FailedKeyThrottle({ maxFailures: 5, now: () => now }) });
    app.get('/look', { config: { scope: 'lookup' } }, async () => ({ ok: true }));
    const get = (key: string) => app.inject({ url: '/look', headers: { authorization: `Bearer ${key}` } });
    try {
      for (let i = 0; i < 10; i++) assert.equal((await get('good')).statusCode, 200);
      for (let i = 0; i < 5; i++) assert.equal((await get(`bad-${i}`)).statusCode, 401);
      const refused = await get('bad-6');
      assert.equal(refused.statusCode, 429);
      assert.equal(refused.json().error.code, 'VIGIL_ERR_RATE_LIMITED');
      assert.equal(refused.headers['retry-after'], '60');
      assert.equal((await get('good')).statusCode, 429, 'no key is checked from a blocked address');
      assert.equal((await app.inject({ url: '/look' })).statusCode, 401, 'no key: nothing to guess, a plain 401');
      now += 60_001;
      assert.equal((await get('good')).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  test('behind a trusted proxy (server.trustProxy) each forwarded client has its own failure budget', async () => {
    const keys = { authenticate: () => undefined };
    const app = Fastify({ trustProxy: '127.0.0.1' });
    app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
    registerAuth(app, keys, { count: () => undefined }, { throttle: new FailedKeyThrottle({ maxFailures: 2, now: () => 0 }) });
    app.get('/look', { config: { scope: 'lookup' } }, async () => ({ ok: true }));
    const get = (client: string) => app.inject({ url: '/look', remoteAddress: '127.0.0.1', headers: { authorization: 'Bearer bad', 'x-forwarded-for': client } });
    try {
      for (let i = 0; i < 2; i++) assert.equal((await get('203.0.113.7')).statusCode, 401);
      assert.equal((await get('203.0.113.7')).statusCode, 429);
      assert.equal((await get('198.51.100.9')).statusCode, 401, 'another client behind the same proxy is not blocked');
    } finally {
      await app.close();
    }
  });
});
