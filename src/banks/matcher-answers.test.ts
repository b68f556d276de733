// What a match tells an operator: video distance and frame counts, where a picture is shown in a video, the
// closest signal when nothing matched. Benign stand-ins: pseudo-random hashes, no pictures.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Hash256 } from '../signals/pdq/hash256.js';
import { hash256ToHex } from '../signals/pdq/hash256.js';
import { formatVpdqJson } from '../signals/vpdq/format.js';
import type { VpdqFeature } from '../signals/vpdq/hasher.js';
import { openStore } from '../store/store.js';
import type { Store } from '../store/types.js';
import { MapDigestIndex } from './_map-digest-index.js';
import { BankMatcher } from './matcher.js';
import { tempDir } from '../../test/helpers/temp.js';

let seed = 12345;
function next(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
const randomHash = (): Hash256 => Uint8Array.from({ length: 32 }, () => next() & 255);
/** A copy with exactly `bits` distinct bits flipped. */
function flip(hash: Hash256, bits: number): Hash256 {
  const h = Uint8Array.from(hash);
  for (let k = 0; k < bits; k++) h[k >> 3] ^= 1 << (k & 7);
  return h;
}
const frames = (hashes: Hash256[]): VpdqFeature[] => hashes.map((hash, i) => ({ hash, quality: 100, timestamp: i }));

const known = Array.from({ length: 12 }, randomHash);
const picture = randomHash();
const tight = randomHash();
let store: Store;
let matcher: BankMatcher;

before(async () => {
  store = await openStore(join(tempDir('matcher-answers'), 'm.db'));
  await store.createBank({ name: 'videos' });
  await store.createBank({ name: 'pictures' });
  await store.createBank({ name: 'tight', thresholds: { pdq: 8 } });
  await store.importList('videos', [{ kind: 'record', line: 1, record: { signals: [{ type: 'vpdq', value: formatVpdqJson(frames(known)) }], labels: {}, fileName: 'clip.mp4' } }]);
  await store.importList('pictures', [{ kind: 'record', line: 1, record: { signals: [{ type: 'pdq', value: hash256ToHex(picture) }], labels: {}, fileName: 'picture.jpg' } }]);
  await store.importList('tight', [{ kind: 'record', line: 1, record: { signals: [{ type: 'pdq', value: hash256ToHex(tight) }], labels: {}, sourceId: 'tight-1' } }]);
  matcher = new BankMatcher(store, { digestIndex: () => new MapDigestIndex() });
  await matcher.sync();
});

after(() => store.close());

test('a video match reports its distance and how many frames matched', async () => {
  // Frames 0..9 at 2, 4, …, 20 bits from the known video; 10 and 11 unrelated.
  const copy = known.map((h, i) => (i < 10 ? flip(h, 2 * (i + 1)) : randomHash()));
  const [m] = (await matcher.match({ vpdq: frames(copy) })).filter((x) => x.bank === 'videos');
  assert.equal(m.signalType, 'vpdq');
  assert.equal(m.distance, 10, 'the median of the matched frames');
  assert.equal(m.fileName, 'clip.mp4');
  const { queryMatchPercent, queryMatchedFrames, queryFrames, comparedMatchedFrames, comparedFrames, minDistance, queryRanges } = m.video!;
  assert.deepEqual([queryMatchedFrames, queryFrames, comparedMatchedFrames, comparedFrames, minDistance], [10, 12, 10, 12, 2]);
  assert.equal(queryMatchPercent, (10 * 100) / 12);
  assert.deepEqual(queryRanges, [{ start: 0, end: 10 }]);
  // The whole 12 s clip at 1 frame/s: 0–12 s.
  const [self] = await matcher.match({ vpdq: frames(known) });
  assert.deepEqual([self.distance, self.video!.queryRanges, self.video!.comparedRanges], [0, [{ start: 0, end: 12 }], [{ start: 0, end: 12 }]]);
});

test('a known picture in a video: every stretch it is shown, at its bank threshold', async () => {
  // Shown at 2–5 s (distances 3, 6, 9), gone at 5 s, back at 8 s (distance 12); a flat frame at 3 s is skipped.
  const video = frames(Array.from({ length: 10 }, randomHash));
  for (const [t, d] of [[2, 3], [3, 6], [4, 9], [8, 12]] as const) video[t] = { hash: flip(picture, d), quality: 100, timestamp: t };
  video.push({ hash: randomHash(), quality: 10, timestamp: 3 });
  const [m] = (await matcher.match({ vpdq: video })).filter((x) => x.bank === 'pictures');
  assert.deepEqual([m.distance, m.timestamp, m.timestampIn, m.fileName], [3, 2, 'query', 'picture.jpg']);
  assert.deepEqual(m.ranges, [{ start: 2, end: 5 }, { start: 8, end: 9 }]);
  // Frames beyond the bank's threshold (8 for 'tight') do not extend its stretch, though the search is wider.
  const tightVideo = frames([flip(tight, 4), flip(tight, 20), flip(tight, 6)]);
  const [t] = (await matcher.match({ vpdq: tightVideo })).filter((x) => x.bank === 'tight');
  assert.deepEqual(t.ranges, [{ start: 0, end: 1 }, { start: 2, end: 3 }]);
});

test('a still from a known video: where in the video it is shown', async () => {
  const [m] = (await matcher.match({ pdq: [{ view: 'original', quality: 100, hashes: [flip(known[4], 5)] }] })).filter((x) => x.bank === 'videos');
  assert.deepEqual([m.distance, m.timestamp, m.timestampIn, m.ranges], [5, 4, 'known', [{ start: 4, end: 5 }]]);
});

test('nearest: the closest signal within N bits even when nothing matched, with its threshold', async () => {
  const far = flip(tight, 40);
  assert.deepEqual(await matcher.match({ pdq: [{ view: 'original', quality: 100, hashes: [far] }] }), []);
  const n = await matcher.nearest({ pdq: [{ view: 'original', quality: 100, hashes: [far] }] }, 64);
  assert.deepEqual([n?.bank, n?.distance, n?.threshold, n?.sourceId, n?.view], ['tight', 40, 8, 'tight-1', 'original']);
  assert.equal(await matcher.nearest({ pdq: [{ view: 'original', quality: 100, hashes: [far] }] }, 39), undefined);
  // Frames of a known video count too (a still of it), and so do a query video's frames.
  const near = await matcher.nearest({ pdq: [{ view: 'original', quality: 100, hashes: [flip(known[7], 50)] }] }, 60);
  assert.deepEqual([near?.bank, near?.signalType, near?.distance, near?.timestamp, near?.timestampIn, near?.fileName], ['videos', 'vpdq', 50, 7, 'known', 'clip.mp4']);
  const inVideo = await matcher.nearest({ vpdq: frames([randomHash(), flip(picture, 45)]) }, 60);
  assert.deepEqual([inVideo?.bank, inVideo?.distance, inVideo?.timestamp, inVideo?.view], ['pictures', 45, 1, 'frame']);
  await assert.rejects(matcher.nearest({}, 300), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
});
