/**
 * Client vPDQ in Chromium (Playwright over Debian's chromium): a conformance clip demuxed by mp4box, decoded by
 * WebCodecs and hashed in the page, against the server's vPDQ of the same file (ffmpeg decode); then the clip,
 * listed in a bank from the server's hashes, matched through POST /v1/content with the page's hashes only.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { hashVideo } from '../src/media/video-hash.js';
import { startService, type RunningService } from '../src/service/serve.js';
import { hammingDistance256 } from '../src/signals/pdq/hash256.js';
import { formatVpdqJson, parseVpdqCompactFeature } from '../src/signals/vpdq/format.js';
import { bounded, CHROMIUM_ARGS, systemChromium } from './helpers/chromium.js';
import { tempDir } from './helpers/temp.js';

const VIDEOS = join(import.meta.dirname, '../../shared/conformance/vpdq/videos');
const KNOWN = join(VIDEOS, 'chair-20-sd-bar.mp4');
const UNKNOWN = join(VIDEOS, 'pattern-sd-grey-bar.mp4');

type PageResult = { supported: true; vpdq: string[]; fps: number; codec: string; framesDecoded: number } | { supported: false; reason: string };
declare const document: { body: { dataset: Record<string, string | undefined> } };
declare const window: {
  vigilDemo: {
    sdk: { hashVideo(b: Blob, o?: object): Promise<PageResult> };
    client: { check(h: object, o: object): Promise<{ decision: { verdict: string }; sent: { hashes: Record<string, unknown> } }> };
  };
};

let service: RunningService;
let browser: Browser;
let page: Page;

before(async () => {
  const dir = tempDir('vigil-client-video-e2e-');
  service = await startService({ storeUrl: join(dir, 'vigil.db'), port: 0, demoDir: join(dir, 'demo'), hashThreads: 1, background: false });
  browser = await chromium.launch({ executablePath: systemChromium(), headless: true, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ baseURL: service.url });
  context.setDefaultTimeout(60_000);
  page = await context.newPage();
  await page.goto('/demo/client');
  await page.waitForFunction(() => document.body.dataset.state === 'ready');
});

after(async () => {
  await bounded('closing the browser', browser?.close());
  await bounded('closing the service', service?.close());
  setTimeout(() => process.exit(process.exitCode ?? 0), 5_000).unref();
});

function hashInPage(path: string): Promise<PageResult> {
  return page.evaluate(async (b64) => window.vigilDemo.sdk.hashVideo(new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'video/mp4' })), readFileSync(path).toString('base64'));
}

for (const clip of ['chair-20-sd-bar.mp4', 'test-padded-dimensions.mp4', 'doorknob-hd-no-bar.mp4']) {
  test(`${clip} hashed in Chromium through WebCodecs: the frames the server picks, each within a few bits of the server's hash`, async () => {
    const path = join(VIDEOS, clip);
    const client = await hashInPage(path);
    assert.ok(client.supported, `Chromium decodes the clip: ${client.supported ? '' : client.reason}`);
    const server = await hashVideo(path);
    assert.equal(client.vpdq.length, server.features.length, 'the same frames are sampled');
    assert.equal(client.fps, server.info.fps);
    const distances: number[] = [];
    client.vpdq.forEach((text, i) => {
      const f = parseVpdqCompactFeature(text);
      assert.equal(f.timestamp.toFixed(3), server.features[i].timestamp.toFixed(3), `frame ${i}: timestamp`);
      // Frames under quality 50 are ignored by matching (flat frames: any decoder noise moves their bits).
      if (server.features[i].quality >= 50) distances.push(hammingDistance256(f.hash, server.features[i].hash));
    });
    const sorted = [...distances].sort((a, b) => a - b);
    console.log(`# ${clip}: ${client.codec}, ${client.framesDecoded} frames decoded, ${client.vpdq.length} hashed; at quality ≥ 50, distance to the server's frame hashes: median ${sorted[sorted.length >> 1]}, max ${sorted[sorted.length - 1]} bits (${distances.join(' ')})`);
    assert.ok(distances.length > 0);
    assert.ok(sorted[sorted.length - 1] <= 10, 'every frame within 10 bits (the vPDQ frame threshold is 31)');
    assert.ok(sorted[sorted.length >> 1] <= 4, 'the median frame within 4 bits');
  });
}

test('a listed clip is matched from the page\'s hashes alone; an unlisted one is allowed', async () => {
  const server = await hashVideo(KNOWN);
  await service.ctx.vigil.banks.addSignal('test', service.demo!.bank, { type: 'vpdq', value: formatVpdqJson(server.features) });
  const check = (path: string) =>
    page.evaluate(async (b64) => {
      const r = await window.vigilDemo.sdk.hashVideo(new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]));
      if (!r.supported) throw new Error(r.reason);
      const result = await window.vigilDemo.client.check({ vpdq: r.vpdq }, { contentId: 'client-video-' + crypto.randomUUID() });
      return { verdict: result.decision.verdict, sent: Object.keys(result.sent.hashes) };
    }, readFileSync(path).toString('base64'));
  const hit = await check(KNOWN);
  assert.equal(hit.verdict, 'block');
  assert.deepEqual(hit.sent, ['vpdq']);
  const miss = await check(UNKNOWN);
  assert.equal(miss.verdict, 'allow');
});

test('what is not an MP4 is "unsupported" with its reason, not hashed', async () => {
  const r = await page.evaluate(async () => window.vigilDemo.sdk.hashVideo(new Blob([new Uint8Array(4096).fill(7)])));
  assert.equal(r.supported, false);
  assert.ok(!r.supported && /MP4/.test(r.reason), !r.supported ? r.reason : '');
});

test('the demo page hashes a picked MP4 in the page: the listed clip is blocked, and only vPDQ features are sent', async () => {
  // The clip was listed by the test above (tests of a file run in order).
  const posted: { body: string; type: string }[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/v1/content')) posted.push({ body: r.postData() ?? '', type: r.headers()['content-type'] ?? '' });
  });
  await page.locator('#file').setInputFiles(KNOWN);
  await page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'failed');
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'done', await page.locator('#status').innerText());
  assert.equal((await page.getByTestId('verdict').innerText()).replace('Verdict: ', ''), 'block');
  assert.equal(posted.length, 1);
  assert.match(posted[0].type, /^application\/json/);
  assert.deepEqual(Object.keys(JSON.parse(posted[0].body).hashes), ['vpdq']);
  assert.ok(posted[0].body.length < readFileSync(KNOWN).length / 10, 'hashes, not the video');
});
