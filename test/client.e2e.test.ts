/**
 * The client SDK in Chromium (Playwright over Debian's chromium, never downloaded), against `vigil serve` with its
 * demo: the conformance PNGs hashed in the page give the server's hash wherever the browser decoded the same
 * pixels (and the client's own hash of the browser's pixels everywhere); the /demo/client flow end to end (a
 * known benign picture blocked, an unknown one allowed, no image bytes and no unlisted digest on the wire).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { hashHere } from '../src/client/hash.js';
import { decodeImage } from '../src/media/image-decode.js';
import { startService, type RunningService } from '../src/service/serve.js';
import { bounded, CHROMIUM_ARGS, systemChromium } from './helpers/chromium.js';
import { PDQ_DIR } from './helpers/shared.js';
import { tempDir } from './helpers/temp.js';

interface PageHash { pdq?: string; quality?: number; error?: string; pixels: string; width: number; height: number; channels: 1 | 2 | 3 | 4 }
// What the page functions below use (the project compiles without the DOM library).
declare const window: { vigilDemo: { pool: { hash(b: Blob, o: object): Promise<{ pdq?: string; quality?: number; error?: string }> }; sdk: { decodeBlob(b: Blob): Promise<{ data: Uint8Array; width: number; height: number; channels: 1 | 2 | 3 | 4 }> } } };
declare const document: { body: { dataset: Record<string, string | undefined> } };

let service: RunningService;
let browser: Browser;

before(async () => {
  const dir = tempDir('vigil-client-e2e-');
  service = await startService({ storeUrl: join(dir, 'vigil.db'), port: 0, demoDir: join(dir, 'demo'), hashThreads: 1, background: false });
  browser = await chromium.launch({ executablePath: systemChromium(), headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await bounded('closing the browser', browser?.close());
  await bounded('closing the service', service?.close());
  setTimeout(() => process.exit(process.exitCode ?? 0), 5_000).unref();
});

async function openDemo(): Promise<Page> {
  const context = await browser.newContext({ baseURL: service.url });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  await page.goto('/demo/client');
  await page.waitForFunction(() => document.body.dataset.state === 'ready');
  return page;
}

/** Hashes a file in a worker of the page; also returns the pixels the browser decoded (RGBA, base64). */
async function hashInPage(page: Page, path: string): Promise<PageHash> {
  const b64 = readFileSync(path).toString('base64');
  return page.evaluate(async (data) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const blob = new Blob([bytes]);
    const [hashed, pixels] = await Promise.all([window.vigilDemo.pool.hash(blob, { digests: false }), window.vigilDemo.sdk.decodeBlob(blob)]);
    let s = '';
    for (let i = 0; i < pixels.data.length; i += 0x8000) s += String.fromCharCode(...pixels.data.subarray(i, i + 0x8000));
    return { ...hashed, pixels: btoa(s), width: pixels.width, height: pixels.height, channels: pixels.channels };
  }, b64);
}

/** Pixels as RGBA whatever their channels (opaque when they have no alpha), to compare decodes. */
function asRgba(p: { data: Uint8Array; width: number; height: number; channels: number }): Uint8Array {
  const n = p.width * p.height;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[i * 4 + c] = p.data[i * p.channels + (p.channels >= 3 ? c : 0)];
    out[i * 4 + 3] = p.channels === 4 ? p.data[i * 4 + 3] : p.channels === 2 ? p.data[i * 2 + 1] : 255;
  }
  return out;
}

test('conformance PNGs hashed in the page: the server’s hash wherever the browser decoded identical pixels', async () => {
  const page = await openDemo();
  let identicalPixels = 0;
  const differentPixels: string[] = [];
  const wrong: string[] = [];
  for (const set of ['pixel-exact', 'pixel-exact-resize']) {
    const dir = join(PDQ_DIR, 'expected', set);
    const rows = readFileSync(join(dir, 'expected.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
    for (const [file, pdq, quality] of rows) {
      const path = join(dir, file);
      const got = await hashInPage(page, path);
      const decoded = { data: new Uint8Array(Buffer.from(got.pixels, 'base64')), width: got.width, height: got.height, channels: got.channels };
      // Whatever the browser decoded, the page's hash is the client's hash of those pixels (same code, in a worker).
      const own = await hashHere(decoded);
      if (got.pdq !== own.pdq) wrong.push(`${set}/${file}: worker ${got.pdq} vs Node on the browser's pixels ${own.pdq}`);
      const rgba = asRgba(decoded);
      const server = asRgba(await decodeImage(readFileSync(path)));
      const alpha = rgba.some((v, i) => i % 4 === 3 && v !== 255);
      if (!alpha && Buffer.from(server).equals(Buffer.from(rgba))) {
        identicalPixels++;
        if (got.pdq !== pdq || got.quality !== Number(quality)) wrong.push(`${set}/${file}: page ${got.pdq},${got.quality} vs server ${pdq},${quality}`);
      } else {
        differentPixels.push(file);
      }
    }
  }
  console.log(`# ${identicalPixels} files decoded to identical pixels (hash equal to the server's); different pixels: ${differentPixels.join(', ') || 'none'}`);
  assert.deepEqual(wrong, []);
  assert.ok(identicalPixels >= 118, `the pixel-exact PNGs decode identically in Chromium (${identicalPixels} of 120)`);
  await page.context().close();
});

function digests(path: string) {
  const bytes = readFileSync(path);
  return ['md5', 'sha1', 'sha256'].map((a) => createHash(a).update(bytes).digest('hex'));
}

async function pick(page: Page, path: string): Promise<{ verdict: string; sent: { hashes: Record<string, unknown> }; requests: { url: string; method: string; body: string; type: string }[] }> {
  const requests: { url: string; method: string; body: string; type: string }[] = [];
  const listener = (r: Request) => {
    if (r.url().startsWith(service.url) && !r.url().includes('/demo/client')) requests.push({ url: r.url(), method: r.method(), body: r.postData() ?? '', type: r.headers()['content-type'] ?? '' });
  };
  page.on('request', listener);
  await page.locator('#file').setInputFiles(path);
  await page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'failed');
  page.off('request', listener);
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'done', await page.locator('#status').innerText());
  const verdict = (await page.getByTestId('verdict').innerText()).replace('Verdict: ', '');
  return { verdict, sent: JSON.parse(await page.getByTestId('sent').innerText()), requests };
}

test('the demo page: a known benign picture is blocked, an unknown one allowed; only hashes leave the page', async () => {
  const page = await openDemo();
  const known = join(service.demo!.dir, 'sunset.png');
  const unknown = join(PDQ_DIR, 'bridge-mods/aaa-orig.jpg');

  const hit = await pick(page, known);
  assert.equal(hit.verdict, 'block');
  const posted = hit.requests.filter((r) => r.url.endsWith('/v1/content'));
  assert.equal(posted.length, 1);
  assert.deepEqual(JSON.parse(posted[0].body), hit.sent, 'the page shows exactly what was sent');
  assert.match(posted[0].type, /^application\/json/);
  assert.ok('md5' in hit.sent.hashes, 'the listed MD5 is sent once a range lookup found it');

  const miss = await pick(page, unknown);
  assert.equal(miss.verdict, 'allow');
  assert.deepEqual(Object.keys(miss.sent.hashes), ['pdq']);
  for (const r of [...hit.requests, ...miss.requests]) {
    assert.ok(r.body.length < 4096, `${r.method} ${r.url}: ${r.body.length} bytes — hashes only, no picture`);
    assert.doesNotMatch(r.type, /multipart/);
  }
  const ranges = miss.requests.filter((r) => r.url.includes('/v1/range/'));
  assert.equal(ranges.length, 3);
  const wire = JSON.stringify(miss.requests);
  for (const digest of digests(unknown)) assert.ok(!wire.includes(digest), 'no full digest of the unknown picture is sent');
  for (const r of ranges) assert.match(r.url, /\/v1\/range\/(md5|sha1|sha256)\/[0-9a-f]{5}$/);
  await page.context().close();
});
