import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { syntheticRgb } from '../../test/helpers/images.js';
import { PDQ_DIR, requireShared } from '../../test/helpers/shared.js';
import { hammingDistance256, hash256FromHex } from '../signals/pdq/hash256.js';
import { hashImageBytes, type FileHashRecord } from './hash-file.js';

const raw = (w: number, h: number, seed = 3) => sharp(syntheticRgb(w, h, seed), { raw: { width: w, height: h, channels: 3 } });
const hashOf = async (bytes: Buffer, views = true) => hashImageBytes(bytes, { path: 'test' }, views ? { views: true } : {});
const view = (r: FileHashRecord, name: string) => r.views?.find((v) => v.view === name);
const distance = (a: string, b: string) => hammingDistance256(hash256FromHex(a), hash256FromHex(b));
/** Smallest distance from `want` to a view's hash in any of its 8 orientations. */
const nearest = (r: FileHashRecord, name: string, want: string) => {
  const v = name === 'original' ? { pdq: r.pdq!, dihedral: r.dihedral } : view(r, name)!;
  return Math.min(distance(v.pdq, want), ...Object.values(v.dihedral ?? {}).map((h) => distance(h!, want)));
};

test('views: only those that differ from the picture as stored', async () => {
  const names = async (w: number, h: number) => ((await hashOf(await raw(w, h).png().toBuffer())).views ?? []).map((v) => v.view);
  assert.deepEqual(await names(300, 200), ['uncropped', 'uncropped-2.5', 'uncropped-7.5', 'rescaled-256', 'rescaled-64']);
  // Already 256×256: rescaled-256 would be the picture itself.
  assert.deepEqual(await names(256, 256), ['uncropped', 'uncropped-2.5', 'uncropped-7.5', 'rescaled-64']);
  // Larger than a thumbnail's copy plausibly is.
  assert.ok(!(await names(1100, 700)).includes('rescaled-256'));
  assert.equal((await hashOf(await raw(300, 200).png().toBuffer(), false)).views, undefined);
  // A 6-px picture's three uncrops are the same extension: one is kept.
  assert.deepEqual(await names(6, 6), ['uncropped', 'rescaled-256', 'rescaled-64']);
});

test('a picture with its own bars, letterboxed again: trimmed-rows is the picture as listed', async () => {
  const listed = await raw(240, 160).extend({ left: 20, right: 20, background: '#000' }).png().toBuffer();
  const copy = await sharp(listed).extend({ top: 30, bottom: 30, background: '#000' }).png().toBuffer();
  const want = (await hashOf(listed, false)).pdq!;
  const r = await hashOf(copy);
  assert.equal(view(r, 'trimmed')!.box!.width, 240);
  assert.equal(view(r, 'trimmed-rows')!.pdq, want);
  assert.deepEqual(view(r, 'trimmed-columns')!.box, { x: 20, y: 0, width: 240, height: 220 });
});

test('a sticker around a picture with its own bars: trimmed-outer is the picture as listed', async () => {
  const listed = await raw(240, 160).extend({ left: 20, right: 20, background: '#000' }).png().toBuffer();
  const copy = await sharp({ create: { width: 420, height: 300, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).composite([{ input: listed, left: 70, top: 60 }]).png().toBuffer();
  const r = await hashOf(copy);
  assert.equal(view(r, 'trimmed-outer')!.pdq, (await hashOf(listed, false)).pdq);
  assert.equal(view(r, 'trimmed')!.box!.width, 240);
});

test('uncropped views bring a cropped copy of a photo back within the match threshold', async () => {
  requireShared();
  const listed = readFileSync(join(PDQ_DIR, 'misc-images/c.png'));
  const { width: W, height: H } = await sharp(listed).metadata();
  const want = (await hashOf(listed, false)).pdq!;
  for (const [share, name] of [[0.05, 'uncropped'], [0.025, 'uncropped-2.5'], [0.075, 'uncropped-7.5']] as const) {
    const left = Math.round(W! * share);
    const top = Math.round(H! * share);
    const copy = await sharp(listed).extract({ left, top, width: W! - 2 * left, height: H! - 2 * top }).jpeg({ quality: 90 }).toBuffer();
    const r = await hashOf(copy);
    const through = nearest(r, name, want);
    assert.ok(through <= 31 && through < nearest(r, 'original', want), `${name}: ${through} vs as stored ${nearest(r, 'original', want)}`);
  }
});

test('rescaled-256 brings a rescaled copy of a 256-px thumbnail back to the size it was listed at', async () => {
  const listed = await raw(256, 256, 7).png().toBuffer();
  const want = (await hashOf(listed, false)).pdq!;
  const r = await hashOf(await sharp(listed).resize(300).png().toBuffer());
  assert.ok(nearest(r, 'rescaled-256', want) < nearest(r, 'original', want), `${nearest(r, 'rescaled-256', want)} vs ${nearest(r, 'original', want)}`);
  assert.ok(nearest(r, 'rescaled-256', want) <= 31);
});

test('oriented, sampled at the reference size, equals hashing with the orientation applied', async () => {
  const tagged = await raw(700, 530).jpeg({ quality: 92 }).withMetadata({ orientation: 6 }).toBuffer();
  const r = await hashOf(tagged);
  const applied = await hashImageBytes(tagged, { path: 'test' }, { applyExifOrientation: true });
  assert.equal(view(r, 'oriented')!.pdq, applied.pdq);
});

test('a strip (content over 4:1) gets no derived views: squashed to a square it matches other strips', async () => {
  const strip = await sharp(syntheticRgb(400, 40, 5), { raw: { width: 400, height: 40, channels: 3 } }).png().toBuffer();
  const r = await hashImageBytes(strip, { path: 'strip.png' }, { views: true });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.views, []);
  const square = await sharp(syntheticRgb(160, 120, 5), { raw: { width: 160, height: 120, channels: 3 } }).png().toBuffer();
  assert.ok(((await hashImageBytes(square, { path: 'square.png' }, { views: true })).views ?? []).length > 0);
});
