/**
 * Pixels → float32 luminance, exactly as the reference's fillFloatLumaFromRGB.
 * Bit-exactness needs the same float32 rounding after every operation, hence Math.fround.
 */
import { invalidArgument } from '../../core/errors.js';

/** Decoded pixels: 8-bit, interleaved, row-major. 1 = grey, 2 = grey+alpha, 3 = RGB, 4 = RGBA. */
export interface PixelBuffer {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

const LUMA_R = Math.fround(0.299);
const LUMA_G = Math.fround(0.587);
const LUMA_B = Math.fround(0.114);

export function validatePixels(pixels: PixelBuffer): void {
  const { data, width, height, channels } = pixels;
  if (!Number.isInteger(width) || width < 0) throw invalidArgument('a non-negative integer', 'width', width);
  if (!Number.isInteger(height) || height < 0) throw invalidArgument('a non-negative integer', 'height', height);
  if (![1, 2, 3, 4].includes(channels)) throw invalidArgument('1, 2, 3 or 4', 'channels', channels);
  if (!(data instanceof Uint8Array) || data.length < width * height * channels) {
    throw invalidArgument(`at least ${width * height * channels} bytes`, 'data', data?.length);
  }
}

// The products c·v for v = 0..255, rounded to float32 once: the same values the reference computes per
// pixel, so the sum below is bit-identical while doing two additions instead of three multiplications.
const TABLE_R = Float32Array.from({ length: 256 }, (_, v) => LUMA_R * v);
const TABLE_G = Float32Array.from({ length: 256 }, (_, v) => LUMA_G * v);
const TABLE_B = Float32Array.from({ length: 256 }, (_, v) => LUMA_B * v);

/**
 * Luminance Y = 0.299R + 0.587G + 0.114B in float32 (grey is taken as is). Alpha is ignored
 * without compositing, as the reference drops it: the colour stored under transparency is hashed.
 *
 * With `sampleTo`, an image with a side over that size is sampled to exactly sampleTo × sampleTo by the
 * reference tool's nearest-neighbour rule (see reference-resize.ts) on the way, without an intermediate
 * RGB copy; `lumaDimensions` says the size of the result.
 */
export function lumaFromPixels(pixels: PixelBuffer, out?: Float32Array, sampleTo?: number): Float32Array {
  validatePixels(pixels);
  const { data, width, height, channels } = pixels;
  const resize = sampleTo !== undefined && (width > sampleTo || height > sampleTo);
  const ow = resize ? sampleTo : width;
  const oh = resize ? sampleTo : height;
  const n = ow * oh;
  const luma = out && out.length >= n ? out : new Float32Array(n);
  const fr = Math.fround;
  if (!resize) {
    if (channels <= 2) for (let i = 0, p = 0; i < n; i++, p += channels) luma[i] = data[p];
    else for (let i = 0, p = 0; i < n; i++, p += channels) luma[i] = fr(TABLE_R[data[p]] + TABLE_G[data[p + 1]]) + TABLE_B[data[p + 2]];
    return luma;
  }
  const srcCols = new Int32Array(ow);
  for (let x = 0; x < ow; x++) srcCols[x] = Math.floor((x * width) / ow) * channels;
  for (let y = 0; y < oh; y++) {
    const srcRow = Math.floor((y * height) / oh) * width * channels;
    const dst = y * ow;
    if (channels <= 2) {
      for (let x = 0; x < ow; x++) luma[dst + x] = data[srcRow + srcCols[x]];
    } else {
      for (let x = 0; x < ow; x++) {
        const p = srcRow + srcCols[x];
        luma[dst + x] = fr(TABLE_R[data[p]] + TABLE_G[data[p + 1]]) + TABLE_B[data[p + 2]];
      }
    }
  }
  return luma;
}

/** Size of the luma buffer lumaFromPixels produces for these pixels and `sampleTo`. */
export function lumaDimensions(pixels: { width: number; height: number }, sampleTo?: number): { width: number; height: number } {
  if (sampleTo !== undefined && (pixels.width > sampleTo || pixels.height > sampleTo)) return { width: sampleTo, height: sampleTo };
  return { width: pixels.width, height: pixels.height };
}
