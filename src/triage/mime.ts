/**
 * A file's type from its first bytes, as a MIME type (never from its name: seized media is full of wrong
 * extensions). Archives are recognised so triage can open them; gzip is a tar only when its first block,
 * decompressed, carries the ustar magic.
 */
import { constants, gunzipSync } from 'node:zlib';

export type ArchiveKind = 'zip' | 'tar' | 'tar.gz';

/** Bytes of a file's head that `mimeOf` looks at (enough for a gzip header and the first tar block). */
export const HEAD_BYTES = 64 * 1024;

const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, Math.min(to, b.length)));
const starts = (b: Uint8Array, bytes: number[], at = 0) => bytes.every((v, i) => b[at + i] === v);

const isTar = (b: Uint8Array) => b.length >= 262 && ascii(b, 257, 262) === 'ustar';

/** The first decompressed bytes of a gzip head (a partial stream decompresses as far as it goes). */
function gunzipHead(head: Uint8Array): Uint8Array {
  try {
    // 4 KiB of input inflates to at most ~4 MiB (deflate's limit is 1032:1), which bounds the output.
    return gunzipSync(head.subarray(0, 4096), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: 8 << 20 });
  } catch {
    return new Uint8Array(0);
  }
}

export function mimeOf(head: Uint8Array): string {
  if (head.length === 0) return 'application/x-empty';
  if (starts(head, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (ascii(head, 0, 4) === 'GIF8') return 'image/gif';
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return 'image/webp';
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'AVI ') return 'video/x-msvideo';
  if (ascii(head, 0, 2) === 'BM') return 'image/bmp';
  if (starts(head, [0x49, 0x49, 0x2a, 0x00]) || starts(head, [0x4d, 0x4d, 0x00, 0x2a])) return 'image/tiff';
  if (ascii(head, 4, 8) === 'ftyp') {
    const brand = ascii(head, 8, 12);
    if (brand === 'avif' || brand === 'avis') return 'image/avif';
    if (['heic', 'heix', 'heim', 'heis', 'mif1', 'msf1', 'hevc'].includes(brand)) return 'image/heic';
    return brand === 'qt  ' ? 'video/quicktime' : 'video/mp4';
  }
  if (['moov', 'mdat', 'wide', 'free', 'skip', 'pnot'].includes(ascii(head, 4, 8))) return 'video/quicktime';
  if (starts(head, [0x1a, 0x45, 0xdf, 0xa3])) return ascii(head, 0, 64).includes('webm') ? 'video/webm' : 'video/x-matroska';
  if (ascii(head, 0, 3) === 'FLV') return 'video/x-flv';
  if (ascii(head, 0, 4) === 'OggS') return 'video/ogg';
  if (starts(head, [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11])) return 'video/x-ms-asf';
  if (starts(head, [0x00, 0x00, 0x01, 0xba]) || starts(head, [0x00, 0x00, 0x01, 0xb3])) return 'video/mpeg';
  if (head[0] === 0x47 && head.length > 188 && head[188] === 0x47) return 'video/mp2t';
  if (starts(head, [0x50, 0x4b, 0x03, 0x04]) || starts(head, [0x50, 0x4b, 0x05, 0x06])) return 'application/zip';
  if (starts(head, [0x1f, 0x8b])) return isTar(gunzipHead(head)) ? 'application/x-tar+gzip' : 'application/gzip';
  if (isTar(head)) return 'application/x-tar';
  if (ascii(head, 0, 5) === '%PDF-') return 'application/pdf';
  if (starts(head, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return 'application/x-7z-compressed';
  if (ascii(head, 0, 4) === 'Rar!') return 'application/vnd.rar';
  if (ascii(head, 0, 4) === '\x7fELF') return 'application/x-executable';
  if (ascii(head, 0, 2) === 'MZ') return 'application/x-msdownload';
  if (/<svg[\s>]/i.test(ascii(head, 0, 1024))) return 'image/svg+xml';
  return looksLikeText(head) ? 'text/plain' : 'application/octet-stream';
}

/** UTF-8 without control characters other than whitespace. */
function looksLikeText(head: Uint8Array): boolean {
  const sample = head.subarray(0, 4096);
  for (const b of sample) if (b === 0 || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample.length === head.length ? sample : sample.subarray(0, sample.length - 4));
    return true;
  } catch {
    return false;
  }
}

export function archiveKindOf(mime: string): ArchiveKind | undefined {
  return mime === 'application/zip' ? 'zip' : mime === 'application/x-tar' ? 'tar' : mime === 'application/x-tar+gzip' ? 'tar.gz' : undefined;
}

export const isImageMime = (mime: string) => mime.startsWith('image/');
export const isVideoMime = (mime: string) => mime.startsWith('video/');
