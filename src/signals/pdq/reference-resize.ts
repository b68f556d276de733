/**
 * The reference file tool (pdq-photo-hasher) resizes any image with a side over 512 px to exactly
 * 512×512 with CImg's nearest-neighbour resize (aspect ratio not kept) before hashing. Lists made with
 * the reference carry hashes of that resized image, so matching them bit-for-bit means doing the same.
 *
 * CImg walks the output accumulating source offsets floor((x+1)·W/512); output x therefore samples
 * source column floor(x·W/512) (exact in double: x·W < 2^53 and /512 is a power of two).
 */
import type { PixelBuffer } from './luma.js';
import { PDQ_REFERENCE_MAX_DIMENSION } from './pdq.js';

export function needsReferenceResize(width: number, height: number, max = PDQ_REFERENCE_MAX_DIMENSION): boolean {
  return width > max || height > max;
}

export function referenceResize(pixels: PixelBuffer, size = PDQ_REFERENCE_MAX_DIMENSION): PixelBuffer {
  const { width, height, channels } = pixels;
  if (!needsReferenceResize(width, height, size)) return pixels;
  const cols = new Int32Array(size);
  const rows = new Int32Array(size);
  for (let x = 0; x < size; x++) cols[x] = Math.floor((x * width) / size) * channels;
  for (let y = 0; y < size; y++) rows[y] = Math.floor((y * height) / size) * width * channels;
  return gatherPixels(pixels, rows, cols);
}

/**
 * out[y][x] = the pixel at byte offset rows[y] + cols[x] of the source: the one loop behind the reference
 * resize, sampled crops and orientations (any nearest-neighbour remap separable into row and column tables).
 */
export function gatherPixels(pixels: PixelBuffer, rows: Int32Array, cols: Int32Array): PixelBuffer {
  const { data, channels } = pixels;
  const outW = cols.length;
  const outH = rows.length;
  const out = new Uint8Array(outW * outH * channels);
  for (let y = 0, d = 0; y < outH; y++) {
    const r = rows[y];
    // Specialised per channel count: this runs on every large image, on the hot path.
    if (channels === 3) {
      for (let x = 0; x < outW; x++, d += 3) {
        const s = r + cols[x];
        out[d] = data[s];
        out[d + 1] = data[s + 1];
        out[d + 2] = data[s + 2];
      }
    } else if (channels === 1) {
      for (let x = 0; x < outW; x++) out[d++] = data[r + cols[x]];
    } else {
      for (let x = 0; x < outW; x++) for (let k = 0, s = r + cols[x]; k < channels; k++) out[d++] = data[s + k];
    }
  }
  return { data: out, width: outW, height: outH, channels };
}
