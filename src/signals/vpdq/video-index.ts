/**
 * An index over every frame hash of many known videos, answering "which known videos does this clip
 * match, and where" with the reference's rule (match.ts) — python-threatexchange's VPDQIndex: all
 * distinct frame hashes of all videos in one Hamming index, one radius search per distinct query frame,
 * then per video: distinct query frames matched / query frames and distinct video frames matched /
 * video frames, filtered by the two thresholds (80 % / 0 %).
 *
 * The Hamming search is behind a three-method interface so the project's fast index can replace the
 * built-in brute-force scan (FlatFrameHashIndex) without touching the matching logic.
 */
import { HASH256_BYTES, hash256ToHex, popcount32, type Hash256 } from '../pdq/hash256.js';
import { invalidArgument } from '../../core/errors.js';
import type { VpdqFeature } from './hasher.js';
import { distanceSummary, matchPercent, prepareVpdqFeatures, resolveMatchOptions, sampleStep, timeRanges, type ResolvedMatchOptions, type TimeRange, type VpdqMatchOptions, type VpdqMatchResult } from './match.js';

/** What the video index needs from a Hamming index over 256-bit hashes. Ids are dense from 0. */
export interface FrameHashSearch {
  add(id: number, hash: Hash256): void;
  /** Every stored hash within `radius` (inclusive) of `hash`, in any order. */
  search(hash: Hash256, radius: number): { id: number; distance: number }[];
}

/**
 * Brute-force FrameHashSearch: hashes packed as 8 uint32 words, scanned linearly. Exact, and fast
 * enough for thousands of videos at one frame per second (see docs/video.md for figures).
 */
export class FlatFrameHashIndex implements FrameHashSearch {
  private words = new Uint32Array(8 * 1024);
  private ids = new Int32Array(1024);
  private count = 0;

  static from(hashes: Iterable<Hash256>): FlatFrameHashIndex {
    const index = new FlatFrameHashIndex();
    let id = 0;
    for (const h of hashes) index.add(id++, h);
    return index;
  }

  get size(): number {
    return this.count;
  }

  add(id: number, hash: Hash256): void {
    if (!(hash instanceof Uint8Array) || hash.length !== HASH256_BYTES) throw invalidArgument('a 32-byte hash', 'hash', hash?.length);
    if (this.count === this.ids.length) {
      const words = new Uint32Array(this.words.length * 2);
      words.set(this.words);
      this.words = words;
      const ids = new Int32Array(this.ids.length * 2);
      ids.set(this.ids);
      this.ids = ids;
    }
    const base = this.count * 8;
    for (let w = 0; w < 8; w++) {
      const b = w * 4;
      this.words[base + w] = ((hash[b] << 24) | (hash[b + 1] << 16) | (hash[b + 2] << 8) | hash[b + 3]) >>> 0;
    }
    this.ids[this.count++] = id;
  }

  search(hash: Hash256, radius: number): { id: number; distance: number }[] {
    const q = new Uint32Array(8);
    for (let w = 0; w < 8; w++) {
      const b = w * 4;
      q[w] = ((hash[b] << 24) | (hash[b + 1] << 16) | (hash[b + 2] << 8) | hash[b + 3]) >>> 0;
    }
    const [q0, q1, q2, q3, q4, q5, q6, q7] = q;
    const words = this.words;
    const out: { id: number; distance: number }[] = [];
    for (let i = 0, base = 0; i < this.count; i++, base += 8) {
      // Half the words first: most unrelated hashes are already out of range there.
      let d = popcount32(words[base] ^ q0) + popcount32(words[base + 1] ^ q1) + popcount32(words[base + 2] ^ q2) + popcount32(words[base + 3] ^ q3);
      if (d > radius) continue;
      d += popcount32(words[base + 4] ^ q4) + popcount32(words[base + 5] ^ q5) + popcount32(words[base + 6] ^ q6) + popcount32(words[base + 7] ^ q7);
      if (d <= radius) out.push({ id: this.ids[i], distance: d });
    }
    return out;
  }
}

/** One frame of an indexed video, kept for "where": which distinct hash, and when. */
interface IndexedFrame {
  hashId: number;
  timestamp: number;
  frameNumber?: number;
}

interface IndexedVideo<T> {
  entry: T;
  /** Distinct usable frame hashes (the denominator of the video-side percentage). */
  distinctFrames: number;
  /** Every usable frame, in timestamp order. */
  frames: IndexedFrame[];
  /** Sampling step (seconds), from every frame: where a matching range ends after its last sample. */
  step: number;
  removed: boolean;
}

/** One known video a clip matches: the vPDQ rule's shares, frame counts and time ranges (as matchVpdq). */
export interface VpdqIndexMatch<T> extends Omit<VpdqMatchResult, 'isMatch'> {
  entry: T;
  /** Internal number of the video (from `add`). */
  video: number;
}

export interface ImageOccurrence {
  timestamp: number;
  frameNumber?: number;
  distance: number;
}

export interface VpdqIndexImageMatch<T> {
  entry: T;
  video: number;
  /** Smallest distance between the image and a frame of the video, and the frames at each distance. */
  distance: number;
  occurrences: ImageOccurrence[];
  ranges: TimeRange[];
}

export interface VpdqVideoIndexOptions extends VpdqMatchOptions {
  /** The Hamming index for frame hashes; default a new FlatFrameHashIndex. */
  search?: FrameHashSearch;
}

export class VpdqVideoIndex<T = string> {
  readonly options: ResolvedMatchOptions;
  private readonly search: FrameHashSearch;
  private readonly hashIds = new Map<string, number>();
  /** For each distinct hash id, the videos that have it (each once). */
  private readonly videosOfHash: number[][] = [];
  private readonly videos: IndexedVideo<T>[] = [];

  constructor(options: VpdqVideoIndexOptions = {}) {
    this.options = resolveMatchOptions(options);
    this.search = options.search ?? new FlatFrameHashIndex();
  }

  /** Videos added and not removed. */
  get videoCount(): number {
    return this.videos.filter((v) => !v.removed).length;
  }

  /** Distinct frame hashes in the Hamming index. */
  get frameHashCount(): number {
    return this.videosOfHash.length;
  }

  /**
   * Adds a known video's features (frames under the quality threshold are not indexed). Returns the
   * video's number. A video with no usable frame is kept but can never match.
   */
  add(entry: T, features: readonly VpdqFeature[]): number {
    const video = this.videos.length;
    const usable = features.filter((f) => f.quality >= this.options.qualityThreshold);
    const frames: IndexedFrame[] = [];
    const own = new Set<number>();
    for (const f of usable) {
      const hex = hash256ToHex(f.hash);
      let hashId = this.hashIds.get(hex);
      if (hashId === undefined) {
        hashId = this.videosOfHash.length;
        this.hashIds.set(hex, hashId);
        this.videosOfHash.push([]);
        this.search.add(hashId, f.hash);
      }
      if (!own.has(hashId)) {
        own.add(hashId);
        this.videosOfHash[hashId].push(video);
      }
      frames.push({ hashId, timestamp: f.timestamp, ...(f.frameNumber !== undefined ? { frameNumber: f.frameNumber } : {}) });
    }
    frames.sort((a, b) => a.timestamp - b.timestamp);
    this.videos.push({ entry, distinctFrames: own.size, frames, step: sampleStep(features), removed: false });
    return video;
  }

  /** Stops a video from matching (its hashes stay in the Hamming index until a rebuild). */
  remove(video: number): void {
    const v = this.videos[video];
    if (!v) throw invalidArgument(`a video number below ${this.videos.length}`, 'video', video);
    v.removed = true;
  }

  /**
   * The known videos this clip matches, best first (query share, then video share). With
   * `options.queryMatchPercent: 0` every video sharing at least one frame is returned. Options
   * override the index's for this query; the quality threshold of indexed videos was applied by `add`.
   */
  query(features: readonly VpdqFeature[], options: VpdqMatchOptions = {}): VpdqIndexMatch<T>[] {
    const o = resolveMatchOptions(options, this.options);
    const prepared = prepareVpdqFeatures(features, o.qualityThreshold);
    if (prepared.length === 0) return [];
    // Per candidate video: which query frames matched (by index in `prepared`, with the distance to the
    // video's nearest frame) and which of its hashes.
    const queryHits = new Map<number, Map<number, number>>();
    const videoHits = new Map<number, Set<number>>();
    prepared.forEach((f, qi) => {
      for (const { id, distance } of this.search.search(f.hash, o.distanceThreshold)) {
        for (const video of this.videosOfHash[id] ?? []) {
          if (this.videos[video].removed) continue;
          let q = queryHits.get(video);
          if (!q) {
            queryHits.set(video, (q = new Map()));
            videoHits.set(video, new Set());
          }
          q.set(qi, Math.min(distance, q.get(qi) ?? Infinity));
          videoHits.get(video)!.add(id);
        }
      }
    });
    const usableQuery = features.filter((f) => f.quality >= o.qualityThreshold);
    const queryStep = sampleStep(features);
    const matches: VpdqIndexMatch<T>[] = [];
    for (const [video, qSet] of queryHits) {
      const v = this.videos[video];
      const vSet = videoHits.get(video)!;
      const queryMatchPercent = matchPercent(qSet.size, prepared.length);
      const comparedMatchPercent = matchPercent(vSet.size, v.distinctFrames);
      if (queryMatchPercent < o.queryMatchPercent || comparedMatchPercent < o.comparedMatchPercent) continue;
      const matchedHex = new Set([...qSet.keys()].map((qi) => hash256ToHex(prepared[qi].hash)));
      matches.push({
        entry: v.entry,
        video,
        queryMatchPercent,
        comparedMatchPercent,
        queryMatchedFrames: qSet.size,
        queryFrames: prepared.length,
        comparedMatchedFrames: vSet.size,
        comparedFrames: v.distinctFrames,
        ...distanceSummary([...qSet.values()]),
        queryRanges: timeRanges(usableQuery, (f) => matchedHex.has(hash256ToHex(f.hash)), queryStep),
        comparedRanges: timeRanges(v.frames, (frame) => vSet.has(frame.hashId), v.step),
      });
    }
    return matches.sort((a, b) => b.queryMatchPercent - a.queryMatchPercent || b.comparedMatchPercent - a.comparedMatchPercent || a.video - b.video);
  }

  /** The known videos containing frames within `radius` of an image's PDQ hash, and where. */
  findImage(hash: Hash256, radius = this.options.distanceThreshold): VpdqIndexImageMatch<T>[] {
    const distanceOf = new Map<number, number>();
    for (const { id, distance } of this.search.search(hash, radius)) distanceOf.set(id, distance);
    const videos = new Set<number>();
    for (const id of distanceOf.keys()) for (const video of this.videosOfHash[id] ?? []) if (!this.videos[video].removed) videos.add(video);
    const out: VpdqIndexImageMatch<T>[] = [];
    for (const video of [...videos].sort((a, b) => a - b)) {
      const v = this.videos[video];
      const occurrences = v.frames
        .filter((frame) => distanceOf.has(frame.hashId))
        .map((frame) => ({ timestamp: frame.timestamp, ...(frame.frameNumber !== undefined ? { frameNumber: frame.frameNumber } : {}), distance: distanceOf.get(frame.hashId)! }));
      out.push({
        entry: v.entry,
        video,
        distance: Math.min(...occurrences.map((o) => o.distance)),
        occurrences,
        ranges: timeRanges(v.frames, (frame) => distanceOf.has(frame.hashId), v.step),
      });
    }
    return out.sort((a, b) => a.distance - b.distance || a.video - b.video);
  }
}
