import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { syntheticRgb } from '../../test/helpers/images.js';
import { decodeImage } from './image-decode.js';
import { lumaFromPixels } from '../signals/pdq/luma.js';
import { cropPixels, extendLuma, findContentBox, findContentBoxes, findContentFrames, orientPixels, resampleLuma } from './views.js';

const W = 120;
const H = 80;
const picture = () => sharp(syntheticRgb(W, H, 4), { raw: { width: W, height: H, channels: 3 } });

test('letterbox and pillarbox bars are trimmed back to the picture', async () => {
  const boxed = await decodeImage(await picture().extend({ top: 20, bottom: 20, background: '#000' }).png().toBuffer());
  assert.deepEqual(findContentBox(boxed), { x: 0, y: 20, width: W, height: H });
  const pillar = await decodeImage(await picture().extend({ left: 15, right: 15, background: '#000' }).png().toBuffer());
  assert.deepEqual(findContentBox(pillar), { x: 15, y: 0, width: W, height: H });
});

test('a frame around letterbox bars is peeled in two steps, both reported', async () => {
  const inner = await picture().extend({ top: 12, bottom: 12, background: '#000' }).png().toBuffer();
  const framed = await decodeImage(await sharp(inner).extend({ top: 6, bottom: 6, left: 6, right: 6, background: '#fafafa' }).png().toBuffer());
  const boxes = findContentBoxes(framed);
  assert.deepEqual(boxes.at(-1), { x: 6, y: 18, width: W, height: H });
  assert.deepEqual(boxes[0], { x: 6, y: 6, width: W, height: H + 24 });
});

test('transparent sticker padding is trimmed, even when one-sided', async () => {
  const inner = await picture().png().toBuffer();
  const sticker = await sharp({ create: { width: 200, height: 160, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).composite([{ input: inner, left: 0, top: 40 }]).png().toBuffer();
  const decoded = await decodeImage(sticker, { keepAlpha: true });
  assert.equal(decoded.channels, 3);
  assert.deepEqual(findContentBox(decoded, decoded.alpha), { x: 0, y: 40, width: W, height: H });
});

test('transparent padding is peeled on alpha alone: the picture keeps its own black bars for the next pass', async () => {
  const barred = await picture().extend({ left: 10, right: 10, background: '#000' }).png().toBuffer();
  // Black under the transparency, like most sticker canvases.
  const sticker = await sharp({ create: { width: 220, height: 140, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).composite([{ input: barred, left: 40, top: 30 }]).png().toBuffer();
  const decoded = await decodeImage(sticker, { keepAlpha: true });
  assert.deepEqual(findContentBoxes(decoded, decoded.alpha), [{ x: 40, y: 30, width: W + 20, height: H }, { x: 50, y: 30, width: W, height: H }]);
});

test('JPEG ringing next to busy content does not keep a line of the bar with the picture', async () => {
  // Noise content rings into the bar rows beside it; the box must still be exact.
  const noise = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 2654435761) >>> 24);
  const boxed = await sharp(noise, { raw: { width: W, height: H, channels: 3 } }).extend({ top: 21, bottom: 21, background: '#000' }).jpeg({ quality: 90 }).toBuffer();
  assert.deepEqual(findContentBox(await decodeImage(boxed)), { x: 0, y: 21, width: W, height: H });
});

test('bars on both axes at once: partial boxes keep either pair (the picture may have had its own)', async () => {
  const pillarboxed = await picture().extend({ left: 12, right: 12, background: '#000' }).png().toBuffer();
  const both = await decodeImage(await sharp(pillarboxed).extend({ top: 20, bottom: 20, background: '#000' }).png().toBuffer());
  const frames = findContentFrames(both);
  assert.deepEqual(frames.boxes, [{ x: 12, y: 20, width: W, height: H }]);
  assert.deepEqual(frames.partial, [{ x: 0, y: 20, width: W + 24, height: H }, { x: 12, y: 0, width: W, height: H + 40 }]);
  assert.deepEqual(findContentFrames(await decodeImage(pillarboxed)).partial, []);
});

test('a flat area of the picture on one edge is not a border; a plain picture has none', async () => {
  const oneSided = await decodeImage(await picture().extend({ top: 25, background: '#000' }).png().toBuffer());
  assert.equal(findContentBox(oneSided), undefined);
  assert.equal(findContentBox(await decodeImage(await picture().png().toBuffer())), undefined);
});

test('EXIF orientations 2..8 match what sharp shows for them', async () => {
  const stored = await picture().png().toBuffer();
  for (let orientation = 2; orientation <= 8; orientation++) {
    const tagged = await sharp(stored).withMetadata({ orientation }).png().toBuffer();
    const shown = await sharp(tagged).autoOrient().raw().toBuffer({ resolveWithObject: true });
    const asStored = await decodeImage(tagged);
    assert.equal(asStored.orientation, orientation);
    const ours = orientPixels(asStored, orientation);
    assert.deepEqual([ours.width, ours.height], [shown.info.width, shown.info.height], `orientation ${orientation}`);
    assert.ok(Buffer.from(ours.data).equals(shown.data), `orientation ${orientation}: pixels differ`);
  }
});

test('orientation sampled to the reference size equals orienting in full, then the reference resize', () => {
  const big = { data: Uint8Array.from({ length: 700 * 530 * 3 }, (_, i) => (i * 7919) % 251), width: 700, height: 530, channels: 3 as const };
  for (let orientation = 2; orientation <= 8; orientation++) {
    const sampled = orientPixels(big, orientation, 512);
    assert.deepEqual([sampled.width, sampled.height], [512, 512]);
    const full = lumaFromPixels(orientPixels(big, orientation), undefined, 512);
    assert.ok(Buffer.from(lumaFromPixels(sampled).buffer).equals(Buffer.from(full.buffer)), `orientation ${orientation}`);
  }
});

test('crop, and crop sampled to the reference size equals the reference resize of the full crop', () => {
  const p = { data: Uint8Array.from({ length: 4 * 3 }, (_, i) => i), width: 4, height: 3, channels: 1 as const };
  assert.deepEqual(Array.from(cropPixels(p, { x: 1, y: 1, width: 2, height: 2 }).data), [5, 6, 9, 10]);
  const big = { data: Uint8Array.from({ length: 900 * 700 * 3 }, (_, i) => (i * 7919) % 251), width: 900, height: 700, channels: 3 as const };
  const box = { x: 13, y: 7, width: 801, height: 650 };
  const full = cropPixels(big, box);
  const sampled = cropPixels(big, box, 512);
  assert.deepEqual([sampled.width, sampled.height], [512, 512]);
  assert.ok(Buffer.from(lumaFromPixels(sampled).buffer).equals(Buffer.from(lumaFromPixels(full, undefined, 512).buffer)));
});

test('extendLuma keeps the picture in the middle and fills the band with the local mean', () => {
  // Left half 0, right half 200, with a 100 stripe on the first column: replicating it would streak.
  const w = 40;
  const h = 20;
  const luma = Float32Array.from({ length: w * h }, (_, i) => (i % w === 0 ? 100 : i % w < w / 2 ? 0 : 200));
  const out = extendLuma(luma, w, h, 0.1);
  assert.deepEqual([out.width, out.height], [48, 24]);
  assert.equal(out.luma[2 * 48 + 4 + 5], 0);
  assert.equal(out.luma[2 * 48 + 4 + 30], 200);
  const leftBand = out.luma[12 * 48 + 1];
  assert.ok(leftBand > 0 && leftBand < 60, `left band ${leftBand}: blurred, not the stripe repeated`);
  assert.ok(Math.abs(out.luma[12 * 48 + 46] - 200) < 1e-3);
});

test('resampleLuma: identity at the same size, means kept when shrinking or growing', () => {
  const luma = Float32Array.from({ length: 30 * 20 }, (_, i) => (i * 37) % 255);
  assert.deepEqual(Array.from(resampleLuma(luma, 30, 20, 30, 20)), Array.from(luma));
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
  const flat = new Float32Array(30 * 20).fill(77);
  for (const [w, h] of [[7, 5], [64, 64], [90, 13]]) assert.ok(resampleLuma(flat, 30, 20, w, h).every((v) => Math.abs(v - 77) < 1e-3));
  assert.ok(Math.abs(mean(resampleLuma(luma, 30, 20, 10, 10)) - mean(luma)) < 8);
});
