import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hammingDistance256, type Hash256 } from '../pdq/hash256.js';
import type { VpdqFeature } from './hasher.js';
import { findImagesInVideo } from './image-match.js';
import { matchVpdq, prepareVpdqFeatures } from './match.js';
import { FlatFrameHashIndex, VpdqVideoIndex, type FrameHashSearch } from './video-index.js';

/** Deterministic pseudo-random 256-bit hashes. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}
function randomHash(next: () => number): Hash256 {
  const h = new Uint8Array(32);
  for (let i = 0; i < 32; i++) h[i] = next() & 255;
  return h;
}
/** A copy of `hash` with exactly `bits` distinct bits flipped. */
function flip(hash: Hash256, bits: number, next: () => number): Hash256 {
  const h = Uint8Array.from(hash);
  const chosen = new Set<number>();
  while (chosen.size < bits) chosen.add(next() % 256);
  for (const k of chosen) h[k >> 3] ^= 1 << (k & 7);
  return h;
}
function video(hashes: Hash256[], quality = 100, start = 0): VpdqFeature[] {
  return hashes.map((hash, i) => ({ hash, quality, timestamp: start + i, frameNumber: (start + i) * 30 }));
}

test('matching follows the reference rule: ≤ 31 per frame, 80 % of the query, both percentages', () => {
  const next = rng(1);
  const base = Array.from({ length: 10 }, () => randomHash(next));
  const near = base.map((h) => flip(h, 31, next));
  const far = base.map((h) => flip(h, 32, next));
  const same = matchVpdq(video(base), video(near));
  assert.equal(same.queryMatchPercent, 100);
  assert.equal(same.comparedMatchPercent, 100);
  assert.equal(same.isMatch, true);
  // Distance 32 is not a match (each far frame is 32 from its original and ~128 from the others).
  const apart = matchVpdq(video(base), video(far));
  assert.equal(apart.queryMatchPercent, 0);
  assert.equal(apart.isMatch, false);
  // 8 of 10 query frames match: exactly the 80 % threshold.
  const eight = matchVpdq(video(base), video([...near.slice(0, 8), ...far.slice(8)]));
  assert.equal(eight.queryMatchPercent, 80);
  assert.equal(eight.queryMatchedFrames, 8);
  assert.equal(eight.isMatch, true);
  const seven = matchVpdq(video(base), video([...near.slice(0, 7), ...far.slice(7)]));
  assert.equal(seven.queryMatchPercent, 70);
  assert.equal(seven.isMatch, false);
  // A short clip inside a long video: the query is covered, the long video only partly.
  const long = [...Array.from({ length: 30 }, () => randomHash(next)), ...near];
  const clip = matchVpdq(video(base), video(long));
  assert.equal(clip.queryMatchPercent, 100);
  assert.equal(clip.comparedMatchPercent, 25);
  assert.equal(clip.isMatch, true);
  assert.equal(matchVpdq(video(base), video(long), { comparedMatchPercent: 50 }).isMatch, false);
  assert.equal(matchVpdq(video(long), video(base)).isMatch, false, 'the long video is not 80 % inside the clip');
  // Where: the clip sits at 30..39 s of the long video.
  assert.deepEqual(clip.comparedRanges, [{ start: 30, end: 40 }]);
  assert.deepEqual(clip.queryRanges, [{ start: 0, end: 10 }]);
});

test('quality filter, then dedupe; an empty side is 0 % and no match', () => {
  const next = rng(2);
  const a = randomHash(next);
  const b = randomHash(next);
  const features: VpdqFeature[] = [
    { hash: a, quality: 40, timestamp: 0 },
    { hash: a, quality: 90, timestamp: 1 },
    { hash: b, quality: 50, timestamp: 2 },
    { hash: b, quality: 100, timestamp: 3 },
  ];
  const prepared = prepareVpdqFeatures(features);
  assert.deepEqual(prepared.map((f) => f.timestamp), [1, 2]);
  const lowOnly = video([a, b], 49);
  const result = matchVpdq(lowOnly, video([a, b]));
  assert.deepEqual([result.queryMatchPercent, result.comparedMatchPercent, result.isMatch], [0, 0, false]);
  assert.equal(matchVpdq([], video([a])).isMatch, false);
  // Duplicates count once: 3 copies of a matching frame and 1 other frame is 50 %, not 75 %.
  const dup = matchVpdq(video([a, a, a, b]), video([a]));
  assert.equal(dup.queryMatchPercent, 50);
  assert.equal(dup.queryFrames, 2);
  // …but every copy shows in the ranges.
  assert.deepEqual(dup.queryRanges, [{ start: 0, end: 3 }]);
});

test('the flat frame-hash index finds exactly the hashes within the radius', () => {
  const next = rng(3);
  const stored = Array.from({ length: 3000 }, () => randomHash(next));
  const index = FlatFrameHashIndex.from(stored);
  assert.equal(index.size, 3000);
  for (let q = 0; q < 20; q++) {
    const query = flip(stored[q * 100], q, next);
    for (const radius of [0, 31, 120]) {
      const expected = stored.flatMap((h, id) => (hammingDistance256(h, query) <= radius ? [{ id, distance: hammingDistance256(h, query) }] : []));
      assert.deepEqual(index.search(query, radius).sort((x, y) => x.id - y.id), expected, `query ${q} radius ${radius}`);
    }
  }
});

test('the video index gives the same percentages as brute-force matching, video by video', () => {
  const next = rng(4);
  // 40 videos made of shared "scenes" so that videos overlap partly; some frames low quality.
  const scenes = Array.from({ length: 60 }, () => randomHash(next));
  const videos = Array.from({ length: 40 }, (_, v) =>
    Array.from({ length: 5 + (v % 17) }, (_, i): VpdqFeature => ({
      hash: flip(scenes[(v * 7 + i * 3) % 60], next() % 20, next),
      quality: (v + i) % 9 === 0 ? 30 : 100,
      timestamp: i,
      frameNumber: i,
    })),
  );
  const index = new VpdqVideoIndex<string>();
  videos.forEach((features, v) => index.add(`video-${v}`, features));
  assert.equal(index.videoCount, 40);
  for (let q = 0; q < 12; q++) {
    const query = videos[q * 3].map((f) => ({ ...f, hash: flip(f.hash, next() % 12, next) }));
    const fromIndex = index.query(query, { queryMatchPercent: 0 });
    const brute = videos
      .map((features, v) => ({ v, r: matchVpdq(query, features, { queryMatchPercent: 0 }) }))
      .filter(({ r }) => r.queryMatchedFrames > 0);
    assert.deepEqual(
      fromIndex.map((m) => [m.entry, m.queryMatchPercent, m.comparedMatchPercent, m.distance, m.minDistance, m.queryRanges, m.comparedRanges]).sort(),
      brute.map(({ v, r }) => [`video-${v}`, r.queryMatchPercent, r.comparedMatchPercent, r.distance, r.minDistance, r.queryRanges, r.comparedRanges]).sort(),
      `query ${q}`,
    );
    // With the default thresholds only ≥ 80 % results remain, best first.
    const defaults = index.query(query);
    assert.ok(defaults.every((m) => m.queryMatchPercent >= 80));
    assert.ok(defaults.some((m) => m.entry === `video-${q * 3}`), `query ${q} finds its own video`);
    for (let i = 1; i < defaults.length; i++) assert.ok(defaults[i - 1].queryMatchPercent >= defaults[i].queryMatchPercent);
  }
  index.remove(0);
  assert.ok(!index.query(videos[0]).some((m) => m.entry === 'video-0'));
  assert.equal(index.videoCount, 39);
});

test('the video index works through any FrameHashSearch', () => {
  const calls: number[] = [];
  class Recording implements FrameHashSearch {
    readonly flat = new FlatFrameHashIndex();
    add(id: number, hash: Hash256): void {
      this.flat.add(id, hash);
    }
    search(hash: Hash256, radius: number) {
      calls.push(radius);
      return this.flat.search(hash, radius);
    }
  }
  const next = rng(5);
  const frames = Array.from({ length: 6 }, () => randomHash(next));
  const index = new VpdqVideoIndex({ search: new Recording(), distanceThreshold: 10 });
  index.add('a', video(frames));
  index.add('b', video(frames.slice(0, 3)));
  assert.equal(index.frameHashCount, 6, 'distinct hashes stored once');
  const matches = index.query(video(frames.slice(0, 3).map((h) => flip(h, 10, next))));
  assert.deepEqual(matches.map((m) => [m.entry, m.queryMatchPercent, m.comparedMatchPercent]), [['b', 100, 100], ['a', 100, 50]]);
  assert.deepEqual(calls, [10, 10, 10]);
});

test('a known image is found inside a video, with its timestamps', () => {
  const next = rng(6);
  const picture = randomHash(next);
  const other = randomHash(next);
  const frames = [
    ...video(Array.from({ length: 5 }, () => randomHash(next))),
    ...video([flip(picture, 12, next), flip(picture, 4, next), flip(picture, 20, next)], 100, 5),
    ...video(Array.from({ length: 4 }, () => randomHash(next)), 100, 8),
    ...video([flip(picture, 25, next)], 100, 12),
    ...video([picture], 10, 13), // too flat to count
  ];
  const images = FlatFrameHashIndex.from([other, picture]);
  const found = findImagesInVideo(frames, images);
  assert.equal(found.length, 1);
  assert.equal(found[0].image, 1);
  assert.equal(found[0].distance, 4);
  assert.equal(found[0].timestamp, 6);
  assert.deepEqual(found[0].occurrences.map((o) => [o.timestamp, o.distance]), [[5, 12], [6, 4], [7, 20], [12, 25]]);
  assert.deepEqual(found[0].ranges, [{ start: 5, end: 8 }, { start: 12, end: 13 }]);
  assert.deepEqual(findImagesInVideo(frames, images, { distanceThreshold: 10 }).map((m) => m.occurrences.length), [1]);
  // The same question asked of an index of known videos.
  const index = new VpdqVideoIndex();
  index.add('clip', frames);
  index.add('unrelated', video([other]));
  const inVideos = index.findImage(picture);
  assert.deepEqual(inVideos.map((m) => [m.entry, m.distance, m.ranges]), [['clip', 4, [{ start: 5, end: 8 }, { start: 12, end: 13 }]]]);
});

test('a match says how close: the median distance of the matched frames, and ranges to the end of the last sample', () => {
  const next = rng(7);
  const base = Array.from({ length: 12 }, () => randomHash(next));
  // 12 s at 1 frame/s; frames 0..9 within the threshold at 2, 4, …, 20 bits, frames 10 and 11 far off.
  const copy = base.map((h, i) => flip(h, i < 10 ? 2 * (i + 1) : 60, next));
  const result = matchVpdq(video(copy), video(base));
  assert.equal(result.queryMatchedFrames, 10);
  assert.equal(result.distance, 10, 'lower median of 2, 4, …, 20');
  assert.equal(result.minDistance, 2);
  assert.deepEqual(result.queryRanges, [{ start: 0, end: 10 }]);
  const index = new VpdqVideoIndex();
  index.add('known', video(base));
  const [fromIndex] = index.query(video(copy));
  assert.deepEqual([fromIndex.distance, fromIndex.minDistance, fromIndex.queryRanges, fromIndex.comparedRanges], [10, 2, [{ start: 0, end: 10 }], [{ start: 0, end: 10 }]]);
  // The whole clip: 0–12 s, not 0–11 s.
  assert.deepEqual(matchVpdq(video(base), video(base)).queryRanges, [{ start: 0, end: 12 }]);
  assert.equal(matchVpdq(video(base), video(base)).distance, 0);
  // Sampled every 0.5 s: the step follows the samples.
  const half = base.map((hash, i) => ({ hash, quality: 100, timestamp: i / 2 }));
  assert.deepEqual(matchVpdq(half, half).queryRanges, [{ start: 0, end: 6 }]);
});
