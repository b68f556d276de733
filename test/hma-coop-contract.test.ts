/**
 * Contract: ROOST Coop's HMA client (roostorg/coop server/services/hmaService/index.ts and its callers
 * routes/items/submitItems.ts, routes/reporting/submitReport.ts, signals/ImageSimilarity*.ts), replayed
 * against Vigil in-process. Each request is built as Coop builds it (base URL ending in "/" joined with a
 * path starting with "/", no API key, JSON bodies as Coop writes them, multipart field names), and each
 * answer is checked against the TypeScript type Coop casts it to and against what Coop does with the status
 * (a 404 on GET /c/bank/NAME makes Coop delete its own bank record). The service runs as docs/coop.md says:
 * `--anonymous lookup,curate`, private-network fetches allowed (the test's media server is on loopback).
 * Benign data only: the demo's synthetic pictures and a conformance test clip.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { writeDemoPictures } from '../src/service/demo.js';
import { sql } from 'kysely';
import { startTestService, type TestService } from './_service.js';

const CLIP = fileURLToPath(new URL('../../shared/conformance/vpdq/videos/test-padded-dimensions.mp4', import.meta.url));

// Coop's types (hmaService/index.ts), as type guards.
type BankMatch = { bank_content_id: number; distance: string };
const isRecordOfStrings = (v: unknown): v is Record<string, string> => !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
const isLookupResponse = (v: unknown): v is Record<string, BankMatch[]> =>
  !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((ms) => Array.isArray(ms) && ms.every((m: BankMatch) => typeof m.bank_content_id === 'number' && typeof m.distance === 'string'));
const isBankContentResponse = (v: unknown): v is { id: number; signals: Record<string, string> } => typeof (v as { id?: unknown }).id === 'number' && isRecordOfStrings((v as { signals?: unknown }).signals);
const isField = (f: Record<string, unknown>) => typeof f.name === 'string' && typeof f.type === 'string' && typeof f.required === 'boolean' && 'default' in f && typeof f.help === 'string' && (f.choices === null || Array.isArray(f.choices));

let t: TestService;
let app: FastifyInstance;
let media: Server;
let mediaUrl: string;
let pictures: Record<string, string>;
const BASE = '/'; // Coop's HMA_SERVICE_URL ends in "/": `${base}/c/banks` → "//c/banks".

/** A request as Coop's fetchHTTP sends it: no key; JSON with Content-Type, or undici FormData. */
async function coop(method: string, path: string, body?: unknown | FormData) {
  const url = `${BASE}${path}`;
  let payload: string | Buffer | undefined;
  const headers: Record<string, string> = {};
  if (body instanceof FormData) {
    const encoded = new Response(body);
    headers['content-type'] = encoded.headers.get('content-type')!;
    payload = Buffer.from(await encoded.arrayBuffer());
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await app.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload } : {}) });
  const ok = res.statusCode >= 200 && res.statusCode < 300;
  return { ok, status: res.statusCode, body: res.headers['content-type']?.toString().startsWith('application/json') ? (res.json() as unknown) : res.body };
}

const qs = (params: Record<string, string>) => new URLSearchParams(params).toString();

before(async () => {
  t = await startTestService({ anonymousScopes: ['lookup', 'curate'], hma: { allowPrivateNetworks: true, extraSignalTypes: ['vpdq'] } });
  app = t.service.app;
  const paths = await writeDemoPictures(join(t.dir, 'pictures'));
  pictures = Object.fromEntries(paths.map((p) => [p.split('/').pop()!, p]));
  media = createServer((req, res) => {
    const name = decodeURIComponent(req.url!.slice(1));
    if (pictures[name]) return void res.writeHead(200, { 'content-type': 'image/png' }).end(readFileSync(pictures[name]));
    if (name === 'clip.mp4' && existsSync(CLIP)) return void res.writeHead(200, { 'content-type': 'video/mp4' }).end(readFileSync(CLIP));
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => media.listen(0, '127.0.0.1', resolve));
  mediaUrl = `http://127.0.0.1:${(media.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((resolve) => media.close(() => resolve()));
  await t.close();
});

const BANK = 'COOP_ORG1_BENIGN_SAMPLES';

describe('Coop hash banks (createBank, getBank, updateBank, deleteBank)', () => {
  test('createBank: POST //c/banks {name, enabled_ratio: "1"} (a string) → ok; getBank: GET //c/bank/NAME → ok, unknown → 404', async () => {
    const created = await coop('POST', '/c/banks', { name: BANK, enabled_ratio: (1).toString() });
    assert.ok(created.ok, `status ${created.status}`);
    assert.deepEqual(created.body, { name: BANK, matching_enabled_ratio: 1 });
    assert.equal((await coop('GET', `/c/bank/${BANK}`)).status, 200);
    assert.equal((await coop('GET', '/c/bank/COOP_ORG1_NEVER_MADE')).status, 404, 'Coop deletes its record only on 404');
    const half = await coop('POST', '/c/banks', { name: 'COOP_ORG1_HALF', enabled_ratio: (0.5).toString() });
    assert.deepEqual([half.ok, half.body], [true, { name: 'COOP_ORG1_HALF', matching_enabled_ratio: 0.5 }]);
  });

  test('updateBank: PUT //c/bank/NAME {enabled_ratio: <number>} → ok', async () => {
    const res = await coop('PUT', '/c/bank/COOP_ORG1_HALF', { enabled_ratio: 0.25 });
    assert.deepEqual([res.ok, res.body], [true, { name: 'COOP_ORG1_HALF', matching_enabled_ratio: 0.25 }]);
    assert.deepEqual((await coop('PUT', '/c/bank/COOP_ORG1_HALF', { enabled_ratio: 0 })).body, { name: 'COOP_ORG1_HALF', matching_enabled_ratio: 0 });
  });

  test('rename (create new, delete old) and back: the old name is free again; DELETE → ok', async () => {
    assert.ok((await coop('POST', '/c/banks', { name: 'COOP_ORG1_RENAMED', enabled_ratio: '0.25' })).ok);
    assert.ok((await coop('DELETE', '/c/bank/COOP_ORG1_HALF')).ok);
    assert.equal((await coop('GET', '/c/bank/COOP_ORG1_HALF')).status, 404);
    const back = await coop('POST', '/c/banks', { name: 'COOP_ORG1_HALF', enabled_ratio: '0.25' });
    assert.equal(back.status, 201, 'the deleted name can be created again');
    assert.ok((await coop('DELETE', '/c/bank/COOP_ORG1_RENAMED')).ok);
    assert.ok((await coop('DELETE', '/c/bank/COOP_ORG1_RENAMED')).ok, 'HMA answers Done for a bank already gone');
    const audit = (await t.service.ctx.audit.list({ action: 'bank.deleted' })).filter((e) => e.subject === 'bank:COOP_ORG1_HALF');
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.actor, 'anonymous');
    assert.equal((audit[0]!.details as { via?: string }).via, 'hma');
  });
});

describe('Coop item and report submission (hashContentFromUrl → checkImageMatchWithDetails per hash)', () => {
  let contentId: number;

  test('addContentToBank by file: multipart field "photo" then content_id, content_uri, metadata → {id, signals}', async () => {
    const form = new FormData();
    form.append('photo', new Blob([readFileSync(pictures['sunset.png']!)], { type: 'image/png' }), 'sunset.png');
    form.append('content_id', 'item-1');
    form.append('content_uri', 'https://example.com/item-1');
    form.append('metadata', JSON.stringify({ reviewer: 'benign test' }));
    const res = await coop('POST', `/c/bank/${BANK}/content`, form);
    assert.ok(res.ok, `status ${res.status}`);
    assert.ok(isBankContentResponse(res.body));
    assert.deepEqual(Object.keys(res.body.signals), ['pdq'], 'a photo gets HMA\'s photo signal type');
    contentId = res.body.id;
    const stored = await t.service.ctx.store.getSignal(contentId);
    assert.deepEqual(stored?.metadata, { content_id: 'item-1', content_uri: 'https://example.com/item-1', json: { reviewer: 'benign test' } });
  });

  test('addContentToBank by URL: POST //c/bank/NAME/content?url=&content_id= → {id, signals}', async () => {
    const res = await coop('POST', `/c/bank/${BANK}/content?${qs({ url: `${mediaUrl}/mountains.png`, content_id: 'item-2' })}`);
    assert.ok(res.ok, `status ${res.status}`);
    assert.ok(isBankContentResponse(res.body));
  });

  test('hashContentFromUrl: GET //h/hash?url= → Record<string, string>; each hash looked up as Coop does, all in one Promise.all', async () => {
    const hashed = await coop('GET', `/h/hash?url=${encodeURIComponent(`${mediaUrl}/sunset.png`)}`);
    assert.ok(hashed.ok, `status ${hashed.status}`);
    assert.ok(isRecordOfStrings(hashed.body));
    assert.deepEqual(Object.keys(hashed.body), ['pdq']);
    const results = await Promise.all(Object.entries(hashed.body).map(([signalType, hash]) => coop('GET', `/m/lookup?${qs({ signal_type: signalType, signal: String(hash) })}`)));
    for (const r of results) {
      assert.ok(r.ok, `status ${r.status}`);
      assert.ok(isLookupResponse(r.body));
    }
    assert.deepEqual((results[0]!.body as Record<string, BankMatch[]>)[BANK], [{ bank_content_id: contentId, distance: '0' }]);
  });

  test('a video: every answer a string (vPDQ as python-threatexchange writes it), and each is accepted back by /m/lookup', { skip: !existsSync(CLIP) && 'conformance clip not present' }, async () => {
    const hashed = await coop('GET', `/h/hash?url=${encodeURIComponent(`${mediaUrl}/clip.mp4`)}`);
    assert.ok(hashed.ok, `status ${hashed.status}`);
    assert.ok(isRecordOfStrings(hashed.body), 'HMA\'s HashResponse is dict[str, str]');
    assert.deepEqual(Object.keys(hashed.body).sort(), ['video_md5', 'vpdq']);
    const features = JSON.parse(hashed.body.vpdq!) as string[];
    assert.ok(features.length > 0 && features.every((f) => /^[0-9a-f]{64},\d+,[0-9.e+-]+$/.test(f)));
    const banked = await coop('POST', `/c/bank/${BANK}/signal`, { vpdq: hashed.body.vpdq });
    assert.ok(banked.ok, `status ${banked.status}`);
    const results = await Promise.all(Object.entries(hashed.body).map(([signalType, hash]) => coop('GET', `/m/lookup?${qs({ signal_type: signalType, signal: String(hash) })}`)));
    for (const r of results) assert.ok(r.ok && isLookupResponse(r.body), `status ${r.status}`);
    assert.ok((results[1]!.body as Record<string, BankMatch[]>)[BANK]?.length, 'the vPDQ string matches what was banked from it');
  });

  test('content switch: PUT //c/bank/NAME/content/ID {disable_until_ts} — 0 disables, a future time disables until then, 1 enables', async () => {
    const lookup = async () => ((await coop('GET', `/m/lookup?${qs({ signal_type: 'pdq', signal: (await t.service.ctx.store.getSignal(contentId))!.value })}`)).body as Record<string, BankMatch[]>)[BANK];
    const get = async () => (await coop('GET', `/c/bank/${BANK}/content/${contentId}`)).body as { disable_until_ts: number };
    assert.equal((await get()).disable_until_ts, 1);
    assert.equal(((await coop('PUT', `/c/bank/${BANK}/content/${contentId}`, { disable_until_ts: 0 })).body as { disable_until_ts: number }).disable_until_ts, 0);
    assert.equal(await lookup(), undefined);
    const future = Math.floor(Date.now() / 1000) + 3600;
    assert.ok((await coop('PUT', `/c/bank/${BANK}/content/${contentId}`, { disable_until_ts: future, note: 'benign test' })).ok);
    assert.equal((await get()).disable_until_ts, future);
    assert.equal(await lookup(), undefined);
    assert.ok((await coop('PUT', `/c/bank/${BANK}/content/${contentId}`, { disable_until_ts: 1 })).ok);
    assert.equal((await lookup())?.length, 1);
    assert.equal((await coop('PUT', `/c/bank/${BANK}/content/${contentId}`, { disable_until_ts: -5 })).status, 400);
    assert.equal((await coop('PUT', `/c/bank/${BANK}/content/99999999`, { disable_until_ts: 0 })).status, 404);
  });
});

describe('enabled_ratio: a fixed share of the bank\'s contents, the same content always behaving the same', () => {
  test('ratio 0.5 over 64 contents: about half match, the same ones every time; bypass_coinflip=true matches all; 0 none', async () => {
    assert.ok((await coop('POST', '/c/banks', { name: 'COOP_ORG1_SAMPLED', enabled_ratio: '0.5' })).ok);
    const hashes = Array.from({ length: 64 }, (_, i) => (BigInt(i + 1) * 0x9e3779b97f4a7c15n).toString(16).padStart(16, '0').slice(-16).repeat(4));
    for (const pdq of hashes) assert.ok((await coop('POST', '/c/bank/COOP_ORG1_SAMPLED/signal', { pdq })).ok);
    const matched = async (extra: Record<string, string> = {}) => {
      const out: boolean[] = [];
      for (const pdq of hashes) out.push(((await coop('GET', `/m/lookup?${qs({ signal_type: 'pdq', signal: pdq, ...extra })}`)).body as Record<string, BankMatch[]>).COOP_ORG1_SAMPLED?.some((m) => m.distance === '0') ?? false);
      return out;
    };
    const first = await matched();
    const n = first.filter(Boolean).length;
    assert.ok(n > 16 && n < 48, `${n} of 64 matched`);
    assert.deepEqual(await matched(), first, 'deterministic per content');
    assert.equal((await matched({ bypass_coinflip: 'true' })).filter(Boolean).length, 64);
    await coop('PUT', '/c/bank/COOP_ORG1_SAMPLED', { enabled_ratio: 0 });
    assert.equal((await matched()).filter(Boolean).length, 0);
  });
});

describe('Coop exchanges (getExchangeApis, getExchangeApiSchema, setExchangeCredentials, createExchange, getExchangeForBank)', () => {
  test('GET //c/exchanges/apis → string[]; GET //c/exchanges/api/NAME → {supports_authentification, has_set_authentification}; schema → ExchangeApiSchema', async () => {
    const apis = await coop('GET', '/c/exchanges/apis');
    assert.ok(apis.ok && Array.isArray(apis.body) && apis.body.every((n) => typeof n === 'string'));
    assert.deepEqual([...(apis.body as string[])].sort(), ['fb_threatexchange', 'ncmec', 'stop_ncii']);
    for (const name of apis.body as string[]) {
      const info = await coop('GET', `/c/exchanges/api/${encodeURIComponent(name)}`);
      assert.deepEqual([info.ok, info.body], [true, { supports_authentification: true, has_set_authentification: false }]);
      const schema = await coop('GET', `/c/exchanges/api/${encodeURIComponent(name)}/schema`);
      assert.ok(schema.ok);
      const s = schema.body as { config_schema: { fields: Record<string, unknown>[] }; credentials_schema: { fields: Record<string, unknown>[] } | null };
      assert.ok(s.config_schema.fields.every(isField) && (s.credentials_schema === null || s.credentials_schema.fields.every(isField)));
    }
  });

  test('setExchangeCredentials: POST //c/exchanges/api/ncmec {credential_json} → ok; never returned; stored encrypted', async () => {
    const res = await coop('POST', '/c/exchanges/api/ncmec', { credential_json: { user: 'benign-user', password: 'not-a-real-secret-42' } });
    assert.ok(res.ok, `status ${res.status}`);
    assert.deepEqual(res.body, { supports_authentification: true, has_set_authentification: true });
    assert.equal((await coop('POST', '/c/exchanges/api/ncmec', { credential_json: { user: 'x' } })).status, 400, 'a required field missing');
    assert.equal((await coop('POST', '/c/exchanges/api/nope', { credential_json: { a: 'b' } })).status, 400);
    // The stored bytes (the whole file on SQLite; the sealed column on PostgreSQL) never hold the secret.
    const stored = t.engine === 'sqlite'
      ? readFileSync(join(t.dir, 'vigil.db'))
      : Buffer.concat((await sql<{ sealed: Buffer }>`SELECT sealed FROM exchange_credentials`.execute(t.service.ctx.vigil.db.k)).rows.map((r) => r.sealed));
    assert.ok(stored.length > 0 && !stored.includes('not-a-real-secret-42'), 'not in the database in clear');
    assert.deepEqual(await t.service.ctx.exchanges.credentials('ncmec'), { user: 'benign-user', password: 'not-a-real-secret-42' });
    const audit = await t.service.ctx.audit.list({ action: 'exchange.credentials_set' });
    assert.ok(!JSON.stringify(audit).includes('not-a-real-secret-42'), 'the audit names fields, not values');
  });

  test('createBank with an exchange: POST //c/exchanges {bank, api, api_json} → ok, then PUT //c/bank/NAME {enabled_ratio}; getExchangeForBank reads it back', async () => {
    const name = 'COOP_ORG1_NCMEC';
    const created = await coop('POST', '/c/exchanges', { bank: name, api: 'ncmec', api_json: { environment: 'https://exttest.cybertip.org/hashsharing' } });
    assert.ok(created.ok, `status ${created.status}`);
    assert.ok((await coop('PUT', `/c/bank/${name}`, { enabled_ratio: 0.5 })).ok);
    assert.equal((await coop('GET', `/c/bank/${name}`)).status, 200, 'the exchange\'s bank exists');
    const ex = await coop('GET', `/c/exchange/${encodeURIComponent(name)}`);
    assert.ok(ex.ok);
    const body = ex.body as Record<string, unknown>;
    assert.deepEqual([String(body.api ?? ''), Boolean(body.enabled), body.environment], ['ncmec', true, 'https://exttest.cybertip.org/hashsharing']);
    assert.ok(!JSON.stringify(body).includes('not-a-real-secret'));
    const status = await coop('GET', `/c/exchange/${encodeURIComponent(name)}/status`);
    assert.ok(status.ok);
    const s = status.body as { last_fetch_succeeded: boolean | null; last_fetch_complete_ts: number | null; up_to_date: boolean; fetched_items: number; running_fetch_start_ts: number | null };
    assert.deepEqual([s.last_fetch_succeeded, s.last_fetch_complete_ts, s.up_to_date, s.fetched_items, s.running_fetch_start_ts], [null, null, false, 0, null], 'never fetched, said truthfully');
    assert.equal((await coop('GET', '/c/exchange/COOP_ORG1_NO_EXCHANGE')).status, 404, 'Coop reads 404 as "no exchange"');
    assert.equal((await coop('POST', '/c/exchanges', { bank: name, api: 'ncmec', api_json: { environment: 'https://exttest.cybertip.org/hashsharing' } })).status, 403);
    assert.equal((await coop('POST', '/c/exchanges', { bank: 'COOP_ORG1_BAD', api: 'ncmec', api_json: {} })).status, 400, 'environment is required');
    assert.equal((await coop('POST', '/c/exchanges', { bank: 'lower_case', api: 'ncmec', api_json: {} })).status, 400);
  });
});

test('status: /status/live answers 200; /m/index/status?signal_type=unknown → 400, a known type → its entry', async () => {
  assert.equal((await coop('GET', '/status/live')).status, 200);
  assert.equal((await coop('GET', `/m/index/status?${qs({ signal_type: 'unknown' })}`)).status, 400);
  assert.deepEqual(Object.keys((await coop('GET', `/m/index/status?${qs({ signal_type: 'pdq' })}`)).body as object), ['pdq']);
  assert.equal((await coop('GET', `/m/lookup?${qs({ signal_type: 'unknown', signal: 'abc' })}`)).status, 400);
});
