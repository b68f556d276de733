/**
 * Media file → vPDQ features. Videos (any container ffmpeg reads, APNG, a still image in a video
 * container or on its own) go through ffmpeg; GIF and WebP, animated or not, through sharp. Both
 * yield the same RGB frames to the same hasher, so a sticker and a short video hash and match alike.
 *
 *   const { features, info } = await hashVideo('clip.mp4');                 // 1 frame per second
 *   const every = await hashVideo('clip.mp4', { secondsPerHash: 0 });        // every frame
 *   formatVpdqJson(features)                                                 // HMA / python-threatexchange
 *
 * For long videos, stream instead of collecting:
 *   const source = await openMediaFrames(path);
 *   for await (const feature of vpdqFeatures(source.frames())) …
 */
import { VigilError } from '../core/errors.js';
import { vpdqFeatures, type RgbFrame, type VpdqFeature } from '../signals/vpdq/hasher.js';
import { DEFAULT_BLACK_THRESHOLD, unletterboxFrame } from '../signals/vpdq/unletterbox.js';
import { openAnimatedImage, readFileHead, sniffAnimatedImage } from './animated-image.js';
import { DEFAULT_VIDEO_TIMEOUT_MS, openVideoFrames, type VideoFrameOptions, type VideoStreamInfo } from './video-frames.js';
import type { VpdqHashPool } from './vpdq-pool.js';

export interface VideoHashOptions extends VideoFrameOptions {
  /** Hash frames on these worker threads (worth it when every frame is hashed); default: this thread. */
  pool?: VpdqHashPool;
  /**
   * Crop black letterbox bars off each frame before hashing (true, or the black threshold; default
   * off). Makes letterboxed copies match their originals; the hashes are then not the reference's.
   */
  unletterbox?: boolean | number;
}

export interface MediaFrameInfo {
  /** 'ffmpeg' for videos and APNG, 'sharp' for GIF and WebP. */
  decoder: 'ffmpeg' | 'sharp';
  /** Container or image format: ffmpeg's demuxer name, or 'gif' / 'webp'. */
  format: string;
  /** Stored frame size. */
  width: number;
  height: number;
  /** Size of the frames hashed (the stored size, N×N with `size`, turned with `autorotate`). */
  frameWidth: number;
  frameHeight: number;
  /** Frames per second used for timestamps (ffmpeg) or the average rate (sharp). */
  fps: number;
  /** ffmpeg only: frames hashed are those with frameNumber % frameInterval === 0. */
  frameInterval?: number;
  durationSeconds?: number;
  /** Rotation metadata in clockwise degrees (ignored unless autorotate). */
  rotation: number;
  /** The full ffmpeg stream info, when ffmpeg decoded the file. */
  stream?: VideoStreamInfo;
}

export interface MediaFrameSource {
  readonly info: MediaFrameInfo;
  frames(): AsyncGenerator<RgbFrame>;
  /** After iteration: set when a damaged file still yielded frames (the decoder's complaint). */
  readonly partial: string | undefined;
}

export interface VideoHashResult {
  /** In frame order. */
  features: VpdqFeature[];
  info: MediaFrameInfo;
  /** Set when the file was damaged and only partly decoded. */
  partial?: string;
}

/** Opens any supported media file as a stream of frames to hash (see the module comment for routing). */
export async function openMediaFrames(path: string, options: VideoHashOptions = {}): Promise<MediaFrameSource> {
  const head = await readFileHead(path);
  if (head.length === 0) throw new VigilError('VIGIL_ERR_EMPTY_FILE', 'The file is empty (0 bytes)');
  const image = sniffAnimatedImage(head);
  if (image) {
    const source = await openAnimatedImage(path, {
      ...(options.secondsPerHash !== undefined ? { secondsPerHash: options.secondsPerHash } : {}),
      ...(options.size !== undefined ? { size: options.size } : {}),
      ...(options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.budget ? { budget: options.budget } : {}),
      timeoutMs: options.timeoutMs ?? DEFAULT_VIDEO_TIMEOUT_MS,
    });
    const { info } = source;
    return {
      info: {
        decoder: 'sharp',
        format: info.format,
        width: info.width,
        height: info.height,
        frameWidth: source.width,
        frameHeight: source.height,
        fps: info.fps,
        durationSeconds: info.durationSeconds,
        rotation: 0,
      },
      frames: source.frames,
      partial: undefined,
    };
  }
  const video = await openVideoFrames(path, options);
  const { info } = video;
  return {
    info: {
      decoder: 'ffmpeg',
      format: info.container,
      width: info.width,
      height: info.height,
      frameWidth: video.width,
      frameHeight: video.height,
      fps: info.fps,
      frameInterval: video.frameInterval,
      ...(info.durationSeconds !== undefined ? { durationSeconds: info.durationSeconds } : {}),
      rotation: info.rotation,
      stream: info,
    },
    frames: () => video.frames(),
    get partial() {
      return video.partial;
    },
  };
}

/**
 * vPDQ of a media file: one feature per hashed frame (default one frame per second; secondsPerHash 0
 * for every frame, as the reference C++ tool's default). Throws VigilError: VIGIL_ERR_EMPTY_FILE,
 * VIGIL_ERR_UNREADABLE, VIGIL_ERR_VIDEO_DECODE, VIGIL_ERR_PIXEL_LIMIT, VIGIL_ERR_TIMEOUT,
 * VIGIL_ERR_FFMPEG_MISSING (and the signal's reason on abort).
 */
export async function hashVideo(path: string, options: VideoHashOptions = {}): Promise<VideoHashResult> {
  const { pool, unletterbox, ...rest } = options;
  // Inline hashing is done with each frame before the next is read, so one buffer serves them all;
  // frames moved to workers need their own.
  const source = await openMediaFrames(path, { ...rest, reuseBuffer: pool === undefined });
  let frames = source.frames();
  if (unletterbox !== undefined && unletterbox !== false) {
    frames = cropped(frames, unletterbox === true ? DEFAULT_BLACK_THRESHOLD : unletterbox);
  }
  const features: VpdqFeature[] = [];
  for await (const feature of pool ? pool.hash(frames) : vpdqFeatures(frames)) features.push(feature);
  return { features, info: source.info, ...(source.partial !== undefined ? { partial: source.partial } : {}) };
}

async function* cropped(frames: AsyncIterable<RgbFrame>, blackThreshold: number): AsyncGenerator<RgbFrame> {
  for await (const frame of frames) yield unletterboxFrame(frame, blackThreshold);
}
