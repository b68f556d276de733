/**
 * A video shown to a reviewer as a contact sheet: frames sampled evenly across the video, composed into one
 * still image (no player, no sound, nothing that plays by itself). The route blurs and greys it like any
 * picture; revealing it is the same logged reveal.
 *
 * ffmpeg reads a file, so the decrypted video is written to a private temporary folder (0700, file 0600)
 * and removed as soon as the frames are out. Frames are sampled by ffmpeg (src/media/video-frames.ts) at one
 * per duration/tiles seconds; the grid is laid out by sharp.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';
import { openVideoFrames, probeVideo } from '../../media/video-frames.js';

export interface ContactSheetOptions {
  /** Frames on the sheet (default 12: 4 columns × 3 rows). */
  tiles?: number;
  columns?: number;
  /** Width of one tile in pixels (height follows the video's shape). */
  tileWidth?: number;
  /** Gives up after this long (default 60 s). */
  timeoutMs?: number;
  ffmpegPath?: string;
  /**
   * Where the decrypted video sits while ffmpeg reads it: the service's private (0700) upload folder, which a
   * restart clears should a crash leave it there; the OS temp folder only where none is given.
   */
  tempDir?: string;
}

/** Sheets built at once per process: each runs ffmpeg and holds a decrypted video on disk. */
const MAX_CONCURRENT = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function slot(): Promise<() => void> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  return () => {
    running--;
    waiting.shift()?.();
  };
}

export interface ContactSheet {
  /** The sheet as a PNG. */
  image: Buffer;
  frames: number;
  /** Where each tile was taken, in seconds. */
  timestamps: number[];
  width: number;
  height: number;
}

export async function contactSheet(video: Readable, o: ContactSheetOptions = {}): Promise<ContactSheet> {
  const tiles = Math.max(1, Math.min(o.tiles ?? 12, 48));
  const columns = Math.max(1, Math.min(o.columns ?? 4, tiles));
  const tileWidth = Math.max(16, Math.min(o.tileWidth ?? 240, 640));
  const run = { timeoutMs: o.timeoutMs ?? 60_000, ...(o.ffmpegPath ? { ffmpegPath: o.ffmpegPath } : {}) };
  const release = await slot();
  const dir = await mkdtemp(join(o.tempDir ?? tmpdir(), 'vigil-sheet-'));
  try {
    const path = join(dir, 'video');
    await pipeline(video, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    const info = await probeVideo(path, run);
    const duration = info.durationSeconds && info.durationSeconds > 0 ? info.durationSeconds : tiles / Math.max(1, info.fps);
    const tileHeight = Math.max(8, Math.round((tileWidth * info.height) / Math.max(1, info.width)));
    const source = await openVideoFrames(path, { ...run, secondsPerHash: Math.max(duration / tiles, 1 / Math.max(1, info.fps)) });
    const shots: { png: Buffer; timestamp: number }[] = [];
    for await (const frame of source.frames()) {
      if (shots.length >= tiles) break;
      const png = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).resize(tileWidth, tileHeight, { fit: 'fill' }).png().toBuffer();
      shots.push({ png, timestamp: frame.timestamp });
    }
    const rows = Math.max(1, Math.ceil(shots.length / columns));
    const gap = 4;
    const width = columns * tileWidth + (columns - 1) * gap;
    const height = rows * tileHeight + (rows - 1) * gap;
    const image = await sharp({ create: { width, height, channels: 3, background: { r: 40, g: 40, b: 40 } } })
      .composite(shots.map((s, i) => ({ input: s.png, left: (i % columns) * (tileWidth + gap), top: Math.floor(i / columns) * (tileHeight + gap) })))
      .png().toBuffer();
    return { image, frames: shots.length, timestamps: shots.map((s) => s.timestamp), width, height };
  } finally {
    await rm(dir, { recursive: true, force: true });
    release();
  }
}
