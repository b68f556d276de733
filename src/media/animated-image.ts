/**
 * Animated GIF and WebP (chat stickers) as frame sources for vPDQ, decoded with sharp (libvips
 * composites each frame, so every frame is a full picture). The ffmpeg bundled here cannot decode
 * animated WebP, and sharp gives the exact per-frame delays. APNG is not animated in libvips and goes
 * through ffmpeg (src/media/video-frames.ts), like any video.
 *
 * Timing: frame i starts at the sum of the delays before it; delays of 10 ms or less count as 100 ms,
 * as browsers show them. Selection: with secondsPerHash s > 0, the first frame starting in each
 * s-second slot is hashed (frame 0 always); s = 0 hashes every frame. Alpha is dropped without
 * compositing, as src/media/image-decode.ts does for stills, so frame 0 of a sticker hashes like
 * the sticker read as an image.
 */
import { open } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import type { ItemBudget } from '../core/budget.js';
import { VigilError } from '../core/errors.js';
import { MAX_ANIMATION_CANVAS } from './image-decode.js';
import { VPDQ_DEFAULT_SECONDS_PER_HASH, type RgbFrame } from '../signals/vpdq/hasher.js';

export interface AnimatedImageOptions {
  secondsPerHash?: number;
  /** Scale every frame to size×size, as video `size` (sharp's resampling, not swscale's area filter). */
  size?: number;
  /** Refuse frames with more pixels than this. */
  maxPixels?: number;
  /** Refuse animations with more frames than this (default 100,000). */
  maxFrames?: number;
  signal?: AbortSignal;
  /** Stop with VIGIL_ERR_TIMEOUT once this many milliseconds have passed (checked between frame batches). */
  timeoutMs?: number;
  /** Charged canvas pixels and frames for every page libvips composes; stops the item when spent. */
  budget?: ItemBudget;
}


export interface AnimatedImageInfo {
  format: 'gif' | 'webp';
  width: number;
  height: number;
  frameCount: number;
  /** Per-frame display time in milliseconds (after the ≤ 10 ms → 100 ms rule). */
  delaysMs: number[];
  durationSeconds: number;
  /** Average frames per second (frameCount / duration). */
  fps: number;
}

export interface AnimatedImageSource {
  readonly info: AnimatedImageInfo;
  readonly width: number;
  readonly height: number;
  /** Indices of the frames that will be yielded. */
  readonly selected: number[];
  frames(): AsyncGenerator<RgbFrame>;
}

/** The first bytes of a file (for sniffing). Throws VIGIL_ERR_UNREADABLE. */
export async function readFileHead(path: string, length = 16): Promise<Uint8Array> {
  try {
    const handle = await open(path, 'r');
    try {
      const head = new Uint8Array(length);
      const { bytesRead } = await handle.read(head, 0, length, 0);
      return head.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new VigilError('VIGIL_ERR_UNREADABLE', `Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** GIF or WebP by magic bytes; undefined for anything else. */
export function sniffAnimatedImage(head: Uint8Array): 'gif' | 'webp' | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return 'gif';
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return undefined;
}

/** Which frames to hash, given their start times in seconds. */
export function selectByTime(starts: readonly number[], secondsPerHash: number): number[] {
  if (secondsPerHash === 0) return starts.map((_, i) => i);
  const selected: number[] = [];
  let lastSlot = -1;
  starts.forEach((start, i) => {
    const slot = Math.floor(start / secondsPerHash + 1e-9);
    if (slot > lastSlot) {
      selected.push(i);
      lastSlot = slot;
    }
  });
  return selected;
}

function classify(err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) return new VigilError('VIGIL_ERR_PIXEL_LIMIT', `Image refused: ${message}`, { cause: err });
  return new VigilError('VIGIL_ERR_VIDEO_DECODE', `Animated image could not be decoded: ${message.split('\n')[0]}`, { cause: err });
}

/** Opens a GIF or WebP (animated or not) as a frame source. */
export async function openAnimatedImage(input: string | Uint8Array, options: AnimatedImageOptions = {}): Promise<AnimatedImageSource> {
  // A path is handed to libvips, which reads the file itself (not all into memory here).
  const bytes = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const head = typeof input === 'string' ? await readFileHead(input) : input;
  if (head.length === 0) throw new VigilError('VIGIL_ERR_EMPTY_FILE', 'The file is empty (0 bytes)');
  const format = sniffAnimatedImage(head);
  if (!format) throw new VigilError('VIGIL_ERR_UNSUPPORTED_MEDIA', 'Not a GIF or WebP file');
  const maxPixels = options.maxPixels ?? 40_000_000;
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { pages: -1, limitInputPixels: false }).metadata();
  } catch (err) {
    throw classify(err);
  }
  const width = meta.width ?? 0;
  const frameCount = meta.pages ?? 1;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (!(width > 0 && height > 0)) throw new VigilError('VIGIL_ERR_VIDEO_DECODE', 'The image has no frame size');
  if (width * height > maxPixels) {
    throw new VigilError('VIGIL_ERR_PIXEL_LIMIT', `Image declares ${width}×${height} frames, over the limit of ${maxPixels} pixels`);
  }
  if (width * height > MAX_ANIMATION_CANVAS) {
    throw new VigilError('VIGIL_ERR_BUDGET', `Animation frames are composed on a ${width}×${height} canvas, over the ${MAX_ANIMATION_CANVAS}-pixel limit for animations`);
  }
  if (frameCount > (options.maxFrames ?? 100_000)) {
    throw new VigilError('VIGIL_ERR_PIXEL_LIMIT', `Image declares ${frameCount} frames, over the limit of ${options.maxFrames ?? 100_000}`);
  }
  const delaysMs = Array.from({ length: frameCount }, (_, i) => {
    const d = meta.delay?.[i] ?? 100;
    return d > 10 ? d : 100;
  });
  const starts: number[] = [];
  let t = 0;
  for (const d of delaysMs) {
    starts.push(t / 1000);
    t += d;
  }
  const durationSeconds = t / 1000;
  const secondsPerHash = options.secondsPerHash ?? VPDQ_DEFAULT_SECONDS_PER_HASH;
  if (!(secondsPerHash >= 0 && Number.isFinite(secondsPerHash))) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a finite number of seconds ≥ 0 for secondsPerHash but received ${secondsPerHash}`);
  }
  const selected = selectByTime(starts, secondsPerHash);
  const outWidth = options.size ?? width;
  const outHeight = options.size ?? height;
  const info: AnimatedImageInfo = { format, width, height, frameCount, delaysMs, durationSeconds, fps: frameCount / durationSeconds };
  const deadline = options.timeoutMs ? Date.now() + options.timeoutMs : Infinity;

  async function* frames(): AsyncGenerator<RgbFrame> {
    // Decode in batches of consecutive pages (about 32 MB of RGB each): memory stays bounded and a
    // GIF, whose pages decode sequentially, is not re-decoded from the start for every frame.
    const perBatch = Math.max(1, Math.min(256, Math.floor((32 * 1024 * 1024) / (width * height * 3))));
    const frameBytes = outWidth * outHeight * 3;
    const budget = options.budget;
    const canvas = width * height;
    for (let s = 0; s < selected.length; ) {
      options.signal?.throwIfAborted();
      if (Date.now() > deadline) throw new VigilError('VIGIL_ERR_TIMEOUT', `Decoding was stopped after ${options.timeoutMs} ms (timeout)`);
      const first = selected[s];
      // Up to the last selected frame within the batch (pages between selected ones cost as much as they).
      // A page costs its canvas to compose, a selected one as much again to hash.
      let pages = Math.min(frameCount - first, perBatch);
      if (budget) pages = Math.max(1, Math.min(pages, Math.floor(budget.pixelsLeft / (2 * canvas)), budget.framesLeft));
      let end = s;
      while (end + 1 < selected.length && selected[end + 1] < first + pages) end++;
      const last = selected[end];
      budget?.charge(canvas * (last - first + 2 + end - s), last - first + 1, `composing and hashing frames ${first}–${last} on a ${width}×${height} canvas`);
      let pipeline = sharp(bytes, { page: first, pages: last - first + 1, limitInputPixels: false });
      if (budget) pipeline = pipeline.timeout({ seconds: budget.remainingSeconds() });
      pipeline = pipeline.removeAlpha().toColourspace('srgb');
      let data: Buffer;
      try {
        data = await pipeline.raw().toBuffer();
      } catch (err) {
        throw classify(err);
      }
      const pageBytes = width * height * 3;
      if (data.length < pageBytes * (last - first + 1)) {
        throw new VigilError('VIGIL_ERR_VIDEO_DECODE', `Animated image decoded to ${data.length} bytes; expected ${pageBytes * (last - first + 1)}`);
      }
      for (; s < selected.length && selected[s] <= last; s++) {
        const index = selected[s];
        let pixels = new Uint8Array(data.buffer, data.byteOffset + (index - first) * pageBytes, pageBytes);
        if (options.size !== undefined) {
          const resized = await sharp(pixels, { raw: { width, height, channels: 3 } })
            .resize(outWidth, outHeight, { fit: 'fill' })
            .raw()
            .toBuffer();
          pixels = new Uint8Array(resized.buffer, resized.byteOffset, frameBytes);
        }
        yield { data: pixels, width: outWidth, height: outHeight, frameNumber: index, timestamp: starts[index] };
      }
    }
  }

  return { info, width: outWidth, height: outHeight, selected, frames };
}
