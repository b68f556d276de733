/**
 * Security and hostile input: authentication (no key, unknown, revoked, expired), scopes per family (admin
 * implies all), per-key rate limits, oversized and malformed requests (uploads, JSON, hash lists, batches,
 * prototype poisoning, JSON bombs, multipart abuse, empty and mislabelled files), unknown routes. Every error
 * is a 4xx in the one error shape, never a 500, and the audit log still verifies afterwards. Benign data only.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Scope } from '../src/auth/keys.js';
import { startTestService, type TestService } from './_service.js';

let t: TestService;
let admin: string;
let demoMd5: string;

interface ErrorBody {
  error: { code: string; message: string };
}
interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Every error response seen by this file; each is checked for the one error shape. */
const errors: { what: string; status: number; body: unknown }[] = [];

function assertErrorShape(what: string, body: unknown): asserts body is ErrorBody {
  assert.ok(body !== null && typeof body === 'object', `${what}: a JSON body`);
  const { error } = body as Partial<ErrorBody>;
  assert.ok(error && typeof error === 'object', `${what}: {error: …}`);
  assert.deepEqual(Object.keys(body as object), ['error'], `${what}: nothing beside error`);
  assert.match(error.code, /^VIGIL_ERR_[A-Z_]+$/, `${what}: error.code`);
  assert.equal(typeof error.message, 'string', `${what}: error.message`);
  assert.ok(error.message.length > 0);
}

async function call(method: string, path: string, options: { key?: string | null; header?: 'bearer' | 'x-api-key'; json?: unknown; body?: string | Uint8Array | FormData; type?: string; base?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  const key = options.key === undefined ? admin : options.key;
  if (key) {
    if (options.header === 'x-api-key') headers['x-api-key'] = key;
    else headers.authorization = `Bearer ${key}`;
  }
  let body = options.body;
  if (options.json !== undefined) body = JSON.stringify(options.json);
  if (options.type) headers['content-type'] = options.type;
  else if (options.json !== undefined || typeof body === 'string') headers['content-type'] = 'application/json';
  const res = await fetch(`${options.base ?? t.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  const parsed: unknown = (res.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : text;
  const what = `${method} ${path} → ${res.status}`;
  assert.ok(res.status < 500, `${what}: never a server error (${text.slice(0, 300)})`);
  if (res.status >= 400) {
    assertErrorShape(what, parsed);
    errors.push({ what, status: res.status, body: parsed });
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

async function expectError(status: number, code: string | RegExp, reply: Promise<Reply>): Promise<ErrorBody> {
  const r = await reply;
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
  assertErrorShape(`${status}`, r.body);
  if (typeof code === 'string') assert.equal(r.body.error.code, code);
  else assert.match(r.body.error.code, code);
  return r.body;
}

function fileForm(bytes: Uint8Array, fileName = 'upload.png', contentId = 'sec-1'): FormData {
  const form = new FormData();
  form.set('contentId', contentId);
  form.set('file', new Blob([bytes]), fileName);
  return form;
}

before(async () => {
  t = await startTestService({ demo: true });
  admin = await t.key(['admin']);
  demoMd5 = (await t.service.ctx.hashFile(join(t.dir, 'demo', 'sunset.png'))).md5!;
});
after(() => t.close());

describe('authentication', () => {
  test('no key → 401 on every scoped route; public routes answer without one', async () => {
    for (const [method, path] of [['POST', '/v1/content'], ['POST', '/v1/lookup'], ['GET', '/v1/banks'], ['POST', '/v1/banks'], ['GET', '/v1/decisions'], ['GET', '/v1/rules'], ['GET', '/v1/audit'], ['GET', '/metrics'], ['GET', '/m/lookup'], ['POST', '/c/banks']]) {
      const body = await expectError(401, 'VIGIL_ERR_UNAUTHENTICATED', call(method, path, { key: null }));
      assert.match(body.error.message, /Authorization: Bearer/);
    }
    for (const path of ['/healthz', '/readyz', '/status', '/openapi.json']) assert.equal((await call('GET', path, { key: null })).status, 200, path);
  });

  test('unknown, malformed, revoked and expired keys → 401; Bearer and X-Api-Key both accepted', async () => {
    const good = await t.key(['lookup']);
    assert.equal((await call('GET', '/v1/banks', { key: good })).status, 200);
    assert.equal((await call('GET', '/v1/banks', { key: good, header: 'x-api-key' })).status, 200);

    const [, id] = /^vigil_(k_[a-z2-7]{12})_/.exec(good)!;
    const forged = `vigil_${id}_${'A'.repeat(43)}`;
    for (const key of ['not-a-key', forged, `vigil_k_aaaaaaaaaaaa_${'B'.repeat(43)}`, `${good}x`]) {
      const body = await expectError(401, 'VIGIL_ERR_UNAUTHENTICATED', call('GET', '/v1/banks', { key }));
      assert.match(body.error.message, /unknown, revoked or expired/);
    }
    await expectError(401, 'VIGIL_ERR_UNAUTHENTICATED', call('GET', '/v1/banks', { key: forged, header: 'x-api-key' }));

    await t.service.ctx.keys.revokeNow(id, { actor: 'test' });
    await expectError(401, 'VIGIL_ERR_UNAUTHENTICATED', call('GET', '/v1/banks', { key: good }));
    await expectError(401, 'VIGIL_ERR_UNAUTHENTICATED', call('GET', '/v1/banks', { key: good, header: 'x-api-key' }));

    // A key past its expiry (created valid, then its expiry moved into the past, as time would).
    const { key: expiring, secret: expired } = await t.service.ctx.keys.createNow({ name: 'expiring', scopes: ['admin'], expiresAt: new Date(Date.now() + 86_400_000).toISOString() }, { actor: 'test' });
    assert.equal((await call('GET', '/v1/rules', { key: expired })).status, 200);
    await t.service.ctx.vigil.db.k.updateTable('api_keys').set({ expires_at: new Date(Date.now() - 60_000).toISOString() }).where('id', '=', expiring.id).execute();
    // A change made outside the key store is seen within a second (DEFAULT_REVISION_TTL_MS); told instead of waited for.
    t.service.ctx.keys.invalidate();
    await expectError(401, 'VIGIL_ERR_UNAUTHENTICATED', call('GET', '/v1/rules', { key: expired }));
  });
});

describe('scopes', () => {
  // One representative request per scope family; each must succeed with the scope (and with admin) and be
  // refused with every other scope.
  const FAMILIES: Record<Exclude<Scope, 'device'>, { method: string; path: () => string; json?: () => unknown }[]> = {
    submit: [{ method: 'POST', path: () => '/v1/content', json: () => ({ contentId: `scope-${Math.random()}`, hashes: { md5: demoMd5 } }) }],
    lookup: [
      { method: 'POST', path: () => '/v1/lookup', json: () => ({ hashes: [{ type: 'md5', value: demoMd5 }] }) },
      { method: 'GET', path: () => '/v1/banks' },
      { method: 'GET', path: () => `/m/raw_lookup?signal_type=video_md5&signal=${demoMd5}` },
    ],
    curate: [
      { method: 'POST', path: () => '/v1/banks', json: () => ({ name: `SCOPE_${Math.random().toString(36).slice(2, 10).toUpperCase()}` }) },
      { method: 'GET', path: () => '/v1/banks/DEMO_BENIGN_SAMPLES/export' },
    ],
    review: [
      { method: 'GET', path: () => '/v1/decisions' },
      { method: 'GET', path: () => '/v1/review' },
      { method: 'GET', path: () => '/v1/content/anything' },
    ],
    admin: [
      { method: 'GET', path: () => '/v1/rules' },
      { method: 'GET', path: () => '/v1/audit?limit=1' },
      { method: 'GET', path: () => '/v1/jobs' },
      { method: 'GET', path: () => '/metrics' },
    ],
  };
  const ALL: Scope[] = ['submit', 'lookup', 'curate', 'review', 'admin'];

  for (const [scope, requests] of Object.entries(FAMILIES) as [Scope, (typeof FAMILIES)['submit']][]) {
    test(`${scope}: allowed with the scope, 403 without it`, async () => {
      const withScope = await t.key([scope]);
      const others = await t.key(ALL.filter((s) => s !== scope && s !== 'admin'));
      for (const r of requests) {
        const ok = await call(r.method, r.path(), { key: withScope, ...(r.json ? { json: r.json() } : {}) });
        assert.ok(ok.status >= 200 && ok.status < 300, `${r.method} ${r.path()} with ${scope}: ${ok.status}`);
        if (scope !== 'admin') {
          const denied = await expectError(403, 'VIGIL_ERR_FORBIDDEN', call(r.method, r.path(), { key: others, ...(r.json ? { json: r.json() } : {}) }));
          assert.match(denied.error.message, new RegExp(`"${scope}" scope`));
        } else {
          await expectError(403, 'VIGIL_ERR_FORBIDDEN', call(r.method, r.path(), { key: others }));
        }
      }
    });
  }

  test('admin implies every scope', async () => {
    const root = await t.key(['admin']);
    for (const requests of Object.values(FAMILIES)) {
      for (const r of requests) {
        const res = await call(r.method, r.path(), { key: root, ...(r.json ? { json: r.json() } : {}) });
        assert.ok(res.status >= 200 && res.status < 300, `${r.method} ${r.path()} with admin: ${res.status}`);
      }
    }
  });
});

test('per-key rate limit: with 3 requests a minute the 4th is 429 with retry-after; other keys are unaffected', async () => {
  const limited = await t.key(['lookup'], 3);
  for (let i = 0; i < 3; i++) assert.equal((await call('GET', '/v1/banks', { key: limited })).status, 200, `request ${i + 1}`);
  const res = await call('GET', '/v1/banks', { key: limited });
  assert.equal(res.status, 429);
  assertErrorShape('429', res.body);
  assert.equal(res.body.error.code, 'VIGIL_ERR_RATE_LIMITED');
  const retryAfter = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `retry-after ${res.headers.get('retry-after')}`);
  assert.equal((await call('GET', '/v1/banks', { key: await t.key(['lookup']) })).status, 200, 'another key has its own budget');
  // Public routes are not rate limited per key.
  assert.equal((await call('GET', '/healthz', { key: limited })).status, 200);
});

describe('hostile requests', () => {
  test('lookup batch of 1001 → 400; an empty batch → 400; 1000 is accepted', async () => {
    const item = { type: 'md5', value: demoMd5 };
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/lookup', { json: { hashes: Array.from({ length: 1001 }, () => item) } }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/lookup', { json: { hashes: [] } }));
    const ok = await call('POST', '/v1/lookup', { json: { hashes: Array.from({ length: 1000 }, () => item) } });
    assert.equal(ok.status, 200);
    assert.equal((ok.body as { results: unknown[] }).results.length, 1000);
  });

  test('malformed JSON, wrong types, unknown fields, wrong content type → 400/415', async () => {
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/lookup', { body: '{"hashes": [' }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/lookup', { body: '' , type: 'application/json' }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/lookup', { json: { hashes: 'md5' } }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/lookup', { json: { hashes: [{ type: 'md5', value: demoMd5 }], extra: true } }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { json: { contentId: '', hashes: {} } }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { json: { contentId: 'x', hashes: { md5: 'zz' } } }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('GET', '/v1/signals/abc'));
    await expectError(415, 'VIGIL_ERR_UNSUPPORTED_MEDIA', call('POST', '/v1/lookup', { body: 'hashes=1', type: 'application/x-www-form-urlencoded' }));
  });

  test('JSON with __proto__ or constructor.prototype → 400', async () => {
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/lookup', { body: `{"hashes":[{"type":"md5","value":"${demoMd5}"}],"__proto__":{"admin":true}}` }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: `{"contentId":"p","hashes":{"md5":"${demoMd5}"},"context":{"__proto__":{"polluted":true}}}` }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: `{"contentId":"p","hashes":{"md5":"${demoMd5}"},"context":{"constructor":{"prototype":{"polluted":true}}}}` }));
    await expectError(400, /VIGIL_ERR_INVALID_(ARGUMENT|RULES)/, call('PUT', '/v1/rules', { body: '{"version":1,"rules":[],"__proto__":{"x":1}}' }));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).admin, undefined);
  });

  test('a multipart context (or HMA metadata) with __proto__ or constructor.prototype → 400, nothing stored or forwarded', async () => {
    const sunset = readFileSync(join(t.dir, 'demo', 'sunset.png'));
    for (const [i, context] of ['{"__proto__":{"polluted":true}}', '{"a":{"constructor":{"prototype":{"polluted":true}}}}'].entries()) {
      const form = fileForm(sunset, 'sunset.png', `proto-multipart-${i}`);
      form.set('context', context);
      const body = await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: form }));
      assert.match(body.error.message, /__proto__/);
      // A matched picture would have been recorded (and its context sent in webhooks): nothing was.
      assert.deepEqual(await t.service.ctx.records.decisionsForContent(`proto-multipart-${i}`), []);
    }
    await call('POST', '/c/banks', { json: { name: 'PROTO_BANK' } });
    const hma = new FormData();
    hma.set('photo', new Blob([sunset]), 'sunset.png');
    hma.set('metadata', '{"__proto__":{"polluted":true}}');
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/c/bank/PROTO_BANK/content', { body: hma }));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('deep-nested JSON bombs → 400, not a crash (bodies, free-form context and metadata, the multipart context field)', async () => {
    const depth = 50_000;
    const deepObject = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const deepArray = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/lookup', { body: deepArray }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/lookup', { body: deepObject }));
    // A matched submission stores and audits its context: this used to overflow the stack (500).
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: `{"contentId":"bomb-1","hashes":{"md5":"${demoMd5}"},"context":${deepObject}}` }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/banks/DEMO_BENIGN_SAMPLES/signals', { body: `{"type":"md5","value":"${'1'.repeat(32)}","metadata":${deepObject}}` }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('PUT', '/v1/rules', { body: `{"version":1,"description":${deepObject},"rules":[]}` }));
    const form = fileForm(readFileSync(join(t.dir, 'demo', 'sunset.png')), 'sunset.png', 'bomb-2');
    form.set('context', deepObject);
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: form }));
    // Moderate nesting is fine.
    const ok = await call('POST', '/v1/content', { json: { contentId: 'nested-ok', hashes: { md5: demoMd5 }, context: { surface: 'upload', a: { b: { c: { d: [1, [2, [3]]] } } } } } });
    assert.equal(ok.status, 200);
    assert.equal((await call('GET', '/healthz', { key: null })).status, 200, 'the service is still up');
  });

  test('multipart: two files → 400; no file → 400; a zero-byte file → 422; a bad context field → 400', async () => {
    const png = readFileSync(join(t.dir, 'demo', 'checkers.png'));
    const two = fileForm(png);
    two.append('file', new Blob([png]), 'again.png');
    const body = await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: two }));
    assert.match(body.error.message, /one file/);
    const noFile = new FormData();
    noFile.set('contentId', 'sec-nofile');
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: noFile }));
    await expectError(422, 'VIGIL_ERR_EMPTY_FILE', call('POST', '/v1/content', { body: fileForm(new Uint8Array(0), 'empty.png') }));
    await expectError(422, 'VIGIL_ERR_EMPTY_FILE', call('POST', '/h/hash', { body: (() => { const f = new FormData(); f.set('photo', new Blob([]), 'empty.png'); return f; })() }));
    const noId = new FormData();
    noId.set('file', new Blob([png]), 'x.png');
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: noId }));
    const badContext = fileForm(png, 'x.png', 'sec-ctx');
    badContext.set('context', '{not json');
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: badContext }));
    const arrayContext = fileForm(png, 'x.png', 'sec-ctx2');
    arrayContext.set('context', '[1,2]');
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: arrayContext }));
    // Malformed and truncated multipart bodies (the parser's errors used to surface as 500).
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: '--x\r\nbroken', type: 'multipart/form-data; boundary=x' }));
    const cut = (field: string) => `--x\r\nContent-Disposition: form-data; name="${field}"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG`;
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: cut('file'), type: 'multipart/form-data; boundary=x' }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/h/hash', { body: cut('photo'), type: 'multipart/form-data; boundary=x' }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/m/lookup', { body: cut('photo'), type: 'multipart/form-data; boundary=x' }));
    await expectError(400, 'VIGIL_ERR_INVALID_ARGUMENT', call('POST', '/v1/content', { body: 'no boundary', type: 'multipart/form-data' }));
  });

  test('a text file uploaded as an image → a digest-only decision (no PDQ; media "other" or media.error) or a clear 4xx, never a 500', async () => {
    const text = new TextEncoder().encode('This is a plain text file, not a picture.\n'.repeat(20));
    const res = await call('POST', '/v1/content', { body: fileForm(text, 'photo.jpg', 'sec-text') });
    if (res.status === 200) {
      const decision = res.body as { verdict: string; decisionId: number | null; media?: { media?: string; pdq?: string; error?: { code: string; message: string } } };
      assert.equal(decision.verdict, 'allow');
      assert.equal(decision.decisionId, null);
      assert.equal(decision.media?.pdq, undefined, 'no perceptual hash from text');
      assert.ok(decision.media?.media === 'other' || /^VIGIL_ERR_/.test(decision.media?.error?.code ?? ''), `the media summary says why: ${JSON.stringify(decision.media)}`);
    } else {
      assert.ok(res.status === 415 || res.status === 422, `a clear 4xx, got ${res.status}`);
    }
    // HMA hashing of the same bytes: no PDQ can be computed → a clear 4xx or an answer without pdq.
    const form = new FormData();
    form.set('photo', new Blob([text]), 'photo.jpg');
    const hashed = await call('POST', '/h/hash', { body: form });
    assert.ok(hashed.status === 200 ? !('pdq' in (hashed.body as object)) : hashed.status === 415 || hashed.status === 422, `h/hash: ${hashed.status}`);
    // A truncated PNG.
    const png = readFileSync(join(t.dir, 'demo', 'balloons.png'));
    const truncated = await call('POST', '/v1/content', { body: fileForm(png.subarray(0, 200), 'cut.png', 'sec-cut') });
    assert.ok(truncated.status === 200 || truncated.status === 415 || truncated.status === 422, `truncated: ${truncated.status}`);
  });

  test('unknown route → 404 in the error shape; unknown method → 404', async () => {
    const body = await expectError(404, 'VIGIL_ERR_NOT_FOUND', call('GET', '/v1/nothing-here?x=1', { key: null }));
    assert.match(body.error.message, /No route GET \/v1\/nothing-here$/);
    await expectError(404, 'VIGIL_ERR_NOT_FOUND', call('DELETE', '/v1/rules'));
    await expectError(404, 'VIGIL_ERR_NOT_FOUND', call('GET', '/v1/banks/NO_SUCH_BANK'));
  });
});

describe('size limits (maxUploadBytes 1024, maxJsonBytes 4096, maxImportBytes 2048)', () => {
  let small: TestService;
  let key: string;
  before(async () => {
    small = await startTestService({ limits: { maxUploadBytes: 1024, maxJsonBytes: 4096, maxImportBytes: 2048 } });
    key = await small.key(['admin']);
  });
  after(() => small.close());

  test('an upload over the limit → 413 (content, HMA hashing, HMA banking); at the limit it is accepted', async () => {
    const big = new Uint8Array(4096).fill(7);
    const body = await expectError(413, 'VIGIL_ERR_PAYLOAD_TOO_LARGE', call('POST', '/v1/content', { base: small.url, key, body: fileForm(big, 'big.png') }));
    assert.match(body.error.message, /1024/);
    const hma = new FormData();
    hma.set('photo', new Blob([big]), 'big.png');
    await expectError(413, 'VIGIL_ERR_PAYLOAD_TOO_LARGE', call('POST', '/h/hash', { base: small.url, key, body: hma }));
    await call('POST', '/c/banks', { base: small.url, key, json: { name: 'SMALL_BANK' } });
    await expectError(413, 'VIGIL_ERR_PAYLOAD_TOO_LARGE', call('POST', '/c/bank/SMALL_BANK/content', { base: small.url, key, body: hma }));
    const fits = await call('POST', '/v1/content', { base: small.url, key, body: fileForm(new Uint8Array(1024).fill(7), 'fits.bin', 'fits') });
    assert.equal(fits.status, 200);
  });

  test('a JSON body over the limit → 413; a hash list over the import limit → 413', async () => {
    const hashes = Array.from({ length: 200 }, (_, i) => ({ type: 'md5', value: i.toString(16).padStart(32, '0') }));
    await expectError(413, 'VIGIL_ERR_PAYLOAD_TOO_LARGE', call('POST', '/v1/lookup', { base: small.url, key, json: { hashes } }));
    await expectError(413, 'VIGIL_ERR_PAYLOAD_TOO_LARGE', call('PUT', '/v1/rules', { base: small.url, key, json: { version: 1, description: 'x'.repeat(5000), rules: [] } }));
    const list = Array.from({ length: 200 }, (_, i) => i.toString(16).padStart(32, '0')).join('\n');
    await expectError(413, 'VIGIL_ERR_PAYLOAD_TOO_LARGE', call('POST', '/v1/banks/SMALL_BANK/import?format=plain', { base: small.url, key, body: list, type: 'text/plain' }));
    const ok = await call('POST', '/v1/banks/SMALL_BANK/import?format=plain', { base: small.url, key, body: list.split('\n').slice(0, 10).join('\n'), type: 'text/plain' });
    assert.equal(ok.status, 202);
  });
});

test('every error seen had the {error: {code, message}} shape; the audit log verifies and has key.used entries', async () => {
  assert.ok(errors.length > 40, `errors checked: ${errors.length}`);
  for (const e of errors) assertErrorShape(e.what, e.body);
  const statuses = new Set(errors.map((e) => e.status));
  for (const s of [400, 401, 403, 404, 413, 415, 422, 429]) assert.ok(statuses.has(s), `saw a ${s}`);

  await t.service.ctx.usage.flush();
  const verified = await call('GET', '/v1/audit/verify');
  assert.deepEqual((verified.body as { ok: boolean }).ok, true);
  const used = await call('GET', '/v1/audit?action=key.used&limit=1000');
  const entries = (used.body as { entries: { actor: string; details: { requests: number; denied: number; routes: Record<string, number> } }[] }).entries;
  assert.ok(entries.length > 5, 'one key.used entry per key used');
  assert.ok(entries.some((e) => e.details.denied > 0), 'denied requests are counted');
  assert.ok(entries.every((e) => /^key:k_[a-z2-7]{12}$/.test(e.actor) && e.details.requests > 0));
  assert.ok(entries.some((e) => (e.details.routes['/v1/lookup'] ?? 0) > 0));
  // Secrets never reach the audit log.
  const all = JSON.stringify((await call('GET', '/v1/audit?limit=1000')).body);
  assert.ok(!all.includes(admin), 'no API secret in the audit log');
  assert.ok(!/vigil_k_[a-z2-7]{12}_/.test(all));
});
