// The shared-work path for derived views (luma gathered into the SIMD hasher, uncrop bands filled in place,
// the picture's luma reused for the rescaled views) must give the reference path's hashes bit for bit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { syntheticRgb } from '../../test/helpers/images.js';
import { decodeImage, type DecodedImage } from '../media/image-decode.js';
import { extendLuma, fillExtension, extendedSize } from '../media/views.js';
import { pdqSimdAvailable } from '../signals/pdq/simd.js';
import { pictureViews } from './hash-file.js';

const raw = (w: number, h: number, seed = 3) => sharp(syntheticRgb(w, h, seed), { raw: { width: w, height: h, channels: 3 } });

/** Benign synthetic pictures that take every branch: bars, nested frames, stickers, grey, tiny, 64×64 crops, large, EXIF. */
async function pictures(): Promise<[string, DecodedImage][]> {
  const grey = await raw(300, 220, 5).greyscale().jpeg().toBuffer();
  const sticker = await raw(200, 160, 7).ensureAlpha().extend({ top: 40, bottom: 10, left: 30, right: 30, background: { r: 0, g: 0, b: 0, alpha: 0 } }).png().toBuffer();
  const framed = await raw(240, 160, 9).extend({ top: 30, bottom: 30, background: '#000' }).extend({ top: 12, bottom: 12, left: 12, right: 12, background: '#e03020' }).png().toBuffer();
  const inputs: [string, Buffer][] = [
    ['1200×900 JPEG', await raw(1200, 900, 1).jpeg({ quality: 85 }).toBuffer()],
    ['512×1400 PNG (tall: the reference resize takes one side only over 512)', await raw(512, 1400, 2).png().toBuffer()],
    ['letterboxed and pillarboxed', await raw(240, 160, 4).extend({ left: 20, right: 20, background: '#000' }).extend({ top: 30, bottom: 30, background: '#000' }).png().toBuffer()],
    ['a frame around letterbox bars', framed],
    ['grey', grey],
    ['transparent sticker', sticker],
    ['64×64 inside bars', await raw(64, 64, 6).extend({ top: 8, bottom: 8, left: 8, right: 8, background: '#fff' }).png().toBuffer()],
    ['256×256', await raw(256, 256, 8).png().toBuffer()],
    ['9×7', await raw(9, 7, 10).png().toBuffer()],
    ['EXIF orientation 6', await raw(320, 200, 11).jpeg().withMetadata({ orientation: 6 }).toBuffer()],
  ];
  return Promise.all(inputs.map(async ([label, bytes]) => [label, await decodeImage(bytes, { keepAlpha: true })] as [string, DecodedImage]));
}

test('shared-work views give the reference path\'s hashes, bit for bit', async (t) => {
  if (!pdqSimdAvailable()) return t.skip('no WebAssembly SIMD: the reference path is the only one');
  for (const [label, image] of await pictures()) {
    for (const referenceResize of [true, false]) {
      const reference = pictureViews(image, { referenceResize, shared: false });
      const shared = pictureViews(image, { referenceResize });
      assert.deepEqual(shared, reference, `${label}, referenceResize ${referenceResize}`);
      // Every branch is exercised somewhere: at least the uncrops and rescaled-64.
      assert.ok(reference.views.length >= 4, label);
    }
  }
});

test('shared-work views do not depend on what the hasher ran before (its layout changes between pictures)', async (t) => {
  if (!pdqSimdAvailable()) return t.skip('no WebAssembly SIMD');
  // Interleaving pictures of other sizes changes the hasher's layout between views; results stay put.
  const all = await pictures();
  const first = all.map(([, image]) => pictureViews(image));
  const again = [...all].reverse().map(([, image]) => pictureViews(image)).reverse();
  assert.deepEqual(again, first);
});

test('fillExtension in place equals extendLuma', () => {
  let s = 3;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (const [w, h, share] of [[1, 1, 0.05], [3, 40, 0.0263], [460, 300, 0.0556], [37, 500, 0.0882], [8, 8, 0.5]] as const) {
    const luma = Float32Array.from({ length: w * h }, () => rand() * 255);
    const want = extendLuma(luma, w, h, share);
    const e = extendedSize(w, h, share);
    const out = new Float32Array(e.width * e.height).fill(-1);
    for (let y = 0; y < h; y++) out.set(luma.subarray(y * w, (y + 1) * w), (y + e.py) * e.width + e.px);
    fillExtension(out, e.width, e.height, e.px, e.py);
    assert.deepEqual([e.width, e.height], [want.width, want.height]);
    assert.deepEqual(out, want.luma, `${w}×${h} at ${share}`);
  }
});
