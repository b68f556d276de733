import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { syntheticRgb } from '../../test/helpers/images.js';
import { decodeImage } from './image-decode.js';
import { cropPixels, findContentBox, findContentBoxes, orientPixels, padReplicate } from './views.js';

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

test('crop and edge-replicating pad', () => {
  const p = { data: Uint8Array.from({ length: 4 * 3 }, (_, i) => i), width: 4, height: 3, channels: 1 as const };
  assert.deepEqual(Array.from(cropPixels(p, { x: 1, y: 1, width: 2, height: 2 }).data), [5, 6, 9, 10]);
  const padded = padReplicate(p, 0.25);
  assert.deepEqual([padded.width, padded.height], [6, 5]);
  assert.equal(padded.data[0], 0);
  assert.equal(padded.data[padded.data.length - 1], 11);
});
