import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hash256ToHex } from '../pdq/hash256.js';
import { pdqFromPixels } from '../pdq/pdq.js';
import { formatFixed3, parseVpdqText } from './format.js';
import { vpdqFeatureFromFrame, vpdqFeatures, vpdqFrameInterval, vpdqTimestamp, type RgbFrame } from './hasher.js';

const REFERENCE = fileURLToPath(new URL('../../../../shared/conformance/vpdq/reference-hashes/chair-19-sd-bar.txt', import.meta.url));

function noise(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 255;
  }
  return data;
}

test('frame interval is trunc(seconds × fps), at least 1', () => {
  assert.equal(vpdqFrameInterval(1, 30), 30);
  assert.equal(vpdqFrameInterval(1, 30000 / 1001), 29);
  assert.equal(vpdqFrameInterval(0, 30), 1);
  assert.equal(vpdqFrameInterval(1, 0.5), 1);
  assert.equal(vpdqFrameInterval(2.5, 24), 60);
  assert.equal(vpdqFrameInterval(0.1, 25), 2);
  assert.throws(() => vpdqFrameInterval(-1, 30), /secondsPerHash/);
  assert.throws(() => vpdqFrameInterval(1, 0), /fps/);
  assert.throws(() => vpdqFrameInterval(Number.NaN, 30), /secondsPerHash/);
});

test('timestamps are float32 frame / fps, as the reference writes them', () => {
  const reference = parseVpdqText(readFileSync(REFERENCE, 'utf8'));
  for (const f of reference) assert.equal(formatFixed3(vpdqTimestamp(f.frameNumber!, 30)), formatFixed3(f.timestamp), `frame ${f.frameNumber}`);
  // float32 arithmetic, not double: 1/3 in float32 differs from the double quotient.
  assert.equal(vpdqTimestamp(1, 3), Math.fround(1 / 3));
  assert.notEqual(vpdqTimestamp(1, 3), 1 / 3);
});

test('a frame hashes exactly like the same pixels as a PDQ image (64×64 shortcut, tiny frames)', () => {
  for (const [w, h] of [[64, 64], [65, 64], [480, 270], [4, 100], [5, 5]]) {
    const data = noise(w, h, w + h * 7);
    const frame: RgbFrame = { data, width: w, height: h, frameNumber: 3, timestamp: 0.1 };
    const feature = vpdqFeatureFromFrame(frame);
    const image = pdqFromPixels({ data, width: w, height: h, channels: 3 });
    assert.equal(hash256ToHex(feature.hash), hash256ToHex(image.hash), `${w}×${h}`);
    assert.equal(feature.quality, image.quality);
    assert.equal(feature.frameNumber, 3);
    assert.equal(feature.timestamp, 0.1);
  }
  assert.throws(() => vpdqFeatureFromFrame({ data: new Uint8Array(10), width: 4, height: 4, frameNumber: 0, timestamp: 0 }), /RGB24 frame/);
});

test('vpdqFeatures streams one feature per frame, in order, with a reused buffer', async () => {
  const shared = new Uint8Array(32 * 32 * 3);
  const expected: string[] = [];
  function* frames(): Generator<RgbFrame> {
    for (let i = 0; i < 5; i++) {
      shared.set(noise(32, 32, i + 1));
      expected.push(hash256ToHex(pdqFromPixels({ data: shared, width: 32, height: 32, channels: 3 }).hash));
      yield { data: shared, width: 32, height: 32, frameNumber: i * 30, timestamp: vpdqTimestamp(i * 30, 30) };
    }
  }
  const out = [];
  for await (const f of vpdqFeatures(frames())) out.push(f);
  assert.deepEqual(out.map((f) => f.frameNumber), [0, 30, 60, 90, 120]);
  assert.deepEqual(out.map((f) => hash256ToHex(f.hash)), expected);
});
