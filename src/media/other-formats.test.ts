// BMP, ICO, TGA and camera RAW previews hash like the same benign picture as PNG (identical for lossless
// formats); fixtures are made here (bundled ffmpeg for BMP/TGA, ICO and TIFF-based RAW containers by hand).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import sharp from 'sharp';
import { syntheticRgb } from '../../test/helpers/images.js';
import { hashImageBytes } from '../hashing/hash-file.js';
import { locateFfmpeg } from './ffmpeg.js';
import { isCameraRaw, readRawPreview } from './raw-preview.js';
import { sniffOtherFormat } from './other-formats.js';

const W = 96;
const H = 64;
const png = (channels: 3 | 4 = 3) => {
  const rgb = Buffer.from(syntheticRgb(W, H, 7));
  if (channels === 3) return sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();
  const rgba = Buffer.alloc(W * H * 4);
  for (let i = 0; i < W * H; i++) {
    rgb.copy(rgba, i * 4, i * 3, i * 3 + 3);
    rgba[i * 4 + 3] = i % 7 === 0 ? 0 : 255;
  }
  return sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toBuffer();
};
const pdq = async (bytes: Uint8Array) => {
  const r = await hashImageBytes(bytes, { path: 'x' });
  assert.equal(r.error, undefined, r.error?.message);
  return { pdq: r.pdq, format: r.format, width: r.width, height: r.height };
};

async function ffmpegConvert(input: Buffer, args: string[], ext: string): Promise<Buffer> {
  const ffmpeg = (await locateFfmpeg()).path;
  return execFileSync(ffmpeg, ['-v', 'error', '-f', 'png_pipe', '-i', 'pipe:0', ...args, '-f', 'image2pipe', '-c:v', ext, 'pipe:1'], { input, maxBuffer: 1 << 24 });
}

test('BMP (24-bit BMP3, 32-bit, 8-bit palette) hashes exactly like the same picture as PNG', async () => {
  const source = await png();
  const expected = (await pdq(source)).pdq;
  for (const pixFmt of ['bgr24', 'bgra']) {
    const bmp = await ffmpegConvert(source, ['-pix_fmt', pixFmt], 'bmp');
    assert.equal(bmp.readUInt32LE(14), 40, 'BITMAPINFOHEADER (BMP3)');
    const got = await pdq(bmp);
    assert.deepEqual(got, { pdq: expected, format: 'bmp', width: W, height: H }, pixFmt);
  }
  // A palette picture: the PNG and the BMP hold the same 8-bit indexed pixels.
  const palettePng = await sharp(source).png({ palette: true, colours: 64, dither: 0 }).toBuffer();
  const bmp8 = await ffmpegConvert(palettePng, ['-pix_fmt', 'pal8'], 'bmp');
  assert.equal(bmp8.readUInt16LE(28), 8, '8 bits per pixel');
  assert.equal((await pdq(bmp8)).pdq, (await pdq(palettePng)).pdq);
});

test('TGA hashes exactly like PNG (RGB and RGBA, alpha dropped as for PNG)', async () => {
  for (const channels of [3, 4] as const) {
    const source = await png(channels);
    const tga = await ffmpegConvert(source, ['-pix_fmt', channels === 3 ? 'bgr24' : 'bgra'], 'targa');
    assert.equal(sniffOtherFormat(tga), 'tga');
    assert.deepEqual(await pdq(tga), { ...(await pdq(source)), format: 'tga' });
  }
});

/** An ICO holding PNG pictures (the modern form): 6-byte header, 16-byte entries, then the PNGs. */
function ico(pngs: Buffer[], sizes: number[]): Buffer {
  const header = Buffer.alloc(6 + 16 * pngs.length);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(pngs.length, 4);
  let offset = header.length;
  pngs.forEach((p, i) => {
    const e = 6 + 16 * i;
    header[e] = sizes[i] % 256;
    header[e + 1] = sizes[i] % 256;
    header.writeUInt16LE(1, e + 4);
    header.writeUInt16LE(32, e + 6);
    header.writeUInt32LE(p.length, e + 8);
    header.writeUInt32LE(offset, e + 12);
    offset += p.length;
  });
  return Buffer.concat([header, ...pngs]);
}

test('ICO hashes its largest picture exactly like that picture as PNG', async () => {
  const big = await sharp(syntheticRgb(64, 64, 3), { raw: { width: 64, height: 64, channels: 3 } }).ensureAlpha().png().toBuffer();
  const small = await sharp(big).resize(16, 16).png().toBuffer();
  const file = ico([small, big], [16, 64]);
  assert.equal(sniffOtherFormat(file), 'ico');
  assert.deepEqual(await pdq(file), { ...(await pdq(big)), format: 'ico' });
});

/** A little-endian TIFF container: IFDs with `tags` (SHORT/LONG/ASCII/BYTE) and a JPEG blob each (513/514). */
function tiff(ifds: { tags: [number, number, number[] | string][]; blob?: Buffer }[], options: { cr2?: boolean } = {}): Buffer {
  // Layout: header (16 bytes, CR2 marker at 8), then each IFD, then each blob.
  const ifdSize = (n: number) => 2 + 12 * n + 4 + 64; // room for out-of-line values
  let at = 16;
  const ifdAt = ifds.map((i) => {
    const a = at;
    at += ifdSize(i.tags.length + 2);
    return a;
  });
  const blobAt = ifds.map((i) => {
    const a = at;
    at += i.blob?.length ?? 0;
    return a;
  });
  const out = Buffer.alloc(at);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(ifdAt[0], 4);
  if (options.cr2) out.write('CR\x02\x00', 8, 'latin1');
  ifds.forEach((ifd, k) => {
    // A SubIFDs tag (330) points at the second IFD, whose offset is only known once laid out.
    const tags = ifd.tags.map(([tag, type, value]): [number, number, number[] | string] => (tag === 330 ? [tag, type, [ifdAt[1]]] : [tag, type, value]));
    if (ifd.blob) tags.push([513, 4, [blobAt[k]]], [514, 4, [ifd.blob.length]]);
    tags.sort((a, b) => a[0] - b[0]);
    let p = ifdAt[k];
    let extra = p + 2 + 12 * tags.length + 4;
    out.writeUInt16LE(tags.length, p);
    p += 2;
    for (const [tag, type, value] of tags) {
      const values = typeof value === 'string' ? [...Buffer.from(`${value}\0`, 'latin1')] : value;
      const size = type === 3 ? 2 : type === 4 ? 4 : 1;
      out.writeUInt16LE(tag, p);
      out.writeUInt16LE(type, p + 2);
      out.writeUInt32LE(values.length, p + 4);
      let target = p + 8;
      if (values.length * size > 4) {
        out.writeUInt32LE(extra, p + 8);
        target = extra;
        extra += values.length * size;
      }
      values.forEach((v, i) => (size === 2 ? out.writeUInt16LE(v, target + 2 * i) : size === 4 ? out.writeUInt32LE(v, target + 4 * i) : out.writeUInt8(v, target + i)));
      p += 12;
    }
    out.writeUInt32LE(0, p);
    ifd.blob?.copy(out, blobAt[k]);
  });
  return out;
}

test('camera RAW files (DNG, CR2, NEF, ARW) hash their largest JPEG preview', async () => {
  const preview = await sharp(syntheticRgb(W, H, 11), { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  const thumb = await sharp(preview).resize(24, 16).jpeg().toBuffer();
  const expected = await pdq(preview);
  const files: Record<string, Buffer> = {
    dng: tiff([{ tags: [[254, 4, [1]], [50706, 1, [1, 4, 0, 0]], [330, 4, [0]]], blob: thumb }, { tags: [[254, 4, [1]]], blob: preview }]),
    cr2: tiff([{ tags: [[271, 2, 'Canon']], blob: preview }], { cr2: true }),
    nef: tiff([{ tags: [[271, 2, 'NIKON CORPORATION'], [330, 4, [0]]], blob: thumb }, { tags: [], blob: preview }]),
    arw: tiff([{ tags: [[271, 2, 'SONY']], blob: preview }]),
  };
  for (const [name, file] of Object.entries(files)) {
    assert.ok(isCameraRaw(file), name);
    assert.equal(readRawPreview(file)?.length, preview.length, `${name}: the largest preview`);
    assert.deepEqual(await pdq(file), { ...expected, format: 'raw' }, name);
  }
  // An ordinary TIFF stays with sharp.
  const plain = await sharp(syntheticRgb(W, H, 2), { raw: { width: W, height: H, channels: 3 } }).tiff().toBuffer();
  assert.equal(isCameraRaw(plain), false);
  assert.equal((await pdq(plain)).format, 'tiff');
});

test('a file no decoder takes is reported with its format, never skipped', async () => {
  const psd = Buffer.concat([Buffer.from('8BPS\x00\x01', 'latin1'), Buffer.alloc(200)]);
  const r = await hashImageBytes(psd, { path: 'x.psd' });
  assert.equal(r.error?.code, 'VIGIL_ERR_UNSUPPORTED_MEDIA');
  assert.match(r.error!.message, /Photoshop PSD/);
  const heic = Buffer.concat([Buffer.from('\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic', 'latin1'), Buffer.alloc(64)]);
  const h = await hashImageBytes(heic, { path: 'x.heic' });
  assert.equal(h.error?.code, 'VIGIL_ERR_CORRUPT_MEDIA');
  assert.match(h.error!.message, /HEIF/);
});
