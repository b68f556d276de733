/**
 * What hashing a file is expected to cost, from its size and header, before any decoding: how the
 * service's hashing pool orders its work (lanes.ts). A guess, never a limit: the item's budget still
 * bounds what it really costs, and a wrong guess only changes the order items start in.
 *
 * The unit is decoded pixels, as the budget counts them: a still costs its declared pixels (a JPEG over
 * the whole-decode size 1/64 of them, shrink-on-load), an animation its canvas once per frame up to the
 * budget, a video is always heavy. A header the worker refuses outright (an animation canvas over the
 * limit) costs nothing.
 */
import { open } from 'node:fs/promises';
import { DEFAULT_BUDGET } from '../core/budget.js';
import { DEFAULT_FULL_DECODE_PIXELS, MAX_ANIMATION_CANVAS } from '../media/image-decode.js';
import { sniffMedia } from '../media/sniff.js';
import type { LaneItem } from './lanes.js';

/** Items expected to cost more than a still decoded whole at its largest are heavy. */
export const HEAVY_PIXELS = DEFAULT_FULL_DECODE_PIXELS;
/** Digests alone of a file this large take about a second. */
const HEAVY_BYTES = 64 * 1024 * 1024;
/** GIF and WebP frames are counted in at most this much of the file; a larger animation is heavy. */
const SCAN_BYTES = 4 * 1024 * 1024;
const HEAD_BYTES = 64 * 1024;

/** The expected cost of hashing the file at `path`; an unreadable file is light (it fails at once). */
export async function expectedCost(path: string, budgetPixels = DEFAULT_BUDGET.pixels): Promise<LaneItem> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return { cost: 0, heavy: false };
  }
  try {
    const { size } = await handle.stat();
    if (size > HEAVY_BYTES) return { cost: size, heavy: true };
    const head = new Uint8Array(Math.min(size, HEAD_BYTES));
    await handle.read(head, 0, head.length, 0);
    const animated = isGif(head) || isWebp(head);
    const bytes = animated && size > head.length && size <= SCAN_BYTES ? new Uint8Array(size) : head;
    if (bytes !== head) await handle.read(bytes, 0, size, 0);
    const pixels = expectedPixels(bytes, size, budgetPixels);
    return { cost: pixels, heavy: pixels > HEAVY_PIXELS };
  } catch {
    return { cost: 0, heavy: false };
  } finally {
    await handle.close();
  }
}

/** Expected decoded pixels for a file of `size` bytes starting with `bytes` (the whole file for GIF/WebP up to SCAN_BYTES). */
export function expectedPixels(bytes: Uint8Array, size: number, budgetPixels = DEFAULT_BUDGET.pixels): number {
  const kind = sniffMedia(bytes);
  if (kind === 'video' || kind === 'animation') return Infinity; // ffmpeg decodes every frame
  const animation = isGif(bytes) ? gifFrames(bytes) : isWebp(bytes) ? webpFrames(bytes) : undefined;
  if (animation) {
    const { canvas, frames } = animation;
    if (frames > 1 && canvas > MAX_ANIMATION_CANVAS) return 0; // refused from the header
    // A file cut short of the scan (larger than SCAN_BYTES) holds more frames than were counted.
    if (size > bytes.length) return Infinity;
    // Composed once, hashed once (about every tenth frame); the budget stops it.
    return Math.min(canvas * frames, budgetPixels);
  }
  const declared = stillPixels(bytes);
  if (declared === undefined) return size; // another format: about a pixel a byte
  return declared > DEFAULT_FULL_DECODE_PIXELS && bytes[0] === 0xff ? Math.ceil(declared / 64) : declared;
}

const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, Math.min(to, b.length)));
const isGif = (b: Uint8Array) => ascii(b, 0, 4) === 'GIF8';
const isWebp = (b: Uint8Array) => ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP';
const u16le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8);
const u24le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16);
const u32le = (b: Uint8Array, i: number) => (u24le(b, i) + b[i + 3]! * 0x1000000);
const u16be = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const u32be = (b: Uint8Array, i: number) => b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);

/** Declared pixels of a JPEG (first SOF) or PNG (IHDR); undefined for other formats. */
function stillPixels(b: Uint8Array): number | undefined {
  if (b.length >= 24 && b[0] === 0x89 && ascii(b, 1, 4) === 'PNG') return u32be(b, 16) * u32be(b, 20);
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  for (let pos = 2; pos + 9 < b.length; ) {
    if (b[pos] !== 0xff) return undefined;
    const marker = b[pos + 1]!;
    if (marker === 0xff) {
      pos++;
      continue;
    }
    // SOF0..15 except DHT (c4), JPG (c8) and DAC (cc).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return u16be(b, pos + 5) * u16be(b, pos + 7);
    if (marker === 0xda) return undefined;
    pos += 2 + u16be(b, pos + 2);
  }
  return undefined;
}

/** GIF: the logical screen and the number of image descriptors (block structure only, nothing decoded). */
function gifFrames(b: Uint8Array): { canvas: number; frames: number } {
  const canvas = u16le(b, 6) * u16le(b, 8);
  let pos = 13;
  if (b[10]! & 0x80) pos += 3 << ((b[10]! & 7) + 1);
  let frames = 0;
  const skipSubBlocks = () => {
    while (pos < b.length && b[pos] !== 0) pos += b[pos]! + 1;
    pos++;
  };
  while (pos < b.length) {
    const block = b[pos];
    if (block === 0x2c) {
      frames++;
      const flags = b[pos + 9] ?? 0;
      pos += 10;
      if (flags & 0x80) pos += 3 << ((flags & 7) + 1);
      pos++; // LZW minimum code size
      skipSubBlocks();
    } else if (block === 0x21) {
      pos += 2;
      skipSubBlocks();
    } else break; // trailer or damage
  }
  return { canvas, frames: Math.max(1, frames) };
}

/** WebP: the VP8X canvas and the number of ANMF chunks (1 for a still). */
function webpFrames(b: Uint8Array): { canvas: number; frames: number } | undefined {
  if (ascii(b, 12, 16) !== 'VP8X' || b.length < 30) return undefined;
  const canvas = (1 + u24le(b, 24)) * (1 + u24le(b, 27));
  let frames = 0;
  for (let pos = 12; pos + 8 <= b.length; ) {
    if (ascii(b, pos, pos + 4) === 'ANMF') frames++;
    const length = u32le(b, pos + 4);
    pos += 8 + length + (length & 1);
  }
  return { canvas, frames: Math.max(1, frames) };
}
