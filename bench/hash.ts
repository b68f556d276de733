/**
 * npm run bench:hash — image hashing throughput (issue: PDQ core ≤ 1 ms per 512×512 luma buffer;
 * ≥ 150 images/s end to end on ~1 MP JPEGs with 2 cores). Baselines measured in the same run:
 * decode-only (sharp to raw pixels, the physical floor) and single-thread vs the worker pool.
 * Inputs: ../shared/conformance/pdq plus generated benign synthetic JPEGs (~1 MP and ~12 MP).
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { hashFile } from '../src/hashing/hash-file.js';
import { HashPool } from '../src/hashing/pool.js';
import { decodeImage } from '../src/media/image-decode.js';
import type { WalkEntry } from '../src/media/walk.js';
import { lumaFromPixels } from '../src/signals/pdq/luma.js';
import { PdqScratch, pdqDihedralFromLuma, pdqFromLuma } from '../src/signals/pdq/pdq.js';
import { referenceResize } from '../src/signals/pdq/reference-resize.js';
import { syntheticRgb } from '../test/helpers/images.js';
import { CACHE_DIR, environment, fmt, percentile } from './_common.js';

const SHARED_PDQ = new URL('../../shared/conformance/pdq/', import.meta.url).pathname;
const quick = process.argv.includes('--quick');

async function ensureJpegs(label: string, width: number, height: number, count: number): Promise<string[]> {
  const dir = join(CACHE_DIR, `jpeg-${label}`);
  const files = Array.from({ length: count }, (_, i) => join(dir, `synthetic-${i}.jpg`));
  if (files.every((f) => existsSync(f))) return files;
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  for (const [i, f] of files.entries()) {
    const raw = syntheticRgb(width, height, i + 1);
    writeFileSync(f, await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer());
  }
  return files;
}

function listImages(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(jpe?g|png|webp|gif)$/i.test(e.name) && !e.parentPath.includes('pixel-exact'))
    .map((e) => join(e.parentPath, e.name));
}

async function timeSerial(files: string[]): Promise<number> {
  const t = performance.now();
  for (const f of files) await hashFile(f);
  return files.length / ((performance.now() - t) / 1000);
}

async function timeDecodeOnly(files: string[]): Promise<number> {
  const t = performance.now();
  for (const f of files) await decodeImage(readFileSync(f));
  return files.length / ((performance.now() - t) / 1000);
}

async function timePool(files: string[], pool: HashPool): Promise<number> {
  const entries = async function* (): AsyncGenerator<WalkEntry> {
    for (const f of files) yield { kind: 'file', path: f, bytes: 0 };
  };
  // Warm the workers (module load, JIT) before timing.
  for await (const _ of pool.hashAll(entries())) void _;
  const t = performance.now();
  let n = 0;
  for await (const _ of pool.hashAll(entries())) n++;
  return n / ((performance.now() - t) / 1000);
}

/** Decode vs PDQ split, in-process, single thread. */
async function split(files: string[]): Promise<{ decodeMs: number; pdqMs: number }> {
  let decodeMs = 0;
  let pdqMs = 0;
  const scratch = new PdqScratch();
  for (const f of files) {
    const bytes = readFileSync(f);
    const t0 = performance.now();
    const image = referenceResize(await decodeImage(bytes));
    const t1 = performance.now();
    const luma = lumaFromPixels(image);
    pdqFromLuma(luma, image.width, image.height, scratch);
    pdqMs += performance.now() - t1;
    decodeMs += t1 - t0;
  }
  return { decodeMs, pdqMs };
}

async function main(): Promise<void> {
  console.log(`bench:hash · ${environment()}`);

  // 1. PDQ core on a 512×512 luma buffer (the largest the reference tool ever hashes).
  const w = 512;
  const rgb = syntheticRgb(w, w, 5);
  const luma = lumaFromPixels({ data: rgb, width: w, height: w, channels: 3 });
  const scratch = new PdqScratch();
  for (let i = 0; i < 30; i++) pdqFromLuma(luma, w, w, scratch);
  const samples: number[] = [];
  const dihedralSamples: number[] = [];
  for (let i = 0; i < (quick ? 100 : 400); i++) {
    let t = performance.now();
    pdqFromLuma(luma, w, w, scratch);
    samples.push(performance.now() - t);
    t = performance.now();
    pdqDihedralFromLuma(luma, w, w, scratch);
    dihedralSamples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  dihedralSamples.sort((a, b) => a - b);
  console.log(`PDQ core, 512×512 luma: p50 ${fmt(percentile(samples, 50), 3)} ms, p99 ${fmt(percentile(samples, 99), 3)} ms (target ≤ 1 ms); all 8 dihedrals p50 ${fmt(percentile(dihedralSamples, 50), 3)} ms (${fmt(percentile(dihedralSamples, 50) / percentile(samples, 50), 2)}× one hash)`);

  // 2. End to end on three corpora.
  const corpora: [string, string[]][] = [
    ['shared conformance (mixed photos)', listImages(SHARED_PDQ)],
    ['~1 MP JPEGs (1200×900)', await ensureJpegs('1mp', 1200, 900, quick ? 40 : 150)],
    ['~12 MP JPEGs (4000×3000)', await ensureJpegs('12mp', 4000, 3000, quick ? 4 : 12)],
  ];
  const pool = new HashPool();
  try {
    for (const [label, files] of corpora) {
      await timeSerial(files.slice(0, 3)); // warm-up
      const decodeOnly = await timeDecodeOnly(files);
      const serial = await timeSerial(files);
      const pooled = await timePool(files, pool);
      const { decodeMs, pdqMs } = await split(files);
      const share = (decodeMs / (decodeMs + pdqMs)) * 100;
      console.log(
        `${label}: ${files.length} files · 1 thread ${fmt(serial)} img/s · pool (${pool.threads} threads) ${fmt(pooled)} img/s (${fmt(pooled / serial, 2)}× 1 thread) · decode-only 1 thread ${fmt(decodeOnly)} img/s (hashing runs at ${fmt((serial / decodeOnly) * 100, 0)} % of decode-only) · time in decode ${fmt(share, 0)} %, PDQ ${fmt(100 - share, 0)} %`,
      );
    }
  } finally {
    await pool.close();
  }
  console.log('Reference anchor (../shared/reference/peers.md): C++ pdq-photo-hasher ≈ 32 img/s mixed, 5–10 img/s on ~1 MP JPEGs per process.');
}

await main();
