/**
 * Hostile inputs (issues #11 and #22): files whose headers promise far more than they hold, animations that
 * compose thousands of frames on a large canvas, truncated files, and clients that go away. Every file is
 * benign (flat colours, synthetic pictures with edited headers); ../shared/hostile is read in place.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { ItemBudget } from '../src/core/budget.js';
import { hashFile } from '../src/hashing/hash-file.js';
import { HashPool } from '../src/hashing/pool.js';
import { decodeImage } from '../src/media/image-decode.js';
import { implausiblePicture } from '../src/media/plausible.js';
import { HOSTILE, onePixelFrameGif } from './helpers/hostile.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-hostile-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A benign 512×512 picture: smooth gradients (compresses like a photo, hashes with full quality). */
async function gradientPng(): Promise<Buffer> {
  const size = 512;
  const rgb = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      rgb[i] = (x * 255) / size;
      rgb[i + 1] = (y * 255) / size;
      rgb[i + 2] = ((x ^ y) & 0x40) * 2;
    }
  }
  return sharp(rgb, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

describe('files in ../shared/hostile', () => {
  test('a JPEG whose SOF claims 14000×14000 in about 1 KB is unreadable, named as such, not hashed at quality 0', async () => {
    for (const name of ['img_jpeg_baseline_sof_14000sq_924B.jpg', 'img_jpeg_progressive_sof_14000sq.jpg']) {
      const record = await hashFile(join(HOSTILE, name));
      assert.equal(record.error?.code, 'VIGIL_ERR_UNREADABLE', name);
      assert.match(record.error.message, /declares 14000×14000.*can hold at most/);
      assert.equal(record.pdq, undefined);
      assert.ok(record.sha256, 'digests are still given');
    }
  });

  test('a 68-byte PNG declaring 65535×1 is unreadable (no all-zero hash)', async () => {
    const record = await hashFile(join(HOSTILE, 'img_png_65535x1_idat_10bytes_hashes_ok.png'));
    assert.equal(record.error?.code, 'VIGIL_ERR_UNREADABLE');
    assert.equal(record.pdq, undefined);
  });

  test('an animated WebP of 32×32 frames on a declared 6001×6001 canvas stops at the animation canvas limit', async () => {
    for (const name of ['img_webp_anim30_canvas_6001sq.webp', 'img_webp_anim240_canvas_6001sq.webp']) {
      const budget = new ItemBudget();
      const record = await hashFile(join(HOSTILE, name), {}, budget);
      assert.equal(record.error?.code, 'VIGIL_ERR_BUDGET', name);
      assert.match(record.error.message, /6001×6001 canvas/);
      assert.equal(budget.used.pixels, 0, 'nothing was composed');
    }
  });
});

describe('bounded work per item', () => {
  test('a 69 KB GIF of 3,000 one-pixel frames on 2000×2000 stops at the pixel budget, with its partial hashes', async () => {
    const path = join(dir, 'frames.gif');
    writeFileSync(path, onePixelFrameGif(2000, 2000, 3000));
    const budget = new ItemBudget();
    const record = await hashFile(path, {}, budget);
    assert.equal(record.error?.code, 'VIGIL_ERR_BUDGET');
    assert.match(record.error.message, /per-item budget of 128000000/);
    assert.ok(record.vpdq && record.vpdq.length > 0 && record.vpdq.length < 300, `partial vPDQ: ${record.vpdq?.length}`);
    assert.ok(budget.used.pixels <= budget.limits.pixels);
  });

  test('a smaller budget stops earlier; a cancelled budget stops before any decoding', async () => {
    const path = join(dir, 'frames-small.gif');
    writeFileSync(path, onePixelFrameGif(400, 400, 200));
    const whole = await hashFile(path, {}, new ItemBudget());
    assert.equal(whole.error, undefined);
    const small = await hashFile(path, {}, new ItemBudget({ pixels: 400 * 400 * 4 }));
    assert.equal(small.error?.code, 'VIGIL_ERR_BUDGET');
    assert.ok((small.vpdq?.length ?? 0) < (whole.vpdq?.length ?? 0));
    const cancelled = new ItemBudget();
    cancelled.cancel();
    assert.equal((await hashFile(path, {}, cancelled)).error?.code, 'VIGIL_ERR_CANCELLED');
    const frames = await hashFile(path, {}, new ItemBudget({ frames: 2 }));
    assert.equal(frames.error?.code, 'VIGIL_ERR_BUDGET');
  });

  test('cancelling an item in the pool stops it in the worker (the client went away)', async () => {
    const path = join(dir, 'frames-pool.gif');
    writeFileSync(path, onePixelFrameGif(2000, 2000, 3000));
    const pool = new HashPool({ threads: 1 });
    try {
      const budget = new ItemBudget();
      const pending = pool.hash(path, budget);
      budget.cancel();
      const record = await pending;
      assert.equal(record.error?.code, 'VIGIL_ERR_CANCELLED');
    } finally {
      await pool.close();
    }
  });

  test("the service's pool (by expected cost): heavy GIFs on their own threads, an ordinary picture beside them, the same records as in order", async () => {
    const gif = join(dir, 'frames-lanes.gif');
    writeFileSync(gif, onePixelFrameGif(2000, 2000, 3000));
    const picture = join(dir, 'ordinary.png');
    writeFileSync(picture, await gradientPng());
    const pool = new HashPool({ threads: 2, schedule: 'by-cost' });
    try {
      const [a, b, ordinary] = await Promise.all([pool.hash(gif), pool.hash(gif), pool.hash(picture)]);
      assert.equal(a.error?.code, 'VIGIL_ERR_BUDGET');
      assert.ok(a.vpdq!.length > 0);
      assert.deepEqual(b, a);
      assert.equal(ordinary.error, undefined);
      assert.deepEqual(ordinary, await hashFile(picture));
    } finally {
      await pool.close();
    }
  });
});

describe('truncated and reduced pictures', () => {
  test('a PNG cut in half hashes what decoded, flagged truncated', async () => {
    const png = await gradientPng();
    const path = join(dir, 'cut.png');
    writeFileSync(path, png.subarray(0, Math.floor(png.length / 2)));
    const record = await hashFile(path);
    assert.equal(record.error, undefined);
    assert.equal(record.truncated, true);
    assert.match(record.warning ?? '', /Damaged file/);
    assert.ok(record.pdq);
    const whole = join(dir, 'whole.png');
    writeFileSync(whole, png);
    assert.equal((await hashFile(whole)).truncated, undefined);
  });

  test('a picture over the full-decode size is decoded at 512×512 and marked reduced', async () => {
    const png = await gradientPng();
    const jpeg = await sharp(png).jpeg().toBuffer();
    const image = await decodeImage(jpeg, { fullDecodePixels: 100_000 });
    assert.equal(image.reduced, true);
    assert.equal(image.width, 512);
    assert.equal((await decodeImage(jpeg)).reduced, undefined);
  });

  test('honest files pass the plausibility floor; impossible headers do not', async () => {
    const png = await gradientPng();
    assert.equal(implausiblePicture(png), undefined);
    assert.equal(implausiblePicture(await sharp(png).jpeg().toBuffer()), undefined);
    // A flat 4000×4000 PNG (a small "bomb") is honest: deflate can hold it.
    const flat = await sharp({ create: { width: 4000, height: 4000, channels: 3, background: '#808080' } }).png().toBuffer();
    assert.equal(implausiblePicture(flat), undefined);
    const lying = Buffer.from(png);
    lying.writeUInt32BE(60000, 16);
    lying.writeUInt32BE(60000, 20);
    assert.match(implausiblePicture(lying.subarray(0, 2000)) ?? '', /declares 60000×60000/);
  });
});
