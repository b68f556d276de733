// The JavaScript JPEG header reader answers exactly as sharp's metadata() does, or declines.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { syntheticRgb } from '../../test/helpers/images.js';
import { SHARED } from '../../test/helpers/shared.js';
import { decodeImage, readJpegHeader } from './image-decode.js';

const KEYS = ['format', 'width', 'height', 'space', 'channels', 'depth', 'hasAlpha', 'pages', 'orientation'] as const;

async function metadataOf(bytes: Uint8Array): Promise<Record<string, unknown> | undefined> {
  try {
    const meta = await sharp(bytes, { limitInputPixels: false, failOn: 'truncated', page: 0, pages: 1 }).metadata();
    return Object.fromEntries(KEYS.map((k) => [k, meta[k]]));
  } catch {
    return undefined;
  }
}

/** The reader's answer must be sharp's, field for field; returns whether the reader answered at all. */
async function agrees(label: string, bytes: Uint8Array): Promise<boolean> {
  const ours = readJpegHeader(bytes);
  if (!ours) return false;
  const theirs = await metadataOf(bytes);
  if (theirs) {
    assert.deepEqual(Object.fromEntries(KEYS.map((k) => [k, ours[k]])), theirs, label);
  } else {
    // libjpeg refused the header (e.g. a damaged Huffman table): decoding must refuse it too.
    await assert.rejects(decodeImage(bytes), label);
  }
  return true;
}

async function jpeg(seed: number, options: { grey?: boolean; progressive?: boolean } = {}): Promise<Buffer> {
  let s = sharp(syntheticRgb(96, 64, seed), { raw: { width: 96, height: 64, channels: 3 } });
  if (options.grey) s = s.greyscale();
  return s.jpeg({ quality: 80, progressive: options.progressive === true }).toBuffer();
}

/** An APP1 segment holding `prefix` + a TIFF header whose IFD0 has `entries` (tag, type, count, value). */
function exifSegment(le: boolean, entries: [number, number, number, number][], o: { prefix?: string; ifd?: number; count?: number } = {}): Buffer {
  const tiff = Buffer.alloc(8 + 2 + 12 * entries.length + 4);
  const w16 = (v: number, i: number) => (le ? tiff.writeUInt16LE(v, i) : tiff.writeUInt16BE(v, i));
  const w32 = (v: number, i: number) => (le ? tiff.writeUInt32LE(v, i) : tiff.writeUInt32BE(v, i));
  tiff.write(le ? 'II' : 'MM', 0, 'latin1');
  w16(0x2a, 2);
  w32(o.ifd ?? 8, 4);
  w16(o.count ?? entries.length, 8);
  entries.forEach(([tag, type, count, value], i) => {
    const e = 10 + 12 * i;
    w16(tag, e);
    w16(type, e + 2);
    w32(count, e + 4);
    if (type === 3 && count === 1) w16(value, e + 8);
    else if (type === 1) tiff[e + 8] = value;
    else w32(value, e + 8);
  });
  const data = Buffer.concat([Buffer.from(o.prefix ?? 'Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(data.length + 2, 2);
  return Buffer.concat([head, data]);
}

const afterSoi = (image: Buffer, ...segments: Buffer[]) => Buffer.concat([image.subarray(0, 2), ...segments, image.subarray(2)]);

test('readJpegHeader: colour, grey, progressive and EXIF-oriented JPEGs read as sharp reads them', async () => {
  const colour = await jpeg(1);
  for (const image of [colour, await jpeg(2, { grey: true }), await jpeg(3, { progressive: true })]) assert.ok(await agrees('plain', image));
  for (let orientation = 1; orientation <= 8; orientation++) {
    assert.ok(await agrees(`orientation ${orientation}`, await sharp(colour).withMetadata({ orientation }).jpeg().toBuffer()));
  }
  assert.ok(await agrees('EXIF without orientation', await sharp(colour).withExif({ IFD0: { Copyright: 'x' } }).jpeg().toBuffer()));
  const make: [number, number, number, number] = [0x010f, 2, 4, 0x41424300];
  for (const le of [true, false]) {
    // Out-of-range values are reported as 1, as libvips clamps them.
    for (const value of [0, 1, 5, 8, 9, 65535]) assert.ok(await agrees(`${le} ${value}`, afterSoi(colour, exifSegment(le, [make, [0x0112, 3, 1, value]]))));
    assert.ok(await agrees('no IFD0 entries', afterSoi(colour, exifSegment(le, []))));
    // Only the first APP1 that starts "Exif" counts; XMP (also APP1) does not.
    assert.ok(await agrees('two EXIF blocks', afterSoi(colour, exifSegment(le, [make]), exifSegment(le, [[0x0112, 3, 1, 3]]))));
    const xmp = exifSegment(le, [], { prefix: 'http://ns.adobe.com/xap/1.0/\0' });
    assert.ok(await agrees('XMP then EXIF', afterSoi(colour, xmp, exifSegment(le, [[0x0112, 3, 1, 6]]))));
  }
});

test('readJpegHeader declines what it cannot be sure of (sharp metadata() then answers)', async () => {
  const colour = await jpeg(4);
  const declined = {
    png: await sharp(colour).png().toBuffer(),
    cmyk: await sharp(colour).toColourspace('cmyk').jpeg().toBuffer(),
    'cut before SOS': colour.subarray(0, colour.indexOf(Buffer.from([0xff, 0xda]))),
    'orientation as LONG': afterSoi(colour, exifSegment(true, [[0x0112, 4, 1, 6]])),
    'orientation as BYTE': afterSoi(colour, exifSegment(true, [[0x0112, 1, 1, 6]])),
    'two orientation values': afterSoi(colour, exifSegment(false, [[0x0112, 3, 2, 0x00060003]])),
    'orientation twice': afterSoi(colour, exifSegment(true, [[0x0112, 3, 1, 6], [0x0112, 3, 1, 3]])),
    'IFD0 cut short': afterSoi(colour, exifSegment(true, [[0x0112, 3, 1, 6]], { count: 5 })),
    'IFD0 outside the block': afterSoi(colour, exifSegment(true, [[0x0112, 3, 1, 6]], { ifd: 4000 })),
    '"Exif" without its two zero bytes': afterSoi(colour, exifSegment(true, [[0x0112, 3, 1, 6]], { prefix: 'Exif' })),
    'bytes between segments': afterSoi(colour, Buffer.from([0x00])),
  };
  for (const [label, bytes] of Object.entries(declined)) {
    assert.equal(readJpegHeader(bytes), undefined, label);
    // Decoding still works (or fails) through metadata().
    await decodeImage(bytes).catch(() => undefined);
  }
});

test('readJpegHeader on damaged headers: sharp’s answer or none, never a different one', async () => {
  let seed = 99;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const source = await sharp(await jpeg(5)).withMetadata({ orientation: 6 }).withExif({ IFD0: { Artist: 'a' } }).jpeg().toBuffer();
  const sos = source.indexOf(Buffer.from([0xff, 0xda]));
  let answered = 0;
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.from(source);
    for (let j = 0; j < 2; j++) bytes[2 + Math.floor(random() * (sos + 10))] = random() < 0.3 ? [0, 1, 3, 6, 9, 0xff][Math.floor(random() * 6)] : Math.floor(random() * 256);
    if (await agrees(`damaged ${i}`, bytes)) answered++;
  }
  assert.ok(answered > 100, `the reader answered for ${answered} of 300`);
});

test('readJpegHeader on the conformance JPEGs: same answers as sharp', async (t) => {
  const dir = join(SHARED, 'conformance');
  if (!existsSync(dir)) return t.skip('../shared/conformance not present');
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && /\.jpe?g$/i.test(e.name));
  let answered = 0;
  for (const e of files) if (await agrees(e.name, readFileSync(join(e.parentPath, e.name)))) answered++;
  assert.ok(answered >= files.length / 2, `answered ${answered} of ${files.length}`);
});

test('grey detection: R = G = B everywhere gives the grey plane; one differing sample anywhere keeps RGB', async () => {
  let seed = 7;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24);
  for (const [width, height] of [[1, 1], [3, 1], [5, 1], [7, 5], [13, 11], [65, 3], [301, 7]]) {
    const pixels = width * height;
    const rgb = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) rgb.fill(random(), i * 3, i * 3 + 3);
    const png = (data: Uint8Array) => sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
    const grey = await decodeImage(await png(rgb));
    assert.equal(grey.channels, 1, `${width}×${height}`);
    assert.deepEqual([...grey.data], Array.from({ length: pixels }, (_, i) => rgb[i * 3]));
    // First pixel, last pixel, the last full group of four, just past the first 64, and each channel.
    for (const at of new Set([0, pixels - 1, Math.max(0, (pixels & ~3) - 1), Math.min(pixels - 1, 64), pixels >> 1])) {
      for (let channel = 0; channel < 3; channel++) {
        const changed = rgb.slice();
        changed[at * 3 + channel] ^= 0x80;
        const image = await decodeImage(await png(changed));
        assert.equal(image.channels, 3, `${width}×${height}, pixel ${at}, channel ${channel}`);
        assert.deepEqual(image.data, changed);
      }
    }
  }
});
