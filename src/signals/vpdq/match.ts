/**
 * vPDQ matching, as python-threatexchange and HMA do it (vpdq_util.py, vpdq_brute_matcher.py,
 * vpdq_index.py; shared/reference/threatexchange.md §3.3). A video is a bag of frames:
 *
 * 1. each side: drop frames with quality < 50, then keep one frame per distinct hash;
 * 2. a query frame matches when some compared frame is within Hamming distance 31 (≤), and the
 *    other way round;
 * 3. queryMatchPercent = matched query frames × 100 / query frames, comparedMatchPercent likewise;
 * 4. a match when queryMatchPercent ≥ 80 and comparedMatchPercent ≥ 0 (both configurable).
 * An empty side after filtering gives 0 % / 0 % and no match.
 *
 * Beyond the reference, results say *where*: the time ranges of each video whose frames matched.
 * Known differences of the C++ brute matcher (matchTwoHashBrute): it counts `distance < 31` and does
 * not dedupe. This module follows the Python tools, which produce the signals HMA exchanges.
 */
import { hammingDistance256, hash256ToHex } from '../pdq/hash256.js';
import type { VpdqFeature } from './hasher.js';

export const VPDQ_QUALITY_THRESHOLD = 50;
export const VPDQ_DISTANCE_THRESHOLD = 31;
export const VPDQ_QUERY_MATCH_THRESHOLD_PERCENT = 80;
export const VPDQ_COMPARED_MATCH_THRESHOLD_PERCENT = 0;

export interface VpdqMatchOptions {
  /** Frames below this quality are ignored (default 50). */
  qualityThreshold?: number;
  /** Two frames match at Hamming distance ≤ this (default 31). */
  distanceThreshold?: number;
  /** Share of the query's frames that must match (default 80). */
  queryMatchPercent?: number;
  /** Share of the compared video's frames that must match (default 0). */
  comparedMatchPercent?: number;
}

/**
 * A stretch of a video, in seconds: from the first of consecutive matching samples to the end of the
 * last (its timestamp plus the sampling step), so a 12 s clip sampled at 1 frame/s that matches
 * throughout is 0–12 s.
 */
export interface TimeRange {
  start: number;
  end: number;
}

export interface VpdqMatchResult {
  isMatch: boolean;
  queryMatchPercent: number;
  comparedMatchPercent: number;
  /** Distinct query frames (after quality filter and dedupe) with a match, and how many there were. */
  queryMatchedFrames: number;
  queryFrames: number;
  comparedMatchedFrames: number;
  comparedFrames: number;
  /**
   * How close the matching frames are: the median, over the matched distinct query frames, of the
   * distance to the nearest frame of the compared video (lower median; 0 when nothing matched).
   */
  distance: number;
  /** The smallest of those distances. */
  minDistance: number;
  /** Where in each video the matching frames are. */
  queryRanges: TimeRange[];
  comparedRanges: TimeRange[];
}

export interface ResolvedMatchOptions {
  qualityThreshold: number;
  distanceThreshold: number;
  queryMatchPercent: number;
  comparedMatchPercent: number;
}

const DEFAULT_MATCH_OPTIONS: ResolvedMatchOptions = {
  qualityThreshold: VPDQ_QUALITY_THRESHOLD,
  distanceThreshold: VPDQ_DISTANCE_THRESHOLD,
  queryMatchPercent: VPDQ_QUERY_MATCH_THRESHOLD_PERCENT,
  comparedMatchPercent: VPDQ_COMPARED_MATCH_THRESHOLD_PERCENT,
};

/** Options with every unset value taken from `base` (the reference defaults unless given). */
export function resolveMatchOptions(options: VpdqMatchOptions = {}, base = DEFAULT_MATCH_OPTIONS): ResolvedMatchOptions {
  return {
    qualityThreshold: options.qualityThreshold ?? base.qualityThreshold,
    distanceThreshold: options.distanceThreshold ?? base.distanceThreshold,
    queryMatchPercent: options.queryMatchPercent ?? base.queryMatchPercent,
    comparedMatchPercent: options.comparedMatchPercent ?? base.comparedMatchPercent,
  };
}

/** Quality filter, then one feature per distinct hash, first kept (pytx prepare_vpdq_feature). */
export function prepareVpdqFeatures(features: readonly VpdqFeature[], qualityThreshold = VPDQ_QUALITY_THRESHOLD): VpdqFeature[] {
  const seen = new Set<string>();
  const out: VpdqFeature[] = [];
  for (const f of features) {
    if (f.quality < qualityThreshold) continue;
    const key = hash256ToHex(f.hash);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(f);
  }
  return out;
}

/** Percent with the reference's arithmetic: count × 100 / total, 0 for an empty side. */
export function matchPercent(count: number, total: number): number {
  return total === 0 ? 0 : (count * 100) / total;
}

/**
 * The sampling step of a video: the smallest gap between its distinct sample times (0 for one sample).
 * Pass every sample, low-quality ones included: they still mark the rhythm.
 */
export function sampleStep(frames: readonly { timestamp: number }[]): number {
  const times = [...new Set(frames.map((f) => f.timestamp))].sort((a, b) => a - b);
  let step = Infinity;
  for (let i = 1; i < times.length; i++) step = Math.min(step, times[i] - times[i - 1]);
  return Number.isFinite(step) ? step : 0;
}

/**
 * Merges the timestamps of matching frames into ranges. `frames` is every usable frame of the video
 * (quality ≥ threshold, duplicates included) and `matched` says which matched: a range is a run of
 * matching frames with no non-matching usable frame between them, ending `step` after its last sample.
 */
export function timeRanges<F extends { timestamp: number }>(frames: readonly F[], matched: (f: F) => boolean, step = sampleStep(frames)): TimeRange[] {
  const sorted = [...frames].sort((a, b) => a.timestamp - b.timestamp);
  const ranges: TimeRange[] = [];
  let current: TimeRange | undefined;
  for (const f of sorted) {
    if (matched(f)) {
      if (current) current.end = f.timestamp + step;
      else ranges.push((current = { start: f.timestamp, end: f.timestamp + step }));
    } else {
      current = undefined;
    }
  }
  return ranges;
}

/** Lower median and minimum of distances (0 and 0 for none). */
export function distanceSummary(distances: readonly number[]): { distance: number; minDistance: number } {
  if (distances.length === 0) return { distance: 0, minDistance: 0 };
  const sorted = [...distances].sort((a, b) => a - b);
  return { distance: sorted[(sorted.length - 1) >> 1], minDistance: sorted[0] };
}

/**
 * Compares two vPDQ hashes by brute force (|Q| × |C| distances; use VpdqVideoIndex for many videos).
 */
export function matchVpdq(query: readonly VpdqFeature[], compared: readonly VpdqFeature[], options: VpdqMatchOptions = {}): VpdqMatchResult {
  const o = resolveMatchOptions(options);
  const q = prepareVpdqFeatures(query, o.qualityThreshold);
  const c = prepareVpdqFeatures(compared, o.qualityThreshold);
  const qMatched = new Uint8Array(q.length);
  const cMatched = new Uint8Array(c.length);
  const nearest: number[] = [];
  for (let i = 0; i < q.length; i++) {
    const qh = q[i].hash;
    let best = Infinity;
    for (let j = 0; j < c.length; j++) {
      const d = hammingDistance256(qh, c[j].hash);
      if (d <= o.distanceThreshold) {
        qMatched[i] = 1;
        cMatched[j] = 1;
        best = Math.min(best, d);
      }
    }
    if (qMatched[i]) nearest.push(best);
  }
  const queryMatchedFrames = qMatched.reduce((s, v) => s + v, 0);
  const comparedMatchedFrames = cMatched.reduce((s, v) => s + v, 0);
  const queryMatchPercent = matchPercent(queryMatchedFrames, q.length);
  const comparedMatchPercent = matchPercent(comparedMatchedFrames, c.length);
  const matchedHex = (prepared: VpdqFeature[], flags: Uint8Array) => new Set(prepared.filter((_, i) => flags[i]).map((f) => hash256ToHex(f.hash)));
  const qHex = matchedHex(q, qMatched);
  const cHex = matchedHex(c, cMatched);
  const usable = (fs: readonly VpdqFeature[]) => fs.filter((f) => f.quality >= o.qualityThreshold);
  return {
    isMatch: q.length > 0 && c.length > 0 && queryMatchPercent >= o.queryMatchPercent && comparedMatchPercent >= o.comparedMatchPercent,
    queryMatchPercent,
    comparedMatchPercent,
    queryMatchedFrames,
    queryFrames: q.length,
    comparedMatchedFrames,
    comparedFrames: c.length,
    ...distanceSummary(nearest),
    queryRanges: timeRanges(usable(query), (f) => qHex.has(hash256ToHex(f.hash)), sampleStep(query)),
    comparedRanges: timeRanges(usable(compared), (f) => cHex.has(hash256ToHex(f.hash)), sampleStep(compared)),
  };
}
