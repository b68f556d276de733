// Pure-core tests: no decoder involved (the core must run without sharp, e.g. in a browser).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hammingDistance256, hash256ToHex } from './hash256.js';
import { jaroszWindowSize } from './jarosz.js';
import type { PixelBuffer } from './luma.js';
import { DIHEDRAL_NAMES, pdqDihedralFromPixels, pdqFromLuma, pdqFromPixels } from './pdq.js';
import { referenceResize } from './reference-resize.js';

function pattern(width: number, height: number): PixelBuffer {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round((x * 255) / width * 0.7 + (y * 255) / height * 0.3);
      data[i + 1] = Math.round(127 + 120 * Math.sin(x / 9) * Math.cos(y / 13));
      data[i + 2] = x > width / 3 && y < height / 2 ? 230 : 20;
    }
  }
  return { data, width, height, channels: 3 };
}

/** Rotates/flips pixels: the 8 dihedral transforms in DIHEDRAL_NAMES order. */
function transform(p: PixelBuffer, t: number): PixelBuffer {
  const { width: w, height: h, channels: c } = p;
  const swap = t === 1 || t === 3 || t === 6 || t === 7;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(p.data.length);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      // Source coordinates for each output pixel.
      const [sx, sy] = [
        [x, y],
        [w - 1 - y, x], // rot90 (counter-clockwise)
        [w - 1 - x, h - 1 - y],
        [y, h - 1 - x], // rot270
        [x, h - 1 - y], // flipx: top/bottom
        [w - 1 - x, y], // flipy: left/right
        [y, x], // transpose
        [w - 1 - y, h - 1 - x], // anti-transpose
      ][t];
      for (let k = 0; k < c; k++) out[(y * ow + x) * c + k] = p.data[(sy * w + sx) * c + k];
    }
  }
  return { data: out, width: ow, height: oh, channels: c };
}

test('images under 5 px give the zero hash with quality 0, as the reference', () => {
  for (const [w, h] of [[1, 1], [3, 3], [4, 100], [100, 4]]) {
    const r = pdqFromPixels(pattern(w, h));
    assert.equal(hash256ToHex(r.hash), '0'.repeat(64));
    assert.equal(r.quality, 0);
    const d = pdqDihedralFromPixels(pattern(w, h));
    assert.equal(d.hashes.length, 8);
    assert.ok(d.hashes.every((x) => x.every((b) => b === 0)));
  }
});

test('5×5 is hashable', () => {
  const r = pdqFromPixels(pattern(5, 5));
  assert.notEqual(hash256ToHex(r.hash), '0'.repeat(64));
});

test('hash has about half its bits set (strict > median of 256 values)', () => {
  const r = pdqFromPixels(pattern(200, 150));
  let bits = 0;
  for (const b of r.hash) for (let k = 0; k < 8; k++) bits += (b >> k) & 1;
  assert.ok(bits >= 120 && bits <= 128, `bits set: ${bits}`);
  assert.ok(r.quality > 50);
});

test('grey and RGB with R=G=B differ only by float rounding of the luma sum', () => {
  const rgb = pattern(96, 80);
  const grey = new Uint8Array(96 * 80);
  const rgbGrey = new Uint8Array(96 * 80 * 3);
  for (let i = 0; i < grey.length; i++) grey[i] = rgbGrey[i * 3] = rgbGrey[i * 3 + 1] = rgbGrey[i * 3 + 2] = rgb.data[i * 3 + 1];
  const a = pdqFromPixels({ data: grey, width: 96, height: 80, channels: 1 });
  const b = pdqFromPixels({ data: rgbGrey, width: 96, height: 80, channels: 3 });
  assert.ok(hammingDistance256(a.hash, b.hash) <= 8);
});

test('dihedral hashes from the DCT match hashes of the actually transformed pixels', () => {
  const base = pattern(128, 128);
  const dihedral = pdqDihedralFromPixels(base);
  assert.equal(dihedral.hashes.length, DIHEDRAL_NAMES.length);
  for (let t = 0; t < 8; t++) {
    const direct = pdqFromPixels(transform(base, t));
    const distances = dihedral.hashes.map((h) => hammingDistance256(direct.hash, h));
    // Not bit-identical in general (sampling grid alignment; pdq/README.md), but a match, and the nearest.
    assert.ok(distances[t] <= 31, `${DIHEDRAL_NAMES[t]}: distance ${distances[t]}`);
    assert.equal(Math.min(...distances), distances[t], `${DIHEDRAL_NAMES[t]}: ${distances.join(' ')}`);
  }
  // The 8 orientations of an asymmetric picture are far apart from one another.
  assert.ok(hammingDistance256(dihedral.hashes[0], dihedral.hashes[2]) > 64);
});

test('64×64 input skips the blur in the plain path only (reference shortcut)', () => {
  const p = pattern(64, 64);
  const plain = pdqFromPixels(p);
  const dihedral = pdqDihedralFromPixels(p);
  assert.ok(hammingDistance256(plain.hash, dihedral.hashes[0]) <= 4);
  assert.equal(jaroszWindowSize(64, 64), 1);
});

test('Jarosz window sizes as the reference: (dim + 127) / 128', () => {
  assert.deepEqual([64, 128, 129, 300, 512, 1024].map((d) => jaroszWindowSize(d, 64)), [1, 1, 2, 3, 4, 8]);
});

test('reference resize: only when a side exceeds 512, to exactly 512×512, nearest neighbour', () => {
  const small = pattern(512, 300);
  assert.equal(referenceResize(small), small);
  const big = pattern(1024, 700);
  const r = referenceResize(big);
  assert.equal(r.width, 512);
  assert.equal(r.height, 512);
  // Output (x, y) samples source (floor(x·W/512), floor(y·H/512)).
  for (const [x, y] of [[0, 0], [511, 511], [100, 37], [255, 400]]) {
    const sx = Math.floor((x * 1024) / 512);
    const sy = Math.floor((y * 700) / 512);
    assert.equal(r.data[(y * 512 + x) * 3], big.data[(sy * 1024 + sx) * 3]);
  }
});

test('luma buffers of the wrong size are refused', () => {
  assert.throws(() => pdqFromLuma(new Float32Array(10), 5, 5), RangeError);
  assert.throws(() => pdqFromPixels({ data: new Uint8Array(3), width: 2, height: 2, channels: 3 }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
});
