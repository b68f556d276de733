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
import { PdqScratch, pdqDihedralFromLuma, pdqFromLuma, pdqFromPixels } from '../src/signals/pdq/pdq.js';
import { pdqSimdAvailable } from '../src/signals/pdq/simd.js';
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

/** Decode vs PDQ split, in-process, single thread, as hashImageBytes does it (resize fused into luma). */
async function split(files: string[]): Promise<{ decodeMs: number; pdqMs: number; pdqJsMs: number }> {
  let decodeMs = 0;
  let pdqMs = 0;
  let pdqJsMs = 0;
  const simd = new PdqScratch();
  const js = new PdqScratch({ simd: false });
  for (const f of files) {
    const bytes = readFileSync(f);
    const t0 = performance.now();
    const image = await decodeImage(bytes);
    const t1 = performance.now();
    pdqFromPixels(image, simd, { referenceResize: true });
    const t2 = performance.now();
    pdqFromPixels(image, js, { referenceResize: true });
    pdqJsMs += performance.now() - t2;
    pdqMs += t2 - t1;
    decodeMs += t1 - t0;
  }
  return { decodeMs, pdqMs, pdqJsMs };
}

async function main(): Promise<void> {
  console.log(`bench:hash · ${environment()}`);

  // 1. PDQ core on a 512×512 luma buffer (the largest the reference tool ever hashes), WebAssembly SIMD
  // and plain TypeScript in the same run, samples interleaved so both see the same machine load.
  const w = 512;
  const rgb = syntheticRgb(w, w, 5);
  const luma = lumaFromPixels({ data: rgb, width: w, height: w, channels: 3 });
  const backends = [
    { label: 'WASM SIMD', scratch: new PdqScratch(), one: [] as number[], dih: [] as number[] },
    { label: 'JS', scratch: new PdqScratch({ simd: false }), one: [] as number[], dih: [] as number[] },
  ];
  if (!pdqSimdAvailable()) console.log('WebAssembly SIMD unavailable: the SIMD figures below are the JS fallback');
  for (const b of backends) for (let i = 0; i < 30; i++) pdqFromLuma(luma, w, w, b.scratch);
  for (let i = 0; i < (quick ? 100 : 400); i++) {
    for (const b of backends) {
      let t = performance.now();
      pdqFromLuma(luma, w, w, b.scratch);
      b.one.push(performance.now() - t);
      t = performance.now();
      pdqDihedralFromLuma(luma, w, w, b.scratch);
      b.dih.push(performance.now() - t);
    }
  }
  for (const b of backends) {
    b.one.sort((x, y) => x - y);
    b.dih.sort((x, y) => x - y);
    console.log(
      `PDQ core ${b.label}, 512×512 luma: min ${fmt(b.one[0], 3)} ms, p50 ${fmt(percentile(b.one, 50), 3)} ms, p99 ${fmt(percentile(b.one, 99), 3)} ms (target ≤ 1 ms); all 8 dihedrals p50 ${fmt(percentile(b.dih, 50), 3)} ms`,
    );
  }
  const [simd, js] = backends;
  console.log(
    `PDQ core JS / WASM SIMD, same run: p50 ${fmt(percentile(js.one, 50) / percentile(simd.one, 50), 2)}×, min ${fmt(js.one[0] / simd.one[0], 2)}×, p99 ${fmt(percentile(js.one, 99) / percentile(simd.one, 99), 2)}×`,
  );

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
      const { decodeMs, pdqMs, pdqJsMs } = await split(files);
      const share = (decodeMs / (decodeMs + pdqMs)) * 100;
      const per = (ms: number) => fmt(ms / files.length, 2);
      console.log(
        `${label}: ${files.length} files · 1 thread ${fmt(serial)} img/s · pool (${pool.threads} threads) ${fmt(pooled)} img/s (${fmt(pooled / serial, 2)}× 1 thread) · decode-only 1 thread ${fmt(decodeOnly)} img/s (hashing runs at ${fmt((serial / decodeOnly) * 100, 0)} % of decode-only) · per image: decode ${per(decodeMs)} ms, PDQ incl. luma ${per(pdqMs)} ms WASM SIMD / ${per(pdqJsMs)} ms JS · time in decode ${fmt(share, 0)} %, PDQ ${fmt(100 - share, 0)} %`,
      );
    }
  } finally {
    await pool.close();
  }
  console.log('Reference anchor (../shared/reference/peers.md): C++ pdq-photo-hasher ≈ 32 img/s mixed, 5–10 img/s on ~1 MP JPEGs per process.');
}

await main();
