/**
 * Letterbox removal for video frames: black bars added to fit another aspect ratio (an SD copy of an
 * HD video) move the picture inside the frame, and PDQ is not robust to that — a letterboxed copy
 * matches its original on 0 % of frames (docs/video.md). Cropping the bars first restores the match.
 *
 * The rule is python-threatexchange's photo unletterbox (`--black-threshold`): luma as PIL's "L"
 * conversion, and a border row or column is removed while every pixel in it is darker than the
 * threshold (default 40, as pytx's unletterbox). Applied to each hashed frame. Hashes of cropped
 * frames are not the reference's: use it on the query side to match letterboxed copies against
 * originals, not to produce hashes for exchange.
 */
import type { RgbFrame } from './hasher.js';

export const DEFAULT_BLACK_THRESHOLD = 40;

export interface FrameCrop {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** PIL "L": (R·19595 + G·38470 + B·7471 + 0x8000) >> 16. */
function luma8(data: Uint8Array, p: number): number {
  return (data[p] * 19595 + data[p + 1] * 38470 + data[p + 2] * 7471 + 0x8000) >> 16;
}

/** The picture inside black borders; undefined when there are none or the frame is black throughout. */
export function detectLetterbox(frame: RgbFrame, blackThreshold = DEFAULT_BLACK_THRESHOLD): FrameCrop | undefined {
  const { data, width, height } = frame;
  const rowBlack = (y: number, x0: number, x1: number) => {
    for (let x = x0, p = (y * width + x0) * 3; x < x1; x++, p += 3) if (luma8(data, p) >= blackThreshold) return false;
    return true;
  };
  const colBlack = (x: number, y0: number, y1: number) => {
    for (let y = y0, p = (y0 * width + x) * 3; y < y1; y++, p += width * 3) if (luma8(data, p) >= blackThreshold) return false;
    return true;
  };
  let top = 0;
  while (top < height && rowBlack(top, 0, width)) top++;
  if (top === height) return undefined;
  let bottom = height;
  while (bottom > top && rowBlack(bottom - 1, 0, width)) bottom--;
  let left = 0;
  while (left < width && colBlack(left, top, bottom)) left++;
  let right = width;
  while (right > left && colBlack(right - 1, top, bottom)) right--;
  if (top === 0 && left === 0 && bottom === height && right === width) return undefined;
  return { left, top, width: right - left, height: bottom - top };
}

/** The frame without its black borders (a copy), or the frame itself when it has none. */
export function unletterboxFrame(frame: RgbFrame, blackThreshold = DEFAULT_BLACK_THRESHOLD): RgbFrame {
  const crop = detectLetterbox(frame, blackThreshold);
  if (!crop) return frame;
  const out = new Uint8Array(crop.width * crop.height * 3);
  for (let y = 0; y < crop.height; y++) {
    const from = ((crop.top + y) * frame.width + crop.left) * 3;
    out.set(frame.data.subarray(from, from + crop.width * 3), y * crop.width * 3);
  }
  return { ...frame, data: out, width: crop.width, height: crop.height };
}
