/**
 * What a file is, from its first bytes (never from its name: wrong extensions are common in seized media
 * and uploads). Decides whether a file goes to the image decoder or to the video frame extractor.
 */
export type MediaKind = 'image' | 'animation' | 'video' | 'unknown';

const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, Math.min(to, b.length)));
const startsWith = (b: Uint8Array, bytes: number[], at = 0) => bytes.every((v, i) => b[at + i] === v);

// ISO-BMFF brands that are still images (HEIF/AVIF); every other `ftyp` is a video container.
const IMAGE_BRANDS = new Set(['avif', 'heic', 'heix', 'heim', 'heis', 'mif1', 'msf1', 'hevc']);

/** APNG: a PNG with an acTL chunk before its image data. */
function isAnimatedPng(head: Uint8Array): boolean {
  let at = 8;
  while (at + 8 <= head.length) {
    const length = ((head[at] << 24) | (head[at + 1] << 16) | (head[at + 2] << 8) | head[at + 3]) >>> 0;
    const type = ascii(head, at + 4, at + 8);
    if (type === 'acTL') return true;
    if (type === 'IDAT') return false;
    at += 12 + length;
  }
  return false;
}

/** GIF and WebP are 'animation' only when they have several frames; the caller checks with the decoder. */
export function sniffMedia(head: Uint8Array): MediaKind {
  if (head.length < 4) return 'unknown';
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'image';
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47])) return isAnimatedPng(head) ? 'animation' : 'image';
  if (ascii(head, 0, 4) === 'GIF8' || (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP')) return 'image';
  if (ascii(head, 0, 2) === 'BM' || startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) return 'image';
  if (ascii(head, 4, 8) === 'ftyp') return IMAGE_BRANDS.has(ascii(head, 8, 12)) ? 'image' : 'video';
  // Old QuickTime files start with another top-level atom instead of ftyp.
  if (['moov', 'mdat', 'wide', 'free', 'skip', 'pnot'].includes(ascii(head, 4, 8))) return 'video';
  if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3])) return 'video'; // Matroska / WebM
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'AVI ') return 'video';
  if (ascii(head, 0, 3) === 'FLV' || ascii(head, 0, 4) === 'OggS') return 'video';
  if (startsWith(head, [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11])) return 'video'; // ASF / WMV
  if (startsWith(head, [0x00, 0x00, 0x01, 0xba]) || startsWith(head, [0x00, 0x00, 0x01, 0xb3])) return 'video'; // MPEG-PS/ES
  if (head[0] === 0x47 && head.length > 188 && head[188] === 0x47) return 'video'; // MPEG-TS
  if (head[4] === 0x47 && head.length > 196 && head[196] === 0x47) return 'video'; // M2TS (AVCHD): 192-byte packets
  return 'unknown';
}

/**
 * For a head `sniffMedia` calls 'unknown': whether the image decoder might still read it (SVG, gzipped
 * SVG, a JPEG without the usual third marker byte, BigTIFF, UTF-16 text). False means no decoder would:
 * the caller can skip loading one.
 */
export function mayBeImage(head: Uint8Array): boolean {
  if (head.length < 2) return false;
  if (startsWith(head, [0xff, 0xd8]) || startsWith(head, [0x1f, 0x8b])) return true;
  if (startsWith(head, [0x49, 0x49, 0x2b, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2b])) return true;
  if (startsWith(head, [0xff, 0xfe]) || startsWith(head, [0xfe, 0xff])) return true;
  return /<svg/i.test(ascii(head, 0, head.length));
}
