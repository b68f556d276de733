/**
 * API contract tests driven by the generated OpenAPI document: every route the app serves is in the spec
 * (scoped routes with security), and the real responses of the main operations validate against the response
 * schemas the spec declares (requests against the request schemas). Behaviour on top: idempotent replay,
 * hash-only submissions, false positives, disabled banks, notify webhooks (signed), no trace of unmatched
 * content, retroactive matching. Benign data only: the demo's synthetic pictures and hashes of benign bytes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { DEFAULT_RULES } from '../src/rules/config.js';
import { DEMO_BANK } from '../src/service/demo.js';
import { verifySignature } from '../src/webhooks/sign.js';
import { startFileServer } from '../src/exchanges/_test-servers.js';
import { startTestService, type TestService } from './_service.js';
import { ROUTE_SCOPES } from './helpers/route-scopes.js';
import { waitFor } from './helpers/fleet.js';

// ---------------------------------------------------------------------------------------------------------
// The spec as a validator: ajv 8 (2020-12, what OpenAPI 3.1 uses) is a dependency of Fastify's compiler;
// the top-level `ajv` is eslint's v6, so it is loaded from there. Components are registered under their own
// ids and every '#/components/schemas/X' reference is rewritten to that id.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
interface ValidateFn {
  (data: unknown): boolean;
  errors?: unknown[] | null;
}
interface AjvInstance {
  addSchema(schema: object, key?: string): AjvInstance;
  addFormat(name: string, format: (value: string) => boolean): AjvInstance;
  compile(schema: object): ValidateFn;
  errorsText(errors?: unknown[] | null): string;
}
type AjvConstructor = new (options: object) => AjvInstance;

const requireHere = createRequire(import.meta.url);
const Ajv2020 = (createRequire(requireHere.resolve('@fastify/ajv-compiler'))('ajv/dist/2020.js') as { default: AjvConstructor }).default;

const COMPONENT_ID = 'https://vigil.invalid/components/';
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
const METHODS: readonly Method[] = ['get', 'post', 'put', 'patch', 'delete'];

interface Operation {
  security?: Json[];
  description?: string;
  tags?: string[];
  requestBody?: { content?: Record<string, { schema?: JsonObject }> };
  responses?: Record<string, { content?: Record<string, { schema?: JsonObject }> }>;
}
interface Spec {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Partial<Record<Method, Operation>>>;
  components: { schemas: Record<string, JsonObject>; securitySchemes: Record<string, JsonObject> };
}

function rewriteRefs(node: Json): Json {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/') ? COMPONENT_ID + v.slice('#/components/schemas/'.length) : rewriteRefs(v);
  }
  return out;
}

class SpecValidator {
  private readonly ajv: AjvInstance;
  private readonly cache = new Map<string, ValidateFn>();

  constructor(readonly spec: Spec) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    this.ajv.addFormat('date-time', (s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)));
    for (const [name, schema] of Object.entries(spec.components.schemas)) this.ajv.addSchema(rewriteRefs(schema) as object, COMPONENT_ID + name);
  }

  operation(method: Method, path: string): Operation {
    const op = this.spec.paths[path]?.[method];
    assert.ok(op, `the spec has no ${method.toUpperCase()} ${path}`);
    return op;
  }

  responseSchema(method: Method, path: string, status: number): JsonObject | undefined {
    const responses = this.operation(method, path).responses ?? {};
    const response = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
    return response?.content?.['application/json']?.schema;
  }

  requestSchema(method: Method, path: string): JsonObject | undefined {
    return this.operation(method, path).requestBody?.content?.['application/json']?.schema;
  }

  check(what: string, schema: JsonObject, data: unknown): void {
    let validate = this.cache.get(JSON.stringify(schema));
    if (!validate) this.cache.set(JSON.stringify(schema), (validate = this.ajv.compile(rewriteRefs(schema) as object)));
    assert.ok(validate(data), `${what} does not match its schema in the spec: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(data).slice(0, 2000)}`);
  }

  /** The Error component: the one error body of every route. */
  errorSchema(): JsonObject {
    const name = Object.keys(this.spec.components.schemas).find((n) => this.spec.components.schemas[n].title === 'Error' || n === 'Error');
    assert.ok(name, 'the spec has an Error component');
    return { $ref: `#/components/schemas/${name}` };
  }
}

// ---------------------------------------------------------------------------------------------------------

let t: TestService;
let spec: Spec;
let v: SpecValidator;
let admin: string;
const exercised = new Set<string>();

interface CallOptions {
  params?: Record<string, string | number>;
  query?: Record<string, string | number | boolean>;
  json?: unknown;
  form?: FormData;
  raw?: { body: string | Uint8Array; type: string };
  key?: string | null;
  /** The body is deliberately outside the request schema (the server must refuse it). */
  invalidRequest?: boolean;
  base?: string;
}
interface CallResult<T> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

/** One call to an operation of the spec (path as in the spec: /v1/banks/{name}); the response is checked against it. */
async function api<T = JsonObject>(method: Method, path: string, options: CallOptions = {}): Promise<CallResult<T>> {
  const op = v.operation(method, path);
  exercised.add(`${method.toUpperCase()} ${path}`);
  let url = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = options.params?.[name];
    assert.ok(value !== undefined, `no value for {${name}}`);
    return encodeURIComponent(String(value));
  });
  if (options.query) url += `?${new URLSearchParams(Object.entries(options.query).map(([k, x]): [string, string] => [k, String(x)])).toString()}`;
  const headers: Record<string, string> = {};
  const key = options.key === undefined ? admin : options.key;
  if (key) headers.authorization = `Bearer ${key}`;
  let body: string | Uint8Array | FormData | undefined;
  if (options.json !== undefined) {
    const schema = v.requestSchema(method, path);
    assert.ok(schema, `${method.toUpperCase()} ${path} declares no JSON request body`);
    if (!options.invalidRequest) v.check(`request to ${method.toUpperCase()} ${path}`, schema, options.json);
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    assert.ok(op.requestBody?.content?.['multipart/form-data'] ?? op.requestBody === undefined, `${method.toUpperCase()} ${path} declares no multipart body`);
    body = options.form;
  } else if (options.raw) {
    headers['content-type'] = options.raw.type;
    body = options.raw.body;
  }
  const res = await fetch(`${options.base ?? t.url}${url}`, { method: method.toUpperCase(), headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').startsWith('application/json');
  const parsed = (isJson ? JSON.parse(text) : text) as T;
  const what = `${method.toUpperCase()} ${path} → ${res.status}`;
  if (isJson) {
    const schema = v.responseSchema(method, path, res.status);
    if (res.status < 400) {
      assert.ok(schema, `${what}: the spec declares no JSON response schema`);
      v.check(what, schema, parsed);
    } else {
      v.check(what, schema ?? v.errorSchema(), parsed);
    }
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

function upload(contentId: string, bytes: Uint8Array, fileName: string, extra: Record<string, string> = {}): FormData {
  const form = new FormData();
  form.set('contentId', contentId);
  for (const [k, x] of Object.entries(extra)) form.set(k, x);
  form.set('file', new Blob([bytes]), fileName);
  return form;
}

const md5Hex = (s: string) => createHash('md5').update(s).digest('hex');
const demoPicture = (name: string) => join(t.dir, 'demo', name);

/** A benign synthetic picture no bank holds (its own shapes and colours per seed). */
async function syntheticPicture(seed: number): Promise<Buffer> {
  const shapes = Array.from({ length: 12 }, (_, i) => {
    const x = (seed * 97 + i * 53) % 600;
    const y = (seed * 31 + i * 71) % 440;
    return `<rect x="${x}" y="${y}" width="${40 + ((seed + i) % 5) * 20}" height="${30 + ((seed * i) % 7) * 15}" fill="#${(((seed + 1) * 2654435761 + i * 40503) >>> 8 & 0xffffff).toString(16).padStart(6, '0')}"/>`;
  }).join('');
  return sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><rect width="640" height="480" fill="#f0f4f8"/>${shapes}</svg>`)).png().toBuffer();
}

interface ContentResult {
  contentId: string;
  verdict: string;
  decisionId: number | null;
  replayed: boolean;
  late: boolean;
  matches: { signalId: number; bank: string; signalType: string; actionable: boolean }[];
  actions: { type: string; status: string; jobId?: number; note?: string }[];
  fired: { ruleId: string }[];
  media?: { pdq?: string; error?: { code: string } };
}
interface LookupResponse {
  results: { index: number; id?: string; type: string; matches: { bank: string; signalId: number; actionable: boolean; distance: number; value?: string }[]; error?: { code: string; message: string } }[];
}

before(async () => {
  t = await startTestService({ demo: true });
  admin = await t.key(['admin']);
  const res = await fetch(`${t.url}/openapi.json`);
  assert.equal(res.status, 200);
  spec = (await res.json()) as Spec;
  v = new SpecValidator(spec);
});
after(() => t.close());

// Every operation the app serves, with the scope it needs (null: public). The spec must list exactly these.
const OPERATIONS: Record<string, string | null> = ROUTE_SCOPES;

/** The app's own routing table (Fastify's printRoutes tree), without HEAD, the docs page and the spec itself. */
function appRoutes(): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of t.service.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    const full = (stack[depth - 1] ?? '') + m[2];
    stack[depth] = full;
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      // The review UI (/review) and the client demo (/demo) are pages for people, not API operations.
      if (method === 'HEAD' || full.startsWith('/docs') || full.startsWith('/review') || full.startsWith('/demo') || full === '/openapi.json') continue;
      out.add(`${method} ${full.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return out;
}

test('spec: OpenAPI 3.1 listing every route the app serves, with security and the scope on every scoped route', async () => {
  assert.equal(spec.openapi, '3.1.0');
  assert.equal(spec.info.title, 'Vigil API');
  assert.equal(spec.components.securitySchemes.apiKey?.type, 'http');
  assert.equal(spec.components.securitySchemes.apiKey?.scheme, 'bearer');

  const inSpec = new Set<string>();
  for (const [path, ops] of Object.entries(spec.paths)) for (const m of METHODS) if (ops[m]) inSpec.add(`${m.toUpperCase()} ${path}`);
  assert.deepEqual([...inSpec].sort(), Object.keys(OPERATIONS).sort(), 'the spec lists exactly the known operations');
  assert.deepEqual([...appRoutes()].sort(), Object.keys(OPERATIONS).sort(), "the app's routing table holds exactly the operations of the spec");

  for (const [name, scope] of Object.entries(OPERATIONS)) {
    const [method, path] = name.split(' ');
    const op = v.operation(method.toLowerCase() as Method, path);
    if (scope) {
      assert.deepEqual(op.security, [{ apiKey: [] }], `${name} declares the apiKey security`);
      assert.match(op.description ?? '', new RegExp(`Scope: \`${scope}\``), `${name} names its scope`);
      // Every scoped route answers 401 without a key, in the one error shape.
      const res = await fetch(`${t.url}${path.replace(/\{\w+\}/g, '1')}`, { method });
      assert.equal(res.status, 401, `${name} without a key`);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'VIGIL_ERR_UNAUTHENTICATED');
    } else {
      assert.ok(!op.security || op.security.length === 0, `${name} is public`);
    }
  }
  // Component schemas are named after their $id, so generated clients get meaningful type names.
  for (const name of ['ContentResult', 'BankMatch', 'Bank', 'Signal', 'Error', 'ClientHashes']) assert.ok(spec.components.schemas[name], `component ${name}`);
  // The docs page is served.
  assert.equal((await fetch(`${t.url}/docs`)).status < 400, true);
});

test('ops: healthz, readyz and metrics', async () => {
  assert.deepEqual((await api('get', '/healthz', { key: null })).body, { status: 'ok' });
  const ready = await api<{ ready: boolean; signals: Record<string, number> }>('get', '/readyz', { key: null });
  assert.equal(ready.status, 200);
  assert.equal(ready.body.ready, true);
  assert.equal(ready.body.signals.pdq, 4);
  const metrics = await api('get', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, /vigil_http_requests_total/);
  assert.match(metrics.text, /vigil_index_signals\{signal_type="pdq"\} 4/);
  // The default process metrics carry one prefix, not two.
  assert.match(metrics.text, /^vigil_process_cpu_user_seconds_total /m);
  assert.match(metrics.text, /^vigil_nodejs_heap_size_used_bytes /m);
  assert.doesNotMatch(metrics.text, /vigil_process_process_|vigil_process_nodejs_/);
});

test('POST /v1/content (multipart): a demo picture is blocked; a replay on the same (contentId, sha256) returns replayed and repeats nothing', async () => {
  const bytes = readFileSync(demoPicture('sunset.png'));
  const form = upload('api-upload-1', bytes, 'sunset.png', { accountId: 'acct-1', context: JSON.stringify({ surface: 'upload', ip: '192.0.2.1' }) });
  const first = await api<ContentResult>('post', '/v1/content', { form, key: await t.key(['submit']) });
  assert.equal(first.status, 200);
  assert.equal(first.body.verdict, 'block');
  assert.equal(first.body.replayed, false);
  assert.ok(first.body.decisionId !== null);
  assert.deepEqual(first.body.matches.map((m) => m.signalType).sort(), ['md5', 'pdq']);
  assert.ok(first.body.matches.every((m) => m.bank === DEMO_BANK));
  assert.ok(first.body.actions.some((a) => a.type === 'hold_for_review' && a.status === 'done'));
  assert.match(first.body.media?.pdq ?? '', /^[0-9a-f]{64}$/);

  const reviewItems = async () => (await t.service.ctx.records.listReviewItems({ limit: 1000 })).filter((i) => i.decisionId === first.body.decisionId).length;
  const jobsBefore = (await t.service.ctx.queue.list({ limit: 1000 })).length;
  assert.equal(await reviewItems(), 1);

  const again = await api<ContentResult>('post', '/v1/content', { form: upload('api-upload-1', bytes, 'renamed.png'), key: await t.key(['submit']) });
  assert.equal(again.status, 200);
  assert.equal(again.body.replayed, true);
  assert.equal(again.body.decisionId, first.body.decisionId);
  assert.equal(again.body.verdict, 'block');
  assert.equal(await reviewItems(), 1, 'no second review item');
  assert.equal((await t.service.ctx.queue.list({ limit: 1000 })).length, jobsBefore, 'no second job');
  assert.equal((await t.service.ctx.records.decisionsForContent('api-upload-1')).length, 1);

  // The same bytes under another content id are a new decision.
  const other = await api<ContentResult>('post', '/v1/content', { form: upload('api-upload-2', bytes, 'sunset.png'), key: await t.key(['submit']) });
  assert.equal(other.body.replayed, false);
  assert.notEqual(other.body.decisionId, first.body.decisionId);

  const recorded = await api<{ decisions: ContentResult[] }>('get', '/v1/content/{contentId}', { params: { contentId: 'api-upload-1' } });
  assert.equal(recorded.status, 200);
  assert.equal(recorded.body.decisions.length, 1);
  assert.equal(recorded.body.decisions[0].decisionId, first.body.decisionId);
});

test('POST /v1/content (JSON): client hashes (PDQ + MD5) of a demo picture match without the content', async () => {
  const record = await t.service.ctx.hashFile(demoPicture('balloons.png'));
  assert.ok(record.md5 && record.pdq);
  const res = await api<ContentResult>('post', '/v1/content', { json: { contentId: 'api-hashes-1', accountId: 'acct-2', hashes: { md5: record.md5, pdq: [record.pdq] } }, key: await t.key(['submit']) });
  assert.equal(res.status, 200);
  assert.equal(res.body.verdict, 'block');
  assert.deepEqual(res.body.matches.map((m) => m.signalType).sort(), ['md5', 'pdq']);
  const preserve = res.body.actions.find((a) => a.type === 'preserve_evidence');
  assert.equal(preserve?.status, 'skipped', 'a hash-only submission has no content to preserve');

  // PDQ alone (with a quality, as a client would send it) still matches.
  const pdqOnly = await api<ContentResult>('post', '/v1/content', { json: { contentId: 'api-hashes-2', hashes: { pdq: [{ hash: record.pdq, quality: 100 }] } }, key: await t.key(['submit']) });
  assert.equal(pdqOnly.body.verdict, 'block');
  assert.deepEqual(pdqOnly.body.matches.map((m) => m.signalType), ['pdq']);

  const replay = await api<ContentResult>('post', '/v1/content', { json: { contentId: 'api-hashes-1', hashes: { md5: record.md5, pdq: [record.pdq] } }, key: await t.key(['submit']) });
  assert.equal(replay.body.replayed, true);
  assert.equal(replay.body.decisionId, res.body.decisionId);
});

test('POST /v1/content/queue: client hashes queued (202, a job per item, idempotent), decided by the worker', async () => {
  const record = await t.service.ctx.hashFile(demoPicture('balloons.png'));
  const body = { items: [{ contentId: 'api-queued-1', accountId: 'acct-q', hashes: { md5: record.md5 } }], priority: 'backfill' };
  const res = await api<{ jobs: { contentId: string; jobId: number; created: boolean }[] }>('post', '/v1/content/queue', { json: body, key: await t.key(['submit']) });
  assert.equal(res.status, 202);
  assert.equal(res.body.jobs[0]!.created, true);
  const again = await api<{ jobs: { jobId: number; created: boolean }[] }>('post', '/v1/content/queue', { json: body, key: await t.key(['submit']) });
  assert.deepEqual(again.body.jobs[0], { contentId: 'api-queued-1', jobId: res.body.jobs[0]!.jobId, created: false });
  // Embedded (no Redis): the service's own job worker runs the content handler.
  await waitFor(async () => (await t.service.ctx.queue.get(res.body.jobs[0]!.jobId))?.state === 'done', 'the queued content is decided', 20_000);
  const decisions = await t.service.ctx.records.decisionsForContent('api-queued-1');
  assert.equal(decisions.length, 1);
  assert.equal(decisions[0]!.verdict, 'block');
  const bad = await api('post', '/v1/content/queue', { json: { items: [{ contentId: 'x', hashes: { md5: 'nothex' } }] }, key: await t.key(['submit']), invalidRequest: true });
  assert.equal(bad.status, 400);
});

test('POST /v1/content: unmatched content leaves no decision row and, without retention, no retained hashes', async () => {
  const bytes = await syntheticPicture(1);
  const res = await api<ContentResult>('post', '/v1/content', { form: upload('api-unmatched-1', bytes, 'shapes.png', { accountId: 'acct-3' }), key: await t.key(['submit']) });
  assert.equal(res.status, 200);
  assert.equal(res.body.verdict, 'allow');
  assert.equal(res.body.decisionId, null);
  assert.deepEqual(res.body.matches, []);
  assert.deepEqual(res.body.actions, []);
  const md5 = createHash('md5').update(bytes).digest('hex');
  const json = await api<ContentResult>('post', '/v1/content', { json: { contentId: 'api-unmatched-2', hashes: { md5 } }, key: await t.key(['submit']) });
  assert.equal(json.body.verdict, 'allow');
  assert.equal(json.body.decisionId, null);

  assert.deepEqual(await t.service.ctx.records.decisionsForContent('api-unmatched-1'), []);
  assert.deepEqual(await t.service.ctx.records.decisionsForContent('api-unmatched-2'), []);
  assert.equal(await t.service.ctx.records.countRetained(), 0);
  const shown = await api<{ decisions: unknown[] }>('get', '/v1/content/{contentId}', { params: { contentId: 'api-unmatched-1' } });
  assert.deepEqual(shown.body.decisions, []);
  const decisions = await api<{ decisions: { contentId: string }[] }>('get', '/v1/decisions', { query: { limit: 1000 } });
  assert.ok(!decisions.body.decisions.some((d) => d.contentId.startsWith('api-unmatched')));
});

test('POST /v1/lookup: a batch of hashes, matches with bank and provenance, per-item errors', async () => {
  const record = await t.service.ctx.hashFile(demoPicture('mountains.png'));
  const res = await api<LookupResponse>('post', '/v1/lookup', {
    key: await t.key(['lookup']),
    json: {
      hashes: [
        { type: 'md5', value: record.md5, id: 'a' },
        { type: 'pdq', value: record.pdq, id: 'b' },
        { type: 'md5', value: md5Hex('nothing here'), id: 'c' },
        { type: 'pdq', value: 'not-a-hash', id: 'd' },
      ],
    },
  });
  assert.equal(res.status, 200);
  const [a, b, c, d] = res.body.results;
  assert.deepEqual([a.index, a.id, a.type], [0, 'a', 'md5']);
  assert.equal(a.matches.length, 1);
  assert.equal(a.matches[0].bank, DEMO_BANK);
  assert.equal(b.matches.length, 1);
  assert.deepEqual(c.matches, []);
  assert.equal(c.error, undefined);
  assert.deepEqual(d.matches, []);
  assert.equal(d.error?.code, 'VIGIL_ERR_INVALID_HASH');

  const filtered = await api<LookupResponse>('post', '/v1/lookup', { key: await t.key(['lookup']), json: { hashes: [{ type: 'md5', value: record.md5 }], banks: ['SOME_OTHER_BANK'] } });
  assert.deepEqual(filtered.body.results[0].matches, []);
  // A near PDQ match's value is the bank's hash: only a caller that may read signal values (curate) gets it.
  assert.equal(b.matches[0].value, record.pdq, 'an exact match shows what was sent');
  const near = `${(parseInt(record.pdq!.slice(0, 2), 16) ^ 0x07).toString(16).padStart(2, '0')}${record.pdq!.slice(2)}`;
  const asLookup = await api<LookupResponse>('post', '/v1/lookup', { key: await t.key(['lookup']), json: { hashes: [{ type: 'pdq', value: near }] } });
  const nearMatch = asLookup.body.results[0].matches[0];
  assert.equal(nearMatch.distance, 3);
  assert.equal(nearMatch.value, undefined);
  const asCurator = await api<LookupResponse>('post', '/v1/lookup', { key: await t.key(['lookup', 'curate']), json: { hashes: [{ type: 'pdq', value: near }] } });
  assert.equal(asCurator.body.results[0].matches[0].value, record.pdq);
});

test('banks: create, get, list, patch, import a plain list (raw body), export, add/get/delete signals, opinions', async () => {
  const curator = await t.key(['curate', 'lookup']);
  const created = await api<{ name: string; kind: string; enabled: boolean }>('post', '/v1/banks', { key: curator, json: { name: 'API_TEST_BANK', description: 'Hashes of benign test bytes', kind: 'block', source: 'tests' } });
  assert.equal(created.status, 201);
  assert.deepEqual([created.body.name, created.body.kind, created.body.enabled], ['API_TEST_BANK', 'block', true]);
  const dup = await api('post', '/v1/banks', { key: curator, json: { name: 'API_TEST_BANK' } });
  assert.equal(dup.status, 409);

  const hashes = [md5Hex('benign-1'), md5Hex('benign-2'), md5Hex('benign-3')];
  const started = await api<{ id: string; state: string }>('post', '/v1/banks/{name}/import', {
    key: curator,
    params: { name: 'API_TEST_BANK' },
    query: { format: 'plain', fileName: 'benign.txt' },
    raw: { body: `${hashes.join('\n')}\n`, type: 'text/plain' },
  });
  assert.equal(started.status, 202);
  await t.service.ctx.imports!.whenDone(started.body.id);
  const imported = await api<{ state: string; result: { inserted: number; format: string; errorCount: number } }>('get', '/v1/banks/{name}/imports/{id}', { key: curator, params: { name: 'API_TEST_BANK', id: started.body.id } });
  assert.equal(imported.status, 200);
  assert.equal(imported.body.state, 'done');
  assert.equal(imported.body.result.inserted, 3);
  assert.equal(imported.body.result.format, 'plain');
  assert.equal(imported.body.result.errorCount, 0);

  const got = await api<{ bank: { name: string }; stats: Record<string, unknown> }>('get', '/v1/banks/{name}', { key: curator, params: { name: 'API_TEST_BANK' } });
  assert.equal(got.body.bank.name, 'API_TEST_BANK');
  assert.equal((await api('get', '/v1/banks/{name}', { key: curator, params: { name: 'NO_SUCH_BANK' } })).status, 404);
  const list = await api<{ banks: { name: string }[] }>('get', '/v1/banks', { key: curator });
  assert.deepEqual(list.body.banks.map((b) => b.name).sort(), ['API_TEST_BANK', DEMO_BANK]);

  const patched = await api<{ description: string; thresholds: Record<string, number> }>('patch', '/v1/banks/{name}', { key: curator, params: { name: 'API_TEST_BANK' }, json: { description: 'changed', thresholds: { pdq: 20 } } });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.description, 'changed');
  assert.deepEqual(patched.body.thresholds, { pdq: 20 });

  const exported = await api('get', '/v1/banks/{name}/export', { key: curator, params: { name: 'API_TEST_BANK' }, query: { format: 'plain' } });
  assert.equal(exported.status, 200);
  assert.deepEqual(exported.text.trim().split('\n').sort(), [...hashes].sort());

  const extra = md5Hex('benign-4');
  const added = await api<{ id: number; value: string; status: string; bankName: string }>('post', '/v1/banks/{name}/signals', {
    key: curator,
    params: { name: 'API_TEST_BANK' },
    json: { type: 'md5', value: extra.toUpperCase(), labels: { tags: ['test'] }, sourceId: 'src-4' },
  });
  assert.equal(added.status, 201);
  assert.equal(added.body.value, extra);
  assert.equal(added.body.bankName, 'API_TEST_BANK');
  const signal = await api<{ id: number; status: string; sourceId: string }>('get', '/v1/signals/{id}', { key: curator, params: { id: added.body.id } });
  assert.equal(signal.body.sourceId, 'src-4');
  assert.equal((await api('get', '/v1/signals/{id}', { key: curator, params: { id: 999_999 } })).status, 404);

  const deleted = await api<{ deletedAt: string | null }>('delete', '/v1/signals/{id}', { key: curator, params: { id: added.body.id } });
  assert.equal(deleted.status, 200);
  assert.ok(deleted.body.deletedAt);
  const gone = await api<LookupResponse>('post', '/v1/lookup', { key: curator, json: { hashes: [{ type: 'md5', value: extra }, { type: 'md5', value: hashes[0] }] } });
  assert.deepEqual(gone.body.results[0].matches, [], 'a deleted signal stops matching');
  assert.equal(gone.body.results[1].matches.length, 1);
});

test('signals: a signal marked false_positive stops producing a block; its opinions are listed', async () => {
  const value = md5Hex('benign-1');
  const submit = await t.key(['submit']);
  const blocked = await api<ContentResult>('post', '/v1/content', { key: submit, json: { contentId: 'api-fp-1', hashes: { md5: value } } });
  assert.equal(blocked.body.verdict, 'block');
  const signalId = blocked.body.matches[0].signalId;

  const reviewer = await t.key(['review', 'lookup']);
  const marked = await api<{ status: string }>('post', '/v1/signals/{id}/opinions', { key: reviewer, params: { id: signalId }, json: { kind: 'false_positive', reason: 'benign test picture' } });
  assert.equal(marked.status, 200);
  assert.equal(marked.body.status, 'false_positive');
  const opinions = await api<{ opinions: { kind: string; reason: string; actor: string }[] }>('get', '/v1/signals/{id}/opinions', { key: reviewer, params: { id: signalId } });
  assert.equal(opinions.status, 200);
  assert.deepEqual(opinions.body.opinions.map((o) => [o.kind, o.reason]), [['false_positive', 'benign test picture']]);

  const later = await api<ContentResult>('post', '/v1/content', { key: submit, json: { contentId: 'api-fp-2', hashes: { md5: value } } });
  assert.notEqual(later.body.verdict, 'block');
  assert.ok(!later.body.actions.some((a) => a.type === 'block'));
  assert.ok(later.body.matches.length > 0 && later.body.matches.every((m) => !m.actionable), 'the match is reported, not acted on');
  const lookup = await api<LookupResponse>('post', '/v1/lookup', { key: reviewer, json: { hashes: [{ type: 'md5', value }], includeNonActionable: false } });
  assert.deepEqual(lookup.body.results[0].matches, []);

  // Confirmed restores it.
  await api('post', '/v1/signals/{id}/opinions', { key: reviewer, params: { id: signalId }, json: { kind: 'confirmed' } });
  const restored = await api<ContentResult>('post', '/v1/content', { key: submit, json: { contentId: 'api-fp-3', hashes: { md5: value } } });
  assert.equal(restored.body.verdict, 'block');
});

test('banks: a disabled bank stops matching', async () => {
  const value = md5Hex('benign-2');
  const lookup = async () => (await api<LookupResponse>('post', '/v1/lookup', { json: { hashes: [{ type: 'md5', value }] } })).body.results[0].matches;
  assert.equal((await lookup()).length, 1);
  const disabled = await api<{ enabled: boolean }>('patch', '/v1/banks/{name}', { params: { name: 'API_TEST_BANK' }, json: { enabled: false } });
  assert.equal(disabled.body.enabled, false);
  assert.deepEqual(await lookup(), []);
  const content = await api<ContentResult>('post', '/v1/content', { json: { contentId: 'api-disabled-1', hashes: { md5: value } } });
  assert.equal(content.body.verdict, 'allow');
  assert.deepEqual(content.body.matches, []);
  await api('patch', '/v1/banks/{name}', { params: { name: 'API_TEST_BANK' }, json: { enabled: true } });
  assert.equal((await lookup()).length, 1);
});

test('rules: GET, schema, PUT refuses an invalid config listing every problem (old rules stay), dry-run test', async () => {
  const current = await api<{ version: string; source: string; config: { rules: { id: string }[] }; missingWebhookSecrets: string[] }>('get', '/v1/rules');
  assert.equal(current.status, 200);
  assert.equal(current.body.source, 'default');
  assert.ok(current.body.config.rules.some((r) => r.id === 'block-known-material'));
  const schema = await api<{ type?: string; properties?: Record<string, unknown> }>('get', '/v1/rules/schema');
  assert.ok(schema.body.properties?.rules);

  const invalid = await api<{ error: { code: string; message: string } }>('put', '/v1/rules', {
    json: { version: 2, rules: [{ id: 'Not Kebab', description: '', when: { maxDistanse: 3 }, then: [{ type: 'notify', webhook: 'nowhere' }] }] },
  });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body.error.code, 'VIGIL_ERR_INVALID_RULES');
  for (const path of ['$.version', '$.rules[0].id', '$.rules[0].description', '$.rules[0].when.maxDistanse', '$.rules[0].then[0].webhook']) {
    assert.ok(invalid.body.error.message.includes(path), `the error lists ${path}: ${invalid.body.error.message}`);
  }
  assert.match(invalid.body.error.message, /5 problems/);
  assert.equal((await api<{ version: string }>('get', '/v1/rules')).body.version, current.body.version, 'the old rules stay');
  assert.equal((await api('put', '/v1/rules', { json: 'not an object', invalidRequest: true })).status, 400);

  const record = await t.service.ctx.hashFile(demoPicture('checkers.png'));
  const dry = await api<{ matches: unknown[]; decision: { verdict: string; fired: { ruleId: string }[] } }>('post', '/v1/rules/test', { json: { hashes: { md5: record.md5 } } });
  assert.equal(dry.status, 200);
  assert.equal(dry.body.decision.verdict, 'block');
  assert.equal(dry.body.matches.length, 1);
  // With other rules (explain-only), nothing recorded either way.
  const dryOther = await api<{ decision: { verdict: string; fired: { ruleId: string }[] } }>('post', '/v1/rules/test', {
    json: { hashes: { md5: record.md5 }, rules: { version: 1, rules: [{ id: 'explain', description: 'explain only', when: {}, then: [] }] } },
  });
  assert.equal(dryOther.body.decision.verdict, 'allow');
  assert.deepEqual(dryOther.body.decision.fired.map((f) => f.ruleId), ['explain']);
  assert.deepEqual(await t.service.ctx.records.decisionsForContent(''), []);
});

describe('notify webhook', () => {
  const secret = `test-secret-${randomBytes(8).toString('hex')}`;
  const SECRET_ENV = 'VIGIL_TEST_API_WEBHOOK_SECRET';
  let receiver: Server;
  let port: number;
  const deliveries: { headers: IncomingHttpHeaders; body: string; url: string }[] = [];
  let waiting: (() => void) | undefined;
  const nextDelivery = async (n: number) => {
    while (deliveries.length < n) await new Promise<void>((resolve) => (waiting = resolve));
    return deliveries[n - 1];
  };

  before(async () => {
    process.env[SECRET_ENV] = secret;
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), url: req.url ?? '' });
        res.writeHead(200).end('ok');
        waiting?.();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    port = (receiver.address() as AddressInfo).port;
  });
  after(async () => {
    delete process.env[SECRET_ENV];
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  test('PUT /v1/rules with a notify webhook (audited); a match enqueues a signed delivery; a replay enqueues nothing', async () => {
    const rules = {
      version: 1,
      webhooks: { 'trust-safety': { url: `http://127.0.0.1:${port}/hooks/vigil`, secretEnv: SECRET_ENV } },
      rules: [{ id: 'block-and-notify', description: 'Block known material and tell trust & safety.', when: { bankKind: 'block' }, then: [{ type: 'block' }, { type: 'hold_for_review', priority: 50 }, { type: 'notify', webhook: 'trust-safety' }] }],
    };
    const before = (await api<{ version: string }>('get', '/v1/rules')).body.version;
    const put = await api<{ version: string; previous: string }>('put', '/v1/rules', { json: rules });
    assert.equal(put.status, 200);
    assert.equal(put.body.previous, before);
    assert.notEqual(put.body.version, before);
    const now = await api<{ version: string; source: string; missingWebhookSecrets: string[] }>('get', '/v1/rules');
    assert.deepEqual([now.body.version, now.body.source, now.body.missingWebhookSecrets], [put.body.version, 'api', []]);
    const audited = await api<{ entries: { action: string; details: { from: string; to: string } }[] }>('get', '/v1/audit', { query: { action: 'rules.changed' } });
    assert.ok(audited.body.entries.some((e) => e.details.from === before && e.details.to === put.body.version), 'the change is audited with both versions');

    const record = await t.service.ctx.hashFile(demoPicture('checkers.png'));
    const res = await api<ContentResult>('post', '/v1/content', { json: { contentId: 'api-notify-1', accountId: 'acct-9', hashes: { md5: record.md5 } } });
    assert.equal(res.body.verdict, 'block');
    const notify = res.body.actions.find((a) => a.type === 'notify');
    assert.equal(notify?.status, 'queued');
    assert.ok(notify?.jobId);

    const delivery = await nextDelivery(1);
    assert.equal(delivery.url, '/hooks/vigil');
    assert.ok(verifySignature(secret, delivery.body, delivery.headers['vigil-signature'] as string), 'the delivery is signed with the webhook secret');
    assert.equal(verifySignature('another-secret', delivery.body, delivery.headers['vigil-signature'] as string), false);
    const event = JSON.parse(delivery.body) as { id: string; type: string; data: { contentId: string; decisionId: number; verdict: string; matches: { bank: string }[] } };
    assert.equal(event.type, 'decision.notify');
    assert.equal(delivery.headers['vigil-delivery-id'], event.id);
    assert.deepEqual([event.data.contentId, event.data.decisionId, event.data.verdict, event.data.matches[0].bank], ['api-notify-1', res.body.decisionId, 'block', DEMO_BANK]);

    const jobs = await api<{ jobs: { id: number; queue: string; idempotencyKey: string }[]; stats: Record<string, Record<string, number>> }>('get', '/v1/jobs', { query: { queue: 'webhook' } });
    assert.equal(jobs.status, 200);
    assert.deepEqual(jobs.body.jobs.map((j) => j.id), [notify.jobId]);
    assert.equal(jobs.body.jobs[0].idempotencyKey, `webhook:trust-safety:${event.id}`);

    const replay = await api<ContentResult>('post', '/v1/content', { json: { contentId: 'api-notify-1', accountId: 'acct-9', hashes: { md5: record.md5 } } });
    assert.equal(replay.body.replayed, true);
    assert.equal((await api<{ jobs: unknown[] }>('get', '/v1/jobs', { query: { queue: 'webhook' } })).body.jobs.length, 1, 'a replay enqueues no second job');

    const retry = await api('post', '/v1/jobs/{id}/retry', { params: { id: 999_999 } });
    assert.equal(retry.status, 404);

    // Back to the defaults for the tests after this one.
    assert.equal((await api('put', '/v1/rules', { json: DEFAULT_RULES })).status, 200);
  });
});

test('audit, decisions and review: listed in their documented shapes; the chain verifies', async () => {
  const audit = await api<{ entries: { seq: number; action: string }[] }>('get', '/v1/audit', { query: { limit: 1000 } });
  assert.equal(audit.status, 200);
  const actions = new Set(audit.body.entries.map((e) => e.action));
  for (const a of ['service.started', 'decision.created', 'bank.created', 'bank.imported', 'signal.added', 'signal.deleted', 'signal.opinion', 'bank.changed', 'rules.changed', 'data.accessed']) assert.ok(actions.has(a), `audit has ${a}`);
  const page = await api<{ entries: { seq: number }[] }>('get', '/v1/audit', { query: { afterSeq: 2, limit: 3 } });
  assert.deepEqual(page.body.entries.map((e) => e.seq), [3, 4, 5]);

  const verified = await api<{ ok: boolean; entries: number; headSeq: number; headHash: string }>('get', '/v1/audit/verify');
  assert.equal(verified.status, 200);
  assert.equal(verified.body.ok, true);
  const anchored = await api<{ ok: boolean }>('get', '/v1/audit/verify', { query: { anchor: `${verified.body.headSeq}:${verified.body.headHash}` } });
  assert.equal(anchored.body.ok, true);

  const reviewer = await t.key(['review']);
  const decisions = await api<{ decisions: { id: number; contentId: string; verdict: string; matches: unknown[] }[] }>('get', '/v1/decisions', { key: reviewer, query: { verdict: 'block', limit: 1000 } });
  assert.ok(decisions.body.decisions.length >= 4);
  assert.ok(decisions.body.decisions.every((d) => d.verdict === 'block' && d.matches.length > 0));
  const byAccount = await api<{ decisions: { accountId: string }[] }>('get', '/v1/decisions', { key: reviewer, query: { accountId: 'acct-1' } });
  assert.deepEqual(byAccount.body.decisions.map((d) => d.accountId), ['acct-1']);

  const review = await api<{ items: { id: number; decisionId: number; priority: number; state: string; decision: { id: number; verdict: string } }[] }>('get', '/v1/review', { key: reviewer, query: { limit: 1000 } });
  assert.ok(review.body.items.length >= 4);
  for (const item of review.body.items) {
    assert.equal(item.state, 'open');
    assert.equal(item.decision.id, item.decisionId);
  }
  // Reading decisions is itself audited.
  const accessed = await api<{ entries: { details: { route: string } }[] }>('get', '/v1/audit', { query: { action: 'data.accessed', limit: 1000 } });
  assert.ok(accessed.body.entries.some((e) => e.details.route === 'GET /v1/decisions'));
});

test('retro: off without --retain-days (400 in the error shape)', async () => {
  const res = await api<{ error: { code: string } }>('post', '/v1/retro/run');
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'VIGIL_ERR_INVALID_ARGUMENT');
});

describe('retroactive matching (retainDays: 7)', () => {
  let r: TestService;
  before(async () => {
    r = await startTestService({ retainDays: 7, retroIntervalMs: 3_600_000 });
  });
  after(() => r.close());

  test('an unmatched submission whose hash is later added to a bank is found by POST /v1/retro/run as a late decision', async () => {
    const key = (await r.service.ctx.keys.createNow({ name: 'retro-admin', scopes: ['admin'] }, { actor: 'test' })).secret;
    const opts = { base: r.url, key };
    const bytes = await syntheticPicture(7);
    const path = join(r.dir, 'later.png');
    writeFileSync(path, bytes);
    const record = await r.service.ctx.hashFile(path);

    assert.equal((await api('post', '/v1/banks', { ...opts, json: { name: 'LATER_LIST', kind: 'block' } })).status, 201);
    const first = await api<ContentResult>('post', '/v1/content', { ...opts, form: upload('retro-1', bytes, 'later.png', { accountId: 'acct-r' }) });
    assert.equal(first.body.verdict, 'allow');
    assert.equal(first.body.decisionId, null);
    assert.equal(await r.service.ctx.records.countRetained(), 1, 'the hashes (not the content) are retained');
    assert.deepEqual(await r.service.ctx.records.decisionsForContent('retro-1'), []);

    const nothingYet = await api<{ checked: number; late: unknown[] }>('post', '/v1/retro/run', opts);
    assert.equal(nothingYet.status, 200);
    assert.deepEqual(nothingYet.body.late, []);

    assert.equal((await api('post', '/v1/banks/{name}/signals', { ...opts, params: { name: 'LATER_LIST' }, json: { type: 'md5', value: record.md5! } })).status, 201);
    const run = await api<{ checked: number; purged: number; late: { contentId: string; decisionId: number; verdict: string }[] }>('post', '/v1/retro/run', opts);
    assert.equal(run.status, 200);
    assert.equal(run.body.checked, 1);
    assert.equal(run.body.late.length, 1);
    assert.equal(run.body.late[0].contentId, 'retro-1');
    assert.equal(run.body.late[0].verdict, 'block');
    assert.equal(await r.service.ctx.records.countRetained(), 0, 'a late match drops the retained row');

    const shown = await api<{ decisions: ContentResult[] }>('get', '/v1/content/{contentId}', { ...opts, params: { contentId: 'retro-1' } });
    assert.equal(shown.body.decisions.length, 1);
    assert.equal(shown.body.decisions[0].late, true);
    assert.equal(shown.body.decisions[0].decisionId, run.body.late[0].decisionId);
  });
});

test('GET /v1/range/{type}/{prefix}: one-way tags of the listed digests sharing a prefix (docs/client.md)', async () => {
  const record = await t.service.ctx.hashFile(demoPicture('mountains.png'));
  const res = await api<{ candidates: string[] }>('get', '/v1/range/{type}/{prefix}', { key: await t.key(['device']), params: { type: 'md5', prefix: record.md5!.slice(0, 5) } });
  assert.equal(res.status, 200);
  assert.ok(res.body.candidates.includes(createHash('sha256').update(`vigil-range-v1:md5:${record.md5}`).digest('hex')));
});

test('exchanges: credentials, add, list, get, fetch (a list file at a local URL), remove', async () => {
  const files = await startFileServer('/benign.txt');
  try {
    files.body = `md5 ${md5Hex('exchange-benign-1')}\nmd5 ${md5Hex('exchange-benign-2')}\n`;
    assert.equal((await api('get', '/v1/exchange-apis')).status, 200);
    const creds = await api('put', '/v1/exchange-apis/{api}/credentials', { params: { api: 'vigil' }, json: { api_key: 'benign-not-a-key' } });
    assert.deepEqual(creds.body, { api: 'vigil', hasCredentials: true });
    const added = await api('post', '/v1/exchanges', { json: { name: 'API_FILE', api: 'file', config: { url: `${files.url}/benign.txt` }, enabled: false } });
    assert.equal(added.status, 201);
    const fetched = await api<{ ok: boolean; added: number }>('post', '/v1/exchanges/{name}/fetch', { params: { name: 'API_FILE' }, json: {} });
    assert.equal(fetched.body.ok, true);
    assert.equal(fetched.body.added, 2);
    const list = await api<{ name: string; upToDate: boolean }[]>('get', '/v1/exchanges');
    assert.equal(list.body.find((e) => e.name === 'API_FILE')?.upToDate, true);
    const one = await api<{ status: { total: { added: number } } }>('get', '/v1/exchanges/{name}', { params: { name: 'API_FILE' } });
    assert.equal(one.body.status.total.added, 2);
    assert.equal((await api('delete', '/v1/exchanges/{name}', { params: { name: 'API_FILE' } })).status, 200);
    assert.equal((await api('get', '/v1/exchanges/{name}', { params: { name: 'API_FILE' } })).status, 404);
  } finally {
    await files.close();
  }
});

/**
 * Operations exercised over HTTP by their own file: reports with its fake NCMEC server (test/reports-api.test.ts),
 * queued file uploads with their worker (test/fleet-uploads.test.ts).
 */
const EXERCISED_ELSEWHERE = /^(GET|POST|PUT) \/v1\/(reports|incidents\/\{id\}\/reports|evidence\/\{id\}\/legal-hold|content\/queue\/upload$)/;

test('every non-HMA operation of the spec was exercised by this file (or by its own file)', () => {
  const hma = (name: string) => {
    const [method, path] = name.split(' ');
    return (v.operation(method.toLowerCase() as Method, path).tags ?? []).includes('hma');
  };
  const missing = Object.keys(OPERATIONS).filter((name) => !hma(name) && !exercised.has(name) && !EXERCISED_ELSEWHERE.test(name));
  assert.deepEqual(missing, []);
});
