/**
 * 16-bit PNGs as the reference hashes them. A canvas gives 8 bits per sample (the high byte, rounded); the
 * reference (ImageMagick writes 16-bit PNM, CImg<uint8_t> keeps the low byte) and the server's default
 * (src/media/image-decode.ts, SixteenBitMode 'reference') hash `v & 0xff`. Lists made with the reference carry
 * those hashes, so the client decodes such a PNG itself: inflate through the runtime's DecompressionStream,
 * undo the row filters, keep each sample's low byte, drop alpha. Non-interlaced only (Adam7 16-bit PNGs fall
 * back to the canvas). Hand-written because the one step no PNG library exposes is the low-byte reduction.
 */
import type { PixelBuffer } from '../signals/pdq/luma.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

interface Header { width: number; height: number; channels: number; idat: Uint8Array[] }

function header16(bytes: Uint8Array): Header | undefined {
  if (bytes.length < 33 || SIGNATURE.some((v, i) => bytes[i] !== v)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // IHDR comes first: width, height, bit depth, colour type, compression, filter, interlace.
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const depth = bytes[24];
  const channels = CHANNELS[bytes[25]];
  if (depth !== 16 || !channels || bytes[28] !== 0 || width === 0 || height === 0) return undefined;
  const idat: Uint8Array[] = [];
  for (let p = 8; p + 12 <= bytes.length; ) {
    const length = view.getUint32(p);
    const type = String.fromCharCode(bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]);
    if (p + 12 + length > bytes.length) return undefined;
    if (type === 'IDAT') idat.push(bytes.subarray(p + 8, p + 8 + length));
    if (type === 'IEND') break;
    p += 12 + length;
  }
  return idat.length > 0 ? { width, height, channels, idat } : undefined;
}

/** A non-interlaced 16-bit PNG → 8-bit pixels (low bytes, alpha dropped); undefined for anything else. */
export async function decodePng16(bytes: Uint8Array): Promise<PixelBuffer | undefined> {
  const h = header16(bytes);
  const Stream = (globalThis as { DecompressionStream?: new (format: string) => TransformStream<Uint8Array, Uint8Array> }).DecompressionStream;
  if (!h || !Stream) return undefined;
  const { width, height, channels } = h;
  const bpp = channels * 2;
  const stride = width * bpp;
  const raw = new Uint8Array(await new Response(new Blob(h.idat as Uint8Array<ArrayBuffer>[]).stream().pipeThrough(new Stream('deflate'))).arrayBuffer());
  if (raw.length < height * (stride + 1)) return undefined;
  const colour = channels >= 3 ? 3 : 1;
  const out = new Uint8Array(width * height * colour);
  let prev = new Uint8Array(stride);
  let row = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      let v = src[i];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) return undefined;
      row[i] = v & 0xff;
    }
    // Samples are big-endian: the low byte of sample k is row[2k + 1].
    for (let x = 0, o = y * width * colour; x < width; x++) for (let k = 0; k < colour; k++) out[o++] = row[x * bpp + k * 2 + 1];
    [prev, row] = [row, prev];
  }
  return { data: out, width, height, channels: colour as 1 | 3 };
}
