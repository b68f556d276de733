/**
 * Derived views of a picture for matching. Lists hold the reference hash of the original; real copies
 * are re-framed: letterboxed, given a border, padded onto a transparent sticker canvas, stored sideways
 * with an EXIF orientation, cropped a little, or rescaled. Hashing what is inside the frame, the picture
 * extended back to its original frame, or resampled to the size it was probably listed at recovers many
 * of those matches (the reference pipeline alone misses them). Pure pixel code: no decoding here; the
 * views themselves are assembled in hashing/hash-file.ts (docs/banks.md, "Views and robustness").
 */
import type { PixelBuffer } from '../signals/pdq/luma.js';
import { gatherPixels } from '../signals/pdq/reference-resize.js';

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

/** JFIF's RGB → Y, Cb, Cr (chroma centred on 0). */
function ycc(r: number, g: number, b: number): [number, number, number] {
  return [0.299 * r + 0.587 * g + 0.114 * b, -0.168736 * r - 0.331264 * g + 0.5 * b, 0.5 * r - 0.418688 * g - 0.081312 * b];
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
  return findContentFrames(pixels, alpha, options).boxes;
}

export interface ContentFrames {
  /** Every frame peeled, outermost first; the last is the content. */
  boxes: Box[];
  /**
   * When the innermost peel took bars off both axes: the box with only the top/bottom bars taken off, then
   * with only the left/right ones. Bars added to a picture that had its own bars of the same colour merge
   * with them (letterboxing a pillarboxed video still); one of these is then the picture as listed.
   */
  partial: Box[];
}

/** Lines per side a peel may take and still be the band between two frames rather than a frame. */
const BAND = 3;

export function findContentFrames(pixels: PixelBuffer, alpha?: Uint8Array, options: TrimOptions = {}): ContentFrames {
  const found: Box[] = [];
  let partial: Box[] = [];
  const tolerance = options.tolerance ?? 24;
  const outlierShare = options.outlierShare ?? 0.02;
  const alphaThreshold = options.alphaThreshold ?? 8;
  const minKeep = options.minKeepShare ?? 0.2;
  const { width, height, channels, data } = pixels;
  const peel = (box: Box) => {
    const cornerPoints = [
      [box.x, box.y],
      [box.x + box.width - 1, box.y],
      [box.x, box.y + box.height - 1],
      [box.x + box.width - 1, box.y + box.height - 1],
    ];
    // Each corner's colour is the median of its first three pixels along the diagonal: where an inner frame
    // meets an outer one, the corner pixel itself is the smeared mix of both.
    const inward = Math.min(2, Math.floor((Math.min(box.width, box.height) - 1) / 2));
    const corners = cornerPoints.map(([x, y]) => {
      const dx = x === box.x ? 1 : -1;
      const dy = y === box.y ? 1 : -1;
      const samples = [0, Math.min(1, inward), inward].map((k) => colourAt(pixels, x + k * dx, y + k * dy));
      return samples[0].map((_, c) => samples.map((v) => v[c]).sort((a, b) => a - b)[1]);
    });
    const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= tolerance);
    const reference = corners.reduce((best, c) => (corners.filter((o) => close(o, c)).length > corners.filter((o) => close(o, best)).length ? c : best), corners[0]);
    // Transparent padding is peeled on alpha alone: the colour stored under it is arbitrary (often black),
    // and must not eat the picture's own dark bars, which the next pass peels as a frame of their own.
    const transparentCorner = alpha !== undefined && cornerPoints.some(([x, y]) => alpha[y * width + x] <= alphaThreshold);
    // Deviation is measured as JPEG stores colour (Y, Cb, Cr), not in RGB: 4:2:0 and 4:2:2 JPEG keep luma
    // sharp but smear chroma a pixel or two across a colour edge, and RGB amplifies a chroma error up to
    // 1.8× (a red frame's smear into black bars read 31,0,0: 31 off in RGB, 16 in Cr), so the line where a
    // coloured frame meets bars was neither frame nor bar and trimming stopped there (issue #12).
    const [y0r, cb0, cr0] = channels >= 3 ? ycc(reference[0], reference[1], reference[2]) : [reference[0], 0, 0];
    // A line is border when all but a few specks are the border colour. The last two lines of a bar may
    // also be merely near it: JPEG rings into a bar next to busy content, and a line of the bar kept with
    // the picture shifts the whole hash grid (it matters most for small, textured pictures).
    // Pixel p = first + k·step for k < n; a pixel's deviation is its largest channel difference.
    const lineIsBorder = (first: number, step: number, n: number, fringe: boolean) => {
      let off = 0;
      let far = 0;
      let sum = 0;
      const allowed = Math.floor(n * outlierShare);
      for (let k = 0, p = first; k < n; k++, p += step) {
        if (alpha && alpha[p] <= alphaThreshold) continue;
        let d = 255;
        if (!transparentCorner) {
          const i = p * channels;
          if (channels >= 3) {
            const r = data[i];
            const g = data[i + 1];
            const b = data[i + 2];
            const dc = Math.max(Math.abs(-0.168736 * r - 0.331264 * g + 0.5 * b - cb0), Math.abs(0.5 * r - 0.418688 * g - 0.081312 * b - cr0));
            // A fringe line may carry half the chroma of the colour beyond the edge (subsampled chroma).
            d = Math.max(Math.abs(0.299 * r + 0.587 * g + 0.114 * b - y0r), fringe ? dc / 2 : dc);
          } else {
            d = Math.abs(data[i] - y0r);
          }
        }
        if (d > tolerance && ++off > allowed && !fringe) return false;
        if (d > 2 * tolerance && ++far > allowed) return false;
        sum += d;
      }
      return off <= allowed || sum <= n * tolerance;
    };
    const rowIsBorder = (y: number, x0: number, x1: number, fringe = false) => lineIsBorder(y * width + x0, 1, x1 - x0, fringe);
    const colIsBorder = (x: number, y0: number, y1: number, fringe = false) => lineIsBorder(y0 * width + x, width, y1 - y0, fringe);
    // Rows and columns are peeled independently over the whole box, and a side is only accepted with
    // its opposite (letterbox bars, pillarbox bars, a frame): a flat area of the picture that touches one
    // edge is content, not a border. Transparent padding (stickers) may be one-sided.
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
    if (top > y0) for (let i = 0; i < 2 && top < bottom && rowIsBorder(top, x0, x1, true); i++) top++;
    if (bottom < y1) for (let i = 0; i < 2 && bottom > top && rowIsBorder(bottom - 1, x0, x1, true); i++) bottom--;
    if (left > x0) for (let i = 0; i < 2 && left < right && colIsBorder(left, y0, y1, true); i++) left++;
    if (right < x1) for (let i = 0; i < 2 && right > left && colIsBorder(right - 1, y0, y1, true); i++) right--;
    const balanced = (a: number, b: number) => a >= 2 && b >= 2 && Math.max(a, b) <= 3 * Math.min(a, b) + 2;
    if (!transparentCorner && !balanced(top - y0, y1 - bottom)) {
      top = y0;
      bottom = y1;
    }
    if (!transparentCorner && !balanced(left - x0, x1 - right)) {
      left = x0;
      right = x1;
    }
    const both = !transparentCorner && top > y0 && left > x0;
    return {
      next: { x: left, y: top, width: right - left, height: bottom - top },
      partial: both ? [{ x: x0, y: top, width: x1 - x0, height: bottom - top }, { x: left, y: y0, width: right - left, height: y1 - y0 }] : [],
    };
  };
  let box: Box = { x: 0, y: 0, width, height };
  let band = false;
  // Bounded: each loop peels at least one line, and bands count at most a few loops each.
  for (let pass = 0, loops = 0; pass < (options.maxPasses ?? 3) && loops < 4 * (options.maxPasses ?? 3); loops++) {
    if (box.width < 8 || box.height < 8) break;
    const result = peel(box);
    const { next } = result;
    if (next.width < width * minKeep || next.height < height * minKeep) break;
    if (next.width === box.width && next.height === box.height) break;
    // A peel of a few lines per side after a frame is the band where two colours meet (chroma smeared
    // across the edge, resampling): part of the frames either side of it, not a frame of its own.
    const thin = found.length > 0 && next.x - box.x <= BAND && next.y - box.y <= BAND && box.x + box.width - (next.x + next.width) <= BAND && box.y + box.height - (next.y + next.height) <= BAND;
    box = next;
    if (thin) {
      band = true;
      continue;
    }
    band = false;
    pass++;
    // A couple of pixels is resampling fringe, not a frame.
    if (width - box.width + (height - box.height) >= 4) {
      found.push(box);
      partial = result.partial;
    }
  }
  // Nothing inside the band: the content starts after it.
  if (band) found[found.length - 1] = box;
  return { boxes: found, partial };
}

/**
 * The pixels inside `box`. With `sampleTo`, a box with a side over it comes out sampled to exactly
 * sampleTo × sampleTo by the reference tool's nearest-neighbour rule: the same pixels the hasher would
 * take from a full-size crop (so the same hash), without copying a 12-megapixel region per view.
 */
export function cropPixels(pixels: PixelBuffer, box: Box, sampleTo?: number): PixelBuffer {
  const { channels } = pixels;
  if (sampleTo !== undefined && (box.width > sampleTo || box.height > sampleTo)) {
    const cols = new Int32Array(sampleTo);
    const rows = new Int32Array(sampleTo);
    for (let x = 0; x < sampleTo; x++) cols[x] = (box.x + Math.floor((x * box.width) / sampleTo)) * channels;
    for (let y = 0; y < sampleTo; y++) rows[y] = (box.y + Math.floor((y * box.height) / sampleTo)) * pixels.width * channels;
    return gatherPixels(pixels, rows, cols);
  }
  const out = new Uint8Array(box.width * box.height * channels);
  for (let y = 0; y < box.height; y++) {
    const src = ((box.y + y) * pixels.width + box.x) * channels;
    out.set(pixels.data.subarray(src, src + box.width * channels), y * box.width * channels);
  }
  return { data: out, width: box.width, height: box.height, channels };
}

/** The padding of a picture and the colour to repaint it with (see `flattenPixels`). */
export interface Repaint {
  background: 0 | 255;
  /** Opaque pictures: what lies outside this box is the padding. */
  content?: Box;
}

/**
 * A transparent picture is listed with whatever colour its tool stored under the transparency, and the
 * reference hashes that colour; encoders rewrite it (lossless WebP zeroes it) and copies get flattened
 * onto white or black. Of the two canonical colours the copy as stored gives one; this says how to get
 * the other: transparency over black-ish stored colour → white, over white → black; an opaque picture
 * whose outer frame (`outer`, from findContentFrames) is black or white on all four sides, a flattened
 * sticker, → that frame in the other colour. Undefined when neither applies.
 */
export function paddingToRepaint(pixels: PixelBuffer, alpha?: Uint8Array, outer?: Box, alphaThreshold = 8): Repaint | undefined {
  const { width, height, channels, data } = pixels;
  const light = (p: number) => data[p * channels] >= 232 && (channels < 3 || (data[p * channels + 1] >= 232 && data[p * channels + 2] >= 232));
  const dark = (p: number) => data[p * channels] <= 24 && (channels < 3 || (data[p * channels + 1] <= 24 && data[p * channels + 2] <= 24));
  if (alpha) {
    let hidden = -1;
    let translucent = false;
    for (let p = 0; p < alpha.length; p++) {
      if (alpha[p] === 255) continue;
      translucent = true;
      if (alpha[p] <= alphaThreshold) {
        hidden = p;
        break;
      }
    }
    if (translucent) return { background: hidden >= 0 && light(hidden) ? 0 : 255 };
  }
  if (!outer || outer.x === 0 || outer.y === 0 || outer.x + outer.width === width || outer.y + outer.height === height) return undefined;
  const corners = [0, width - 1, (height - 1) * width, height * width - 1];
  if (corners.every(dark)) return { background: 255, content: outer };
  if (corners.every(light)) return { background: 0, content: outer };
  return undefined;
}

/**
 * The picture composited over `background` (alpha), with everything outside `content` painted that colour.
 * With `sampleTo`, a picture with a side over it comes out sampled to sampleTo × sampleTo by the reference's
 * nearest-neighbour rule first (the pixels the hasher would take), without a full-size copy.
 */
export function flattenPixels(pixels: PixelBuffer, repaint: Repaint, alpha?: Uint8Array, sampleTo?: number): PixelBuffer {
  const { width, height, channels, data } = pixels;
  const { background, content } = repaint;
  const sample = sampleTo !== undefined && (width > sampleTo || height > sampleTo);
  const outW = sample ? sampleTo : width;
  const outH = sample ? sampleTo : height;
  const out = new Uint8Array(outW * outH * channels);
  for (let y = 0, d = 0; y < outH; y++) {
    const Y = sample ? Math.floor((y * height) / outH) : y;
    const rowIn = !content || (Y >= content.y && Y < content.y + content.height);
    for (let x = 0; x < outW; x++, d += channels) {
      const X = sample ? Math.floor((x * width) / outW) : x;
      const p = Y * width + X;
      const a = !rowIn || (content && (X < content.x || X >= content.x + content.width)) ? 0 : alpha ? alpha[p] : 255;
      for (let k = 0; k < channels; k++) out[d + k] = a === 255 ? data[p * channels + k] : Math.round((data[p * channels + k] * a + background * (255 - a)) / 255);
    }
  }
  return { data: out, width: outW, height: outH, channels };
}

/** Per output sample: the first input index, and `taps` normalised tent weights from there (zero-padded). */
function tentWeights(inSize: number, outSize: number): { start: Int32Array; weights: Float32Array; taps: number } {
  const scale = inSize / outSize;
  // Widened by the scale when shrinking (area-like low-pass, no aliasing); plain linear interpolation when growing.
  const radius = Math.max(1, scale);
  const taps = Math.min(inSize, Math.ceil(2 * radius) + 1);
  const start = new Int32Array(outSize);
  const weights = new Float32Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale - 0.5;
    const first = Math.min(inSize - taps, Math.max(0, Math.ceil(centre - radius)));
    let sum = 0;
    for (let t = 0; t < taps; t++) sum += weights[o * taps + t] = Math.max(0, 1 - Math.abs(first + t - centre) / radius);
    if (sum === 0) {
      weights[o * taps + Math.min(taps - 1, Math.max(0, Math.round(centre) - first))] = sum = 1;
    }
    for (let t = 0; t < taps; t++) weights[o * taps + t] /= sum;
    start[o] = first;
  }
  return { start, weights, taps };
}

/**
 * Resamples a float luma plane with a tent filter (separable; a proper low-pass when shrinking, unlike the
 * reference tool's nearest-neighbour resize). Used to hash a picture at the size its list hash was
 * probably taken at.
 */
export function resampleLuma(luma: Float32Array, width: number, height: number, outWidth: number, outHeight: number): Float32Array {
  const { start: hStart, weights: hWeights, taps: hTaps } = tentWeights(width, outWidth);
  const { start: vStart, weights: vWeights, taps: vTaps } = tentWeights(height, outHeight);
  const rows = new Float32Array(outWidth * height);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    const o = y * outWidth;
    for (let x = 0; x < outWidth; x++) {
      const s0 = base + hStart[x];
      const w0 = x * hTaps;
      let sum = 0;
      for (let t = 0; t < hTaps; t++) sum += hWeights[w0 + t] * luma[s0 + t];
      rows[o + x] = sum;
    }
  }
  const out = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const o = y * outWidth;
    for (let t = 0; t < vTaps; t++) {
      const wt = vWeights[y * vTaps + t];
      if (wt === 0) continue;
      const r = (vStart[y] + t) * outWidth;
      for (let x = 0; x < outWidth; x++) out[o + x] += wt * rows[r + x];
    }
  }
  return out;
}

/**
 * Applies an EXIF orientation (1..8) so the picture stands as it is meant to be shown. With `sampleTo`, a
 * result with a side over it comes out sampled to sampleTo × sampleTo by the reference's nearest-neighbour
 * rule, the same pixels as orienting in full and then resizing, without a full-size copy.
 */
export function orientPixels(pixels: PixelBuffer, orientation: number, sampleTo?: number): PixelBuffer {
  if (orientation <= 1 || orientation > 8) return pixels;
  const { width: w, height: h, channels: c } = pixels;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const sample = sampleTo !== undefined && (ow > sampleTo || oh > sampleTo);
  const outW = sample ? sampleTo : ow;
  const outH = sample ? sampleTo : oh;
  // Source offset = col[x] + row[y]: each output axis moves along one source axis, maybe reversed.
  // 2 mirrored, 3 upside down, 4 flipped; 5 transposed, 6 stored rotated (turn 90° clockwise to show),
  // 7 transverse, 8 turn 90° counter-clockwise to show.
  const reverseX = swap ? orientation === 6 || orientation === 7 : orientation === 2 || orientation === 3;
  const reverseY = swap ? orientation === 7 || orientation === 8 : orientation === 3 || orientation === 4;
  const col = new Int32Array(outW);
  const row = new Int32Array(outH);
  for (let x = 0; x < outW; x++) {
    const X = sample ? Math.floor((x * ow) / outW) : x;
    const v = reverseX ? ow - 1 - X : X;
    col[x] = swap ? v * w * c : v * c;
  }
  for (let y = 0; y < outH; y++) {
    const Y = sample ? Math.floor((y * oh) / outH) : y;
    const v = reverseY ? oh - 1 - Y : Y;
    row[y] = swap ? v * c : v * w * c;
  }
  return gatherPixels(pixels, row, col);
}

/**
 * The (2r+1)² box mean, edges clamped, at every pixel of one edge of a luma plane: `along` pixels on the
 * edge, `depth` lines into the plane; the value i along the edge, d lines in, is at base + i·step + d·inward
 * (strides, not a callback: this runs for every uncropped view, on the hashing hot path).
 */
function edgeMeans(plane: Float32Array, base: number, step: number, inward: number, along: number, depth: number, radius: number): Float32Array {
  const lines = new Float64Array(along);
  // Each line sum adds the same values in the same order either way; the loop runs along memory.
  if (Math.abs(inward) < Math.abs(step)) {
    for (let i = 0, p = base; i < along; i++, p += step) {
      let sum = 0;
      for (let d = -radius; d <= radius; d++) sum += plane[p + Math.min(depth - 1, Math.max(0, d)) * inward];
      lines[i] = sum;
    }
  } else {
    for (let d = -radius; d <= radius; d++) {
      const line = base + Math.min(depth - 1, Math.max(0, d)) * inward;
      for (let i = 0, p = line; i < along; i++, p += step) lines[i] += plane[p];
    }
  }
  const out = new Float32Array(along);
  const norm = 1 / (2 * radius + 1) ** 2;
  let sum = 0;
  for (let k = -radius; k <= radius; k++) sum += lines[Math.min(along - 1, Math.max(0, k))];
  for (let i = 0; i < along; i++) {
    out[i] = sum * norm;
    sum += lines[Math.min(along - 1, i + radius + 1)] - lines[Math.max(0, i - radius)];
  }
  return out;
}

/**
 * Extends a luma plane by `share` of its size on every side, undoing a crop of share / (1 + 2·share) per
 * side, so the picture lines up with the original's frame again ('uncropped' views). What was cut off is
 * unknown; it is predicted by the local mean of the picture near each edge (a box blur as deep as the
 * missing band), not by repeating the edge's detail in streaks, which misled more DCT coefficients.
 */
export function extendLuma(luma: Float32Array, width: number, height: number, share: number): { luma: Float32Array; width: number; height: number } {
  const { px, py, width: ow, height: oh } = extendedSize(width, height, share);
  const out = new Float32Array(ow * oh);
  for (let y = 0; y < height; y++) out.set(luma.subarray(y * width, y * width + width), (y + py) * ow + px);
  fillExtension(out, ow, oh, px, py);
  return { luma: out, width: ow, height: oh };
}

/** The size extendLuma gives a width×height plane, and the band added on each side. */
export function extendedSize(width: number, height: number, share: number): { px: number; py: number; width: number; height: number } {
  const px = Math.max(1, Math.round(width * share));
  const py = Math.max(1, Math.round(height * share));
  return { px, py, width: width + 2 * px, height: height + 2 * py };
}

/**
 * extendLuma in place: `out` (ow × oh) holds the plane at (px, py); the bands around it are filled. Lets
 * the views write their luma straight into the hasher's buffer (hashing/hash-file.ts).
 */
export function fillExtension(out: Float32Array, ow: number, oh: number, px: number, py: number): void {
  const width = ow - 2 * px;
  const height = oh - 2 * py;
  const corner = py * ow + px;
  // Only the edge pixels' means are needed: every filled pixel takes the value of the nearest edge pixel.
  const r = Math.max(px, py);
  const top = edgeMeans(out, corner, 1, ow, width, height, r);
  const bottom = edgeMeans(out, corner + (height - 1) * ow, 1, -ow, width, height, r);
  const left = edgeMeans(out, corner, ow, 1, height, width, r);
  const right = edgeMeans(out, corner + width - 1, ow, -1, height, width, r);
  for (let y = 0; y < oh; y++) {
    const sy = y - py;
    const o = y * ow;
    if (sy < 0 || sy >= height) {
      const edge = sy < 0 ? top : bottom;
      out.fill(edge[0], o, o + px);
      out.set(edge, o + px);
      out.fill(edge[width - 1], o + px + width, o + ow);
      continue;
    }
    out.fill(left[sy], o, o + px);
    out.fill(right[sy], o + px + width, o + ow);
  }
}
