/** Benign synthetic test images (gradients, shapes, noise), made with sharp in a temp folder. */
import sharp from 'sharp';

/** Deterministic pseudo-random RGB noise over a smooth gradient: has structure, so PDQ quality is high. */
export function syntheticRgb(width: number, height: number, seed = 1): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0 || 1;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const blob = Math.sin((x * 6.3) / width + seed) * Math.cos((y * 4.1) / height - seed) * 90;
      const block = (((x * 12) / width) ^ ((y * 9) / height)) & 1 ? 50 : -50;
      data[i] = Math.max(0, Math.min(255, 128 + blob + block + (rand() >> 3)));
      data[i + 1] = Math.max(0, Math.min(255, (x * 255) / width));
      data[i + 2] = Math.max(0, Math.min(255, (y * 255) / height));
    }
  }
  return data;
}

export async function syntheticJpeg(width: number, height: number, seed = 1, quality = 90): Promise<Buffer> {
  return sharp(syntheticRgb(width, height, seed), { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
}

export async function syntheticPng(width: number, height: number, seed = 1): Promise<Buffer> {
  return sharp(syntheticRgb(width, height, seed), { raw: { width, height, channels: 3 } }).png().toBuffer();
}
