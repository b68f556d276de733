/**
 * Benign generated pictures for triage tests and the benchmark corpus: coloured circles on a plain ground
 * (smooth shapes, so that re-encoded, rotated or re-toned copies stay within PDQ's near-duplicate distance,
 * unlike per-pixel noise). Deterministic per seed.
 */
import sharp from 'sharp';

export function circlesSvg(seed: number, width = 320, height = 240): Buffer {
  let s = seed >>> 0 || 1;
  const r = () => (s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff;
  const shapes = Array.from({ length: 12 }, () => `<circle cx="${Math.floor(r() * width)}" cy="${Math.floor(r() * height)}" r="${Math.floor(10 + r() * 60)}" fill="rgb(${Math.floor(r() * 255)},${Math.floor(r() * 255)},${Math.floor(r() * 255)})"/>`).join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="rgb(${Math.floor(r() * 255)},120,90)"/>${shapes}</svg>`);
}

export interface PictureVariant {
  format?: 'jpeg' | 'png';
  quality?: number;
  rotate?: 0 | 90 | 180 | 270;
  flop?: boolean;
  brightness?: number;
  exif?: Record<string, Record<string, string>>;
  width?: number;
  height?: number;
}

export async function picture(seed: number, v: PictureVariant = {}): Promise<Buffer> {
  let img = sharp(circlesSvg(seed, v.width, v.height));
  if (v.rotate) img = img.rotate(v.rotate);
  if (v.flop) img = img.flop();
  if (v.brightness) img = img.modulate({ brightness: v.brightness });
  img = v.format === 'png' ? img.png() : img.jpeg({ quality: v.quality ?? 90 });
  if (v.exif) img = img.withExif(v.exif);
  return img.toBuffer();
}
