/**
 * Camera RAW files (DNG, CR2, NEF, ARW and other TIFF-based RAW) carry the sensor data, which needs a
 * camera-specific developer, and one or more JPEG previews the camera rendered, which is what a viewer
 * shows. Vigil hashes the largest baseline/progressive JPEG preview found in IFD0, its chain, its SubIFDs
 * and the EXIF IFD. Every offset is bounds-checked and every IFD read once: the input may be hostile.
 */
const MAX_IFDS = 64;
const RAW_MAKERS = /^(nikon|sony|canon|fujifilm|olympus|om digital|pentax|ricoh|panasonic|leica|samsung|hasselblad|phase one|sigma)/i;

interface Tiff {
  u8(i: number): number;
  u16(i: number): number;
  u32(i: number): number;
  length: number;
}

function tiffReader(b: Uint8Array): Tiff | undefined {
  const le = b[0] === 0x49 && b[1] === 0x49;
  if (!le && !(b[0] === 0x4d && b[1] === 0x4d)) return undefined;
  const u16 = (i: number) => (i + 2 > b.length ? 0 : le ? b[i] | (b[i + 1] << 8) : (b[i] << 8) | b[i + 1]);
  const u32 = (i: number) => (i + 4 > b.length ? 0 : le ? (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16)) + b[i + 3] * 0x1000000 : b[i] * 0x1000000 + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]));
  if (u16(2) !== 42) return undefined;
  return { u8: (i: number) => b[i] ?? 0, u16, u32, length: b.length };
}

type Tags = Map<number, number[]>;

/** Tag values (SHORT or LONG, inline or at an offset), for the few tags read here. */
function readIfd(t: Tiff, at: number): { tags: Tags; next: number } | undefined {
  const count = t.u16(at);
  if (at + 2 + 12 * count + 4 > t.length) return undefined;
  const tags: Tags = new Map();
  for (let i = 0, e = at + 2; i < count; i++, e += 12) {
    const tag = t.u16(e);
    const type = t.u16(e + 2);
    const n = Math.min(t.u32(e + 4), 256);
    const size = type === 3 ? 2 : type === 4 || type === 13 ? 4 : type === 2 || type === 1 || type === 7 ? 1 : 0;
    if (size === 0) continue;
    const base = n * size <= 4 ? e + 8 : t.u32(e + 8);
    if (base + n * size > t.length) continue;
    const values: number[] = [];
    for (let k = 0; k < n; k++) values.push(size === 2 ? t.u16(base + 2 * k) : size === 4 ? t.u32(base + 4 * k) : t.u8(base + k));
    tags.set(tag, values);
  }
  return { tags, next: t.u32(at + 2 + 12 * count) };
}

/** Width × height of a baseline, extended or progressive JPEG (SOF0/1/2); 0 for anything else (lossless raw data). */
function jpegPixels(b: Uint8Array): number {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return 0;
  let pos = 2;
  while (pos + 9 < b.length && b[pos] === 0xff) {
    const marker = b[pos + 1];
    const length = (b[pos + 2] << 8) | b[pos + 3];
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) return ((b[pos + 5] << 8) | b[pos + 6]) * ((b[pos + 7] << 8) | b[pos + 8]);
    if ((marker >= 0xc3 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === 0xda) return 0;
    pos += 2 + length;
  }
  return 0;
}

function walk(b: Uint8Array): { raw: boolean; previews: Uint8Array[] } | undefined {
  const t = tiffReader(b);
  if (!t) return undefined;
  const cr2 = b[8] === 0x43 && b[9] === 0x52;
  let raw = cr2;
  const previews: Uint8Array[] = [];
  const seen = new Set<number>();
  const queue = [t.u32(4)];
  let make = '';
  while (queue.length > 0 && seen.size < MAX_IFDS) {
    const at = queue.shift()!;
    if (at < 8 || at >= t.length || seen.has(at)) continue;
    seen.add(at);
    const ifd = readIfd(t, at);
    if (!ifd) continue;
    const { tags } = ifd;
    if (tags.has(50706)) raw = true; // DNGVersion
    if (seen.size === 1 && tags.has(271)) make = String.fromCharCode(...(tags.get(271) ?? []).filter((c) => c > 0));
    const slices: [number, number][] = [];
    const jif = tags.get(513)?.[0];
    const jifLength = tags.get(514)?.[0];
    if (jif && jifLength) slices.push([jif, jifLength]);
    const compression = tags.get(259)?.[0];
    const strips = tags.get(273);
    const stripBytes = tags.get(279);
    if ((compression === 6 || compression === 7) && strips?.length === 1 && stripBytes?.length === 1) slices.push([strips[0], stripBytes[0]]);
    for (const [offset, length] of slices) if (offset + length <= b.length && length > 0) previews.push(b.subarray(offset, offset + length));
    for (const sub of tags.get(330) ?? []) queue.push(sub); // SubIFDs
    const exif = tags.get(34665)?.[0];
    if (exif) queue.push(exif);
    if (ifd.next) queue.push(ifd.next);
  }
  if (!raw && RAW_MAKERS.test(make) && (seen.size > 1 || previews.length > 0)) raw = true;
  return { raw, previews };
}

/** Whether the bytes are a TIFF-based camera RAW file (DNG, CR2, or a camera maker's TIFF with previews). */
export function isCameraRaw(b: Uint8Array): boolean {
  return walk(b)?.raw === true;
}

/** The largest decodable JPEG preview of a camera RAW file, or undefined. */
export function readRawPreview(b: Uint8Array): Uint8Array | undefined {
  const found = walk(b);
  if (!found?.raw) return undefined;
  let best: Uint8Array | undefined;
  let bestPixels = 0;
  for (const p of found.previews) {
    const pixels = jpegPixels(p);
    if (pixels > bestPixels) {
      best = p;
      bestPixels = pixels;
    }
  }
  return best;
}
