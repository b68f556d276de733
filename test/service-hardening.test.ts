/**
 * Start-up and operator-facing hardening (issue #11): the request log keeps no secret, `--anonymous admin`
 * implies every scope and is warned about, the demo admin key is shown once and expires, and a rules file
 * overridden by rules set over the API is said loudly at start-up. Benign data only.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { DEFAULT_RULES } from '../src/rules/config.js';
import { DEMO_KEY_DAYS, ensureDemoKey } from '../src/service/demo.js';
import { redactUrl } from '../src/service/request-log.js';
import { startService } from '../src/service/serve.js';
import pino from 'pino';
import { startTestService } from './_service.js';
import { tempDir } from './helpers/temp.js';

test('request logs redact secrets in query strings and never hold credential headers', async () => {
  let logged = '';
  const stream = new Writable({ write(chunk, _encoding, done) { logged += String(chunk); done(); } });
  const t = await startTestService({ logger: { level: 'info' }, log: pino({ level: 'info' }, stream) });
  try {
    const key = await t.key(['lookup']);
    const secretQuery = 'api_key=s3cr3t-one&token=s3cr3t-two&key=s3cr3t-three&X-Api-Key=s3cr3t-four&access_token=s3cr3t-five&page=2';
    await t.service.app.inject({ url: `/v1/banks?${secretQuery}`, headers: { authorization: `Bearer ${key}`, 'x-api-key': key } });
    await t.service.app.inject({ url: `/v1/banks?debug=${key}`, headers: { authorization: 'Bearer vigil_k_aaaaaaaaaaaa_' + 'Z'.repeat(43) } });
    assert.match(logged, /"url":"\/v1\/banks\?api_key=\[REDACTED\]&token=\[REDACTED\]&key=\[REDACTED\]&X-Api-Key=\[REDACTED\]&access_token=\[REDACTED\]&page=2"/);
    assert.doesNotMatch(logged, /s3cr3t/);
    assert.ok(!logged.includes(key), 'a key in any parameter is redacted');
    assert.doesNotMatch(logged, /vigil_k_[a-z2-7]{12}_/);
    assert.doesNotMatch(logged, /ZZZZZZZZ/);
  } finally {
    await t.close();
  }
  assert.equal(redactUrl('/m/lookup?signal=abc&sig=xyz'), '/m/lookup?signal=abc&sig=[REDACTED]');
  assert.equal(redactUrl('/healthz'), '/healthz');
});

test('--anonymous admin implies every scope (decisions answer too) and is warned about; lookup alone is noted', async () => {
  const t = await startTestService({ anonymousScopes: ['admin'] });
  try {
    for (const url of ['/v1/decisions', '/v1/review', '/v1/audit?limit=1', '/v1/banks', '/metrics']) {
      assert.equal((await t.service.app.inject({ url })).statusCode, 200, url);
    }
    assert.equal(t.service.warnings.length, 1);
    assert.match(t.service.warnings[0]!, /^WARNING: --anonymous admin: ANYONE .* every scope \(submit, lookup, curate, review, admin, device\)/);
    const [started] = await t.service.ctx.audit.list({ action: 'service.started' });
    assert.deepEqual(started?.details.anonymousScopes, ['admin']);
  } finally {
    await t.close();
  }
  const open = await startTestService({ anonymousScopes: ['lookup'] });
  try {
    assert.equal((await open.service.app.inject({ url: '/v1/banks' })).statusCode, 200);
    assert.equal((await open.service.app.inject({ url: '/v1/decisions' })).statusCode, 401, 'lookup implies nothing else');
    assert.deepEqual(open.service.warnings, ['Note: granted without an API key to anyone who can reach this port: lookup.']);
  } finally {
    await open.close();
  }
});

test('the demo admin key: its secret returned once (when created), expiring after 30 days; later starts say where it is kept', async () => {
  const t = await startTestService({ demo: false });
  try {
    const dir = join(t.dir, 'demo-keys');
    const now = new Date();
    const first = await ensureDemoKey(t.service.ctx.keys, dir, () => now);
    assert.ok(first?.secret, 'created: the secret, to print once');
    assert.equal(first.expiresAt, new Date(now.getTime() + DEMO_KEY_DAYS * 86_400_000).toISOString());
    assert.equal(DEMO_KEY_DAYS, 30);
    const again = await ensureDemoKey(t.service.ctx.keys, dir);
    assert.deepEqual(again, { file: join(dir, 'demo-api-key'), expiresAt: first.expiresAt }, 'no secret the second time');
    const [id] = /k_[a-z2-7]{12}/.exec(first.secret)!;
    await t.service.ctx.vigil.db.k.updateTable('api_keys').set({ expires_at: new Date(Date.now() - 60_000).toISOString() }).where('id', '=', id).execute();
    // A change made outside the key store is seen within a second (DEFAULT_REVISION_TTL_MS); told instead of waited for.
    t.service.ctx.keys.invalidate();
    assert.deepEqual(await ensureDemoKey(t.service.ctx.keys, dir), { file: join(dir, 'demo-api-key'), expiresAt: null, expired: true });
    assert.equal((await t.service.app.inject({ url: '/v1/rules', headers: { authorization: `Bearer ${first.secret}` } })).statusCode, 401, 'an expired demo key opens nothing');
  } finally {
    await t.close();
  }
});

test('a --rules file overridden by rules set over the API: said loudly at start-up, and in the service.started entry', async () => {
  const dir = tempDir('rules-override');
  const rulesFile = join(dir, 'rules.json');
  writeFileSync(rulesFile, JSON.stringify(DEFAULT_RULES));
  const options = { storeUrl: join(dir, 'vigil.db'), port: 0, demo: false, evidenceDir: join(dir, 'evidence'), hashThreads: 1, logger: false as const, rulesFile };
  const first = await startService(options);
  try {
    assert.deepEqual(first.warnings, [], 'the file is in force');
    const admin = (await first.ctx.keys.createNow({ name: 'admin', scopes: ['admin'] }, { actor: 'test' })).secret;
    const put = await first.app.inject({ method: 'PUT', url: '/v1/rules', headers: { authorization: `Bearer ${admin}` }, payload: { ...JSON.parse(JSON.stringify(DEFAULT_RULES)), description: 'changed over the API' } });
    assert.equal(put.statusCode, 200, put.body);
  } finally {
    await first.close();
  }
  const second = await startService(options);
  try {
    assert.equal(second.ctx.rules.source, 'api');
    assert.equal(second.warnings.length, 1);
    assert.match(second.warnings[0]!, new RegExp(`^WARNING: the rules file ${rulesFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is IGNORED: rules were changed through the API`));
    const started = await second.ctx.audit.list({ action: 'service.started', limit: 10 });
    assert.equal(started.at(-1)?.details.rulesFileIgnored, rulesFile);
  } finally {
    await second.close();
  }
});
