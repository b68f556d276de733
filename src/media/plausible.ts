/**
 * Whether a file's bytes could hold the picture its header declares. A header is a claim: a 1 KB JPEG
 * that says 14000×14000, or a 68-byte PNG that says 65535×1, holds almost no pixel data, and decoding
 * what it claims costs gigabytes for a picture that is nearly all filler. Each bound here is a floor no
 * valid encoder can go below, so an honest file always passes:
 * - JPEG with Huffman coding: every 8×8 luma block carries at least one bit (its DC difference code).
 * - PNG: zlib's deflate expands by at most 1032:1, and every row holds a filter byte and its samples.
 * Formats without such a floor (GIF, WebP, TIFF, HEIF…) answer undefined and rely on the pixel budget.
 */

/** Why the bytes cannot hold the declared picture, or undefined when they can (or the format has no floor). */
export function implausiblePicture(bytes: Uint8Array): string | undefined {
  return jpegShortfall(bytes) ?? pngShortfall(bytes);
}

function describe(width: number, height: number, bytes: number, share: number): string {
  const percent = share < 0.001 ? '<0.1' : (share * 100).toFixed(1);
  return `The header declares ${width}×${height} pixels, but the ${bytes}-byte file can hold at most ${percent}% of them: there is no real pixel data for the rest`;
}

const u16be = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];

function jpegShortfall(b: Uint8Array): string | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let pos = 2;
  while (pos + 9 < b.length) {
    if (b[pos] !== 0xff) return undefined;
    const marker = b[pos + 1];
    if (marker === 0xff) {
      pos++;
      continue;
    }
    const length = u16be(b, pos + 2);
    // SOF0..3 and SOF5..7 use Huffman coding (SOF9 and up: arithmetic, which has no per-block floor).
    if ((marker >= 0xc0 && marker <= 0xc3) || (marker >= 0xc5 && marker <= 0xc7)) {
      const height = u16be(b, pos + 5);
      const width = u16be(b, pos + 7);
      const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
      const bits = b.length * 8;
      return blocks > bits ? describe(width, height, b.length, bits / blocks) : undefined;
    }
    if (marker === 0xda || length < 2) return undefined;
    pos += 2 + length;
  }
  return undefined;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function pngShortfall(b: Uint8Array): string | undefined {
  if (b.length < 33 || PNG_SIGNATURE.some((v, i) => b[i] !== v)) return undefined;
  // IHDR is the first chunk: width, height, bit depth, colour type.
  const width = ((b[16] << 24) >>> 0) + (b[17] << 16) + (b[18] << 8) + b[19];
  const height = ((b[20] << 24) >>> 0) + (b[21] << 16) + (b[22] << 8) + b[23];
  const depth = b[24];
  const channels = PNG_CHANNELS[b[25]];
  if (!channels || width === 0 || height === 0) return undefined;
  const raw = height * (1 + Math.ceil((width * channels * depth) / 8));
  const most = b.length * 1032;
  return raw > most ? describe(width, height, b.length, most / raw) : undefined;
}
