/**
 * Inputs → 8-bit pixels for PDQ. Encoded pictures (Blob/File, bytes) are decoded by the runtime's own decoder
 * (createImageBitmap + OffscreenCanvas): identical pixels give the server's hash bit for bit, but a browser
 * decodes JPEG and colour-manages differently from libvips, so a JPEG's hash may differ by a few bits
 * (docs/client.md, "Decode honesty").
 */
import type { PixelBuffer } from '../signals/pdq/luma.js';
import { withStoredOrientation } from './orientation.js';
import { decodePng16 } from './png16.js';
import { web, type ImageBitmapLike, type ImageDataLike } from './web-types.js';

/** Decoded pixels the app already has: 8-bit, interleaved, row-major (channels default 4, RGBA). */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels?: 1 | 2 | 3 | 4;
}

export function isImageData(value: unknown): value is ImageDataLike {
  const I = web.ImageData;
  return I !== undefined && value instanceof I;
}

export function isImageBitmap(value: unknown): value is ImageBitmapLike {
  const B = web.ImageBitmap;
  return B !== undefined && value instanceof B;
}

export function pixelsOfRaw(raw: RawPixels): PixelBuffer {
  const { data } = raw;
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { data: bytes, width: raw.width, height: raw.height, channels: raw.channels ?? 4 };
}

export class DecodeUnavailableError extends Error {
  constructor() {
    super('This runtime cannot decode pictures (no createImageBitmap/OffscreenCanvas): pass ImageData or raw pixels instead');
    this.name = 'DecodeUnavailableError';
  }
}

export function canDecode(): boolean {
  return typeof web.createImageBitmap === 'function' && typeof web.OffscreenCanvas === 'function';
}

/** ImageBitmap → RGBA pixels through an OffscreenCanvas (sRGB, the canvas's only lossless read-back). */
export function pixelsOfBitmap(bitmap: ImageBitmapLike): PixelBuffer {
  const Canvas = web.OffscreenCanvas;
  if (!Canvas) throw new DecodeUnavailableError();
  const { width, height } = bitmap;
  const ctx = new Canvas(width, height).getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new DecodeUnavailableError();
  ctx.drawImage(bitmap, 0, 0);
  return pixelsOfRaw(ctx.getImageData(0, 0, width, height));
}

/**
 * Blob → pixels as the server's reference-compatible decode: no colour-space conversion, no EXIF orientation
 * (orientation.ts), 16-bit PNGs by their low bytes (png16.ts); alpha is not premultiplied.
 */
export async function decodeBlob(input: Blob): Promise<PixelBuffer> {
  if (!web.createImageBitmap || !web.OffscreenCanvas) throw new DecodeUnavailableError();
  return decodeBytes(new Uint8Array(await input.arrayBuffer()), input);
}

/** Encoded bytes → pixels (see decodeBlob); `blob`: the same bytes as a Blob, when the caller has one. */
export async function decodeBytes(bytes: Uint8Array, blob?: Blob): Promise<PixelBuffer> {
  const create = web.createImageBitmap;
  if (!create || !web.OffscreenCanvas) throw new DecodeUnavailableError();
  const png16 = await decodePng16(bytes);
  if (png16) return png16;
  // Decoded as stored, as the server does (browsers would apply the EXIF orientation).
  const stored = withStoredOrientation(bytes);
  const source = stored ? new Blob([stored as Uint8Array<ArrayBuffer>]) : (blob ?? new Blob([bytes as Uint8Array<ArrayBuffer>]));
  // No imageOrientation: 'none' is now an alias of 'from-image' (a WebP's or PNG's EXIF orientation is applied).
  const bitmap = await create(source, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  try {
    return pixelsOfBitmap(bitmap);
  } finally {
    bitmap.close();
  }
}

/**
 * The grey plane when every pixel has R = G = B, else the pixels as given. The server hashes such a picture as
 * grey (src/media/image-decode.ts, as ImageMagick and so the reference do), and grey luma is the value itself,
 * not 0.299R + 0.587G + 0.114B rounded in float32: on a flat, low-quality picture the two differ in bits.
 */
export function greyIfGrey(pixels: PixelBuffer): PixelBuffer {
  const { data, width, height, channels } = pixels;
  if (channels < 3) return pixels;
  const n = width * height;
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    const r = data[p];
    if (data[p + 1] !== r || data[p + 2] !== r) return pixels;
  }
  const grey = new Uint8Array(n);
  for (let i = 0, p = 0; i < n; i++, p += channels) grey[i] = data[p];
  return { data: grey, width, height, channels: 1 };
}
