/**
 * npm run bench:client — the client SDK in Chromium (Debian's, via playwright-core):
 * 1. bundle size: the SDK and its worker, minified and gzipped (target ≤ 60 KB together); video.js (lazy) apart;
 * 2. a 1 MP JPEG hashed in a browser worker (decode + MD5/SHA-1/SHA-256 + PDQ; target ≤ 40 ms, p50), and PDQ
 *    alone on pixels already decoded; the baseline in the same run: the server hashing the same file
 *    (vigil.hashFile: sharp decode, digests, PDQ);
 * 2b. a conformance clip's vPDQ in the page (WebCodecs) next to the server's (ffmpeg) of the same file;
 * 3. decode honesty: every picture of ../shared/conformance/pdq with a C++ reference hash (cpp-reference-full.tsv)
 *    and every pixel-exact PNG hashed in the page, distance to the reference (target: ≤ 10 bits on ≥ 99 % of
 *    those at quality ≥ 80).
 * Usage: npm run bench:client [-- RUNS]
 */
import { gzipSync } from 'node:zlib';
import { loadavg } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { buildClientBundles } from '../src/service/web/client-bundle.js';
import { startService } from '../src/service/serve.js';
import { hammingDistance256, hash256FromHex } from '../src/signals/pdq/hash256.js';
import { parseVpdqCompactFeature } from '../src/signals/vpdq/format.js';
import { hashVideo } from '../src/media/video-hash.js';
import { syntheticJpeg, syntheticRgb } from '../test/helpers/images.js';
import { systemChromium, CHROMIUM_ARGS } from '../test/helpers/chromium.js';
import { tempDir } from '../test/helpers/temp.js';
import { CACHE_DIR, environment, fmt, percentile } from './_common.js';

const RUNS = Number(process.argv[2] ?? 20);
const PDQ_DIR = join(import.meta.dirname, '../../shared/conformance/pdq');

declare const window: { vigilDemo: { pool: { hash(input: unknown, o: object): Promise<{ pdq?: string; quality?: number; error?: string }> } } };

const kb = (n: number) => `${fmt(n / 1024)} KB`;

const bundles = await buildClientBundles();
const gz = { client: gzipSync(bundles['client.js'], { level: 9 }).length, worker: gzipSync(bundles['worker.js'], { level: 9 }).length, video: gzipSync(bundles['video.js'], { level: 9 }).length };
console.log(`# ${environment()}`);
console.log(`bundle (minified + gzip -9): SDK ${kb(gz.client)}, worker ${kb(gz.worker)}, together ${kb(gz.client + gz.worker)} (target ≤ 60 KB: ${gz.client + gz.worker <= 60 * 1024 ? 'met' : 'MISSED'}); video.js, loaded on the first video only (mp4box + WebCodecs vPDQ): ${kb(gz.video)}`);

const dir = tempDir('vigil-bench-client-');
const service = await startService({ storeUrl: join(dir, 'vigil.db'), port: 0, demoDir: join(dir, 'demo'), hashThreads: 1, background: false, logger: false });
const browser = await chromium.launch({ executablePath: systemChromium(), headless: true, args: CHROMIUM_ARGS });
try {
  const page = await (await browser.newContext({ baseURL: service.url })).newPage();
  await page.goto('/demo/client');
  await page.waitForFunction(() => (globalThis as unknown as { vigilDemo?: unknown }).vigilDemo !== undefined);

  // 1 MP: a 1000×1000 synthetic JPEG (benign gradient + noise).
  const jpegPath = join(CACHE_DIR, 'client-1mp.jpg');
  writeFileSync(jpegPath, await syntheticJpeg(1000, 1000, 7, 90));
  const jpeg = readFileSync(jpegPath).toString('base64');
  const rgb = syntheticRgb(1000, 1000, 7);
  const rgba = new Uint8Array(1000 * 1000 * 4);
  for (let i = 0; i < 1000 * 1000; i++) rgba.set([rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2], 255], i * 4);
  const times = await page.evaluate(async ({ b64, raw, runs }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const pixels = Uint8Array.from(atob(raw), (c) => c.charCodeAt(0));
    const pool = window.vigilDemo.pool;
    const file: number[] = [];
    const pdqOnly: number[] = [];
    for (let i = 0; i < 3; i++) await pool.hash(new Blob([bytes], { type: 'image/jpeg' }), {});
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await pool.hash(new Blob([bytes], { type: 'image/jpeg' }), {});
      file.push(performance.now() - t0);
      const t1 = performance.now();
      await pool.hash({ data: pixels, width: 1000, height: 1000, channels: 4 }, {});
      pdqOnly.push(performance.now() - t1);
    }
    return { file, pdqOnly };
  }, { b64: jpeg, raw: Buffer.from(rgba).toString('base64'), runs: RUNS });
  const server: number[] = [];
  for (let i = 0; i < 3; i++) await service.ctx.hashFile(jpegPath);
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await service.ctx.hashFile(jpegPath);
    server.push(performance.now() - t0);
  }
  const p50 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
  const browserFile = p50(times.file);
  console.log(`1 MP JPEG in a browser worker (decode + digests + PDQ), p50 of ${RUNS}: ${fmt(browserFile)} ms (target ≤ 40 ms: ${browserFile <= 40 ? 'met' : 'MISSED'}); PDQ alone on 1 MP RGBA (incl. the copy to the worker): ${fmt(p50(times.pdqOnly))} ms`);
  console.log(`baseline, same run: the server hashing the same file (vigil.hashFile: sharp decode, digests, PDQ), p50: ${fmt(p50(server))} ms — browser/server ${fmt(browserFile / p50(server), 2)}×`);

  // Video: a conformance clip through WebCodecs in the page vs the server's ffmpeg vPDQ of the same file.
  const clip = join(import.meta.dirname, '../../shared/conformance/vpdq/videos/chair-20-sd-bar.mp4');
  const v = await page.evaluate(async (b64) => {
    const blob = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]);
    const t0 = performance.now();
    const r = (await (window as unknown as { vigilDemo: { sdk: { hashVideo(b: Blob): Promise<{ supported: boolean; vpdq?: string[]; framesDecoded?: number; reason?: string }> } } }).vigilDemo.sdk.hashVideo(blob));
    return { ...r, ms: performance.now() - t0 };
  }, readFileSync(clip).toString('base64'));
  const tv = performance.now();
  const sv = await hashVideo(clip);
  const serverMs = performance.now() - tv;
  if (!v.supported) console.log(`video: not supported in this Chromium (${v.reason})`);
  else {
    const d = v.vpdq!.map((t, i) => hammingDistance256(parseVpdqCompactFeature(t).hash, sv.features[i].hash)).sort((a, b) => a - b);
    console.log(`video (chair-20-sd-bar.mp4, ${v.framesDecoded} frames, ${v.vpdq!.length} hashed) in the page (mp4box + WebCodecs + PDQ, main thread): ${fmt(v.ms)} ms; baseline, same run: the server's hashVideo (ffmpeg): ${fmt(serverMs)} ms — page/server ${fmt(v.ms / serverMs, 2)}×; frame distance to the server's: median ${d[d.length >> 1]}, max ${d[d.length - 1]} bits`);
  }

  // Decode honesty.
  const files: { path: string; pdq: string; quality: number }[] = [];
  for (const line of readFileSync(join(PDQ_DIR, 'expected/cpp-reference-full.tsv'), 'utf8').trim().split('\n').slice(1)) {
    const [file, pdq, quality] = line.split('\t');
    files.push({ path: join(PDQ_DIR, file), pdq, quality: Number(quality) });
  }
  for (const set of ['pixel-exact', 'pixel-exact-resize']) {
    for (const line of readFileSync(join(PDQ_DIR, 'expected', set, 'expected.tsv'), 'utf8').trim().split('\n').slice(1)) {
      const [file, pdq, quality] = line.split('\t');
      files.push({ path: join(PDQ_DIR, 'expected', set, file), pdq, quality: Number(quality) });
    }
  }
  const buckets = { '0': 0, '1–5': 0, '6–10': 0, '11–20': 0, '> 20': 0, 'not decoded': 0 };
  let q80 = 0;
  let q80Within10 = 0;
  const far: string[] = [];
  for (const f of files) {
    const got = await page.evaluate(async (b64) => window.vigilDemo.pool.hash(new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]), { digests: false }), readFileSync(f.path).toString('base64'));
    if (!got.pdq) {
      buckets['not decoded']++;
      far.push(`${f.path.slice(PDQ_DIR.length + 1)} (${got.error})`);
      continue;
    }
    const d = hammingDistance256(hash256FromHex(got.pdq), hash256FromHex(f.pdq));
    buckets[d === 0 ? '0' : d <= 5 ? '1–5' : d <= 10 ? '6–10' : d <= 20 ? '11–20' : '> 20']++;
    if (f.quality >= 80) {
      q80++;
      if (d <= 10) q80Within10++;
    }
    if (d > 10) far.push(`${f.path.slice(PDQ_DIR.length + 1)}: ${d} bits (quality ${f.quality})`);
  }
  const share = (100 * q80Within10) / q80;
  console.log(`decode honesty, ${files.length} files (cpp-reference-full + pixel-exact PNGs), browser hash vs C++ reference: ${Object.entries(buckets).map(([k, v]) => `${k} bits: ${v}`).join(', ')}`);
  console.log(`  at reference quality ≥ 80: ${q80Within10}/${q80} within 10 bits = ${fmt(share)} % (target ≥ 99 %: ${share >= 99 ? 'met' : 'MISSED'})`);
  for (const line of far) console.log(`  > 10 bits or undecoded: ${line}`);
} finally {
  await browser.close();
  await service.close();
}
console.log(`load average: ${loadavg().map((l) => fmt(l, 2)).join(' ')}`);
