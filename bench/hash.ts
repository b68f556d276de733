/**
 * npm run bench:hash — image hashing throughput (issue: PDQ core ≤ 1 ms per 512×512 luma buffer;
 * ≥ 150 images/s end to end on ~1 MP JPEGs with 2 cores). Baselines measured in the same run:
 * decode-only (sharp to raw pixels, the physical floor) and single-thread vs the worker pool.
 * Inputs: ../shared/conformance/pdq plus generated benign synthetic JPEGs (~1 MP and ~12 MP).
 *
 * On a shared machine img/s follows the load, so each figure also comes with the CPU time the process
 * spent per image (all its threads: workers, libvips, libuv, GC) and the load average: 2000 / (CPU ms per
 * image) is what two otherwise idle cores would sustain at that cost. Comparisons (JS JPEG header vs
 * sharp metadata() first; pool configurations) are interleaved in the same run, several rounds each.
 * `--quick`: fewer files and rounds; `--rounds N`: rounds for the interleaved pool comparison.
 * `--views`: only the views section (issue #12: every view and dihedral ≤ 1.5× the CPU of plain hashing).
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { hashFile, hashImageBytes, pictureViews } from '../src/hashing/hash-file.js';
import type { HashOptions } from '../src/hashing/hash-file.js';
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
const roundsArg = process.argv.indexOf('--rounds');
const rounds = roundsArg > 0 ? Math.max(1, Number(process.argv[roundsArg + 1]) || 1) : quick ? 2 : 5;

const load = () => loadavg().map((l) => fmt(l, 2)).join(' ');

/** Wall time and process CPU time (every thread) of `fn`, per item. */
async function measure(items: number, fn: () => Promise<void>): Promise<{ perSecond: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  await fn();
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: items / (wall / 1000), cpuMs: (cpu.user + cpu.system) / 1000 / items };
}

function stats(values: number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: percentile(sorted, 50), max: sorted[sorted.length - 1] };
}

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

function timeSerial(files: string[]): Promise<{ perSecond: number; cpuMs: number }> {
  return measure(files.length, async () => {
    for (const f of files) await hashFile(f);
  });
}

function timeDecodeOnly(files: string[]): Promise<{ perSecond: number; cpuMs: number }> {
  return measure(files.length, async () => {
    for (const f of files) await decodeImage(readFileSync(f));
  });
}

const entriesOf = async function* (files: string[]): AsyncGenerator<WalkEntry> {
  for (const f of files) yield { kind: 'file', path: f, bytes: 0 };
};

async function timePool(files: string[], pool: HashPool, warm = true): Promise<{ perSecond: number; cpuMs: number }> {
  // Warm the workers (module load, JIT) before timing.
  if (warm) for await (const _ of pool.hashAll(entriesOf(files))) void _;
  return measure(files.length, async () => {
    for await (const r of pool.hashAll(entriesOf(files))) if (r.error) throw new Error(`${r.path}: ${r.error.message}`);
  });
}

/**
 * Decode cost with the JPEG header read in JS (what decodeImage does now) vs with sharp's metadata()
 * called first (what it did before: a second libvips open of the same bytes), files interleaved.
 */
async function headerAb(files: string[]): Promise<{ current: number; legacy: number; rounds: number }> {
  const times = { current: [] as number[], legacy: [] as number[] };
  const n = quick ? 2 : 4;
  for (let round = 0; round < n; round++) {
    let current = 0;
    let legacy = 0;
    for (const [i, f] of files.entries()) {
      const bytes = readFileSync(f);
      for (const which of i % 2 === round % 2 ? ['current', 'legacy'] : ['legacy', 'current']) {
        const t = performance.now();
        if (which === 'legacy') await sharp(bytes, { limitInputPixels: false, failOn: 'truncated', page: 0, pages: 1 }).metadata();
        await decodeImage(bytes);
        if (which === 'legacy') legacy += performance.now() - t;
        else current += performance.now() - t;
      }
    }
    times.current.push(current / files.length);
    times.legacy.push(legacy / files.length);
  }
  return { current: stats(times.current).median, legacy: stats(times.legacy).median, rounds: n };
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

/**
 * Issue #12: CPU per image of plain hashing (decode + PDQ), of every view with its dihedrals (what `vigil match`
 * and the service hash) through the shared-work path and through the reference path, and of decoding alone,
 * in-process on one thread. Each file is taken by all four in turn (order rotated per file and round), so
 * they see the same machine load; CPU time is `process.cpuUsage` around each call (libvips threads included).
 */
async function viewsCost(files: string[], label: string): Promise<void> {
  const modes = ['decode', 'plain', 'views', 'views-ref'] as const;
  const cpu = Object.fromEntries(modes.map((m) => [m, 0])) as Record<(typeof modes)[number], number>;
  const bytes = files.map((f) => readFileSync(f));
  const run = async (mode: (typeof modes)[number], b: Uint8Array) => {
    if (mode === 'decode') await decodeImage(b);
    else if (mode === 'plain') await hashImageBytes(b, { path: '' });
    else if (mode === 'views') await hashImageBytes(b, { path: '' }, { dihedral: true, views: true });
    else pictureViews(await decodeImage(b, { keepAlpha: true }), { shared: false });
  };
  for (const b of bytes.slice(0, 3)) for (const m of modes) await run(m, b); // warm-up
  const n = quick ? 1 : 3;
  const loadBefore = load();
  for (let round = 0; round < n; round++) {
    for (const [i, b] of bytes.entries()) {
      for (let k = 0; k < modes.length; k++) {
        const mode = modes[(i + round + k) % modes.length];
        const c0 = process.cpuUsage();
        await run(mode, b);
        const c = process.cpuUsage(c0);
        cpu[mode] += (c.user + c.system) / 1000;
      }
    }
  }
  const per = (m: (typeof modes)[number]) => cpu[m] / (n * files.length);
  const ref = per('views-ref');
  console.log(
    `${label}, ${files.length} files × ${n} rounds, CPU per image on 1 thread: decode-only ${fmt(per('decode'), 2)} ms · plain hash ${fmt(per('plain'), 2)} ms (${fmt(per('decode') / per('plain'), 2)}× decode-only throughput, target ≥ 0.9) · every view + dihedrals ${fmt(per('views'), 2)} ms = ${fmt(per('views') / per('plain'), 2)}× plain (target ≤ 1.5) · the same through the reference path ${fmt(ref, 2)} ms = ${fmt(ref / per('plain'), 2)}× plain · load average ${loadBefore} → ${load()}`,
  );
}

/**
 * `vigil hash` on 2 threads (the worker pool, digests + PDQ) against decoding alone on 2 threads (two
 * decodes in flight: libuv runs them side by side), rounds interleaved: target ≥ 0.9× the decode-only rate.
 */
async function poolVsDecode(files: string[]): Promise<void> {
  const pool = new HashPool({ threads: 2 });
  const decode2 = () =>
    measure(files.length, async () => {
      let next = 0;
      const lane = async () => {
        while (next < files.length) await decodeImage(readFileSync(files[next++]));
      };
      await Promise.all([lane(), lane()]);
    });
  try {
    await timePool(files, pool);
    await decode2();
    const loadBefore = load();
    const runs = { pool: [] as { perSecond: number; cpuMs: number }[], decode: [] as { perSecond: number; cpuMs: number }[] };
    for (let round = 0; round < (quick ? 2 : 4); round++) {
      if (round % 2) runs.decode.push(await decode2());
      runs.pool.push(await timePool(files, pool, false));
      if (!(round % 2)) runs.decode.push(await decode2());
    }
    const rate = (r: { perSecond: number }[]) => stats(r.map((x) => x.perSecond)).median;
    const cpu = (r: { cpuMs: number }[]) => stats(r.map((x) => x.cpuMs)).median;
    console.log(
      `~1 MP JPEGs, 2 threads, ${runs.pool.length} interleaved rounds: vigil hash ${fmt(rate(runs.pool))} img/s (CPU ${fmt(cpu(runs.pool), 2)} ms/img) · decode-only ${fmt(rate(runs.decode))} img/s (CPU ${fmt(cpu(runs.decode), 2)} ms/img) → ${fmt(rate(runs.pool) / rate(runs.decode), 2)}× decode-only throughput, ${fmt(cpu(runs.decode) / cpu(runs.pool), 2)}× by CPU (target ≥ 0.9) · load average ${loadBefore} → ${load()}`,
    );
  } finally {
    await pool.close();
  }
}

async function main(): Promise<void> {
  console.log(`bench:hash · ${environment()}`);
  if (process.argv.includes('--views')) {
    await viewsCost(await ensureJpegs('1mp', 1200, 900, quick ? 40 : 150).then((f) => f.slice(0, quick ? 15 : 30)), '~1 MP JPEGs (1200×900)');
    await viewsCost(listImages(SHARED_PDQ), 'shared conformance (mixed photos)');
    await poolVsDecode(await ensureJpegs('1mp', 1200, 900, quick ? 40 : 150).then((f) => f.slice(0, quick ? 40 : 80)));
    return;
  }

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

  // 2. End to end on three corpora (`vigil hash` defaults: digests + PDQ, no dihedrals, no views).
  const oneMp = await ensureJpegs('1mp', 1200, 900, quick ? 40 : 150);
  const corpora: [string, string[]][] = [
    ['shared conformance (mixed photos)', listImages(SHARED_PDQ)],
    ['~1 MP JPEGs (1200×900)', oneMp],
    ['~12 MP JPEGs (4000×3000)', await ensureJpegs('12mp', 4000, 3000, quick ? 4 : 12)],
  ];
  const pool = new HashPool();
  try {
    for (const [label, files] of corpora) {
      const loadBefore = load();
      await timeSerial(files.slice(0, 3)); // warm-up
      const decodeOnly = await timeDecodeOnly(files);
      const serial = await timeSerial(files);
      const pooled = await timePool(files, pool);
      const { decodeMs, pdqMs, pdqJsMs } = await split(files);
      const share = (decodeMs / (decodeMs + pdqMs)) * 100;
      const per = (ms: number) => fmt(ms / files.length, 2);
      console.log(
        `${label}: ${files.length} files · 1 thread ${fmt(serial.perSecond)} img/s · pool (${pool.threads} threads) ${fmt(pooled.perSecond)} img/s (${fmt(pooled.perSecond / serial.perSecond, 2)}× 1 thread) · decode-only 1 thread ${fmt(decodeOnly.perSecond)} img/s (hashing runs at ${fmt((serial.perSecond / decodeOnly.perSecond) * 100, 0)} % of decode-only) · per image: decode ${per(decodeMs)} ms, PDQ incl. luma ${per(pdqMs)} ms WASM SIMD / ${per(pdqJsMs)} ms JS · time in decode ${fmt(share, 0)} %, PDQ ${fmt(100 - share, 0)} %`,
      );
      console.log(
        `  CPU per image (all threads): 1 thread ${fmt(serial.cpuMs, 2)} ms, pool ${fmt(pooled.cpuMs, 2)} ms, decode-only ${fmt(decodeOnly.cpuMs, 2)} ms → 2 idle cores at the pool's cost: ${fmt(2000 / pooled.cpuMs)} img/s · load average ${loadBefore} → ${load()}`,
      );
    }
  } finally {
    await pool.close();
  }

  // 3. Decode with the JPEG header read in JS vs sharp metadata() first (the previous code), same run.
  const ab = await headerAb(oneMp.slice(0, quick ? 20 : 60));
  console.log(
    `~1 MP JPEG decode, 1 thread, median of ${ab.rounds} interleaved rounds: header read in JS ${fmt(ab.current, 2)} ms/img, with sharp metadata() first (before) ${fmt(ab.legacy, 2)} ms/img (${fmt((1 - ab.current / ab.legacy) * 100, 0)} % less)`,
  );

  // 4. Pool configurations on ~1 MP JPEGs, rounds interleaved so that each sees the same machine load.
  // Views cost an order of magnitude more per image, so that configuration hashes a subset.
  const cores = availableParallelism();
  const configs: [string, HashOptions & { threads: number }, string[]][] = [
    [`vigil hash defaults, ${cores} threads`, { threads: cores }, oneMp],
    [`vigil hash defaults, ${cores + 1} threads`, { threads: cores + 1 }, oneMp],
    [`vigil match / service (dihedral + views), ${cores} threads`, { threads: cores, dihedral: true, views: true }, oneMp.slice(0, quick ? 10 : 30)],
  ];
  const pools = configs.map(([label, options, files]) => ({ label, files, pool: new HashPool(options), runs: [] as { perSecond: number; cpuMs: number }[] }));
  try {
    for (const p of pools) await timePool(p.files, p.pool);
    const loadBefore = load();
    for (let round = 0; round < rounds; round++) for (const p of round % 2 ? [...pools].reverse() : pools) p.runs.push(await timePool(p.files, p.pool, false));
    console.log(`~1 MP JPEGs, ${rounds} interleaved rounds (load average ${loadBefore} → ${load()}):`);
    for (const p of pools) {
      const ips = stats(p.runs.map((r) => r.perSecond));
      const cpu = stats(p.runs.map((r) => r.cpuMs));
      console.log(
        `  ${p.label}, ${p.files.length} files: img/s min ${fmt(ips.min)} / median ${fmt(ips.median)} / max ${fmt(ips.max)} · CPU ${fmt(cpu.median, 2)} ms per image (median) → 2 idle cores: ${fmt(2000 / cpu.median)} img/s (target ≥ 150)`,
      );
    }
  } finally {
    for (const p of pools) await p.pool.close();
  }
  console.log('Reference anchor (../shared/reference/peers.md): C++ pdq-photo-hasher ≈ 32 img/s mixed, 5–10 img/s on ~1 MP JPEGs per process.');
}

await main();
