import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RgbFrame } from './hasher.js';
import { detectLetterbox, unletterboxFrame } from './unletterbox.js';

/** A w×h frame: grey picture inside `bars` ({left, right, top, bottom}) of the given colour. */
function framed(w: number, h: number, bars: { left: number; right: number; top: number; bottom: number }, bar = 0): RgbFrame {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = x >= bars.left && x < w - bars.right && y >= bars.top && y < h - bars.bottom;
      data.fill(inside ? 100 + ((x * 7 + y * 13) % 100) : bar, (y * w + x) * 3, (y * w + x) * 3 + 3);
    }
  }
  return { data, width: w, height: h, frameNumber: 0, timestamp: 0 };
}

test('black bars are found on every side and cropped off', () => {
  const frame = framed(20, 12, { left: 3, right: 2, top: 1, bottom: 4 });
  assert.deepEqual(detectLetterbox(frame), { left: 3, top: 1, width: 15, height: 7 });
  const cropped = unletterboxFrame(frame);
  assert.deepEqual([cropped.width, cropped.height, cropped.data.length], [15, 7, 15 * 7 * 3]);
  assert.ok(cropped.data.every((v) => v >= 100), 'only picture left');
  assert.equal(cropped.data[0], frame.data[(1 * 20 + 3) * 3]);
});

test('the threshold is PIL luma < 40; frames without bars or entirely black are left alone', () => {
  assert.deepEqual(detectLetterbox(framed(10, 10, { left: 2, right: 0, top: 0, bottom: 0 }, 39)), { left: 2, top: 0, width: 8, height: 10 });
  assert.equal(detectLetterbox(framed(10, 10, { left: 2, right: 0, top: 0, bottom: 0 }, 40)), undefined);
  const plain = framed(10, 10, { left: 0, right: 0, top: 0, bottom: 0 });
  assert.equal(unletterboxFrame(plain), plain);
  const black = framed(10, 10, { left: 10, right: 0, top: 0, bottom: 0 });
  assert.equal(unletterboxFrame(black), black);
  // A dark but not black picture edge stays with a lower threshold.
  assert.equal(detectLetterbox(framed(10, 10, { left: 2, right: 0, top: 0, bottom: 0 }, 20), 10), undefined);
});
