/**
 * Derived views of a picture for matching. Lists hold the reference hash of the original; real copies
 * are re-framed: letterboxed, given a border, padded onto a transparent sticker canvas, or stored
 * sideways with an EXIF orientation. Hashing what is inside the frame recovers those matches (the
 * reference pipeline alone misses all of them). Pure pixel code: no decoding here.
 */
import type { PixelBuffer } from '../signals/pdq/luma.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface TrimOptions {
  /** Largest per-channel difference from the border colour still counted as border (JPEG noise). */
  tolerance?: number;
  /** Share of a row/column allowed to differ and still count as border (specks, compression ringing). */
  outlierShare?: number;
  /** Alpha at or below this is transparent padding. */
  alphaThreshold?: number;
  /** Never keep less than this share of either side (a mostly-flat picture is not a border). */
  minKeepShare?: number;
  /** Peel up to this many nested frames (a border around letterbox bars is two). */
  maxPasses?: number;
}

function colourAt(p: PixelBuffer, x: number, y: number): number[] {
  const i = (y * p.width + x) * p.channels;
  return p.channels === 1 ? [p.data[i]] : [p.data[i], p.data[i + 1], p.data[i + 2]];
}

/**
 * The content box inside uniform or transparent borders, or undefined when there is no border to trim.
 * The border colour is taken at the corners (the most common of the four), as letterbox bars and
 * frames are uniform; rows and columns are peeled while they are (almost) all that colour.
 */
export function findContentBox(pixels: PixelBuffer, alpha?: Uint8Array, options: TrimOptions = {}): Box | undefined {
  const boxes = findContentBoxes(pixels, alpha, options);
  return boxes[boxes.length - 1];
}

/**
 * Every frame peeled, outermost first: a copy padded onto a sticker canvas around a picture that already
 * had letterbox bars must be matched both with and without those bars (the list may hold either).
 */
export function findContentBoxes(pixels: PixelBuffer, alpha?: Uint8Array, options: TrimOptions = {}): Box[] {
  const found: Box[] = [];
  const tolerance = options.tolerance ?? 24;
  const outlierShare = options.outlierShare ?? 0.02;
  const alphaThreshold = options.alphaThreshold ?? 8;
  const minKeep = options.minKeepShare ?? 0.2;
  const { width, height, channels, data } = pixels;
  let box: Box = { x: 0, y: 0, width, height };
  for (let pass = 0; pass < (options.maxPasses ?? 3); pass++) {
    if (box.width < 8 || box.height < 8) break;
    const corners = [
      [box.x, box.y],
      [box.x + box.width - 1, box.y],
      [box.x, box.y + box.height - 1],
      [box.x + box.width - 1, box.y + box.height - 1],
    ].map(([x, y]) => colourAt(pixels, x, y));
    const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= tolerance);
    const reference = corners.reduce((best, c) => (corners.filter((o) => close(o, c)).length > corners.filter((o) => close(o, best)).length ? c : best), corners[0]);
    const isBorder = (x: number, y: number): boolean => {
      const p = y * width + x;
      if (alpha && alpha[p] <= alphaThreshold) return true;
      const i = p * channels;
      for (let c = 0; c < reference.length; c++) if (Math.abs(data[i + c] - reference[c]) > tolerance) return false;
      return true;
    };
    const rowIsBorder = (y: number, x0: number, x1: number) => {
      let off = 0;
      const allowed = Math.floor((x1 - x0) * outlierShare);
      for (let x = x0; x < x1; x++) if (!isBorder(x, y) && ++off > allowed) return false;
      return true;
    };
    const colIsBorder = (x: number, y0: number, y1: number) => {
      let off = 0;
      const allowed = Math.floor((y1 - y0) * outlierShare);
      for (let y = y0; y < y1; y++) if (!isBorder(x, y) && ++off > allowed) return false;
      return true;
    };
    // Rows and columns are peeled independently over the whole box, and a side is only accepted with
    // its opposite (letterbox bars, pillarbox bars, a frame): a flat area of the picture that touches one
    // edge is content, not a border. Transparent padding (stickers) may be one-sided.
    const transparentCorner = alpha !== undefined && corners.length > 0 && [
      [box.x, box.y], [box.x + box.width - 1, box.y], [box.x, box.y + box.height - 1], [box.x + box.width - 1, box.y + box.height - 1],
    ].some(([x, y]) => alpha[y * width + x] <= alphaThreshold);
    const x0 = box.x;
    const x1 = box.x + box.width;
    const y0 = box.y;
    const y1 = box.y + box.height;
    let top = y0;
    let bottom = y1; // exclusive
    let left = x0;
    let right = x1;
    while (top < bottom && rowIsBorder(top, x0, x1)) top++;
    while (bottom > top && rowIsBorder(bottom - 1, x0, x1)) bottom--;
    while (left < right && colIsBorder(left, y0, y1)) left++;
    while (right > left && colIsBorder(right - 1, y0, y1)) right--;
    const balanced = (a: number, b: number) => a >= 2 && b >= 2 && Math.max(a, b) <= 3 * Math.min(a, b) + 2;
    if (!transparentCorner && !balanced(top - y0, y1 - bottom)) {
      top = y0;
      bottom = y1;
    }
    if (!transparentCorner && !balanced(left - x0, x1 - right)) {
      left = x0;
      right = x1;
    }
    const next = { x: left, y: top, width: right - left, height: bottom - top };
    if (next.width < width * minKeep || next.height < height * minKeep) break;
    if (next.width === box.width && next.height === box.height) break;
    box = next;
    // A couple of pixels is resampling fringe, not a frame.
    if (width - box.width + (height - box.height) >= 4) found.push(box);
  }
  return found;
}

export function cropPixels(pixels: PixelBuffer, box: Box): PixelBuffer {
  const { channels } = pixels;
  const out = new Uint8Array(box.width * box.height * channels);
  for (let y = 0; y < box.height; y++) {
    const src = ((box.y + y) * pixels.width + box.x) * channels;
    out.set(pixels.data.subarray(src, src + box.width * channels), y * box.width * channels);
  }
  return { data: out, width: box.width, height: box.height, channels };
}

/** Applies an EXIF orientation (1..8) so the picture stands as it is meant to be shown. */
export function orientPixels(pixels: PixelBuffer, orientation: number): PixelBuffer {
  if (orientation <= 1 || orientation > 8) return pixels;
  const { width: w, height: h, channels: c, data } = pixels;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: sx = w - 1 - x; sy = y; break; // mirrored
        case 3: sx = w - 1 - x; sy = h - 1 - y; break; // upside down
        case 4: sx = x; sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break; // transpose
        case 6: sx = y; sy = h - 1 - x; break; // stored rotated: turn 90° clockwise to show
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        default: sx = w - 1 - y; sy = x; break; // 8: turn 90° counter-clockwise to show
      }
      const d = (y * ow + x) * c;
      const s = (sy * w + sx) * c;
      for (let k = 0; k < c; k++) out[d + k] = data[s + k];
    }
  }
  return { data: out, width: ow, height: oh, channels: c };
}

/**
 * Extends the picture by `share` of its size on every side, repeating the edge pixels. A copy cropped
 * by ~5 % per side then lines up with the original's frame again, so most of its DCT energy sits where
 * the original's did: a heuristic view that recovers mild crops, reported as 'uncropped'.
 */
export function padReplicate(pixels: PixelBuffer, share: number): PixelBuffer {
  const { width: w, height: h, channels: c, data } = pixels;
  const px = Math.max(1, Math.round(w * share));
  const py = Math.max(1, Math.round(h * share));
  const ow = w + 2 * px;
  const oh = h + 2 * py;
  const out = new Uint8Array(ow * oh * c);
  for (let y = 0; y < oh; y++) {
    const sy = Math.min(h - 1, Math.max(0, y - py));
    for (let x = 0; x < ow; x++) {
      const sx = Math.min(w - 1, Math.max(0, x - px));
      const s = (sy * w + sx) * c;
      const d = (y * ow + x) * c;
      for (let k = 0; k < c; k++) out[d + k] = data[s + k];
    }
  }
  return { data: out, width: ow, height: oh, channels: c };
}
