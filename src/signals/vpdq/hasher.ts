/**
 * vPDQ (video PDQ) hashing, the frame → feature half: PDQ of selected frames, each with its frame
 * number, quality and timestamp, as Meta's reference (vpdq/cpp, shared/reference/threatexchange.md §3.1).
 *
 * Pure TypeScript like the rest of src/signals: frames come from any AsyncIterable (ffmpeg in
 * src/media/video-frames.ts, animated images in src/media/animated-image.ts, a browser's
 * VideoDecoder…). The file → features entry point is `hashVideo` in src/media/video-hash.ts.
 */
import type { Hash256 } from '../pdq/hash256.js';
import { pdqFromPixels, PdqScratch } from '../pdq/pdq.js';
import { invalidArgument } from '../../core/errors.js';

/** One hashed frame. `frameNumber` is absent for features read from the python-threatexchange format. */
export interface VpdqFeature {
  hash: Hash256;
  /** PDQ quality 0..100; frames under 50 are ignored by matching. */
  quality: number;
  /** Seconds from the start: frameNumber / frameRate (float32 as the reference). */
  timestamp: number;
  /** 0-based index of the decoded frame in the video. */
  frameNumber?: number;
}

/** A decoded frame, 8-bit RGB interleaved (3 bytes per pixel, rows packed without padding). */
export interface RgbFrame {
  data: Uint8Array;
  width: number;
  height: number;
  frameNumber: number;
  timestamp: number;
}

/** Default sampling of python-threatexchange and HMA: one frame per second. */
export const VPDQ_DEFAULT_SECONDS_PER_HASH = 1;

/**
 * Frames are hashed when frameNumber % interval === 0, interval = trunc(secondsPerHash × fps), at
 * least 1 (reference filehasher.cpp: `static_cast<int>(secondsPerHash * frameRate)`, 0 → 1).
 * secondsPerHash 0 hashes every frame. 29.97 fps at 1 s gives every 29th frame.
 */
export function vpdqFrameInterval(secondsPerHash: number, fps: number): number {
  if (!(secondsPerHash >= 0) || !Number.isFinite(secondsPerHash)) {
    throw invalidArgument('a finite number of seconds ≥ 0', 'secondsPerHash', secondsPerHash);
  }
  if (!(fps > 0) || !Number.isFinite(fps)) throw invalidArgument('a frame rate > 0', 'fps', fps);
  const interval = Math.trunc(secondsPerHash * fps);
  return interval >= 1 ? Math.min(interval, 2 ** 31 - 1) : 1;
}

/** Reference hasher.h: `static_cast<float>(frameNumber) / framerate` with a float frame rate. */
export function vpdqTimestamp(frameNumber: number, fps: number): number {
  return Math.fround(Math.fround(frameNumber) / Math.fround(fps));
}

/**
 * PDQ of one RGB frame. Like the reference: full-resolution luma, Jarosz blur, no 512 pre-resize,
 * the blur skipped only when the frame is exactly 64×64; frames under 5 px give the zero hash with
 * quality 0 (the newest reference refuses such a video instead).
 */
export function vpdqFeatureFromFrame(frame: RgbFrame, scratch = new PdqScratch()): VpdqFeature {
  const { data, width, height } = frame;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0 || data.length < width * height * 3) {
    throw invalidArgument(`a ${width}×${height} RGB24 frame (${width * height * 3} bytes)`, 'frame', data.length);
  }
  // The same luma and PDQ as a still image: frames and pictures hash alike by construction.
  const { hash, quality } = pdqFromPixels({ data, width, height, channels: 3 }, scratch);
  return { hash, quality, timestamp: frame.timestamp, frameNumber: frame.frameNumber };
}

/**
 * Streams features from frames, one at a time (memory stays one frame plus PDQ scratch buffers
 * however long the video). Selection of frames is the source's job (see vpdqFrameInterval): every
 * frame it yields is hashed. A frame's pixel buffer may be reused by the source after this returns.
 */
export async function* vpdqFeatures(frames: AsyncIterable<RgbFrame> | Iterable<RgbFrame>): AsyncGenerator<VpdqFeature> {
  const scratch = new PdqScratch();
  for await (const frame of frames) yield vpdqFeatureFromFrame(frame, scratch);
}
