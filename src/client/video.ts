/**
 * vPDQ of a video on the device, through WebCodecs (docs/client.md#video). Loaded lazily (`hashVideo` in
 * index.ts imports this file, and with it the MP4 demuxer, only when a video is hashed), so the picture path's
 * bundle stays small. MP4/MOV only: mp4box demuxes, `VideoDecoder` decodes, every frame the server would pick
 * (frameNumber % trunc(secondsPerHash × fps) === 0, src/signals/vpdq/hasher.ts) is drawn to an OffscreenCanvas
 * and hashed with the same PDQ as the server's frames (full resolution, no 512 pre-resize). Where the runtime
 * lacks `VideoDecoder`, `OffscreenCanvas` or the codec, the result says "unsupported": never a guessed hash.
 */
import { createFile, type Sample } from 'mp4box';
import { PdqScratch } from '../signals/pdq/pdq.js';
import { formatVpdqCompactFeature } from '../signals/vpdq/format.js';
import { VPDQ_DEFAULT_SECONDS_PER_HASH, vpdqFeatureFromFrame, vpdqFrameInterval, vpdqTimestamp } from '../signals/vpdq/hasher.js';
import { web } from './web-types.js';

export interface VideoHashOptions {
  /** One frame every this many seconds, as the server's `secondsPerHash` (default 1; 0 = every frame). */
  secondsPerHash?: number;
}

export type VideoHashResult =
  | {
      supported: true;
      /** vPDQ features as `POST /v1/content` JSON hashes take them: `hashes.vpdq`, "hex,quality,timestamp". */
      vpdq: string[];
      fps: number;
      codec: string;
      width: number;
      height: number;
      /** Frames decoded (all of them: the selection needs each frame's number). */
      framesDecoded: number;
    }
  | { supported: false; reason: string };

// The WebCodecs surface used here, declared structurally (the project compiles without the DOM library).
interface VideoFrameLike {
  readonly displayWidth: number;
  readonly displayHeight: number;
  close(): void;
}
interface VideoDecoderLike {
  configure(config: VideoDecoderConfig): void;
  decode(chunk: unknown): void;
  flush(): Promise<void>;
  close(): void;
  readonly state: string;
}
interface VideoDecoderConfig {
  codec: string;
  codedWidth?: number;
  codedHeight?: number;
  description?: Uint8Array;
  colorSpace?: { matrix?: string; primaries?: string; transfer?: string; fullRange?: boolean };
}
interface WebCodecsGlobals {
  VideoDecoder?: (new (init: { output(frame: VideoFrameLike): void; error(err: Error): void }) => VideoDecoderLike) & {
    isConfigSupported(config: VideoDecoderConfig): Promise<{ supported?: boolean }>;
  };
  EncodedVideoChunk?: new (init: { type: 'key' | 'delta'; timestamp: number; duration?: number; data: Uint8Array }) => unknown;
}
const codecs = globalThis as unknown as WebCodecsGlobals;

/**
 * The server's ffmpeg turns frames into RGB24 with swscale's default coefficients, BT.601 limited range, whatever
 * the stream says; Chromium assumes BT.709 for untagged HD streams. Decoding with the server's colour space
 * brings the 1080×1080 conformance clip from 10–18 bits to 2–4 bits of the server's frame hashes.
 */
const SERVER_COLOUR = { matrix: 'smpte170m', primaries: 'smpte170m', transfer: 'smpte170m', fullRange: false };

/** Whether this runtime has what client vPDQ needs (the codec of a given file is checked when it is read). */
export function canHashVideo(): boolean {
  return typeof codecs.VideoDecoder === 'function' && typeof codecs.EncodedVideoChunk === 'function' && typeof web.OffscreenCanvas === 'function';
}

/**
 * ffmpeg's avg_frame_rate as the server reads it: from ffmpeg's stream dump, printed with two decimals
 * (libavformat dump.c), so 29.97002997 reads as 29.97 there and must here too.
 */
function serverFps(frames: number, seconds: number): number {
  const fps = frames / seconds;
  return Math.round(fps * 100) / 100;
}

/** The codec configuration box's payload (avcC, hvcC, vpcC, av1C), which WebCodecs takes as `description`. */
function descriptionOf(bytes: Uint8Array, entry: Record<string, unknown>): Uint8Array | undefined {
  for (const name of ['avcC', 'hvcC', 'vpcC', 'av1C']) {
    const box = entry[name] as { start?: number; size: number; hdr_size?: number } | undefined;
    if (box?.start !== undefined) return bytes.slice(box.start + (box.hdr_size ?? 8), box.start + box.size);
  }
  return undefined;
}

interface Demuxed {
  codec: string;
  width: number;
  height: number;
  fps: number;
  description?: Uint8Array;
  samples: Sample[];
}

function demux(bytes: Uint8Array): Demuxed | string {
  const file = createFile();
  let failure: string | undefined;
  let demuxed: Demuxed | undefined;
  file.onError = (_module, message) => (failure = message);
  file.onReady = (info) => {
    const track = info.videoTracks[0];
    if (!track) {
      failure = 'no video track';
      return;
    }
    const seconds = track.duration / track.timescale;
    const entry = file.getTrackById(track.id).mdia.minf.stbl.stsd.entries[0] as unknown as Record<string, unknown>;
    demuxed = { codec: track.codec, width: track.video?.width ?? 0, height: track.video?.height ?? 0, fps: seconds > 0 ? serverFps(track.nb_samples, seconds) : 0, description: descriptionOf(bytes, entry), samples: [] };
    file.onSamples = (_id, _user, samples) => demuxed?.samples.push(...samples);
    file.setExtractionOptions(track.id, undefined, { nbSamples: Number.MAX_SAFE_INTEGER });
    file.start();
  };
  const buffer = bytes.slice().buffer as ArrayBuffer & { fileStart: number };
  buffer.fileStart = 0;
  try {
    file.appendBuffer(buffer as Parameters<typeof file.appendBuffer>[0]);
    file.flush();
  } catch (err) {
    return `not a readable MP4/MOV file (${err instanceof Error ? err.message : String(err)})`;
  }
  if (failure !== undefined) return `not a readable MP4/MOV file (${failure})`;
  if (!demuxed) return 'not an MP4/MOV file (no movie header)';
  if (!(demuxed.fps > 0) || demuxed.samples.length === 0) return 'the video track has no frames';
  return demuxed;
}

/** The vPDQ features of an MP4/MOV video, decoded in this thread's WebCodecs (docs/client.md#video). */
export async function hashVideoHere(input: Blob | ArrayBuffer | Uint8Array, options: VideoHashOptions = {}): Promise<VideoHashResult> {
  const Decoder = codecs.VideoDecoder;
  const Chunk = codecs.EncodedVideoChunk;
  const Canvas = web.OffscreenCanvas;
  if (!Decoder || !Chunk || !Canvas) return { supported: false, reason: 'this runtime has no WebCodecs VideoDecoder (or no OffscreenCanvas): video cannot be hashed here' };
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input instanceof ArrayBuffer ? input : await input.arrayBuffer());
  const video = demux(bytes);
  if (typeof video === 'string') return { supported: false, reason: video };
  const config: VideoDecoderConfig = { codec: video.codec, codedWidth: video.width, codedHeight: video.height, ...(video.description ? { description: video.description } : {}), colorSpace: SERVER_COLOUR };
  let support: { supported?: boolean };
  try {
    support = await Decoder.isConfigSupported(config);
  } catch (err) {
    return { supported: false, reason: `codec ${video.codec} refused by this runtime (${err instanceof Error ? err.message : String(err)})` };
  }
  if (!support.supported) return { supported: false, reason: `this runtime's VideoDecoder cannot decode ${video.codec}` };

  const interval = vpdqFrameInterval(options.secondsPerHash ?? VPDQ_DEFAULT_SECONDS_PER_HASH, video.fps);
  const scratch = new PdqScratch();
  const features: string[] = [];
  let frameNumber = 0;
  let failed: Error | undefined;
  let canvas: ReturnType<typeof newCanvas> | undefined;
  function newCanvas(width: number, height: number) {
    const ctx = new Canvas!(width, height).getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('no 2D context on OffscreenCanvas');
    return { ctx, width, height };
  }
  const decoder = new Decoder({
    output(frame) {
      try {
        // Frames come out in presentation order, as ffmpeg gives them to the server.
        if (frameNumber % interval === 0 && !failed) {
          const width = frame.displayWidth;
          const height = frame.displayHeight;
          if (!canvas || canvas.width !== width || canvas.height !== height) canvas = newCanvas(width, height);
          canvas.ctx.drawImage(frame as never, 0, 0);
          const rgba = canvas.ctx.getImageData(0, 0, width, height).data;
          const rgb = new Uint8Array(width * height * 3);
          for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
            rgb[j] = rgba[i];
            rgb[j + 1] = rgba[i + 1];
            rgb[j + 2] = rgba[i + 2];
          }
          features.push(formatVpdqCompactFeature(vpdqFeatureFromFrame({ data: rgb, width, height, frameNumber, timestamp: vpdqTimestamp(frameNumber, video.fps) }, scratch)));
        }
      } catch (err) {
        failed = err instanceof Error ? err : new Error(String(err));
      } finally {
        frameNumber++;
        frame.close();
      }
    },
    error(err) {
      failed = err;
    },
  });
  try {
    decoder.configure(config);
    for (const s of video.samples) {
      if (failed || !s.data) break;
      decoder.decode(new Chunk({ type: s.is_sync ? 'key' : 'delta', timestamp: Math.round((1e6 * s.cts) / s.timescale), duration: Math.round((1e6 * s.duration) / s.timescale), data: s.data }));
    }
    await decoder.flush();
  } catch (err) {
    failed ??= err instanceof Error ? err : new Error(String(err));
  } finally {
    if (decoder.state !== 'closed') decoder.close();
  }
  // A partly decoded video would give a partial, misleading list: report the failure instead.
  if (failed) return { supported: false, reason: `decoding failed after ${frameNumber} frames: ${failed.message}` };
  return { supported: true, vpdq: features, fps: video.fps, codec: video.codec, width: video.width, height: video.height, framesDecoded: frameNumber };
}
