// The WebAssembly SIMD path must be bit-identical to the TypeScript path: hash, quality, every DCT
// coefficient and every dihedral, on random and real luma of many shapes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeImage } from '../../media/image-decode.js';
import { PDQ_DIR } from '../../../test/helpers/shared.js';
import { hash256ToHex } from './hash256.js';
import { lumaDimensions, lumaFromPixels, type PixelBuffer } from './luma.js';
import { PdqScratch, pdqDihedralFromLuma, pdqDihedralFromPixels, pdqFromLuma, pdqFromPixels } from './pdq.js';
import { pdqSimdAvailable, simdPdq } from './simd.js';

const js = new PdqScratch({ simd: false });
const simd = new PdqScratch();

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Compares both paths on one luma buffer; returns a description of the first difference, or ''. */
function compare(luma: Float32Array, width: number, height: number): string {
  const label = `${width}×${height}`;
  const a = pdqFromLuma(luma, width, height, js);
  const ca = js.dct16x16.slice();
  const b = pdqFromLuma(luma, width, height, simd);
  const cb = simd.dct16x16.slice();
  if (hash256ToHex(a.hash) !== hash256ToHex(b.hash) || a.quality !== b.quality) {
    return `${label}: ${hash256ToHex(a.hash)},${a.quality} (js) vs ${hash256ToHex(b.hash)},${b.quality} (simd)`;
  }
  if (width >= 5 && height >= 5) {
    const i = ca.findIndex((v, k) => !Object.is(v, cb[k]));
    if (i >= 0) return `${label}: coefficient ${i} ${ca[i]} vs ${cb[i]}`;
  }
  const da = pdqDihedralFromLuma(luma, width, height, js);
  const db = pdqDihedralFromLuma(luma, width, height, simd);
  if (da.quality !== db.quality) return `${label} dihedral quality ${da.quality} vs ${db.quality}`;
  for (let t = 0; t < 8; t++) {
    if (hash256ToHex(da.hashes[t]) !== hash256ToHex(db.hashes[t])) return `${label} dihedral ${t} differs`;
  }
  return '';
}

test('the WebAssembly SIMD kernels are available in Node 20', () => {
  assert.equal(pdqSimdAvailable(), true);
});

test('SIMD and JS agree bit for bit on random luma of many shapes', () => {
  const rand = rng(7);
  // Non-multiples of 4, 8 and 16; under 64 (repeated sample indices); tall and wide; growing and shrinking
  // memory in turn so stale padding from a larger image is exercised.
  const shapes = [
    [5, 5], [512, 512], [6, 5], [5, 6], [1, 9], [9, 1], [1, 300], [4, 100], [64, 64], [63, 65], [65, 63], [7, 300],
    [300, 7], [129, 77], [1024, 768], [17, 33], [16, 16], [31, 8], [200, 150], [127, 128], [128, 127], [255, 257],
    [513, 5], [5, 513], [640, 480], [1000, 13], [48, 1000], [333, 444], [100, 100], [1920, 1080], [12, 12],
  ];
  const failures: string[] = [];
  for (const [width, height] of shapes) {
    for (const kind of ['bytes', 'floats', 'flat', 'ramp']) {
      const luma = new Float32Array(width * height);
      for (let i = 0; i < luma.length; i++) {
        const x = i % width;
        const y = Math.floor(i / width);
        luma[i] =
          kind === 'bytes' ? Math.floor(rand() * 256)
          : kind === 'floats' ? Math.fround(rand() * 255)
          : kind === 'flat' ? 77
          : Math.fround(0.299 * ((x * 7 + y * 3) % 256));
      }
      const d = compare(luma, width, height);
      if (d) failures.push(`${kind} ${d}`);
    }
  }
  assert.deepEqual(failures, []);
});

test('SIMD and JS agree bit for bit on real pictures: every pixel-exact file, plus JPEGs at full size and resized', async () => {
  const exact = join(PDQ_DIR, 'expected/pixel-exact');
  const files = readdirSync(exact).filter((f) => f.endsWith('.png')).map((f) => join(exact, f));
  const photos = ['reg-test-input/dih/bridge-1-original.jpg', 'bridge-mods/aaa-orig.jpg', 'misc-images/small.jpg'].map((f) => join(PDQ_DIR, f));
  assert.ok(files.length >= 100);
  const failures: string[] = [];
  for (const file of [...files, ...photos]) {
    const image = await decodeImage(await readFile(file));
    for (const sampleTo of [undefined, 512, 200]) {
      const pixels: PixelBuffer = image;
      const luma = lumaFromPixels(pixels, undefined, sampleTo);
      const width = sampleTo && (image.width > sampleTo || image.height > sampleTo) ? sampleTo : image.width;
      const height = width === image.width ? image.height : sampleTo!;
      const d = compare(luma, width, height);
      if (d) failures.push(`${file}: ${d}`);
    }
    // The pixel entry points, where luma is written straight into WebAssembly memory.
    for (const referenceResize of [false, true]) {
      const a = pdqFromPixels(image, js, { referenceResize });
      const b = pdqFromPixels(image, simd, { referenceResize });
      if (hash256ToHex(a.hash) !== hash256ToHex(b.hash) || a.quality !== b.quality) failures.push(`${file}: pdqFromPixels differs`);
      const da = pdqDihedralFromPixels(image, js, { referenceResize });
      const db = pdqDihedralFromPixels(image, simd, { referenceResize });
      if (da.hashes.some((h, t) => hash256ToHex(h) !== hash256ToHex(db.hashes[t])) || da.quality !== db.quality) {
        failures.push(`${file}: pdqDihedralFromPixels differs`);
      }
    }
  }
  assert.deepEqual(failures, []);
});

test('a luma buffer in the caller’s memory is not modified by the SIMD path', () => {
  const luma = Float32Array.from({ length: 50 * 40 }, (_, i) => (i * 37) % 256);
  const copy = luma.slice();
  pdqFromLuma(luma, 50, 40, simd);
  pdqDihedralFromLuma(luma, 50, 40, simd);
  assert.deepEqual(luma, copy);
});

test('SIMD luma is bit-identical to lumaFromPixels for 1–4 channels, with and without the 512 pre-resize', () => {
  const rand = rng(11);
  const kernels = simdPdq()!;
  const failures: string[] = [];
  for (const channels of [1, 2, 3, 4] as const) {
    for (const [width, height] of [[5, 5], [7, 9], [512, 512], [513, 5], [5, 513], [700, 530], [1201, 899], [2000, 40], [33, 1500]]) {
      const bytes = new Uint8Array(width * height * channels);
      for (let i = 0; i < bytes.length; i++) bytes[i] = rand() * 256;
      // Decoders hand over Node Buffers that are views into larger pools: test a view at an offset.
      const pool = Buffer.alloc(bytes.length + 7);
      pool.set(bytes, 7);
      const pixels: PixelBuffer = { data: pool.subarray(7), width, height, channels };
      for (const sampleTo of [undefined, 512]) {
        const { width: w, height: h } = lumaDimensions(pixels, sampleTo);
        const want = lumaFromPixels(pixels, undefined, sampleTo);
        assert.ok(kernels.lumaFrom(pixels, h, w));
        const got = kernels.input(h, w)!;
        const i = want.findIndex((v, k) => !Object.is(v, got[k]));
        if (i >= 0 || got.length !== want.length) failures.push(`${channels} ch ${width}×${height} → ${w}×${h}: index ${i}`);
      }
    }
  }
  assert.deepEqual(failures, []);
});

test('without WebAssembly (node --jitless) the TypeScript path hashes the same', () => {
  const data = Uint8Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 37) % 256);
  const want = pdqFromPixels({ data, width: 40, height: 30, channels: 3 }, simd);
  const script = `
    const { pdqSimdAvailable } = await import(${JSON.stringify(fileURLToPath(new URL('./simd.ts', import.meta.url)))});
    const { pdqFromPixels } = await import(${JSON.stringify(fileURLToPath(new URL('./pdq.ts', import.meta.url)))});
    const { hash256ToHex } = await import(${JSON.stringify(fileURLToPath(new URL('./hash256.ts', import.meta.url)))});
    const data = Uint8Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 37) % 256);
    const r = pdqFromPixels({ data, width: 40, height: 30, channels: 3 });
    console.log(JSON.stringify({ simd: pdqSimdAvailable(), hash: hash256ToHex(r.hash), quality: r.quality }));`;
  const out = execFileSync(process.execPath, ['--jitless', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../../../', import.meta.url)), // where tsx resolves
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), { simd: false, hash: hash256ToHex(want.hash), quality: want.quality });
});
