import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lumaFromPixels } from './luma.js';

/** The reference's per-pixel arithmetic, written out: every product and sum rounded to float32. */
function referenceLuma(data: Uint8Array, pixels: number): Float32Array {
  const fr = Math.fround;
  const out = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) {
    out[i] = fr(fr(fr(fr(0.299) * data[i * 3]) + fr(fr(0.587) * data[i * 3 + 1])) + fr(fr(0.114) * data[i * 3 + 2]));
  }
  return out;
}

test('table luma is bit-identical to the reference arithmetic, for every byte value on every channel', () => {
  const all = new Uint8Array(256 * 256 * 3);
  for (let i = 0; i < 256 * 256; i++) {
    all[i * 3] = i & 255;
    all[i * 3 + 1] = i >> 8;
    all[i * 3 + 2] = (i * 7) & 255;
  }
  assert.deepEqual(lumaFromPixels({ data: all, width: 256, height: 256, channels: 3 }), referenceLuma(all, 256 * 256));
  for (const [w, h] of [[7, 5], [64, 64], [333, 211]]) {
    const data = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 2654435761 + w) >>> 24);
    assert.deepEqual(lumaFromPixels({ data, width: w, height: h, channels: 3 }), referenceLuma(data, w * h), `${w}×${h}`);
  }
});

test('sampling to 512 on the way equals the reference resize followed by luma', async () => {
  const { referenceResize } = await import('./reference-resize.js');
  const data = Uint8Array.from({ length: 700 * 530 * 3 }, (_, i) => (i * 2654435761) >>> 24);
  const pixels = { data, width: 700, height: 530, channels: 3 as const };
  assert.deepEqual(lumaFromPixels(pixels, undefined, 512), lumaFromPixels(referenceResize(pixels)));
  const small = { data: data.subarray(0, 300 * 200 * 3), width: 300, height: 200, channels: 3 as const };
  assert.equal(lumaFromPixels(small, undefined, 512).length, 300 * 200);
});
