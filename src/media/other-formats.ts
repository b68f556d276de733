/**
 * Picture formats libvips (sharp) does not read, turned into bytes it does: BMP (every variant: 24/32-bit,
 * BMP3, 8-bit and smaller palettes, RLE), ICO (its largest picture) and TGA through the bundled ffmpeg, to
 * a lossless PNG, so each hashes exactly like the same picture saved as PNG; HEIC/HEIF (what iPhones store)
 * through libheif (heic-decode, WebAssembly); camera RAW files (DNG, CR2, NEF, ARW, and other TIFF-based
 * RAW) through the largest JPEG preview the camera embedded, which is what a person sees of the file.
 * Dimensions are checked from the header before anything is decoded.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { VigilError } from '../core/errors.js';
import { locateFfmpeg } from './ffmpeg.js';
import { isCameraRaw, readRawPreview } from './raw-preview.js';

export type OtherFormat = 'bmp' | 'ico' | 'tga' | 'heif' | 'raw';

const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, Math.min(to, b.length)));
const u16le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const i32le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
// HEIF brands that libvips' prebuilt libheif cannot decode (HEVC); AVIF stays with sharp.
const HEVC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1']);

/** Formats sharp reads itself: never routed elsewhere. */
function sharpReads(b: Uint8Array): boolean {
  return (b[0] === 0xff && b[1] === 0xd8) || ascii(b, 0, 4) === '\x89PNG' || ascii(b, 0, 4) === 'GIF8' || (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP');
}

/** TGA has no magic number: a plausible header (image type, colour map, sizes, depth) is required. */
function looksLikeTga(b: Uint8Array): boolean {
  if (b.length < 18) return false;
  const colourMap = b[1];
  const type = b[2];
  const depth = b[16];
  if (colourMap > 1 || ![1, 2, 3, 9, 10, 11].includes(type)) return false;
  if (colourMap === 0 && (u16le(b, 5) !== 0 || b[7] !== 0)) return false;
  if ((type === 1 || type === 9) !== (colourMap === 1)) return false;
  if (![8, 15, 16, 24, 32].includes(depth) || u16le(b, 12) === 0 || u16le(b, 14) === 0) return false;
  return (b[17] & 0xc0) === 0 || ascii(b, b.length - 18, b.length - 2) === 'TRUEVISION-XFILE';
}

export function sniffOtherFormat(b: Uint8Array): OtherFormat | undefined {
  if (b.length < 12 || sharpReads(b)) return undefined;
  if (ascii(b, 0, 2) === 'BM' && i32le(b, 14) >= 12) return 'bmp';
  if (b[0] === 0 && b[1] === 0 && (b[2] === 1 || b[2] === 2) && b[3] === 0 && u16le(b, 4) > 0) return 'ico';
  if (ascii(b, 4, 8) === 'ftyp' && HEVC_BRANDS.has(ascii(b, 8, 12))) return 'heif';
  if (ascii(b, 0, 4) === 'II*\0' || ascii(b, 0, 4) === 'MM\0*') return isCameraRaw(b) ? 'raw' : undefined;
  if (looksLikeTga(b)) return 'tga';
  return undefined;
}

/** Width × height as the header declares it (the largest entry of an ICO), to refuse bombs before decoding. */
function declaredPixels(b: Uint8Array, format: 'bmp' | 'ico' | 'tga'): number {
  if (format === 'bmp') return i32le(b, 14) === 12 ? u16le(b, 18) * u16le(b, 20) : Math.abs(i32le(b, 18)) * Math.abs(i32le(b, 22));
  if (format === 'tga') return u16le(b, 12) * u16le(b, 14);
  let most = 0;
  for (let i = 0, n = u16le(b, 4); i < n && 6 + 16 * i + 16 <= b.length; i++) most = Math.max(most, (b[6 + 16 * i] || 256) * (b[7 + 16 * i] || 256));
  return most;
}

const FFMPEG_INPUT: Record<'bmp' | 'ico' | 'tga', string[]> = {
  bmp: ['-f', 'bmp_pipe'],
  ico: ['-f', 'ico'],
  // This ffmpeg has no TGA parser for pipes: a TGA goes through a private temporary file.
  tga: ['-f', 'image2', '-c:v', 'targa'],
};

/** One picture through ffmpeg to PNG, bytes in on stdin and out on stdout (ffmpeg picks the largest ICO entry). */
async function ffmpegToPng(input: Uint8Array, format: 'bmp' | 'ico' | 'tga', timeoutMs: number): Promise<Buffer> {
  const { path } = await locateFfmpeg();
  const dir = format === 'tga' ? await mkdtemp(join(tmpdir(), 'vigil-tga-')) : undefined;
  const source = dir ? join(dir, 'in.tga') : 'pipe:0';
  try {
    if (dir) await writeFile(source, input, { mode: 0o600 });
    return await runToPng(path, format, source, dir ? undefined : input, timeoutMs);
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

function runToPng(path: string, format: 'bmp' | 'ico' | 'tga', source: string, input: Uint8Array | undefined, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, ['-v', 'error', ...FFMPEG_INPUT[format], '-i', source, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', 'pipe:1'], { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.length < 64 && err.push(c));
    child.stdin.on('error', () => undefined); // ffmpeg may stop reading early on a broken file
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new VigilError('VIGIL_ERR_FFMPEG_MISSING', `ffmpeg could not be started: ${e.message}`, { cause: e }));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const png = Buffer.concat(out);
      if (code === 0 && png.length > 0) resolve(png);
      // BMP, ICO and TGA are recognised by a few header bytes that other files can share: a failure is
      // "not a picture that can be decoded" (a document stays a document), naming what it looked like.
      else reject(new VigilError('VIGIL_ERR_UNSUPPORTED_MEDIA', `Not an image format that can be decoded (format: looks like ${format.toUpperCase()}; ${Buffer.concat(err).toString('utf8').trim().split('\n')[0] || `ffmpeg exited with ${code}`})`));
    });
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

async function heifToPng(input: Uint8Array, maxPixels: number): Promise<Buffer> {
  const { all } = (await import('heic-decode')).default;
  let images: Awaited<ReturnType<typeof all>>;
  try {
    images = await all({ buffer: input });
  } catch (err) {
    throw new VigilError('VIGIL_ERR_CORRUPT_MEDIA', `HEIF picture could not be decoded: ${(err as Error).message}`, { cause: err });
  }
  try {
    // The primary picture comes first (libheif's order); thumbnails are not top-level images.
    const first = images[0];
    if (first.width * first.height > maxPixels) throw new VigilError('VIGIL_ERR_PIXEL_LIMIT', `Image declares ${first.width}×${first.height} pixels, over the limit of ${maxPixels}`);
    const { data, width, height } = await first.decode();
    return await sharp(Buffer.from(data.buffer, data.byteOffset, data.length), { raw: { width, height, channels: 4 } }).png({ compressionLevel: 1 }).toBuffer();
  } finally {
    images.dispose();
  }
}

/**
 * Bytes sharp can decode for a picture in one of these formats, and the format's name; undefined when the
 * input is not one of them (sharp reads it directly). Throws VIGIL_ERR_CORRUPT_MEDIA / _PIXEL_LIMIT.
 */
export async function toDecodableBytes(input: Uint8Array, maxPixels: number): Promise<{ bytes: Uint8Array; format: OtherFormat } | undefined> {
  const format = sniffOtherFormat(input);
  if (!format) return undefined;
  if (format === 'raw') {
    const preview = readRawPreview(input);
    if (!preview) throw new VigilError('VIGIL_ERR_UNSUPPORTED_MEDIA', 'Camera RAW file without an embedded JPEG preview: not an image format that can be decoded (raw)');
    return { bytes: preview, format };
  }
  if (format === 'heif') return { bytes: await heifToPng(input, maxPixels), format };
  const pixels = declaredPixels(input, format);
  if (pixels > maxPixels) throw new VigilError('VIGIL_ERR_PIXEL_LIMIT', `Image declares ${pixels} pixels, over the limit of ${maxPixels}`);
  return { bytes: await ffmpegToPng(input, format, 30_000), format };
}

/** A name for bytes no decoder took, for the error message ("reported with its format"). */
export function describeFormat(b: Uint8Array): string {
  const head = ascii(b, 0, 16);
  const known: [boolean, string][] = [
    [head.startsWith('8BPS'), 'Photoshop PSD'],
    [head.startsWith('gimp xcf'), 'GIMP XCF'],
    [head.startsWith('%PDF'), 'PDF'],
    [/^\s*<(\?xml|svg)/i.test(head), 'SVG/XML'],
    [ascii(b, 4, 8) === 'ftyp' || ascii(b, 4, 12) === 'jP  \r\n\x87\n' || head.startsWith('\0\0\0\x0cjP'), `ISO media / JPEG 2000 (${ascii(b, 8, 12).trim() || 'jp2'})`],
    [b[0] === 0xff && b[1] === 0x0a, 'JPEG XL'],
    [head.startsWith('II*\0') || head.startsWith('MM\0*'), 'TIFF'],
    [head.startsWith('BM'), 'BMP'],
    [head.startsWith('P') && /^P[1-7]\s/.test(head), 'Netpbm'],
    [head.startsWith('#?RADIANCE') || head.startsWith('#?RGBE'), 'Radiance HDR'],
    [head.startsWith('\x76\x2f\x31\x01'), 'OpenEXR'],
    [head.startsWith('DDS '), 'DirectDraw Surface (DDS)'],
  ];
  return known.find(([hit]) => hit)?.[1] ?? `unknown (first bytes ${Buffer.from(b.subarray(0, 8)).toString('hex')})`;
}
