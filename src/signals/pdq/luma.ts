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

/**
 * Luminance Y = 0.299R + 0.587G + 0.114B in float32 (grey is taken as is). Alpha is ignored
 * without compositing, as the reference drops it: the colour stored under transparency is hashed.
 */
export function lumaFromPixels(pixels: PixelBuffer, out?: Float32Array): Float32Array {
  validatePixels(pixels);
  const { data, width, height, channels } = pixels;
  const n = width * height;
  const luma = out && out.length >= n ? out : new Float32Array(n);
  const fr = Math.fround;
  if (channels <= 2) {
    for (let i = 0, p = 0; i < n; i++, p += channels) luma[i] = data[p];
  } else {
    for (let i = 0, p = 0; i < n; i++, p += channels) {
      luma[i] = fr(fr(LUMA_R * data[p]) + fr(LUMA_G * data[p + 1])) + fr(LUMA_B * data[p + 2]);
    }
  }
  return luma;
}
