import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { syntheticRgb } from '../../test/helpers/images.js';
import { decodeImage } from './image-decode.js';
import { lumaFromPixels } from '../signals/pdq/luma.js';
import { cropPixels, extendLuma, findContentBox, findContentBoxes, findContentFrames, flattenPixels, orientPixels, paddingToRepaint, resampleLuma } from './views.js';

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

/** `inner` (RGB) centred in `pad` pixels of `colour` on each side given. */
function padRgb(inner: Uint8Array, w: number, h: number, pad: { top: number; bottom: number; left: number; right: number }, colour: number[]) {
  const ow = w + pad.left + pad.right;
  const oh = h + pad.top + pad.bottom;
  const out = new Uint8Array(ow * oh * 3);
  for (let p = 0; p < ow * oh; p++) out.set(colour, p * 3);
  for (let y = 0; y < h; y++) out.set(inner.subarray(y * w * 3, (y + 1) * w * 3), ((y + pad.top) * ow + pad.left) * 3);
  return { data: out, width: ow, height: oh };
}

/**
 * What a chroma-subsampled JPEG does to colour, without the codec: chroma averaged over sx × sy blocks, then
 * brought back to full size by linear interpolation between block centres (libjpeg's "fancy" upsampling).
 */
function smearChroma(rgb: Uint8Array, w: number, h: number, sx: number, sy: number): Uint8Array {
  const bw = Math.ceil(w / sx);
  const bh = Math.ceil(h / sy);
  const cb = new Float64Array(bw * bh);
  const cr = new Float64Array(bw * bh);
  const n = new Float64Array(bw * bh);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const [r, g, b] = rgb.subarray((y * w + x) * 3, (y * w + x) * 3 + 3);
    const k = Math.floor(y / sy) * bw + Math.floor(x / sx);
    cb[k] += -0.168736 * r - 0.331264 * g + 0.5 * b;
    cr[k] += 0.5 * r - 0.418688 * g - 0.081312 * b;
    n[k]++;
  }
  const at = (plane: Float64Array, u: number, v: number) => plane[v * bw + u] / n[v * bw + u];
  const lerp = (plane: Float64Array, x: number, y: number) => {
    const fu = Math.min(bw - 1, Math.max(0, (x - (sx - 1) / 2) / sx));
    const fv = Math.min(bh - 1, Math.max(0, (y - (sy - 1) / 2) / sy));
    const u = Math.floor(fu);
    const v = Math.floor(fv);
    const u1 = Math.min(bw - 1, u + 1);
    const v1 = Math.min(bh - 1, v + 1);
    const top = at(plane, u, v) * (1 - (fu - u)) + at(plane, u1, v) * (fu - u);
    const bottom = at(plane, u, v1) * (1 - (fu - u)) + at(plane, u1, v1) * (fu - u);
    return top * (1 - (fv - v)) + bottom * (fv - v);
  };
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    const luma = 0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2];
    const b = lerp(cb, x, y);
    const r = lerp(cr, x, y);
    out[i] = Math.round(Math.min(255, Math.max(0, luma + 1.402 * r)));
    out[i + 1] = Math.round(Math.min(255, Math.max(0, luma - 0.344136 * b - 0.714136 * r)));
    out[i + 2] = Math.round(Math.min(255, Math.max(0, luma + 1.772 * b)));
  }
  return out;
}

test('letterbox bars inside a coloured frame are peeled through chroma-subsampling smear (4:2:0, 4:2:2)', () => {
  // A gradient picture, black letterbox bars, a red frame of odd width (the chroma block straddles the edge).
  const boxed = padRgb(syntheticRgb(W, H, 4), W, H, { top: 13, bottom: 13, left: 0, right: 0 }, [0, 0, 0]);
  const framed = padRgb(boxed.data, boxed.width, boxed.height, { top: 7, bottom: 7, left: 7, right: 7 }, [200, 40, 60]);
  for (const [sx, sy] of [[2, 2], [2, 1]]) {
    const pixels = { data: smearChroma(framed.data, framed.width, framed.height, sx, sy), width: framed.width, height: framed.height, channels: 3 as const };
    // One frame (the picture with its bars), then the picture: the band where red meets black is neither a frame of its own nor kept.
    assert.deepEqual(findContentBoxes(pixels), [{ x: 7, y: 7, width: W, height: H + 26 }, { x: 7, y: 20, width: W, height: H }], `${sx}×${sy}`);
  }
});

test('through a real 4:2:0 JPEG too: frame and bars peeled to the picture', async () => {
  const boxed = padRgb(syntheticRgb(W, H, 4), W, H, { top: 13, bottom: 13, left: 0, right: 0 }, [0, 0, 0]);
  const framed = padRgb(boxed.data, boxed.width, boxed.height, { top: 9, bottom: 9, left: 9, right: 9 }, [30, 90, 220]);
  const jpeg = await sharp(framed.data, { raw: { width: framed.width, height: framed.height, channels: 3 } }).jpeg({ quality: 92, chromaSubsampling: '4:2:0' }).toBuffer();
  assert.deepEqual(findContentBox(await decodeImage(jpeg)), { x: 9, y: 22, width: W, height: H });
});

test('a band of changing colour inside the picture, on one edge only, is still content', () => {
  // A flat top edge that shades into the picture: one-sided, so never a border, smear or not.
  const inner = syntheticRgb(W, H, 4);
  const shaded = padRgb(inner, W, H, { top: 3, bottom: 0, left: 0, right: 0 }, [90, 90, 90]);
  const pixels = { data: smearChroma(shaded.data, shaded.width, shaded.height, 2, 2), width: shaded.width, height: shaded.height, channels: 3 as const };
  assert.equal(findContentBox(pixels), undefined);
});

test('padding to repaint: transparency over black → white, over white → black; a flattened sticker\'s frame', () => {
  const w = 6;
  const h = 4;
  const rgb = (v: number) => ({ data: new Uint8Array(w * h * 3).fill(v), width: w, height: h, channels: 3 as const });
  const alpha = new Uint8Array(w * h).fill(255);
  alpha[0] = 0;
  alpha[1] = 128;
  assert.deepEqual(paddingToRepaint(rgb(0), alpha), { background: 255 });
  assert.deepEqual(paddingToRepaint(rgb(255), alpha), { background: 0 });
  assert.equal(paddingToRepaint(rgb(0), new Uint8Array(w * h).fill(255)), undefined, 'opaque alpha');
  const inner = { x: 1, y: 1, width: 4, height: 2 };
  assert.deepEqual(paddingToRepaint(rgb(3), undefined, inner), { background: 255, content: inner });
  assert.deepEqual(paddingToRepaint(rgb(250), undefined, inner), { background: 0, content: inner });
  assert.equal(paddingToRepaint(rgb(128), undefined, inner), undefined, 'a grey frame is not a flattened sticker');
  assert.equal(paddingToRepaint(rgb(0), undefined, { x: 0, y: 1, width: 6, height: 2 }), undefined, 'letterbox bars are not a sticker canvas');
  // Composited over the colour; outside the content, painted.
  const flat = flattenPixels(rgb(100), { background: 255 }, alpha);
  assert.deepEqual(Array.from(flat.data.subarray(0, 9)), [255, 255, 255, 177, 177, 177, 100, 100, 100]);
  const painted = flattenPixels(rgb(100), { background: 0, content: inner });
  assert.deepEqual(Array.from(painted.data.filter((_, i) => i % 3 === 0)), [0, 0, 0, 0, 0, 0, 0, 100, 100, 100, 100, 0, 0, 100, 100, 100, 100, 0, 0, 0, 0, 0, 0, 0]);
});

test('flattening sampled to the reference size equals flattening in full, then the reference resize', () => {
  const big = { data: Uint8Array.from({ length: 700 * 530 * 3 }, (_, i) => (i * 7919) % 251), width: 700, height: 530, channels: 3 as const };
  const alpha = Uint8Array.from({ length: 700 * 530 }, (_, i) => (i * 31) % 256);
  const sampled = flattenPixels(big, { background: 255 }, alpha, 512);
  assert.deepEqual([sampled.width, sampled.height], [512, 512]);
  const full = lumaFromPixels(flattenPixels(big, { background: 255 }, alpha), undefined, 512);
  assert.ok(Buffer.from(lumaFromPixels(sampled).buffer).equals(Buffer.from(full.buffer)));
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
