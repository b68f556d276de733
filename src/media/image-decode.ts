/**
 * Image bytes → 8-bit pixels the way the PDQ reference tool sees them.
 *
 * pdq-photo-hasher decodes through ImageMagick (`convert FILE pnm:-`): 8-bit, alpha dropped without
 * compositing, EXIF orientation ignored, first frame of animations, ICC profiles not applied, and an
 * image whose every pixel is grey written as PGM (so its luma is the grey value, not 0.299R+0.587G+0.114B
 * rounded in float32). Reproducing each of those choices is what makes our hashes equal to hashes in
 * lists made with the reference. Options let an operator deviate knowingly (e.g. apply EXIF orientation).
 *
 * Decoding uses sharp (libvips), the only place in the project that touches image codecs.
 */
import sharp from 'sharp';
import type { ItemBudget } from '../core/budget.js';
import { VigilError } from '../core/errors.js';
import type { PixelBuffer } from '../signals/pdq/luma.js';
import { implausiblePicture } from './plausible.js';
import { describeFormat, toDecodableBytes } from './other-formats.js';

// A 50,000×50,000 PNG must be refused from its header, never decoded.
export const DEFAULT_MAX_PIXELS = 200_000_000;
/**
 * Pictures declaring more pixels than this are decoded at reduced size (libvips shrink-on-load where the
 * format has it, a sequential resize otherwise) straight to the reference's 512×512, and marked `reduced`:
 * a full decode would cost over 100 MB of RGB for a hash taken on 512×512 anyway.
 */
export const DEFAULT_FULL_DECODE_PIXELS = 32_000_000;
const REDUCED_SIDE = 512;
/** Frames of an animation are composed on its canvas: 0.4 s and 144 MB per frame at 6001×6001. */
export const MAX_ANIMATION_CANVAS = 4096 * 4096;

export interface DecodeOptions {
  /** Refuse images that declare more pixels than this (checked from the header, before decoding). */
  maxPixels?: number;
  /** Rotate/flip per EXIF orientation first. Off by default: the reference ignores it. */
  applyExifOrientation?: boolean;
  /** 16-bit → 8-bit conversion; default 'reference' (see SixteenBitMode). */
  sixteenBit?: SixteenBitMode;
  /** Keep what decodes from a truncated or damaged file (flagged `partial`). Default true. */
  lenient?: boolean;
  /** Also return the alpha plane (for trimming transparent padding); pixels are unchanged. */
  keepAlpha?: boolean;
  /** Charged with the pixels decoded; its deadline bounds libvips' work. */
  budget?: ItemBudget;
  /** Over this many declared pixels, decode at reduced size (default DEFAULT_FULL_DECODE_PIXELS). */
  fullDecodePixels?: number;
}

export interface DecodedImage extends PixelBuffer {
  /** Container format as sharp names it (jpeg, png, webp, gif, tiff, heif, …). */
  format: string;
  /** Dimensions as stored in the file, before any orientation. */
  sourceWidth: number;
  sourceHeight: number;
  /** Number of frames (pages) for animated images; 1 otherwise. */
  frames: number;
  /** EXIF orientation tag (1..8) when present. */
  orientation?: number;
  /** Set when the file was damaged and only partly decoded: the decoder's complaint. */
  partial?: string;
  /** The alpha plane (one byte per pixel), when asked for and the image has one. */
  alpha?: Uint8Array;
  /** Decoded at reduced size (512×512) because the picture is larger than a full decode is allowed to be. */
  reduced?: boolean;
}

/**
 * How 16-bit samples become 8-bit. The reference (ImageMagick writes 16-bit PNM, CImg<uint8_t> keeps
 * the low byte) hashes `v & 0xff` — noise for a real 16-bit photo, but it is what lists made with the
 * reference contain. 'scaled' hashes v/257 rounded, which is what the picture looks like.
 */
export type SixteenBitMode = 'reference' | 'scaled';

/** True when every pixel has R = G = B — ImageMagick then writes PGM and the reference hashes grey. */
function isGreyRgb(samples: Uint8Array | Uint16Array, pixels: number): boolean {
  for (let i = 0, p = 0; i < pixels; i++, p += 3) {
    const r = samples[p];
    if (samples[p + 1] !== r || samples[p + 2] !== r) return false;
  }
  return true;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The grey plane of 8-bit RGB samples when every pixel has R = G = B, else undefined: one pass, four
 * pixels (three 32-bit words in, one out) per step. A colour picture is usually told apart within its
 * first pixels, before anything is allocated; a grey one (a black-and-white photo saved as a colour
 * JPEG) costs ~1 ms per megapixel instead of ~6 with a byte-wise check and copy.
 */
function greyPlane(samples: Uint8Array, pixels: number): Uint8Array | undefined {
  const head = Math.min(pixels, 64);
  if (!isGreyRgb(samples, head)) return undefined;
  const grey = new Uint8Array(pixels);
  let i = 0;
  if (LITTLE_ENDIAN && (samples.byteOffset & 3) === 0) {
    const quads = pixels >> 2;
    const rgb = new Uint32Array(samples.buffer, samples.byteOffset, quads * 3);
    const out = new Uint32Array(grey.buffer, 0, quads);
    for (let q = 0, k = 0; q < quads; q++, k += 3) {
      // Bytes r0 g0 b0 r1 | g1 b1 r2 g2 | b2 r3 g3 b3, little-endian: equal neighbours within each pixel.
      const a = rgb[k];
      const b = rgb[k + 1];
      const c = rgb[k + 2];
      if (((a ^ (a >>> 8)) & 0xffff) !== 0 || a >>> 24 !== (b & 0xff) || ((b ^ (b >>> 8)) & 0xff00ff) !== 0 || b >>> 24 !== (c & 0xff) || ((c ^ (c >>> 8)) & 0xffff00) !== 0) {
        return undefined;
      }
      out[q] = (a & 0xff) | ((a >>> 24) << 8) | (b & 0xff0000) | ((c >>> 8) << 24);
    }
    i = quads << 2;
  }
  for (let p = i * 3; i < pixels; i++, p += 3) {
    const r = samples[p];
    if (samples[p + 1] !== r || samples[p + 2] !== r) return undefined;
    grey[i] = r;
  }
  return grey;
}

/** Samples (1 or 3 channels, 8 or 16 bit) → 8-bit pixels, grey when every pixel is grey. */
function toPixels(
  samples: Uint8Array | Uint16Array,
  width: number,
  height: number,
  channels: number,
  sixteenBit: SixteenBitMode,
): PixelBuffer {
  const pixels = width * height;
  if (samples instanceof Uint8Array) {
    if (channels !== 3) return { data: samples, width, height, channels: channels as 1 | 3 };
    const grey = greyPlane(samples, pixels);
    return grey ? { data: grey, width, height, channels: 1 } : { data: samples, width, height, channels: 3 };
  }
  const grey = channels === 3 && isGreyRgb(samples, pixels);
  const outChannels = grey ? 1 : channels;
  const step = grey ? 3 : 1;
  const data = new Uint8Array(pixels * outChannels);
  const convert =
    sixteenBit === 'reference'
      ? (v: number) => v & 0xff
      : (v: number) => ((v + 128 - ((v + 128) >> 8)) >> 8) & 0xff; // ImageMagick ScaleQuantumToChar
  for (let i = 0, p = 0; i < data.length; i++, p += step) data[i] = convert(samples[p]);
  return { data, width, height, channels: outChannels as 1 | 3 };
}

/**
 * ImageMagick's naive CMYK → RGB (no colour profile): R = (1 − C)(1 − K), computed at 16 bits and
 * rounded back to 8, as the reference pipeline does. sharp would otherwise colour-manage via ICC.
 */
function cmykToRgb(cmyk: Uint8Array, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const k = cmyk[i * 4 + 3] * 257;
    for (let c = 0; c < 3; c++) {
      const ink = cmyk[i * 4 + c] * 257;
      const v16 = Math.floor(65535 - ((ink * (65535 - k)) / 65535 + k) + 0.5);
      rgb[i * 3 + c] = ((v16 + 128 - ((v16 + 128) >> 8)) >> 8) & 0xff;
    }
  }
  return rgb;
}

function classifySharpError(err: unknown, input: Uint8Array): VigilError {
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) {
    return new VigilError('VIGIL_ERR_PIXEL_LIMIT', `Image refused: ${message}`, { cause: err });
  }
  if (/unsupported image format|bad seek|not a known|not in a known format/i.test(message)) {
    return new VigilError('VIGIL_ERR_UNSUPPORTED_MEDIA', `Not an image format that can be decoded (format: ${describeFormat(input)})`, { cause: err });
  }
  return new VigilError('VIGIL_ERR_CORRUPT_MEDIA', `Image could not be decoded: ${message.split('\n')[0]}`, { cause: err });
}

/**
 * Decodes image bytes to 8-bit grey or RGB pixels, reference-compatible. Throws VigilError with
 * VIGIL_ERR_UNSUPPORTED_MEDIA, VIGIL_ERR_CORRUPT_MEDIA or VIGIL_ERR_PIXEL_LIMIT; never hangs on
 * bombs because the pixel limit is enforced from the header.
 */
export async function decodeImage(input: Uint8Array, options: DecodeOptions = {}): Promise<DecodedImage> {
  if (input.length === 0) throw new VigilError('VIGIL_ERR_EMPTY_FILE', 'The file is empty (0 bytes)');
  // A header that promises far more than the bytes hold: nothing worth hashing, and costly to decode.
  const shortfall = implausiblePicture(input);
  if (shortfall) throw new VigilError('VIGIL_ERR_UNREADABLE', shortfall);
  // BMP, ICO, TGA, HEIC, camera RAW: other-formats.ts turns them into bytes sharp reads.
  const other = await toDecodableBytes(input, options.maxPixels ?? DEFAULT_MAX_PIXELS);
  if (other) return { ...(await decodeImage(other.bytes, options)), format: other.format };
  try {
    return await decodeWith(input, options, 'truncated');
  } catch (err) {
    const error = err instanceof VigilError ? err : classifySharpError(err, input);
    if (error.code !== 'VIGIL_ERR_CORRUPT_MEDIA' || options.lenient === false) throw error;
    // Like ImageMagick, keep what decodes from a damaged file (carved or cut-off uploads still match),
    // but say so: the caller gets `partial` and the decoder's message.
    let image: DecodedImage;
    try {
      image = await decodeWith(input, options, 'none');
    } catch {
      throw error;
    }
    if (isUniform(image)) throw new VigilError('VIGIL_ERR_UNREADABLE', `No real pixel data: the damaged file decodes to a single flat colour (${error.message})`);
    return { ...image, partial: error.message };
  }
}

/** What the pipeline needs to know before decoding: a subset of sharp's metadata. */
export interface ImageHeader {
  format?: string;
  width?: number;
  height?: number;
  space?: string;
  channels?: number;
  depth?: string;
  hasAlpha?: boolean;
  pages?: number;
  orientation?: number;
}

async function decodeWith(input: Uint8Array, options: DecodeOptions, failOn: 'truncated' | 'none'): Promise<DecodedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const open = () => sharp(input, { limitInputPixels: maxPixels, failOn, page: 0, pages: 1 });
  // Header only (no pixels are decoded here), without the limit so a refusal can name the dimensions.
  // A plain 8-bit grey or colour JPEG (most files) is read here instead: the same answers as sharp's
  // metadata() without opening the file a second time in libvips (~0.5 ms of ~8 per ~1 MP JPEG).
  const meta: ImageHeader = readJpegHeader(input) ?? (await sharp(input, { limitInputPixels: false, failOn, page: 0, pages: 1 }).metadata());
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const declared = width * height;
  // JPEG shrinks by 8 while decoding, so even a picture over the pixel limit costs 1/64 of it.
  const shrinks = meta.format === 'jpeg';
  if (declared > maxPixels && !shrinks) {
    throw new VigilError('VIGIL_ERR_PIXEL_LIMIT', `Image declares ${width}×${height} pixels, over the limit of ${maxPixels}`);
  }
  // libvips composes an animation's first frame on its whole canvas, shrink-on-load or not.
  if ((meta.pages ?? 1) > 1 && declared > MAX_ANIMATION_CANVAS) {
    throw new VigilError('VIGIL_ERR_BUDGET', `An animation whose frames are composed on a ${width}×${height} canvas, over the ${MAX_ANIMATION_CANVAS}-pixel limit for animations: not decoded`);
  }
  if (declared > (options.fullDecodePixels ?? DEFAULT_FULL_DECODE_PIXELS)) {
    return decodeReduced(input, meta, failOn, options, shrinks ? Math.ceil(declared / 64) : declared);
  }
  options.budget?.charge(declared, 0, `decoding a ${width}×${height} picture`);
  let pipeline = options.budget ? open().timeout({ seconds: options.budget.remainingSeconds() }) : open();
  if (options.applyExifOrientation) pipeline = pipeline.autoOrient();
  // The reference hashes stored values: no ICC colour management.
  pipeline = pipeline.keepIccProfile();
  let pixels: PixelBuffer;
  let alpha: Uint8Array | undefined;
  if (meta.space === 'cmyk') {
    pipeline = pipeline.pipelineColourspace('cmyk').toColourspace('cmyk');
    if (meta.hasAlpha) pipeline = pipeline.removeAlpha();
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new VigilError('VIGIL_ERR_CORRUPT_MEDIA', `CMYK image decoded to ${info.channels} channels`);
    const rgb = cmykToRgb(new Uint8Array(data.buffer, data.byteOffset, data.length), info.width * info.height);
    pixels = toPixels(rgb, info.width, info.height, 3, 'reference');
  } else {
    const grey = (meta.channels ?? 3) <= 2;
    const sixteen = meta.depth === 'ushort';
    const withAlpha = meta.hasAlpha === true && options.keepAlpha === true;
    // Alpha is dropped, never composited: the colour stored under transparent pixels is hashed.
    if (meta.hasAlpha && !withAlpha) pipeline = pipeline.removeAlpha();
    pipeline = pipeline.toColourspace(grey ? (sixteen ? 'grey16' : 'b-w') : sixteen ? 'rgb16' : 'srgb');
    const { data, info } = await pipeline.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
    let samples: Uint8Array | Uint16Array = sixteen
      ? new Uint16Array(data.buffer, data.byteOffset, data.length >> 1)
      : new Uint8Array(data.buffer, data.byteOffset, data.length);
    let channels = info.channels as number;
    if (withAlpha && (channels === 2 || channels === 4)) {
      const split = splitAlpha(samples, info.width * info.height, channels);
      samples = split.colour;
      alpha = split.alpha;
      channels -= 1;
    }
    if (channels !== 1 && channels !== 3) {
      throw new VigilError('VIGIL_ERR_CORRUPT_MEDIA', `Image decoded to ${channels} channels; expected grey or RGB`);
    }
    pixels = toPixels(samples, info.width, info.height, channels, options.sixteenBit ?? 'reference');
  }
  return {
    ...pixels,
    format: meta.format ?? 'unknown',
    sourceWidth: width,
    sourceHeight: height,
    frames: meta.pages ?? 1,
    ...(meta.orientation !== undefined ? { orientation: meta.orientation } : {}),
    ...(alpha ? { alpha } : {}),
  };
}

/**
 * A picture too large to decode whole, decoded straight to 512×512 (the reference's own pre-resize size,
 * so the hash is taken on the same grid): streamed, with shrink-on-load for JPEG and WebP. The result
 * is a view of the picture, not the reference's bytes, and is marked `reduced`.
 */
async function decodeReduced(input: Uint8Array, meta: ImageHeader, failOn: 'truncated' | 'none', options: DecodeOptions, cost: number): Promise<DecodedImage> {
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  options.budget?.charge(cost, 0, `decoding a ${width}×${height} picture at reduced size`);
  let pipeline = sharp(input, { limitInputPixels: false, sequentialRead: true, failOn, page: 0, pages: 1 }).keepIccProfile();
  if (options.budget) pipeline = pipeline.timeout({ seconds: options.budget.remainingSeconds() });
  if (options.applyExifOrientation) pipeline = pipeline.autoOrient();
  const grey = (meta.channels ?? 3) <= 2 && meta.space !== 'cmyk';
  pipeline = pipeline.removeAlpha().resize(REDUCED_SIDE, REDUCED_SIDE, { fit: 'fill' }).toColourspace(grey ? 'b-w' : 'srgb');
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  const pixels = toPixels(new Uint8Array(data.buffer, data.byteOffset, data.length), info.width, info.height, info.channels, 'reference');
  return {
    ...pixels,
    format: meta.format ?? 'unknown',
    sourceWidth: width,
    sourceHeight: height,
    frames: meta.pages ?? 1,
    reduced: true,
    ...(meta.orientation !== undefined ? { orientation: meta.orientation } : {}),
  };
}

/** Every pixel the same: what a decoder leaves where a file had no data. */
function isUniform(image: PixelBuffer): boolean {
  const { data, channels } = image;
  for (let i = channels; i < data.length; i += channels) {
    for (let c = 0; c < channels; c++) if (data[i + c] !== data[c]) return false;
  }
  return true;
}

/** Separates the last (alpha) channel; 16-bit alpha keeps its high byte (only used as a mask). */
function splitAlpha(samples: Uint8Array | Uint16Array, pixels: number, channels: number): { colour: Uint8Array | Uint16Array; alpha: Uint8Array } {
  const colourChannels = channels - 1;
  const colour = samples instanceof Uint16Array ? new Uint16Array(pixels * colourChannels) : new Uint8Array(pixels * colourChannels);
  const alpha = new Uint8Array(pixels);
  const shift = samples instanceof Uint16Array ? 8 : 0;
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < colourChannels; c++) colour[i * colourChannels + c] = samples[i * channels + c];
    alpha[i] = samples[i * channels + colourChannels] >> shift;
  }
  return { colour, alpha };
}

// ---------------------------------------------------------------------------------------------------
// JPEG header, read in JavaScript for the common case. Anything this reader is not certain to read as
// libjpeg + libvips (+ libexif for the orientation) do returns undefined, and sharp's metadata() answers.

const u16be = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];

/**
 * Width, height and channels of a baseline, extended or progressive 8-bit JPEG with 1 (grey) or 3
 * (YCbCr/RGB) components, and its EXIF orientation, as sharp's metadata() reports them; undefined for
 * anything else (CMYK, 12-bit, lossless or arithmetic coding, no SOS in the bytes, stray or duplicate
 * markers, EXIF this reader does not fully understand), which then goes through metadata().
 */
export function readJpegHeader(bytes: Uint8Array): ImageHeader | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let pos = 2;
  let frame: { width: number; height: number; channels: number } | undefined;
  let exif: Uint8Array | undefined;
  for (;;) {
    if (pos + 4 > bytes.length || bytes[pos] !== 0xff) return undefined;
    while (pos < bytes.length && bytes[pos] === 0xff) pos++; // fill bytes before a marker
    if (pos + 3 > bytes.length) return undefined;
    const marker = bytes[pos];
    const length = u16be(bytes, pos + 1);
    const start = pos + 3; // segment data, after the two length bytes
    const end = pos + 1 + length;
    if (length < 2 || end > bytes.length) return undefined;
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) {
      // SOF0/1/2: P, Y, X, Nf, then 3 bytes per component.
      if (frame || length < 8) return undefined;
      const precision = bytes[start];
      const height = u16be(bytes, start + 1);
      const width = u16be(bytes, start + 3);
      const components = bytes[start + 5];
      if (precision !== 8 || width === 0 || height === 0 || (components !== 1 && components !== 3)) return undefined;
      if (length !== 8 + 3 * components) return undefined;
      frame = { width, height, channels: components };
    } else if (marker === 0xda) {
      // SOS: libjpeg's header read stops here; every marker before it has been seen.
      if (!frame) return undefined;
      let orientation: number | undefined;
      if (exif) {
        const o = exifOrientation(exif);
        if (o === null) return undefined;
        orientation = o;
      }
      return {
        format: 'jpeg',
        width: frame.width,
        height: frame.height,
        space: frame.channels === 1 ? 'b-w' : 'srgb',
        channels: frame.channels,
        depth: 'uchar',
        hasAlpha: false,
        ...(orientation !== undefined ? { orientation } : {}),
      };
    } else if (marker === 0xe1) {
      // libvips keeps the first APP1 that starts "Exif" (and is longer than 4 bytes) as the EXIF block.
      const data = bytes.subarray(start, end);
      if (!exif && data.length > 4 && data[0] === 0x45 && data[1] === 0x78 && data[2] === 0x69 && data[3] === 0x66) exif = data;
    } else if (!((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe || marker === 0xdb || marker === 0xc4 || marker === 0xdd)) {
      // Only APPn, COM, DQT, DHT and DRI are expected before SOS in the files this path takes.
      return undefined;
    }
    pos = end;
  }
}

/**
 * IFD0 Orientation of an APP1 EXIF block as libvips reports it (libexif load, value clamped to 1..8):
 * a number, undefined when there is none, or null when the block is anything but a plainly valid
 * TIFF header with a complete IFD0 holding at most one Orientation, a SHORT with one value.
 */
function exifOrientation(app1: Uint8Array): number | undefined | null {
  // "Exif\0\0", then the TIFF header; offsets count from the TIFF header.
  if (app1.length < 14 || app1[4] !== 0 || app1[5] !== 0) return null;
  const tiff = app1.subarray(6);
  const le = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!le && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return null;
  const u16 = (i: number) => (le ? tiff[i] | (tiff[i + 1] << 8) : (tiff[i] << 8) | tiff[i + 1]);
  const u32 = (i: number) => (le ? (tiff[i] | (tiff[i + 1] << 8) | (tiff[i + 2] << 16)) + tiff[i + 3] * 0x1000000 : tiff[i] * 0x1000000 + ((tiff[i + 1] << 16) | (tiff[i + 2] << 8) | tiff[i + 3]));
  if (u16(2) !== 0x2a) return null;
  const ifd = u32(4);
  if (ifd < 8 || ifd + 2 > tiff.length) return null;
  const count = u16(ifd);
  if (ifd + 2 + 12 * count > tiff.length) return null;
  let orientation: number | undefined;
  for (let i = 0, e = ifd + 2; i < count; i++, e += 12) {
    if (u16(e) !== 0x0112) continue;
    // SHORT (3), one value, stored in the entry itself.
    if (orientation !== undefined || u16(e + 2) !== 3 || u32(e + 4) !== 1) return null;
    const value = u16(e + 8);
    orientation = value >= 1 && value <= 8 ? value : 1;
  }
  return orientation;
}
