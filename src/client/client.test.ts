/**
 * The client package under Node, without a browser: digests, PDQ of pixels as the server computes it (the
 * conformance PNGs, decoded here by sharp), the pool's inline mode, range tags and the API client's retries.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashFile } from '../hashing/hash-file.js';
import { decodeImage } from '../media/image-decode.js';
import { withStoredOrientation } from './orientation.js';
import { decodePng16 } from './png16.js';
import { digestsOf, HashPool, hashHere, hashVideo, md5Hex, rangePrefix, rangeTag, shaHex, VigilApiError, VigilClient } from './index.js';
import { hashVideoHere } from './video.js';

const PDQ_DIR = join(import.meta.dirname, '../../../shared/conformance/pdq');

/** The server's pixels of a file, as RGBA (what ImageData holds in a browser). */
async function rgba(path: string) {
  const image = await decodeImage(readFileSync(path));
  const n = image.width * image.height;
  const data = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) data[i * 4 + c] = image.data[i * image.channels + (image.channels >= 3 ? c : 0)];
    data[i * 4 + 3] = 255;
  }
  return { data, width: image.width, height: image.height, channels: 4 as const };
}

test('digests: MD5 (RFC 1321 vectors), SHA-1 and SHA-256 equal node:crypto', async () => {
  assert.equal(md5Hex(new TextEncoder().encode('')), 'd41d8cd98f00b204e9800998ecf8427e');
  assert.equal(md5Hex(new TextEncoder().encode('The quick brown fox jumps over the lazy dog')), '9e107d9d372bb6826bd81d3542a419d6');
  const bytes = readFileSync(join(PDQ_DIR, 'bridge-mods/aaa-orig.jpg'));
  const d = await digestsOf(new Uint8Array(bytes));
  for (const [name, value] of Object.entries(d)) assert.equal(value, createHash(name).update(bytes).digest('hex'), name);
});

test('SHA without SubtleCrypto (a page on plain http has none) falls back to the pure implementation', async (t) => {
  const bytes = new TextEncoder().encode('abc');
  const original = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!;
  Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true });
  t.after(() => Object.defineProperty(globalThis, 'crypto', original));
  assert.equal(await shaHex('SHA-256', bytes), createHash('sha256').update(bytes).digest('hex'));
  assert.equal(await shaHex('SHA-1', bytes), createHash('sha1').update(bytes).digest('hex'));
});

test('PDQ of RGBA pixels equals the reference for every pixel-exact file, and the server for resized ones', async () => {
  for (const set of ['pixel-exact', 'pixel-exact-resize']) {
    const dir = join(PDQ_DIR, 'expected', set);
    const rows = readFileSync(join(dir, 'expected.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
    for (const [file, pdq, quality] of rows) {
      const got = await hashHere(await rgba(join(dir, file)));
      assert.equal(got.pdq, pdq, `${set}/${file}`);
      assert.equal(got.quality, Number(quality), `${set}/${file} quality`);
    }
  }
});

test('dihedral hashes equal the server’s for the same pixels', async () => {
  for (const file of ['bridge-1-original-64x64-rgb.png', 'bridge-1-original-257x129-rgb.png', 'c-128x128-rgb.png']) {
    const path = join(PDQ_DIR, 'expected/pixel-exact', file);
    const server = await hashFile(path, { dihedral: true });
    const client = await hashHere(await rgba(path), { dihedral: true });
    assert.equal(client.pdq, server.pdq, file);
    assert.deepEqual(client.dihedral, server.dihedral, file);
  }
});

test('encoded bytes in a runtime with no picture decoder: the digests, and a clear error for PDQ', async () => {
  const bytes = new Uint8Array(readFileSync(join(PDQ_DIR, 'misc-images/c.png')));
  const got = await hashHere(bytes);
  assert.equal(got.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(got.pdq, undefined);
  assert.match(got.error ?? '', /cannot decode pictures/);
  assert.deepEqual(Object.keys(await hashHere(bytes, { pdq: false })).sort(), ['md5', 'sha1', 'sha256']);
});

test('the pool hashes in the calling thread where there are no Web Workers', async () => {
  const pool = new HashPool({ workerUrl: 'worker.js', size: 2 });
  assert.equal(pool.inline, true);
  const pixels = await rgba(join(PDQ_DIR, 'expected/pixel-exact/c-128x128-rgb.png'));
  assert.equal((await pool.hash(pixels)).pdq, (await hashHere(pixels)).pdq);
  pool.close();
  await assert.rejects(pool.hash(pixels), /closed/);
});

test('range: prefixes of 4–8 hex digits; tags are SHA-256 over the versioned domain', async () => {
  const md5 = '9e107d9d372bb6826bd81d3542a419d6';
  assert.equal(rangePrefix(md5), '9e107');
  assert.equal(rangePrefix(md5.toUpperCase(), 8), '9e107d9d');
  assert.throws(() => rangePrefix(md5, 3), RangeError);
  assert.throws(() => rangePrefix(md5, 9), RangeError);
  assert.throws(() => rangePrefix('xyz12345'), RangeError);
  assert.equal(await rangeTag('md5', md5.toUpperCase()), createHash('sha256').update(`vigil-range-v1:md5:${md5}`).digest('hex'));
});

/** A scripted fetch: answers in turn, recording every request. */
function scripted(answers: { status: number; body?: unknown; retryAfter?: string }[] | ((url: string) => { status: number; body?: unknown })) {
  const calls: { url: string; method: string; headers: Record<string, string>; body?: string }[] = [];
  const fetch = async (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => {
    calls.push({ url, ...init });
    if (typeof answers !== 'function' && answers.length === 0) throw new TypeError('fetch failed');
    const a = typeof answers === 'function' ? answers(url) : answers.shift()!;
    return { status: a.status, headers: { get: (n: string) => (n === 'retry-after' ? ((a as { retryAfter?: string }).retryAfter ?? null) : null) }, json: async () => a.body ?? {} };
  };
  return { calls, fetch };
}

const DECISION = { contentId: 'c1', fingerprint: 'h:x', verdict: 'allow', matches: [], fired: [], actions: [], rulesVersion: 'v', decisionId: null, replayed: false, late: false, createdAt: '2026-01-01T00:00:00Z' };

test('submitHashes retries a network error, 503 and 429 (Retry-After) with the same body: the idempotency key', async () => {
  const waits: number[] = [];
  const s = scripted([{ status: 503 }, { status: 429, retryAfter: '2' }, { status: 200, body: DECISION }]);
  const client = new VigilClient({ baseUrl: 'https://vigil.test/', apiKey: 'K', fetch: s.fetch, sleep: async (ms) => void waits.push(ms), backoffMs: 100 });
  const decision = await client.submitHashes({ hashes: { md5: '9e107d9d372bb6826bd81d3542a419d6' } });
  assert.equal(decision.verdict, 'allow');
  assert.equal(s.calls.length, 3);
  assert.equal(new Set(s.calls.map((c) => c.body)).size, 1, 'every attempt sends the same contentId and hashes');
  assert.ok(JSON.parse(s.calls[0].body!).contentId, 'a contentId is generated');
  assert.equal(s.calls[0].url, 'https://vigil.test/v1/content');
  assert.equal(s.calls[0].headers.authorization, 'Bearer K');
  assert.deepEqual(waits, [100, 2000]);

  const failing = scripted([]);
  const c2 = new VigilClient({ baseUrl: 'https://vigil.test', apiKey: 'K', fetch: failing.fetch, sleep: async () => {}, retries: 2 });
  await assert.rejects(c2.submitHashes({ contentId: 'x', hashes: {} }), /fetch failed/);
  assert.equal(failing.calls.length, 3);
});

test('a 4xx is not retried and surfaces the service error code', async () => {
  const s = scripted([{ status: 403, body: { error: { code: 'VIGIL_ERR_FORBIDDEN', message: 'no' } } }]);
  const client = new VigilClient({ baseUrl: 'https://vigil.test', apiKey: 'K', fetch: s.fetch, sleep: async () => {} });
  await assert.rejects(client.submitHashes({ contentId: 'x', hashes: {} }), (err: unknown) => err instanceof VigilApiError && err.status === 403 && err.code === 'VIGIL_ERR_FORBIDDEN');
  assert.equal(s.calls.length, 1);
});

test('check(): exact digests go through range lookups and are sent only when a listed tag equals theirs; PDQ is sent', async () => {
  const hashes = { md5: '9e107d9d372bb6826bd81d3542a419d6', sha1: '2fd4e1c67a2d28fced849ee1bb76e7391b93eb12', sha256: 'd7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592', pdq: 'f'.repeat(64), quality: 90 };
  const listedMd5 = await rangeTag('md5', hashes.md5);
  const s = scripted((url) => (url.includes('/v1/range/md5/') ? { status: 200, body: { candidates: [listedMd5, 'ab'.repeat(32)] } } : url.includes('/v1/range/') ? { status: 200, body: { candidates: ['cd'.repeat(32)] } } : { status: 200, body: DECISION }));
  const client = new VigilClient({ baseUrl: 'https://vigil.test', apiKey: 'K', fetch: s.fetch });
  const result = await client.check(hashes, { contentId: 'c1' });
  const ranges = s.calls.filter((c) => c.url.includes('/v1/range/'));
  assert.deepEqual(ranges.map((c) => c.url.replace('https://vigil.test', '')).sort(), ['/v1/range/md5/9e107', '/v1/range/sha1/2fd4e', '/v1/range/sha256/d7a8f']);
  for (const c of ranges) for (const digest of [hashes.md5, hashes.sha1, hashes.sha256]) assert.ok(!c.url.includes(digest) && !(c.body ?? '').includes(digest));
  assert.deepEqual(result.sent, { contentId: 'c1', hashes: { md5: hashes.md5, pdq: [{ hash: hashes.pdq, quality: 90 }] } });
  assert.equal(s.calls.at(-1)!.body, JSON.stringify(result.sent), '`sent` is exactly the body posted');
  assert.deepEqual(result.ranges.map((r) => [r.type, r.hit]), [['md5', true], ['sha1', false], ['sha256', false]]);
});

test('EXIF orientation is set to 1 in a copy of a JPEG (browsers would apply it; the server hashes pixels as stored)', async () => {
  const { default: sharp } = await import('sharp');
  for (const n of [3, 6, 8]) {
    const bytes = new Uint8Array(readFileSync(join(PDQ_DIR, `reg-test-input/exif-rotn/exif-rotn-${n}.jpg`)));
    assert.equal((await sharp(bytes).metadata()).orientation, n);
    const stored = withStoredOrientation(bytes)!;
    assert.equal((await sharp(stored).metadata()).orientation, 1);
    assert.equal((await sharp(bytes).metadata()).orientation, n, 'the input is not changed');
    assert.equal(stored.length, bytes.length);
    assert.equal(withStoredOrientation(stored), undefined, 'already as stored');
  }
  assert.equal(withStoredOrientation(new Uint8Array(readFileSync(join(PDQ_DIR, 'misc-images/c.png')))), undefined);
  assert.equal(withStoredOrientation(new Uint8Array([0xff, 0xd8, 0xff, 0xe1, 0, 1])), undefined, 'a bad segment length');
});

test('16-bit PNGs decode to the server’s pixels (low bytes, as the reference) and hash as the reference', async () => {
  const files = ['expected/pixel-exact/synthetic-noise-500.png', 'expected/pixel-exact/synthetic-plasma-320x240.png', 'expected/pixel-exact-resize/synthetic-plasma-1200x800.png', 'pytx/I16.png'];
  for (const file of files) {
    const bytes = new Uint8Array(readFileSync(join(PDQ_DIR, file)));
    const mine = (await decodePng16(bytes))!;
    assert.ok(mine, file);
    const server = await decodeImage(bytes);
    assert.equal(Buffer.compare(Buffer.from(pixelsOfGrey(mine)), Buffer.from(pixelsOfGrey(server))), 0, `${file}: the server's pixels`);
    assert.equal((await hashHere(mine)).pdq, (await hashFile(join(PDQ_DIR, file))).pdq, file);
  }
  assert.equal(await decodePng16(new Uint8Array(readFileSync(join(PDQ_DIR, 'misc-images/c.png')))), undefined, '8-bit: the canvas decodes it');
});

/** Pixels as RGB whatever their channels, to compare a grey decode with an RGB one. */
function pixelsOfGrey(p: { data: Uint8Array; width: number; height: number; channels: number }): Uint8Array {
  const n = p.width * p.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = p.data[i * p.channels + (p.channels >= 3 ? c : 0)];
  return out;
}

/** A stand-in for Web Workers under Node: runs hashHere on the message, asynchronously, as a worker would. */
class FakeWorker {
  static created = 0;
  static broken = false;
  private listeners: Record<string, ((event: { data?: unknown; message?: string }) => void)[]> = {};
  terminated = false;
  constructor(readonly url: string) {
    FakeWorker.created++;
    if (FakeWorker.broken) queueMicrotask(() => this.emit('error', { message: 'failed to load the worker script' }));
  }
  addEventListener(type: string, listener: (event: { data?: unknown; message?: string }) => void) {
    (this.listeners[type] ??= []).push(listener);
  }
  postMessage(message: { id: number; input: Parameters<typeof hashHere>[0]; options: object }) {
    if (FakeWorker.broken) return;
    void hashHere(message.input, message.options).then((result) => this.emit('message', { data: { id: message.id, result } }));
  }
  terminate() {
    this.terminated = true;
  }
  private emit(type: string, event: { data?: unknown; message?: string }) {
    if (!this.terminated) for (const l of this.listeners[type] ?? []) l(event);
  }
}

test('the pool with workers: sized by the app, queues beyond its size, answers each picture; a worker that fails is dropped', async (t) => {
  (globalThis as { Worker?: unknown }).Worker = FakeWorker;
  t.after(() => delete (globalThis as { Worker?: unknown }).Worker);
  const pictures = await Promise.all(['c-128x128-rgb.png', 'bridge-1-original-64x64-rgb.png', 'bridge-1-original-257x129-rgb.png'].map((f) => rgba(join(PDQ_DIR, 'expected/pixel-exact', f))));
  const pool = new HashPool({ workerUrl: 'worker.js', size: 2 });
  assert.equal(pool.inline, false);
  assert.equal(pool.size, 2);
  const results = await Promise.all(pictures.map((p) => pool.hash(p)));
  for (const [i, p] of pictures.entries()) assert.equal(results[i].pdq, (await hashHere(p)).pdq, 'each answer is its own picture’s');
  pool.close();

  FakeWorker.broken = true;
  t.after(() => (FakeWorker.broken = false));
  const broken = new HashPool({ workerUrl: 'missing.js', size: 2 });
  await assert.rejects(broken.hash(pictures[0]), /failed to load the worker script/);
  assert.equal(broken.size, 0);
  broken.close();
});

test('video where the runtime has no WebCodecs (Node): "unsupported" with the reason, never a hash', async () => {
  const clip = readFileSync(join(import.meta.dirname, '../../../shared/conformance/vpdq/videos/chair-20-sd-bar.mp4'));
  for (const r of [await hashVideo(new Blob([clip])), await hashVideoHere(clip)]) {
    assert.equal(r.supported, false);
    assert.ok(!r.supported && /no WebCodecs VideoDecoder/.test(r.reason));
    assert.ok(!('vpdq' in r));
  }
});
