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
  const { data, width, height, channels } = pixels;
  if (!needsReferenceResize(width, height, size)) return pixels;
  const out = new Uint8Array(size * size * channels);
  const srcCols = new Int32Array(size);
  for (let x = 0; x < size; x++) srcCols[x] = Math.floor((x * width) / size) * channels;
  for (let y = 0; y < size; y++) {
    const srcRow = Math.floor((y * height) / size) * width * channels;
    let d = y * size * channels;
    // Specialised per channel count: this runs on every large image, on the hot path.
    if (channels === 3) {
      for (let x = 0; x < size; x++, d += 3) {
        const s = srcRow + srcCols[x];
        out[d] = data[s];
        out[d + 1] = data[s + 1];
        out[d + 2] = data[s + 2];
      }
    } else if (channels === 1) {
      for (let x = 0; x < size; x++) out[d++] = data[srcRow + srcCols[x]];
    } else {
      for (let x = 0; x < size; x++) {
        const s = srcRow + srcCols[x];
        for (let c = 0; c < channels; c++) out[d++] = data[s + c];
      }
    }
  }
  return { data: out, width: size, height: size, channels };
}
