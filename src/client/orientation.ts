/**
 * Browsers apply a JPEG's EXIF orientation when decoding (createImageBitmap's imageOrientation 'none' is now an
 * alias of 'from-image'); the reference and the server hash the pixels as stored. A copy of the bytes with the
 * orientation tag set to 1 ("as stored") decodes like the server. Hand-written: a tag rewrite in place, which no
 * small maintained library offers without re-encoding.
 */

/** The bytes with a JPEG's EXIF orientation set to 1, or undefined when there is nothing to neutralise. */
export function withStoredOrientation(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let p = 2;
  while (p + 4 <= bytes.length && bytes[p] === 0xff) {
    const marker = bytes[p + 1];
    if (marker === 0xda || marker === 0xd9) return undefined; // image data: no EXIF before it
    const length = (bytes[p + 2] << 8) | bytes[p + 3];
    if (length < 2) return undefined;
    if (marker === 0xe1) {
      const at = orientationOffset(bytes, p + 4, Math.min(bytes.length, p + 2 + length));
      if (at === undefined) return undefined;
      const out = bytes.slice();
      const little = out[at.tiff] === 0x49;
      out[at.value] = little ? 1 : 0;
      out[at.value + 1] = little ? 0 : 1;
      return out;
    }
    p += 2 + length;
  }
  return undefined;
}

/** Where IFD0's orientation value sits in an APP1 segment (start..end), when it is not already 1. */
function orientationOffset(b: Uint8Array, start: number, end: number): { tiff: number; value: number } | undefined {
  // "Exif\0\0", then a TIFF header: II*\0 or MM\0*, IFD0 offset.
  if (end - start < 14 || b[start] !== 0x45 || b[start + 1] !== 0x78 || b[start + 2] !== 0x69 || b[start + 3] !== 0x66) return undefined;
  const tiff = start + 6;
  const little = b[tiff] === 0x49 && b[tiff + 1] === 0x49;
  if (!little && !(b[tiff] === 0x4d && b[tiff + 1] === 0x4d)) return undefined;
  const u16 = (o: number) => (little ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1]);
  const u32 = (o: number) => (little ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 2 ** 24 : b[o] * 2 ** 24 + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]));
  const ifd = tiff + u32(tiff + 4);
  if (ifd + 2 > end) return undefined;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > end) return undefined;
    if (u16(entry) !== 0x0112) continue;
    const value = entry + 8;
    return u16(value) === 1 ? undefined : { tiff, value };
  }
  return undefined;
}
