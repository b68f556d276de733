/**
 * Video stream info and frame extraction with ffmpeg as a child process: selected frames arrive as
 * raw RGB24 over a pipe, one frame buffer at a time (bounded memory, no temporary files).
 *
 * What the vPDQ reference does (libav in-process) and how the ffmpeg CLI is made to do the same:
 * - first video stream (`-map 0:v:0`), every decoded frame counted from 0 (the select filter's `n`;
 *   `-reinit_filter 0` keeps that count across mid-stream size changes);
 * - frames with n % interval === 0 are selected *before* conversion, so unselected frames cost only
 *   their decoding;
 * - selected frames converted by swscale with SWS_AREA to RGB24 at the stream's own size or N×N
 *   (`scale=W:H:flags=area,format=rgb24`); no frame is dropped or duplicated (`-vsync 0`);
 * - rotation metadata ignored (`-noautorotate`): the reference hashes the stored frames. Pass
 *   `autorotate: true` to hash frames as a player shows them instead (not reference-compatible).
 * - frame rate = avg_frame_rate, falling back to r_frame_rate, read from ffmpeg's stream dump (see
 *   parseFrameRate for how the printed value is turned back into the exact rational).
 */
import { stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import type { ItemBudget } from '../core/budget.js';
import { VigilError } from '../core/errors.js';
import { vpdqFrameInterval, vpdqTimestamp, VPDQ_DEFAULT_SECONDS_PER_HASH, type RgbFrame } from '../signals/vpdq/hasher.js';
import { FfmpegProcess, locateFfmpeg, runFfmpeg, type FfmpegLocateOptions, type FfmpegRunOptions } from './ffmpeg.js';

/** Frames larger than this are refused from the stream header, before decoding (8K UHD fits). */
export const DEFAULT_MAX_VIDEO_PIXELS = 40_000_000;
/** Default limit for one video's extraction; 0 disables it. */
export const DEFAULT_VIDEO_TIMEOUT_MS = 15 * 60 * 1000;

export interface VideoStreamInfo {
  /** Demuxer as ffmpeg names it, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "gif". */
  container: string;
  codec: string;
  pixelFormat?: string;
  /** Stored frame size (before any rotation), as the reference uses it. */
  width: number;
  height: number;
  /** Clockwise degrees a player rotates the frames by (display matrix / rotate tag); 0 when none. */
  rotation: 0 | 90 | 180 | 270;
  /** Frames per second: avg_frame_rate, or r_frame_rate when the average is unknown. */
  fps: number;
  fpsSource: 'avg_frame_rate' | 'r_frame_rate';
  /** The frame rate as ffmpeg printed it (2 decimals), kept for diagnostics. */
  fpsText: string;
  durationSeconds?: number;
  /** Major version of the libavcodec that ffmpeg was built with (58 = ffmpeg 4.x). */
  libavcodecMajor?: number;
}

export interface VideoProbeOptions extends FfmpegLocateOptions, FfmpegRunOptions {}

export interface VideoFrameOptions extends VideoProbeOptions {
  /** Hash one frame every this many seconds: every trunc(seconds × fps)-th frame; 0 = every frame. Default 1. */
  secondsPerHash?: number;
  /** Scale every frame to size×size (aspect not kept), as the reference's `-s N`. Default: the stream's own size. */
  size?: number;
  /** Rotate frames upright per the rotation metadata (default false, as the reference). */
  autorotate?: boolean;
  /** Refuse streams whose frames have more pixels than this (default DEFAULT_MAX_VIDEO_PIXELS). */
  maxPixels?: number;
  /** Keep the frames a damaged file yields, flagged in `partial` (default true); false makes decode errors fatal. */
  lenient?: boolean;
  /** Yield the same pixel buffer for every frame (valid until the next one is requested). Default false. */
  reuseBuffer?: boolean;
  /** Charged one frame and its pixels per frame yielded; its deadline and cancellation stop ffmpeg. */
  budget?: ItemBudget;
  /**
   * Decoder threads (ffmpeg's input `-threads`; default: ffmpeg's, one per core). Frame threading costs CPU
   * of its own: when several files are hashed at once the cores are busy anyway, and 1 spends less.
   */
  decoderThreads?: number;
}

/** A video opened for frame extraction; `frames()` starts ffmpeg and may be iterated once. */
export interface VideoFrameSource {
  readonly info: VideoStreamInfo;
  /** Frames yielded are those with frameNumber % frameInterval === 0. */
  readonly frameInterval: number;
  /** Size of the frames yielded. */
  readonly width: number;
  readonly height: number;
  frames(): AsyncGenerator<RgbFrame>;
  /** After iteration: the decoder's complaints when a damaged file still yielded frames. */
  readonly partial: string | undefined;
}

/** Demuxers ffmpeg would pick for files that are not video (text as ANSI art) or that open other files. */
const REFUSED_DEMUXERS = new Set(['tty', 'bin', 'xbin', 'adf', 'idf', 'ansi', 'concat', 'hls', 'hls,applehttp', 'applehttp', 'lavfi', 'ffmetadata', 'data']);

/**
 * ffmpeg's own formatting of a rate in its stream dump (libavformat dump.c print_fps): two decimals
 * unless the value is a whole number, "k" for whole thousands.
 */
export function ffmpegRateText(rate: number): string {
  const v = Math.round(rate * 100);
  if (v === 0) return rate.toFixed(4);
  if (v % 100 !== 0) return rate.toFixed(2);
  if (v % (100 * 1000) !== 0) return rate.toFixed(0);
  return `${(rate / 1000).toFixed(0)}k`;
}

/**
 * The exact rate behind ffmpeg's printed one. ffmpeg prints rates to 2 decimals; the vPDQ frame
 * interval and timestamps need the rational itself. The first candidate that prints the same text
 * wins: a whole number, an NTSC-style k×1000/1001 (29.97 → 30000/1001), a half, third or quarter
 * (0.33 → 1/3), else the printed decimal. Averages of variable-frame-rate files
 * (e.g. 29.87) are not such simple fractions: they are known to ±0.005 only (docs/video.md).
 */
export function parseFrameRate(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(k?)$/.exec(text.trim());
  if (!m) return undefined;
  const printed = Number(m[1]) * (m[2] ? 1000 : 1);
  if (!(printed > 0)) return undefined;
  const same = (rate: number) => rate > 0 && ffmpegRateText(rate) === text.trim();
  if (Number.isInteger(printed)) return printed;
  const ntsc = (Math.round((printed * 1001) / 1000) * 1000) / 1001;
  if (same(ntsc)) return ntsc;
  for (let q = 2; q <= 4; q++) {
    const rate = Math.round(printed * q) / q;
    if (same(rate)) return rate;
  }
  return printed;
}

function streamBlock(lines: string[], start: number): string[] {
  const block: string[] = [];
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*Stream #|^\S|^\s*(Input|Output) #/.test(line)) break;
    block.push(line);
  }
  return block;
}

function parseRotation(block: string[]): 0 | 90 | 180 | 270 {
  let degrees: number | undefined;
  for (const line of block) {
    // Display matrix (all versions): counter-clockwise angle; players rotate by its opposite.
    const matrix = /displaymatrix: rotation of (-?[\d.]+) degrees/.exec(line);
    if (matrix) degrees = -Number(matrix[1]);
  }
  if (degrees === undefined) {
    for (const line of block) {
      const tag = /^\s*rotate\s*:\s*(-?\d+)\s*$/.exec(line);
      if (tag) degrees = Number(tag[1]);
    }
  }
  if (degrees === undefined || !Number.isFinite(degrees)) return 0;
  const quarter = (((Math.round(degrees / 90) % 4) + 4) % 4) as 0 | 1 | 2 | 3;
  return ([0, 90, 180, 270] as const)[quarter];
}

/**
 * Parses `ffmpeg -i FILE` stderr: the first input's container, its first video stream's codec,
 * size, rotation and frame rate. Throws VIGIL_ERR_VIDEO_DECODE when there is no usable video stream.
 */
export function parseStreamInfo(stderr: string): VideoStreamInfo {
  const lines = stderr.split(/\r?\n/);
  const lavc = /libavcodec\s+(\d+)\.\s*\d+/.exec(stderr);
  const inputIndex = lines.findIndex((l) => /^Input #0, /.test(l));
  if (inputIndex < 0) {
    const complaints = lines.map((l) => l.trim()).filter((l) => l && !/^At least one output file|^ffmpeg version|^\s*(built with|configuration:|lib\w+\s+\d)/.test(l));
    const size = /Picture size (\d+)x(\d+) is invalid/.exec(stderr);
    if (size) throw new VigilError('VIGIL_ERR_PIXEL_LIMIT', `Video declares ${size[1]}×${size[2]} frames, more than ffmpeg can decode`);
    throw new VigilError('VIGIL_ERR_VIDEO_DECODE', `Not a readable video: ${lastLines(complaints.join('\n'), 2) || 'ffmpeg found no input'}`);
  }
  const container = /^Input #0, (.+?), from /.exec(lines[inputIndex])?.[1] ?? 'unknown';
  if (REFUSED_DEMUXERS.has(container)) {
    throw new VigilError('VIGIL_ERR_VIDEO_DECODE', `Not a video: ffmpeg would read it as "${container}"`);
  }
  const duration = /Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(stderr);
  for (let i = inputIndex + 1; i < lines.length; i++) {
    if (/^(Input|Output) #/.test(lines[i])) break;
    const stream = /^\s*Stream #0:\d+\S*: Video: (.*)$/.exec(lines[i]);
    if (!stream) continue;
    const desc = stream[1];
    const codec = /^([\w-]+)/.exec(desc)?.[1] ?? 'unknown';
    // The size follows a comma; "(avc1 / 0x31637661)" must not read as 0×31637661.
    const size = /[ ,](\d{1,9})x(\d{1,9})(?=[ ,[]|$)/.exec(desc);
    const pixelFormat = /^[^,]*?,\s*([a-z0-9_]+)(?:\(|,|$)/.exec(desc)?.[1];
    const avg = /([\d.]+k?) fps/.exec(desc)?.[1];
    const tbr = /([\d.]+k?) tbr/.exec(desc)?.[1];
    const width = size ? Number(size[1]) : 0;
    const height = size ? Number(size[2]) : 0;
    if (!(width > 0 && height > 0)) {
      throw new VigilError('VIGIL_ERR_VIDEO_DECODE', `The video stream has no frame size (${codec}): ${desc.slice(0, 120)}`);
    }
    const avgRate = avg !== undefined ? parseFrameRate(avg) : undefined;
    const rRate = tbr !== undefined ? parseFrameRate(tbr) : undefined;
    const fps = avgRate ?? rRate;
    if (fps === undefined) {
      throw new VigilError('VIGIL_ERR_VIDEO_DECODE', `The video stream has no frame rate (${codec})`);
    }
    return {
      container,
      codec,
      ...(pixelFormat !== undefined ? { pixelFormat } : {}),
      width,
      height,
      rotation: parseRotation(streamBlock(lines, i)),
      fps,
      fpsSource: avgRate !== undefined ? 'avg_frame_rate' : 'r_frame_rate',
      fpsText: (avgRate !== undefined ? avg : tbr) as string,
      ...(duration ? { durationSeconds: Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]) } : {}),
      ...(lavc ? { libavcodecMajor: Number(lavc[1]) } : {}),
    };
  }
  const audio = lines.some((l) => /^\s*Stream #0:\d+\S*: Audio: /.test(l));
  throw new VigilError('VIGIL_ERR_VIDEO_DECODE', audio ? 'The file has audio but no video stream' : 'The file has no video stream');
}

/** ffmpeg prefixes complaints with the input URL; keep the reason only. */
function cleanComplaint(line: string): string {
  return line.replace(/^file:.*?: (?=[A-Z])/, '').replace(/^\[[^\]]*\]\s*/, '').slice(0, 300);
}

/** Stats the file first: ffmpeg's own messages for a missing or empty file are less clear. */
async function checkInputFile(path: string): Promise<string> {
  const absolute = resolvePath(path);
  let size: number;
  try {
    const s = await stat(absolute);
    if (!s.isFile()) throw new VigilError('VIGIL_ERR_UNREADABLE', `Not a regular file: ${path}`);
    size = s.size;
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError('VIGIL_ERR_UNREADABLE', `Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (size === 0) throw new VigilError('VIGIL_ERR_EMPTY_FILE', 'The file is empty (0 bytes)');
  return absolute;
}

/**
 * Input arguments shared by probe and extraction. `file:` keeps a name like "-x" or "http:x" a file
 * name, and the protocol whitelist stops a playlist inside the file from reaching the network.
 */
function inputArgs(absolute: string): string[] {
  return ['-nostdin', '-protocol_whitelist', 'file', '-i', `file:${absolute}`];
}

/** Stream info of the file's first video stream (runs `ffmpeg -i FILE` and reads its dump). */
export async function probeVideo(path: string, options: VideoProbeOptions = {}): Promise<VideoStreamInfo> {
  const absolute = await checkInputFile(path);
  const ffmpeg = await locateFfmpeg(options);
  return probeWith(ffmpeg.path, absolute, options);
}

async function probeWith(binary: string, absolute: string, options: FfmpegRunOptions): Promise<VideoStreamInfo> {
  const { stderr } = await runFfmpeg(binary, inputArgs(absolute), {
    timeoutMs: Math.min(options.timeoutMs || 60_000, 60_000),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return parseStreamInfo(stderr);
}

/** The filter chain: select before scale so frames that are not hashed are never converted. */
export function frameFilter(interval: number, width: number, height: number): string {
  const select = interval > 1 ? `select='not(mod(n\\,${interval}))',` : '';
  return `${select}scale=${width}:${height}:flags=area,format=rgb24`;
}

/**
 * Opens a video for frame extraction: checks the file, probes the stream, applies the pixel limit.
 * Throws VIGIL_ERR_UNREADABLE, VIGIL_ERR_EMPTY_FILE, VIGIL_ERR_VIDEO_DECODE, VIGIL_ERR_PIXEL_LIMIT,
 * VIGIL_ERR_FFMPEG_MISSING. The returned source starts ffmpeg when iterated.
 */
export async function openVideoFrames(path: string, options: VideoFrameOptions = {}): Promise<VideoFrameSource> {
  const absolute = await checkInputFile(path);
  const ffmpeg = await locateFfmpeg(options);
  const info = await probeWith(ffmpeg.path, absolute, options);
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_VIDEO_PIXELS;
  if (info.width * info.height > maxPixels) {
    throw new VigilError('VIGIL_ERR_PIXEL_LIMIT', `Video declares ${info.width}×${info.height} frames, over the limit of ${maxPixels} pixels`);
  }
  if (options.size !== undefined && !(Number.isInteger(options.size) && options.size > 0 && options.size <= 16384)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected an integer 1..16384 for size but received ${options.size}`);
  }
  const frameInterval = vpdqFrameInterval(options.secondsPerHash ?? VPDQ_DEFAULT_SECONDS_PER_HASH, info.fps);
  const turned = options.autorotate === true && (info.rotation === 90 || info.rotation === 270);
  const width = options.size ?? (turned ? info.height : info.width);
  const height = options.size ?? (turned ? info.width : info.height);
  // ffmpeg 5.1 renamed -vsync to -fps_mode; -vsync still works there, with a warning.
  const passthrough = (info.libavcodecMajor ?? 58) >= 60 ? ['-fps_mode', 'passthrough'] : ['-vsync', '0'];
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    ...(options.autorotate === true ? [] : ['-noautorotate']),
    '-reinit_filter',
    '0',
    ...(options.decoderThreads !== undefined ? ['-threads', String(Math.max(1, Math.floor(options.decoderThreads)))] : []),
    ...inputArgs(absolute),
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    '-vf',
    frameFilter(frameInterval, width, height),
    ...passthrough,
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
  let partial: string | undefined;
  let started = false;
  const source: VideoFrameSource = {
    info,
    frameInterval,
    width,
    height,
    get partial() {
      return partial;
    },
    frames: async function* () {
      if (started) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'frames() of a video source can be iterated once');
      started = true;
      const budget = options.budget;
      const signals = [options.signal, budget?.signal].filter((s): s is AbortSignal => s !== undefined);
      const proc = new FfmpegProcess(ffmpeg.path, args, {
        timeoutMs: Math.min(options.timeoutMs ?? DEFAULT_VIDEO_TIMEOUT_MS, budget ? Math.max(1, budget.remainingMs()) : Infinity),
        ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
      });
      let count = 0;
      try {
        for await (const data of readFrames(proc.child.stdout!, width * height * 3, options.reuseBuffer === true)) {
          const frameNumber = count * frameInterval;
          count++;
          // Videos are bounded by frames and time, not pixels: an honest ten-minute 1080p video decodes
          // billions of them, and its container cannot lie about a canvas the way a picture's header can.
          budget?.charge(0, 1, 'decoding video frames');
          yield { data, width, height, frameNumber, timestamp: vpdqTimestamp(frameNumber, info.fps) };
        }
        const exit = await proc.exited;
        if (proc.failure) throw proc.failure;
        const complaint = proc.stderr().trim();
        if (exit.code !== 0) {
          throw new VigilError('VIGIL_ERR_VIDEO_DECODE', `ffmpeg failed (exit ${exit.code ?? exit.signal}): ${lastLines(complaint) || 'no message'}`);
        }
        if (complaint) {
          if (options.lenient === false) throw new VigilError('VIGIL_ERR_VIDEO_DECODE', `The video is damaged: ${lastLines(complaint)}`);
          partial = lastLines(complaint);
        }
        if (count === 0) throw new VigilError('VIGIL_ERR_VIDEO_DECODE', `No frame could be decoded${complaint ? `: ${lastLines(complaint)}` : ''}`);
      } catch (err) {
        // A pipe that broke because ffmpeg was stopped reports why it was stopped.
        throw proc.failure ?? err;
      } finally {
        await proc.stop();
      }
    },
  };
  return source;
}

function lastLines(text: string, n = 3): string {
  return text
    .split(/\r?\n/)
    .map(cleanComplaint)
    .filter(Boolean)
    .slice(-n)
    .join('; ');
}

/**
 * Cuts a byte stream into frames of `frameBytes`, across chunk boundaries. Iterating the stream
 * lazily is the backpressure: while the consumer works on a frame nothing is read, the pipe fills and
 * ffmpeg blocks. A trailing partial frame (ffmpeg killed mid-frame) is dropped.
 */
export async function* readFrames(stream: Readable | AsyncIterable<Uint8Array>, frameBytes: number, reuse = false): AsyncGenerator<Uint8Array> {
  let frame = new Uint8Array(frameBytes);
  let filled = 0;
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(frameBytes - filled, chunk.length - offset);
      frame.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === frameBytes) {
        yield frame;
        if (!reuse) frame = new Uint8Array(frameBytes);
        filled = 0;
      }
    }
  }
}
