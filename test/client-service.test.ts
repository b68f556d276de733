/**
 * Device keys and the hash-only client against the service (app.inject, no browser): a device key submits JSON
 * hashes and range lookups and nothing else, is rate-limited on its own, is told the verdict without the lists'
 * hashes; range lookups answer one-way tags of the enabled block banks' digests. Benign data only.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DEVICE_RATE_LIMIT_PER_MINUTE } from '../src/auth/keys.js';
import { rangeTag, VigilClient } from '../src/client/index.js';
import { PDQ_DIR } from './helpers/shared.js';
import { startTestService, type TestService } from './_service.js';

let t: TestService;
let curator: string;
let device: string;
const KNOWN = join(PDQ_DIR, 'bridge-mods/aaa-orig.jpg');
const UNKNOWN = join(PDQ_DIR, 'misc-images/c.png');
let known: { md5: string; sha1: string; sha256: string; pdq: string; quality: number };
let unknown: typeof known;

/** VigilClient's fetch over app.inject, recording what was sent. */
const sent: { url: string; body?: string }[] = [];
async function injectFetch(url: string, init: { method: string; headers: Record<string, string>; body?: string }) {
  sent.push({ url, ...(init.body !== undefined ? { body: init.body } : {}) });
  const res = await t.service.app.inject({ method: init.method as 'GET', url: url.replace('http://vigil.test', ''), headers: init.headers, ...(init.body !== undefined ? { payload: init.body } : {}) });
  return { status: res.statusCode, headers: { get: (n: string) => (res.headers[n] as string | undefined) ?? null }, json: async () => res.json() as unknown };
}
const clientFor = (apiKey: string) => new VigilClient({ baseUrl: 'http://vigil.test', apiKey, fetch: injectFetch, sleep: async () => {} });
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

async function hashesOf(path: string) {
  const r = await t.service.ctx.hashFile(path);
  return { md5: r.md5!, sha1: r.sha1!, sha256: r.sha256!, pdq: r.pdq!, quality: r.quality! };
}

before(async () => {
  t = await startTestService();
  curator = await t.key(['curate']);
  device = (await t.service.ctx.keys.createNow({ name: 'phone-1', scopes: ['device'] }, { actor: 'test' })).secret;
  known = await hashesOf(KNOWN);
  unknown = await hashesOf(UNKNOWN);
  const add = async (bank: string, kind: string, signals: { type: string; value: string }[]) => {
    assert.equal((await t.service.app.inject({ method: 'POST', url: '/v1/banks', headers: auth(curator), payload: { name: bank, kind } })).statusCode, 201);
    for (const s of signals) assert.equal((await t.service.app.inject({ method: 'POST', url: `/v1/banks/${bank}/signals`, headers: auth(curator), payload: s })).statusCode, 201);
  };
  await add('CLIENT_BLOCK', 'block', [{ type: 'md5', value: known.md5 }, { type: 'sha1', value: known.sha1 }, { type: 'pdq', value: known.pdq }]);
  // Same prefix as the known MD5 but in an allow bank, and in a disabled block bank: neither is a candidate.
  await add('CLIENT_ALLOW', 'allow', [{ type: 'md5', value: known.md5.slice(0, 5) + '0'.repeat(27) }]);
  await add('CLIENT_OFF', 'block', [{ type: 'md5', value: known.md5.slice(0, 5) + '1'.repeat(27) }]);
  assert.equal((await t.service.app.inject({ method: 'PATCH', url: '/v1/banks/CLIENT_OFF', headers: auth(curator), payload: { enabled: false } })).statusCode, 200);
  await t.service.ctx.matcher.sync();
});
after(() => t.close());

test('a device key gets the device rate limit by default', async () => {
  const keys = await t.service.ctx.keys.list();
  assert.equal(keys.find((k) => k.name === 'phone-1')!.rateLimitPerMinute, DEVICE_RATE_LIMIT_PER_MINUTE);
});

test('range: tags of the enabled block banks’ digests in the range; the prefix bounds what the server learns', async () => {
  const res = await t.service.app.inject({ url: `/v1/range/md5/${known.md5.slice(0, 5)}`, headers: auth(device) });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['cache-control'], 'private, no-store');
  const body = res.json() as { candidates: string[] };
  assert.deepEqual(body.candidates, [await rangeTag('md5', known.md5)], 'one candidate: the allow bank and the disabled bank are left out');
  assert.ok(!res.body.includes(known.md5), 'the listed digest itself is not disclosed');
  for (const prefix of ['abc', known.md5.slice(0, 9), known.md5, 'zzzzz']) {
    assert.equal((await t.service.app.inject({ url: `/v1/range/md5/${prefix}`, headers: auth(device) })).statusCode, 400, prefix);
  }
  assert.equal((await t.service.app.inject({ url: `/v1/range/pdq/abcde`, headers: auth(device) })).statusCode, 400);
  assert.equal((await t.service.app.inject({ url: `/v1/range/md5/abcde`, headers: auth(curator) })).statusCode, 403, 'curate alone may not');
});

test('check(): a known picture is blocked; the unknown one allowed, its digests never sent; the device sees no list hashes', async () => {
  const client = clientFor(device);
  sent.length = 0;
  const hit = await client.check(known, { contentId: 'phone-known-1' });
  assert.equal(hit.decision.verdict, 'block');
  assert.deepEqual(hit.decision.matches, [], 'a device is not told which list entry matched');
  assert.deepEqual(hit.decision.fired, []);
  assert.deepEqual(Object.keys(hit.sent.hashes).sort(), ['md5', 'pdq', 'sha1'], 'listed digests are sent (sha256 is not listed)');
  assert.ok(!JSON.stringify(sent).includes(known.sha256), 'the unlisted SHA-256 never left the device');

  sent.length = 0;
  const miss = await client.check(unknown, { contentId: 'phone-unknown-1' });
  assert.equal(miss.decision.verdict, 'allow');
  assert.deepEqual(Object.keys(miss.sent.hashes), ['pdq']);
  const wire = JSON.stringify(sent);
  for (const digest of [unknown.md5, unknown.sha1, unknown.sha256]) assert.ok(!wire.includes(digest), 'no full digest of an unlisted file is sent');
  assert.deepEqual(sent.filter((s) => s.url.includes('/v1/range/')).map((s) => s.url.split('/').pop()!.length), [5, 5, 5]);

  // A retry with the same contentId and hashes is the same decision, replayed.
  const again = await client.submitHashes(hit.sent);
  assert.equal(again.replayed, true);
  assert.equal(again.decisionId, hit.decision.decisionId);
});

test('a device key cannot upload a file, and reaches no other route', async () => {
  const boundary = 'xyz';
  const payload = `--${boundary}\r\nContent-Disposition: form-data; name="contentId"\r\n\r\nf1\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n${readFileSync(KNOWN).toString('latin1')}\r\n--${boundary}--\r\n`;
  const up = await t.service.app.inject({ method: 'POST', url: '/v1/content', headers: { ...auth(device), 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: Buffer.from(payload, 'latin1') });
  assert.equal(up.statusCode, 403);
  assert.match(up.body, /device key submits hashes/);
  for (const [method, url] of [['GET', '/v1/banks'], ['POST', '/v1/lookup'], ['GET', '/v1/decisions'], ['GET', '/m/lookup?signal_type=pdq&signal=' + known.pdq], ['GET', '/metrics']] as const) {
    assert.equal((await t.service.app.inject({ method, url, headers: auth(device) })).statusCode, 403, `${method} ${url}`);
  }
});

test('each device has its own rate limit: one over it gets 429, another device is unaffected', async () => {
  const slow = (await t.service.ctx.keys.createNow({ name: 'phone-2', scopes: ['device'], rateLimitPerMinute: 2 }, { actor: 'test' })).secret;
  const other = (await t.service.ctx.keys.createNow({ name: 'phone-3', scopes: ['device'], rateLimitPerMinute: 2 }, { actor: 'test' })).secret;
  const url = `/v1/range/sha256/${createHash('sha256').update('x').digest('hex').slice(0, 5)}`;
  for (let i = 0; i < 2; i++) assert.equal((await t.service.app.inject({ url, headers: auth(slow) })).statusCode, 200);
  assert.equal((await t.service.app.inject({ url, headers: auth(slow) })).statusCode, 429);
  assert.equal((await t.service.app.inject({ url, headers: auth(other) })).statusCode, 200);
});
