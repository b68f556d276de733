/**
 * Camera facts from EXIF (exifr: well kept, reads JPEG, TIFF, HEIC, PNG and WebP EXIF from a buffer without
 * decoding pixels). The capture time is kept as the camera wrote it, in ISO 8601 form: the zone only when
 * the camera recorded one (OffsetTimeOriginal), never guessed.
 */
import exifr from 'exifr';

export interface ExifFacts {
  make?: string;
  model?: string;
  serial?: string;
  takenAt?: string;
  gps?: { lat: number; lon: number };
}

const PICK = ['Make', 'Model', 'SerialNumber', 'BodySerialNumber', 'CameraSerialNumber', 'InternalSerialNumber', 'DateTimeOriginal', 'CreateDate', 'OffsetTimeOriginal', 'GPSLatitude', 'GPSLatitudeRef', 'GPSLongitude', 'GPSLongitudeRef', 'latitude', 'longitude'];

const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.replace(/\0+$/, '').trim() : typeof v === 'number' ? String(v) : undefined);

/** "2024:05:06 07:08:09" → "2024-05-06T07:08:09" (+ the recorded offset); anything else as written. */
export function exifTimeToIso(value: string, offset?: string): string {
  const m = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?$/.exec(value.trim());
  if (!m) return value.trim();
  const zone = offset && /^[+-]\d{2}:\d{2}$/.test(offset.trim()) ? offset.trim() : '';
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}${zone}`;
}

/**
 * Whether a JPEG carries an EXIF segment (APP1 "Exif"), from its marker segments before the scan. exifr
 * costs ~1 ms per picture even when there is nothing to read; most pictures in a seizure (web images,
 * screenshots, re-encodes) have no EXIF, so they skip it. Other formats always go to exifr.
 */
export function mayHaveExif(b: Uint8Array): boolean {
  if (!(b[0] === 0xff && b[1] === 0xd8)) return true;
  let at = 2;
  while (at + 4 <= b.length && b[at] === 0xff) {
    const marker = b[at + 1];
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0xff) {
      at += marker === 0xff ? 1 : 2; // standalone markers and fill bytes have no length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return false; // the scan (or the end): no EXIF before it
    if (marker === 0xe1 && at + 10 <= b.length && b[at + 4] === 0x45 && b[at + 5] === 0x78 && b[at + 6] === 0x69 && b[at + 7] === 0x66) return true;
    at += 2 + ((b[at + 2] << 8) | b[at + 3]);
  }
  return at < b.length; // a malformed header: let exifr judge
}

/** Never throws: a file without EXIF (or with broken EXIF) has no facts. */
export async function exifFacts(bytes: Uint8Array): Promise<ExifFacts | undefined> {
  if (!mayHaveExif(bytes)) return undefined;
  let raw: Record<string, unknown> | undefined;
  try {
    raw = (await exifr.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { tiff: true, exif: true, gps: true, reviveValues: false, translateValues: false, pick: PICK })) as Record<string, unknown> | undefined;
  } catch {
    return undefined;
  }
  if (!raw) return undefined;
  const facts: ExifFacts = {};
  const make = text(raw.Make);
  const model = text(raw.Model);
  const serial = text(raw.BodySerialNumber) ?? text(raw.SerialNumber) ?? text(raw.CameraSerialNumber) ?? text(raw.InternalSerialNumber);
  const taken = text(raw.DateTimeOriginal) ?? text(raw.CreateDate);
  if (make) facts.make = make;
  if (model) facts.model = model;
  if (serial) facts.serial = serial;
  if (taken) facts.takenAt = exifTimeToIso(taken, text(raw.OffsetTimeOriginal));
  const lat = raw.latitude;
  const lon = raw.longitude;
  if (typeof lat === 'number' && typeof lon === 'number' && Number.isFinite(lat) && Number.isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) facts.gps = { lat, lon };
  return Object.keys(facts).length > 0 ? facts : undefined;
}
