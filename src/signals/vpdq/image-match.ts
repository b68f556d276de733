/**
 * A known picture inside a video: every usable frame hash of the video (quality ≥ 50) searched
 * against a set of image PDQ hashes at distance ≤ 31, the PDQ match rule. Frames are PDQ hashes like
 * any photo's, so a still shown for a second or more is found at 1 frame/s sampling; shorter flashes
 * need denser sampling (secondsPerHash 0 = every frame).
 *
 * The image set is a FrameHashSearch (ids = the caller's image numbers), so a bank of millions of
 * photo hashes can be searched through the project's fast index; FlatFrameHashIndex.from(hashes)
 * builds a small one.
 */
import { hash256ToHex } from '../pdq/hash256.js';
import type { VpdqFeature } from './hasher.js';
import { sampleStep, timeRanges, VPDQ_DISTANCE_THRESHOLD, VPDQ_QUALITY_THRESHOLD, type TimeRange } from './match.js';
import type { FrameHashSearch } from './video-index.js';

export interface ImageInVideoOptions {
  /** Frames below this quality are not searched (default 50: flat frames match flat pictures). */
  qualityThreshold?: number;
  /** Match at Hamming distance ≤ this (default 31). */
  distanceThreshold?: number;
}

export interface ImageInVideoMatch {
  /** The image's id in the FrameHashSearch. */
  image: number;
  /** Best (smallest) distance over the video's frames, and the first frame at that distance. */
  distance: number;
  timestamp: number;
  frameNumber?: number;
  /** Every matching frame, in time order. */
  occurrences: { timestamp: number; frameNumber?: number; distance: number }[];
  /** Consecutive matching frames merged into time ranges. */
  ranges: TimeRange[];
}

/** Which of the images appear in the video, and when; best distance first. */
export function findImagesInVideo(features: readonly VpdqFeature[], images: FrameHashSearch, options: ImageInVideoOptions = {}): ImageInVideoMatch[] {
  const quality = options.qualityThreshold ?? VPDQ_QUALITY_THRESHOLD;
  const radius = options.distanceThreshold ?? VPDQ_DISTANCE_THRESHOLD;
  const usable = features.filter((f) => f.quality >= quality).sort((a, b) => a.timestamp - b.timestamp);
  const step = sampleStep(features);
  // One search per distinct frame hash (static shots repeat the same hash).
  const hitsByHex = new Map<string, { id: number; distance: number }[]>();
  for (const f of usable) {
    const hex = hash256ToHex(f.hash);
    if (!hitsByHex.has(hex)) hitsByHex.set(hex, images.search(f.hash, radius));
  }
  // image id → frame index in `usable` → distance
  const perImage = new Map<number, Map<number, number>>();
  usable.forEach((f, i) => {
    for (const { id, distance } of hitsByHex.get(hash256ToHex(f.hash))!) {
      let frames = perImage.get(id);
      if (!frames) perImage.set(id, (frames = new Map()));
      frames.set(i, distance);
    }
  });
  const matches: ImageInVideoMatch[] = [];
  for (const [image, frames] of perImage) {
    const occurrences = [...frames].map(([i, distance]) => ({
      timestamp: usable[i].timestamp,
      ...(usable[i].frameNumber !== undefined ? { frameNumber: usable[i].frameNumber } : {}),
      distance,
    }));
    const best = occurrences.reduce((a, b) => (b.distance < a.distance ? b : a));
    const matchedFrames = new Set([...frames.keys()].map((i) => usable[i]));
    matches.push({
      image,
      distance: best.distance,
      timestamp: best.timestamp,
      ...(best.frameNumber !== undefined ? { frameNumber: best.frameNumber } : {}),
      occurrences,
      ranges: timeRanges(usable, (f) => matchedFrames.has(f), step),
    });
  }
  return matches.sort((a, b) => a.distance - b.distance || a.timestamp - b.timestamp || a.image - b.image);
}
