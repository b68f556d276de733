/**
 * HMA 2.0 compatibility: HMA's documented requests (paths, query parameters, multipart field names, JSON bodies)
 * replayed against Vigil, and the responses checked in exactly the shapes HMA returns
 * (../shared/reference/threatexchange.md §5.3), so an HMA integration can point at Vigil unchanged. Vigil's
 * documented differences: an API key is needed (unless lookups are granted anonymously), bank_content_id is the
 * signal id. Benign data only: the demo's synthetic pictures.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeDemoPictures } from '../src/service/demo.js';
import { startTestService, type TestService } from './_service.js';

let t: TestService;
let curator: string;
let looker: string;
let pictures: Record<string, string>;
const pdqOf: Record<string, string> = {};

const BANK = 'HMA_TEST_BANK';
const OTHER = 'HMA_OTHER_BANK';

interface Reply<T> {
  status: number;
  body: T;
  type: string;
}

async function call<T = unknown>(method: string, path: string, options: { key?: string | null; json?: unknown; form?: FormData; base?: string } = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  const key = options.key === undefined ? curator : options.key;
  if (key) headers['x-api-key'] = key;
  let body: string | FormData | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) body = options.form;
  const res = await fetch(`${options.base ?? t.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  return { status: res.status, type, body: (type.startsWith('application/json') ? JSON.parse(text) : text) as T };
}

/** HMA's multipart upload: the field name is the content type (photo/video), exactly one file. */
function photo(name: string, field = 'photo'): FormData {
  const form = new FormData();
  form.set(field, new Blob([readFileSync(pictures[name])], { type: 'image/png' }), name);
  return form;
}

/** A PDQ hash `bits` (≤ 4) bits away from `hex`: the last nibble XORed. */
function nearby(hex: string, bits: 1 | 2 | 3 | 4): string {
  const mask = [0, 0x1, 0x3, 0x7, 0xf][bits];
  return hex.slice(0, -1) + (parseInt(hex.slice(-1), 16) ^ mask).toString(16);
}

const q = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`;

before(async () => {
  t = await startTestService();
  curator = await t.key(['curate', 'lookup']);
  looker = await t.key(['lookup']);
  const paths = await writeDemoPictures(join(t.dir, 'pictures'));
  pictures = Object.fromEntries(paths.map((p) => [p.split('/').pop()!, p]));
  for (const [name, path] of Object.entries(pictures)) pdqOf[name] = (await t.service.ctx.hashFile(path)).pdq!;
});
after(() => t.close());

test('GET /status → 200 I-AM-ALIVE (no key, like HMA); GET /site-map lists the routes', async () => {
  const status = await call<string>('GET', '/status', { key: null });
  assert.equal(status.status, 200);
  assert.equal(status.body, 'I-AM-ALIVE');
  assert.match(status.type, /^text\/plain/);
  const siteMap = await call<string[]>('GET', '/site-map', { key: null });
  assert.equal(siteMap.status, 200);
  assert.ok(Array.isArray(siteMap.body));
  for (const route of ['/status', '/h/hash', '/m/lookup', '/m/raw_lookup', '/m/compare', '/m/index/status', '/c/banks', '/c/bank/{name}', '/c/bank/{name}/signal', '/c/bank/{name}/content', '/c/bank/{name}/content/{id}']) {
    assert.ok(siteMap.body.includes(route), `site-map lists ${route}`);
  }
});

test('banks: POST /c/banks → 201 {name, matching_enabled_ratio}; a duplicate → 403; GET /c/banks, GET /c/bank/NAME', async () => {
  const created = await call('POST', '/c/banks', { json: { name: BANK } });
  assert.equal(created.status, 201);
  assert.deepEqual(created.body, { name: BANK, matching_enabled_ratio: 1 });
  const disabled = await call('POST', '/c/banks', { json: { name: OTHER, enabled_ratio: 0 } });
  assert.deepEqual([disabled.status, disabled.body], [201, { name: OTHER, matching_enabled_ratio: 0 }]);
  await call('PUT', `/c/bank/${OTHER}`, { json: { enabled: true } });

  const duplicate = await call<{ error: { code: string; message: string } }>('POST', '/c/banks', { json: { name: BANK } });
  assert.equal(duplicate.status, 403, 'HMA answers 403 "Bank already exists"');
  assert.equal(typeof duplicate.body.error.message, 'string');

  const list = await call<{ name: string; matching_enabled_ratio: number }[]>('GET', '/c/banks', { key: looker });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.sort((a, b) => a.name.localeCompare(b.name)), [{ name: OTHER, matching_enabled_ratio: 1 }, { name: BANK, matching_enabled_ratio: 1 }]);
  assert.deepEqual((await call('GET', `/c/bank/${BANK}`, { key: looker })).body, { name: BANK, matching_enabled_ratio: 1 });
  assert.equal((await call('GET', '/c/bank/NO_SUCH_BANK', { key: looker })).status, 404);
});

test('POST /h/hash multipart photo → {"pdq": "<64 hex>"}; one file only; ?types=', async () => {
  const res = await call<Record<string, string>>('POST', '/h/hash', { key: looker, form: photo('sunset.png') });
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body), ['pdq']);
  assert.match(res.body.pdq, /^[0-9a-f]{64}$/);
  assert.equal(res.body.pdq, pdqOf['sunset.png']);
  const typed = await call<Record<string, string>>('POST', `/h/hash${q({ types: 'pdq' })}`, { key: looker, form: photo('sunset.png') });
  assert.deepEqual(typed.body, { pdq: pdqOf['sunset.png'] });

  const none = await call<{ error: { code: string } }>('POST', '/h/hash', { key: looker, form: new FormData() });
  assert.equal(none.status, 400);
  const two = photo('sunset.png');
  two.append('photo', new Blob([readFileSync(pictures['checkers.png'])]), 'checkers.png');
  const both = await call<{ error: { code: string } }>('POST', '/h/hash', { key: looker, form: two });
  assert.deepEqual([both.status, both.body.error.code], [400, 'VIGIL_ERR_INVALID_ARGUMENT'], 'HMA: "Only one file allowed per request"');
});

let sunsetId: number;
let mountainsId: number;

test('POST /c/bank/NAME/signal {"pdq": …} and POST /c/bank/NAME/content (multipart photo) → {"id": N, "signals": {"pdq": …}}', async () => {
  const signal = await call<{ id: number; signals: Record<string, string> }>('POST', `/c/bank/${BANK}/signal`, { json: { pdq: pdqOf['sunset.png'] } });
  assert.equal(signal.status, 200);
  assert.deepEqual(Object.keys(signal.body).sort(), ['id', 'signals']);
  assert.equal(typeof signal.body.id, 'number');
  assert.deepEqual(signal.body.signals, { pdq: pdqOf['sunset.png'] });
  sunsetId = signal.body.id;

  const content = await call<{ id: number; signals: Record<string, string> }>('POST', `/c/bank/${BANK}/content`, { form: photo('mountains.png') });
  assert.equal(content.status, 200);
  assert.deepEqual(Object.keys(content.body).sort(), ['id', 'signals']);
  assert.deepEqual(content.body.signals, { pdq: pdqOf['mountains.png'] });
  mountainsId = content.body.id;
  assert.notEqual(mountainsId, sunsetId);

  // The same PDQ in another bank: one entry per bank in lookups.
  assert.equal((await call('POST', `/c/bank/${OTHER}/signal`, { json: { pdq: pdqOf['mountains.png'] } })).status, 200);

  const bad = await call<{ error: { code: string } }>('POST', `/c/bank/${BANK}/signal`, { json: { pdq: 'not-a-pdq-hash' } });
  assert.equal(bad.status, 400);
  const unknownType = await call('POST', `/c/bank/${BANK}/signal`, { json: { no_such_type: 'abc' } });
  assert.equal(unknownType.status, 400);
  assert.equal((await call('POST', '/c/bank/NO_SUCH_BANK/signal', { json: { pdq: pdqOf['sunset.png'] } })).status, 404);
  assert.equal((await call('POST', `/c/bank/${BANK}/signal`, { key: looker, json: { pdq: pdqOf['sunset.png'] } })).status, 403, 'curation needs the curate scope');
});

test('GET /m/raw_lookup?signal_type=pdq&signal=… → {"matches": [id]}; &include_distance=true → [{bank_content_id, distance}]', async () => {
  const raw = await call<{ matches: number[] }>('GET', `/m/raw_lookup${q({ signal_type: 'pdq', signal: pdqOf['sunset.png'] })}`, { key: looker });
  assert.equal(raw.status, 200);
  assert.deepEqual(raw.body, { matches: [sunsetId] });
  const withDistance = await call('GET', `/m/raw_lookup${q({ signal_type: 'pdq', signal: nearby(pdqOf['sunset.png'], 3), include_distance: 'true' })}`, { key: looker });
  assert.deepEqual(withDistance.body, { matches: [{ bank_content_id: sunsetId, distance: '3' }] });
  const banks = await call('GET', `/m/raw_lookup${q({ signal_type: 'pdq', signal: pdqOf['mountains.png'], banks: OTHER })}`, { key: looker });
  assert.equal((banks.body as { matches: number[] }).matches.length, 1);
  assert.ok(!(banks.body as { matches: number[] }).matches.includes(mountainsId), 'banks= restricts the search');
  const none = await call('GET', `/m/raw_lookup${q({ signal_type: 'pdq', signal: 'f'.repeat(64) })}`, { key: looker });
  assert.deepEqual(none.body, { matches: [] });
  assert.equal((await call('GET', `/m/raw_lookup${q({ signal_type: 'pdq' })}`, { key: looker })).status, 400);
  assert.equal((await call('GET', `/m/raw_lookup${q({ signal_type: 'no_such_type', signal: 'abc' })}`, { key: looker })).status, 400);
});

test('GET /m/lookup?signal_type=pdq&signal=… → {"BANK": [{"bank_content_id": N, "distance": "0"}]}', async () => {
  const exact = await call('GET', `/m/lookup${q({ signal_type: 'pdq', signal: pdqOf['sunset.png'] })}`, { key: looker });
  assert.equal(exact.status, 200);
  assert.deepEqual(exact.body, { [BANK]: [{ bank_content_id: sunsetId, distance: '0' }] });
  const near = await call('GET', `/m/lookup${q({ signal_type: 'pdq', signal: nearby(pdqOf['sunset.png'], 2) })}`, { key: looker });
  assert.deepEqual(near.body, { [BANK]: [{ bank_content_id: sunsetId, distance: '2' }] });
  const twoBanks = await call<Record<string, { bank_content_id: number; distance: string }[]>>('GET', `/m/lookup${q({ signal_type: 'pdq', signal: pdqOf['mountains.png'] })}`, { key: looker });
  assert.deepEqual(Object.keys(twoBanks.body).sort(), [OTHER, BANK]);
  assert.deepEqual(twoBanks.body[BANK], [{ bank_content_id: mountainsId, distance: '0' }]);
  const onlyOther = await call<Record<string, unknown>>('GET', `/m/lookup${q({ signal_type: 'pdq', signal: pdqOf['mountains.png'], banks: OTHER })}`, { key: looker });
  assert.deepEqual(Object.keys(onlyOther.body), [OTHER]);
  const nothing = await call('GET', `/m/lookup${q({ signal_type: 'pdq', signal: pdqOf['balloons.png'] })}`, { key: looker });
  assert.deepEqual(nothing.body, {});
  assert.equal((await call('GET', `/m/lookup${q({ signal_type: 'pdq', signal: 'zz' })}`, { key: looker })).status, 400);
});

test('POST /m/lookup multipart photo → {"pdq": {"BANK": [{bank_content_id, distance}]}}', async () => {
  const res = await call('POST', '/m/lookup', { key: looker, form: photo('sunset.png') });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { pdq: { [BANK]: [{ bank_content_id: sunsetId, distance: '0' }] } });
  const unmatched = await call('POST', '/m/lookup', { key: looker, form: photo('balloons.png') });
  assert.deepEqual(unmatched.body, { pdq: {} });
  const filtered = await call('POST', `/m/lookup${q({ banks: OTHER })}`, { key: looker, form: photo('mountains.png') });
  assert.deepEqual(Object.keys((filtered.body as { pdq: Record<string, unknown> }).pdq), [OTHER]);
});

test('POST /m/compare {"pdq": [h1, h2]} → {"pdq": [bool, {"distance": n}]}', async () => {
  const near = await call('POST', '/m/compare', { key: looker, json: { pdq: [pdqOf['sunset.png'], nearby(pdqOf['sunset.png'], 4)] } });
  assert.equal(near.status, 200);
  assert.deepEqual(near.body, { pdq: [true, { distance: 4 }] });
  const same = await call('POST', '/m/compare', { key: looker, json: { pdq: [pdqOf['checkers.png'], pdqOf['checkers.png']] } });
  assert.deepEqual(same.body, { pdq: [true, { distance: 0 }] });
  const far = await call<{ pdq: [boolean, { distance: number }] }>('POST', '/m/compare', { key: looker, json: { pdq: [pdqOf['sunset.png'], pdqOf['checkers.png']] } });
  assert.equal(far.body.pdq[0], false);
  assert.ok(far.body.pdq[1].distance > 31);
  assert.equal((await call('POST', '/m/compare', { key: looker, json: { pdq: [pdqOf['sunset.png']] } })).status, 400, 'exactly two hashes');
  assert.equal((await call('POST', '/m/compare', { key: looker, json: { pdq: ['abc', 'def'] } })).status, 400);
  // Exact types (HMA's video_md5 is Vigil's md5): equal or not, in the type's canonical form.
  const md5 = 'd41d8cd98f00b204e9800998ecf8427e';
  assert.deepEqual((await call('POST', '/m/compare', { key: looker, json: { video_md5: [md5.toUpperCase(), md5] } })).body, { video_md5: [true, { distance: 0 }] });
  assert.deepEqual((await call('POST', '/m/compare', { key: looker, json: { video_md5: [md5, `${md5.slice(0, -1)}f`] } })).body, { video_md5: [false, { distance: 1 }] });
  assert.equal((await call('POST', '/m/compare', { key: looker, json: { video_md5: [md5, 'xyz'] } })).status, 400);
});

test('GET /m/index/status → {"pdq": {"present": true, "built_to": <unix ts>, "size": N}, …}', async () => {
  const all = await call<Record<string, { present: boolean; built_to: number; size: number }>>('GET', '/m/index/status', { key: looker });
  assert.equal(all.status, 200);
  assert.ok(all.body.pdq && all.body.video_md5, 'pdq and video_md5 (HMA\'s default signal types)');
  for (const status of Object.values(all.body)) {
    assert.deepEqual(Object.keys(status).sort(), ['built_to', 'present', 'size']);
    assert.equal(typeof status.present, 'boolean');
    assert.ok(Number.isInteger(status.built_to) && Number.isInteger(status.size));
  }
  assert.equal(all.body.pdq.present, true);
  assert.equal(all.body.pdq.size, 3);
  assert.ok(all.body.pdq.built_to > 1_600_000_000 && all.body.pdq.built_to < 10_000_000_000, 'built_to is in unix seconds');
  const one = await call('GET', `/m/index/status${q({ signal_type: 'pdq' })}`, { key: looker });
  assert.deepEqual(Object.keys(one.body as object), ['pdq']);
});

test('GET /c/bank/NAME/content/ID → the content with its signals; DELETE → {"deleted": 1}, then it no longer matches', async () => {
  const got = await call<{ id: number; disable_until_ts: number; collab_metadata: object; bank: { name: string; matching_enabled_ratio: number }; original_media_uri: string | null; signals: Record<string, string> }>('GET', `/c/bank/${BANK}/content/${sunsetId}`, { key: curator });
  assert.equal(got.status, 200);
  assert.equal((await call('GET', `/c/bank/${BANK}/content/${sunsetId}`, { key: looker })).status, 403, 'signal values are a bank\'s hashes: curate only');
  // HMA 2.0's shape: {id, disable_until_ts (1 = enabled), collab_metadata, original_media_uri, bank: {name, matching_enabled_ratio}, signals}.
  assert.deepEqual([got.body.id, got.body.disable_until_ts, got.body.collab_metadata, got.body.original_media_uri], [sunsetId, 1, {}, null]);
  assert.deepEqual(got.body.bank, { name: BANK, matching_enabled_ratio: 1 });
  assert.deepEqual(got.body.signals, { pdq: pdqOf['sunset.png'] });
  assert.equal((await call('GET', `/c/bank/${OTHER}/content/${sunsetId}`, { key: curator })).status, 404, 'content of another bank');
  assert.equal((await call('GET', `/c/bank/${BANK}/content/999999`, { key: curator })).status, 404);

  const deleted = await call('DELETE', `/c/bank/${BANK}/content/${sunsetId}`);
  assert.equal(deleted.status, 200);
  assert.deepEqual(deleted.body, { deleted: 1 });
  assert.deepEqual((await call('GET', `/m/lookup${q({ signal_type: 'pdq', signal: pdqOf['sunset.png'] })}`, { key: looker })).body, {});
  assert.deepEqual((await call('GET', `/m/raw_lookup${q({ signal_type: 'pdq', signal: pdqOf['sunset.png'] })}`, { key: looker })).body, { matches: [] });
  const again = await call('DELETE', `/c/bank/${BANK}/content/${sunsetId}`);
  assert.deepEqual([again.status, again.body], [200, { deleted: 0 }], 'HMA answers a count: 0 when nothing was removed');
  assert.equal((await call('DELETE', `/c/bank/NO_SUCH_BANK/content/${sunsetId}`)).status, 404);
});

test('PUT /c/bank/NAME: disable / enable / rename (403 on a duplicate name); DELETE /c/bank/NAME → {"message": "Done"} and it stops matching', async () => {
  const lookup = async () => (await call<Record<string, unknown>>('GET', `/m/lookup${q({ signal_type: 'pdq', signal: pdqOf['mountains.png'] })}`, { key: looker })).body;
  const off = await call('PUT', `/c/bank/${BANK}`, { json: { enabled: false } });
  assert.deepEqual([off.status, off.body], [200, { name: BANK, matching_enabled_ratio: 0 }]);
  assert.deepEqual(Object.keys(await lookup()), [OTHER], 'a disabled bank stops matching');
  const on = await call('PUT', `/c/bank/${BANK}`, { json: { enabled_ratio: 1 } });
  assert.deepEqual(on.body, { name: BANK, matching_enabled_ratio: 1 });
  assert.deepEqual(Object.keys(await lookup()).sort(), [OTHER, BANK]);

  const renamed = await call('PUT', `/c/bank/${BANK}`, { json: { name: 'HMA_RENAMED_BANK' } });
  assert.deepEqual([renamed.status, renamed.body], [200, { name: 'HMA_RENAMED_BANK', matching_enabled_ratio: 1 }]);
  assert.equal((await call('GET', `/c/bank/${BANK}`, { key: looker })).status, 404);
  assert.deepEqual(Object.keys(await lookup()).sort(), [OTHER, 'HMA_RENAMED_BANK']);
  const clash = await call<{ error: { code: string; message: string } }>('PUT', '/c/bank/HMA_RENAMED_BANK', { json: { name: OTHER } });
  assert.equal(clash.status, 403);
  assert.match(clash.body.error.message, /already exists/);
  assert.equal((await call('PUT', '/c/bank/NO_SUCH_BANK', { json: { enabled: true } })).status, 404);

  const removed = await call('DELETE', '/c/bank/HMA_RENAMED_BANK');
  assert.deepEqual([removed.status, removed.body], [200, { message: 'Done' }]);
  assert.deepEqual(Object.keys(await lookup()), [OTHER]);
  assert.equal((await call('DELETE', '/c/bank/HMA_RENAMED_BANK', { key: looker })).status, 403, 'curation needs the curate scope');
});

test('?url= to a private or loopback address is refused (SSRF) with 403; other schemes with 400', async () => {
  for (const url of ['http://127.0.0.1:9/x.png', 'http://10.0.0.1/x.png', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/x.png', 'http://192.168.1.1/x.png', 'http://localhost/x.png']) {
    for (const path of [`/h/hash${q({ url })}`, `/m/lookup${q({ url })}`]) {
      const res = await call<{ error: { code: string } }>('GET', path, { key: looker });
      assert.equal(res.status, 403, `${path} → ${res.status}`);
      assert.equal(res.body.error.code, 'VIGIL_ERR_FORBIDDEN');
    }
    assert.equal((await call('POST', `/c/bank/${OTHER}/content${q({ url })}`)).status, 403);
  }
  assert.equal((await call('GET', `/h/hash${q({ url: 'file:///etc/passwd' })}`, { key: looker })).status, 400);
  assert.equal((await call('GET', `/h/hash${q({ url: 'not a url' })}`, { key: looker })).status, 400);
});

test('HMA routes need a key (401) unless the operator grants lookups anonymously', async () => {
  assert.equal((await call('GET', `/m/lookup${q({ signal_type: 'pdq', signal: pdqOf['mountains.png'] })}`, { key: null })).status, 401);
  assert.equal((await call('GET', '/c/banks', { key: null })).status, 401);
});

describe('anonymous lookups (anonymousScopes: ["lookup"])', () => {
  let open: TestService;
  before(async () => {
    open = await startTestService({ anonymousScopes: ['lookup'] });
  });
  after(() => open.close());

  test('HMA-style lookups answer without a key; curation still needs one', async () => {
    const key = await open.key(['curate']);
    assert.equal((await call('POST', '/c/banks', { base: open.url, key, json: { name: 'OPEN_BANK' } })).status, 201);
    const added = await call<{ id: number }>('POST', '/c/bank/OPEN_BANK/signal', { base: open.url, key, json: { pdq: pdqOf['checkers.png'] } });
    const res = await call('GET', `/m/lookup${q({ signal_type: 'pdq', signal: pdqOf['checkers.png'] })}`, { base: open.url, key: null });
    assert.deepEqual([res.status, res.body], [200, { OPEN_BANK: [{ bank_content_id: added.body.id, distance: '0' }] }]);
    assert.equal((await call('GET', '/c/banks', { base: open.url, key: null })).status, 200);
    assert.equal((await call('POST', '/c/banks', { base: open.url, key: null, json: { name: 'NOPE' } })).status, 401);
  });
});
