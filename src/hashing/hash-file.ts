/**
 * One file → its hashes: MD5/SHA-1/SHA-256 of the bytes and PDQ of the picture, from a single read.
 * Never throws for a bad file: the result carries a per-file error so a batch always goes on.
 */
import { open, stat } from 'node:fs/promises';
import { ItemBudget } from '../core/budget.js';
import { VigilError, toVigilError, type VigilErrorCode } from '../core/errors.js';
// The decoder (sharp, ~0.1 s of CPU to load) and the video code load on first use: hashing a document
// or a list never pays for them.
import type { DecodedImage, SixteenBitMode } from '../media/image-decode.js';
import { digestsOf, digestsOfFile, type FileDigests } from '../media/digests.js';
import { hash256ToHex } from '../signals/pdq/hash256.js';
import { DIHEDRAL_NAMES, pdqDihedralFromLuma, pdqDihedralFromPixels, pdqFromLuma, pdqFromPixels, PdqScratch, PDQ_REFERENCE_MAX_DIMENSION, type DihedralName } from '../signals/pdq/pdq.js';
import type { PixelBuffer } from '../signals/pdq/luma.js';
import { cropPixels, extendedSize, extendLuma, fillExtension, findContentFrames, flattenPixels, orientPixels, paddingToRepaint, resampleLuma, type Box } from '../media/views.js';
import { lumaDimensions, lumaFromPixels } from '../signals/pdq/luma.js';
import { simdPdq } from '../signals/pdq/simd.js';
import { mayBeImage, sniffMedia, type MediaKind } from '../media/sniff.js';
import { detectLetterbox, unletterboxFrame } from '../signals/vpdq/unletterbox.js';
import { vpdqFeatureFromFrame, type VpdqFeature } from '../signals/vpdq/hasher.js';
import { formatVpdqCompactFeature } from '../signals/vpdq/format.js';
import { VPDQ_DEFAULT_SECONDS_PER_HASH } from '../signals/vpdq/hasher.js';

export interface HashOptions {
  /** Also compute the 7 other dihedral hashes (rotations and flips) from the same DCT. */
  dihedral?: boolean;
  /** Apply EXIF orientation before hashing (off by default, as the reference). */
  applyExifOrientation?: boolean;
  /** Resize images with a side over 512 px to 512×512 nearest-neighbour first, as the reference tool (default true). */
  referenceResize?: boolean;
  sixteenBit?: SixteenBitMode;
  maxPixels?: number;
  /** Files larger than this get digests (streamed) but no perceptual hash. */
  maxImageBytes?: number;
  /** Video and animation frames: one every this many seconds (0 = every frame; default 1, as HMA). */
  secondsPerHash?: number;
  /** ffmpeg's decoder threads per video (default ffmpeg's); HashPool sets 1 when it hashes several files at once. */
  videoDecoderThreads?: number;
  /**
   * Also hash derived views for matching (docs/banks.md, "Views and robustness"): the content inside
   * uniform/transparent borders (letterbox, frame, sticker padding), the EXIF-oriented picture, the picture
   * with its edges extended to undo a mild crop, and the content resampled with a proper low-pass to sizes
   * the list hash may have been taken at; each with its 8 dihedral hashes.
   */
  views?: boolean;
}

/**
 * Names are reported to users with each match; keep them stable.
 * - trimmed / trimmed-outer: inside every uniform or transparent frame peeled, innermost first.
 * - trimmed-rows / trimmed-columns: only the top/bottom, or only the left/right bars of the innermost peel taken
 *   off (bars added to a picture that had its own bars of the same colour).
 * - oriented: EXIF orientation applied.
 * - uncropped, uncropped-2.5, uncropped-7.5: the content extended to undo a crop of 5, 2.5 or 7.5 % per side;
 *   uncropped-framed: the picture with its frame, when one was trimmed, for a 5 % crop (a crop of a picture that
 *   has its own bars).
 * - rescaled-256: the content resampled to 256×256 (lists hash thumbnails at their own size, where the
 *   reference barely low-passes, so a rescaled copy only matches when brought back to that size).
 * - rescaled-64: the content resampled to the 64×64 grid PDQ takes its DCT of, with a proper low-pass
 *   (unlike the reference's nearest-neighbour resize and short box blur, symmetric under rotation and flips).
 * - flattened: a transparent picture composited over white (black when it stores white under transparency), or
 *   an opaque one's black (white) frame on all four sides painted white (black): a sticker listed with the other
 *   canonical colour under its transparency (media/views.ts paddingToRepaint).
 */
export type ViewName = 'trimmed' | 'trimmed-outer' | 'trimmed-rows' | 'trimmed-columns' | 'oriented' | 'uncropped' | 'uncropped-2.5' | 'uncropped-7.5' | 'uncropped-framed' | 'rescaled-256' | 'rescaled-64' | 'flattened';

export interface ViewHashes {
  view: ViewName;
  pdq: string;
  quality: number;
  dihedral?: Partial<Record<DihedralName, string>>;
  /** For the trimmed views: the kept region in the decoded picture. */
  box?: Box;
}

export const DEFAULT_MAX_IMAGE_BYTES = 256 * 1024 * 1024;

/** File names that claim to be a picture or a video. */
const MEDIA_EXTENSION = /\.(jpe?g|jpe|jfif|png|apng|gif|webp|avif|hei[cf]|tiff?|bmp|dib|ico|cur|tga|icb|vda|vst|dng|cr2|nef|arw|mp4|m4v|mov|qt|avi|mkv|webm|wmv|asf|flv|mpe?g|ts|m2ts|mts|3gp|3g2|ogv)$/i;

export interface FileHashRecord extends Partial<FileDigests> {
  path: string;
  bytes?: number;
  format?: string;
  width?: number;
  height?: number;
  pdq?: string;
  quality?: number;
  /** Other orientations, keyed by DIHEDRAL_NAMES (without 'orig', which is `pdq`). */
  dihedral?: Partial<Record<DihedralName, string>>;
  /**
   * 'video' for video containers, 'animation' for animated GIF/WebP/PNG (which also get `pdq` of frame 1),
   * 'other' for files that are not media and do not claim to be (digests only, not an error).
   */
  media?: 'image' | 'animation' | 'video' | 'other';
  /** vPDQ features as python-threatexchange/HMA write them: "hex,quality,timestamp" (seconds, 3 significant digits). */
  vpdq?: string[];
  /** With `views`: the same frames hashed with black letterbox bars cropped (only when some frame had bars). */
  vpdqViews?: { unletterboxed: string[] };
  /** Video stream facts, for videos and animations. */
  video?: { format: string; width: number; height: number; fps: number; durationSeconds?: number; frameInterval?: number; rotation: number };
  /** Derived views (with `views: true`), only those that differ from the picture as stored. */
  views?: ViewHashes[];
  /** Frames in an animated image. */
  frames?: number;
  /** Set when the file was damaged and only partly decoded. */
  warning?: string;
  /** The file was truncated or damaged: the hashes are of the part that decoded (see `warning`). */
  truncated?: true;
  /** Too large to decode whole: hashed from a 512×512 decode (shrink-on-load), not the reference's full decode. */
  reduced?: true;
  error?: { code: VigilErrorCode; message: string };
}

const scratch = new PdqScratch();

let decoderSetup: (() => Promise<void>) | undefined;
let decoderReady: Promise<void> | undefined;
/** Runs once, when a file first needs the image decoder (the hashing worker narrows libvips there). */
export function onDecoderLoad(setup: () => Promise<void>): void {
  decoderSetup = setup;
}
const decoderLoaded = () => (decoderReady ??= decoderSetup?.() ?? Promise.resolve());
// The modules' promises are kept: a repeated import() still goes through the loader's resolve step (under
// tsx a round trip to its hooks thread, ~0.4 ms of CPU per file, measured), not through a cache.
let imageDecoder: Promise<typeof import('../media/image-decode.js')> | undefined;
let videoDecoder: Promise<typeof import('../media/video-hash.js')> | undefined;
const loadImageDecoder = () => (imageDecoder ??= import('../media/image-decode.js'));
const loadVideoDecoder = () => (videoDecoder ??= import('../media/video-hash.js'));

/**
 * `budget` bounds the decoding work (pixels across frames, frames, time) and carries cancellation; an
 * item over it stops with VIGIL_ERR_BUDGET (or _TIMEOUT, _CANCELLED) and keeps the hashes made so far.
 */
export async function hashFile(path: string, options: HashOptions = {}, budget: ItemBudget = new ItemBudget()): Promise<FileHashRecord> {
  const record: FileHashRecord = { path };
  let bytes: Uint8Array;
  let kind: MediaKind;
  try {
    budget.check();
    // stat before open: opening a FIFO or device would block a libuv thread indefinitely.
    if (!(await stat(path)).isFile()) throw new VigilError('VIGIL_ERR_UNREADABLE', 'Not a regular file');
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new VigilError('VIGIL_ERR_UNREADABLE', 'Not a regular file');
      record.bytes = info.size;
      const head = new Uint8Array(4096);
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      kind = sniffMedia(head.subarray(0, bytesRead));
      if (kind === 'video') {
        // Videos are streamed (digests in one pass, frames through ffmpeg), never held in memory.
        Object.assign(record, await digestsOfFile(path));
        record.media = 'video';
        return await hashFrames(path, record, options, budget);
      }
      if (info.size > (options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES)) {
        Object.assign(record, await digestsOfFile(path));
        throw new VigilError('VIGIL_ERR_FILE_TOO_LARGE', `File is ${info.size} bytes, over the ${options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES}-byte limit for images; digests only`);
      }
      bytes = await handle.readFile();
      // The file may have grown since stat (a download in progress): the limit holds for what was read.
      if (bytes.length > (options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES)) {
        throw new VigilError('VIGIL_ERR_FILE_TOO_LARGE', `File grew to ${bytes.length} bytes while being read, over the image limit`);
      }
    } finally {
      await handle.close();
    }
    Object.assign(record, digestsOf(bytes));
    record.bytes = bytes.length;
    if (kind === 'unknown' && bytes.length > 0 && !mayBeImage(bytes.subarray(0, 4096))) {
      // No decoder would take it: the same outcome as a refused decode, without loading the decoder.
      record.error = { code: 'VIGIL_ERR_UNSUPPORTED_MEDIA', message: 'Not an image format that can be decoded' };
    } else {
      await hashImageBytes(bytes, record, options, budget);
    }
    // A document, archive or list that does not claim to be media is not a failure: it gets its digests
    // (what exact-match lists and NSRL need). A file whose name claims media but whose bytes are not is one.
    if (record.error?.code === 'VIGIL_ERR_UNSUPPORTED_MEDIA' && kind === 'unknown' && !MEDIA_EXTENSION.test(path)) {
      delete record.error;
      record.media = 'other';
    }
    // Animated GIF/WebP/PNG (stickers): the first frame as a picture, and every sampled frame as a video.
    if (!record.error && ((record.frames ?? 1) > 1 || kind === 'animation')) {
      record.media = 'animation';
      await hashFrames(path, record, options, budget);
    }
    return record;
  } catch (err) {
    return withError(record, err);
  }
}

/** PDQ part, for callers that already hold the bytes (uploads). `record` receives the results. */
export async function hashImageBytes(bytes: Uint8Array, record: FileHashRecord, options: HashOptions = {}, budget?: ItemBudget): Promise<FileHashRecord> {
  try {
    const { decodeImage, DEFAULT_MAX_PIXELS } = await loadImageDecoder();
    await decoderLoaded();
    const image = await decodeImage(bytes, {
      ...(budget ? { budget } : {}),
      maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
      applyExifOrientation: options.applyExifOrientation ?? false,
      sixteenBit: options.sixteenBit ?? 'reference',
      keepAlpha: options.views === true,
    });
    record.media = 'image';
    record.format = image.format;
    record.width = image.width;
    record.height = image.height;
    if (image.frames > 1) record.frames = image.frames;
    if (image.partial) {
      record.warning = `Damaged file, hashed what decoded: ${image.partial}`;
      record.truncated = true;
    }
    if (image.reduced) record.reduced = true;
    // The reference tool's 512×512 pre-resize is fused into the luma pass (no intermediate copy).
    const resize = options.referenceResize !== false;
    const work = options.views ? sharedWork() : undefined;
    const main = work instanceof SharedWork ? work.picture(image, resize) : pdqOf(image, options.dihedral === true || options.views === true, resize);
    record.pdq = main.pdq;
    record.quality = main.quality;
    if (main.dihedral) record.dihedral = main.dihedral;
    if (options.views) record.views = distinctViews(main, hashViews(image, resize, !options.applyExifOrientation, work ?? referenceWork));
    return record;
  } catch (err) {
    return withError(record, err);
  }
}

/**
 * vPDQ of a video or animation file into `record` (per-file errors, never throws). With `views`, each
 * frame is also hashed with its black letterbox bars cropped (one decode, two hashes), so an SD copy with
 * bars can match its HD original; those features go to `vpdqViews` when any frame had bars.
 */
async function hashFrames(path: string, record: FileHashRecord, options: HashOptions, budget: ItemBudget): Promise<FileHashRecord> {
  const features: VpdqFeature[] = [];
  const unboxed: VpdqFeature[] = [];
  let bars = false;
  // Over budget, cancelled or timed out: the error, with the features hashed until then.
  const keepPartial = () => {
    if (features.length > 0) record.vpdq = features.map(formatVpdqCompactFeature);
  };
  try {
    const { openMediaFrames } = await loadVideoDecoder();
    await decoderLoaded();
    const source = await openMediaFrames(path, {
      secondsPerHash: options.secondsPerHash ?? VPDQ_DEFAULT_SECONDS_PER_HASH,
      ...(options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {}),
      ...(options.videoDecoderThreads !== undefined ? { decoderThreads: options.videoDecoderThreads } : {}),
      reuseBuffer: true,
      budget,
    });
    for await (const frame of source.frames()) {
      const feature = vpdqFeatureFromFrame(frame, scratch);
      features.push(feature);
      if (options.views) {
        const crop = detectLetterbox(frame);
        bars ||= crop !== undefined;
        unboxed.push(crop ? vpdqFeatureFromFrame(unletterboxFrame(frame), scratch) : feature);
      }
    }
    const { info } = source;
    record.format ??= info.format;
    record.width ??= info.width;
    record.height ??= info.height;
    record.video = {
      format: info.format,
      width: info.width,
      height: info.height,
      fps: info.fps,
      ...(info.durationSeconds !== undefined ? { durationSeconds: info.durationSeconds } : {}),
      ...(info.frameInterval !== undefined ? { frameInterval: info.frameInterval } : {}),
      rotation: info.rotation,
    };
    record.vpdq = features.map(formatVpdqCompactFeature);
    if (bars) record.vpdqViews = { unletterboxed: unboxed.map(formatVpdqCompactFeature) };
    if (source.partial) {
      record.warning = `Damaged file, hashed what decoded: ${source.partial}`;
      record.truncated = true;
    }
    return record;
  } catch (err) {
    keepPartial();
    return withError(record, err);
  }
}

/**
 * The rescaled views start from the content sampled to at most this many pixels a side by nearest
 * neighbour, as the reference resize does (its list hashes carry the same aliasing); bounds their cost.
 */
const VIEW_WORKING_SIZE = PDQ_REFERENCE_MAX_DIMENSION;
/**
 * Crops undone by the uncropped views, per side: 5 % (a common automatic re-framing) and either side of
 * it, since one extension only recovers crops within about ±1.5 % of the one it assumes.
 */
const UNCROPS = [
  { view: 'uncropped', crop: 0.05 },
  { view: 'uncropped-2.5', crop: 0.025 },
  { view: 'uncropped-7.5', crop: 0.075 },
] as const;
const shareOf = (crop: number) => crop / (1 - 2 * crop);
const extended = (n: number, share: number) => n + 2 * Math.max(1, Math.round(n * share));
/** The side a large picture is sampled to before being extended by `share`, so that it comes out at the reference size. */
function uncropSource(share: number): number {
  let side = PDQ_REFERENCE_MAX_DIMENSION;
  while (extended(side, share) > PDQ_REFERENCE_MAX_DIMENSION) side--;
  return side;
}
/**
 * No derived views of a strip (content over 4:1, a progress bar, a button row): squashed to a square, a few
 * rows of detail fill the hash and match other strips (bench:precision, docs/matching.md).
 */
const MAX_VIEW_ASPECT = 4;
/** rescaled-256 is only hashed for content up to this size: a copy of a thumbnail is rarely larger. */
const RESCALE_MAX_SOURCE = 1024;

type HashOut = { pdq: string; quality: number; dihedral?: Partial<Record<DihedralName, string>> };
type Luma = { luma: Float32Array; width: number; height: number };

/**
 * How the views' pixels become hashes. `referenceWork` goes one plain step at a time (crop or sample a copy
 * of the pixels, luma, extend, hash) and is the definition; `sharedWork` takes each view's luma straight from
 * the decoded pixels into the SIMD hasher's buffer (no pixel copies, no JS luma, the uncrop bands filled in
 * place) and gives the same hashes, bit for bit (hash-file.test.ts compares the two).
 */
interface ViewWork {
  /** PDQ with dihedrals of the pixels in `box`, as pdqOf(cropPixels(image, box, sample)). */
  crop(image: DecodedImage, box: Box, sample: number | undefined, referenceResize: boolean): HashOut;
  uncropped(image: DecodedImage, box: Box, share: number, referenceResize: boolean): HashOut;
  /** As lumaOf: a plane the caller keeps. */
  luma(image: DecodedImage, box: Box, sampleTo: number): Luma;
}

const referenceWork: ViewWork = {
  crop: (image, box, sample, referenceResize) => pdqOf(cropPixels(image, box, sample), true, referenceResize),
  uncropped: uncroppedHash,
  luma: lumaOf,
};

/** Source rows and byte columns of `box`, sampled to sampleTo × sampleTo when a side is over it (cropPixels' rule). */
function sampleTables(image: DecodedImage, box: Box, sampleTo?: number): { rows: Int32Array; cols: Int32Array; width: number; height: number } {
  const sample = sampleTo !== undefined && (box.width > sampleTo || box.height > sampleTo);
  const width = sample ? sampleTo : box.width;
  const height = sample ? sampleTo : box.height;
  const rows = new Int32Array(height);
  const cols = new Int32Array(width);
  for (let y = 0; y < height; y++) rows[y] = box.y + (sample ? Math.floor((y * box.height) / height) : y);
  for (let x = 0; x < width; x++) cols[x] = (box.x + (sample ? Math.floor((x * box.width) / width) : x)) * image.channels;
  return { rows, cols, width, height };
}

/** The SIMD hasher's input holding the gathered luma of `box` at (x0, y0) of a rows × cols plane, or undefined. */
function gathered(image: DecodedImage, t: ReturnType<typeof sampleTables>, rows: number, cols: number, x0 = 0, y0 = 0): Float32Array | undefined {
  // Below the hashable size the reference path's zero hash applies; it is cheap there.
  if (t.width < 8 || t.height < 8) return undefined;
  const simd = simdPdq();
  return simd?.lumaGather(image, t.rows, t.cols, rows, cols, x0, y0) ? simd.input(rows, cols) : undefined;
}

const sameSize = (a: { width: number; height: number }, b: { width: number; height: number }) => a.width === b.width && a.height === b.height;

/** One picture's shared work: make one per picture (it keeps the picture's luma at the reference size). */
class SharedWork implements ViewWork {
  private whole: { image: DecodedImage; sampleTo: number | undefined; luma: Luma } | undefined;

  /** The picture's own hash with its dihedrals, as pdqOf(image, true, referenceResize); its luma is kept for the rescaled views. */
  picture(image: DecodedImage, referenceResize: boolean): HashOut {
    const sampleTo = referenceResize ? PDQ_REFERENCE_MAX_DIMENSION : undefined;
    const t = sampleTables(image, { x: 0, y: 0, width: image.width, height: image.height }, sampleTo);
    const luma = gathered(image, t, t.height, t.width);
    if (!luma) return pdqOf(image, true, referenceResize);
    this.whole = { image, sampleTo, luma: { luma: luma.slice(), width: t.width, height: t.height } };
    return this.hash(luma, t.width, t.height);
  }

  crop(image: DecodedImage, box: Box, sample: number | undefined, referenceResize: boolean): HashOut {
    const t = sampleTables(image, box, sample);
    const luma = gathered(image, t, t.height, t.width);
    return luma ? this.hash(luma, t.width, t.height) : referenceWork.crop(image, box, sample, referenceResize);
  }

  uncropped(image: DecodedImage, box: Box, share: number, referenceResize: boolean): HashOut {
    const t = sampleTables(image, box, uncropSampleTo(box, share, referenceResize));
    const e = extendedSize(t.width, t.height, share);
    const luma = gathered(image, t, e.height, e.width, e.px, e.py);
    if (!luma) return referenceWork.uncropped(image, box, share, referenceResize);
    fillExtension(luma, e.width, e.height, e.px, e.py);
    return pdqOfLuma(luma, e.width, e.height);
  }

  luma(image: DecodedImage, box: Box, sampleTo: number): Luma {
    const w = this.whole;
    const isWhole = box.x === 0 && box.y === 0 && box.width === image.width && box.height === image.height;
    // The plain hash took the same samples (the reference resize is this rule at the same size).
    if (w && w.image === image && isWhole && sameSize(w.luma, lumaDimensions(image, sampleTo))) return w.luma;
    const t = sampleTables(image, box, sampleTo);
    const luma = gathered(image, t, t.height, t.width);
    return luma ? { luma: luma.slice(), width: t.width, height: t.height } : referenceWork.luma(image, box, sampleTo);
  }

  private hash(luma: Float32Array, width: number, height: number): HashOut {
    const result = pdqOfLuma(luma, width, height);
    // The plain hash skips the blur on exactly-64×64 input (pdqOf).
    if (width === 64 && height === 64) result.pdq = hash256ToHex(pdqFromLuma(luma, 64, 64, scratch).hash);
    return result;
  }
}

/** The shared-work path where the runtime has the SIMD kernels, else the reference path (same hashes). */
const sharedWork = (): ViewWork => (simdPdq() ? new SharedWork() : referenceWork);

function hashViews(image: DecodedImage, referenceResize: boolean, orient: boolean, work: ViewWork): ViewHashes[] {
  const views: ViewHashes[] = [];
  const sample = referenceResize ? PDQ_REFERENCE_MAX_DIMENSION : undefined;
  const { boxes, partial } = findContentFrames(image, image.alpha);
  const box = boxes.at(-1);
  const inner = box ?? image;
  if (Math.max(inner.width / inner.height, inner.height / inner.width) > MAX_VIEW_ASPECT) return views;
  // Innermost content first; outer frames (e.g. a sticker canvas around letterbox bars) too.
  for (const [i, b] of [...boxes].reverse().entries()) views.push({ view: i === 0 ? 'trimmed' : 'trimmed-outer', box: b, ...work.crop(image, b, sample, referenceResize) });
  if (partial.length === 2) {
    views.push({ view: 'trimmed-rows', box: partial[0], ...work.crop(image, partial[0], sample, referenceResize) });
    views.push({ view: 'trimmed-columns', box: partial[1], ...work.crop(image, partial[1], sample, referenceResize) });
  }
  const repaint = paddingToRepaint(image, image.alpha, boxes[0]);
  if (repaint) views.push({ view: 'flattened', ...pdqOf(flattenPixels(image, repaint, image.alpha, sample), true, referenceResize) });
  if (orient && image.orientation !== undefined && image.orientation > 1 && image.orientation <= 8) {
    views.push({ view: 'oriented', ...pdqOf(orientPixels(image, image.orientation, sample), true, referenceResize) });
  }
  const whole = { x: 0, y: 0, width: image.width, height: image.height };
  const content = box ?? whole;
  for (const { view, crop } of UNCROPS) views.push({ view, ...work.uncropped(image, content, shareOf(crop), referenceResize) });
  if (box) views.push({ view: 'uncropped-framed', ...work.uncropped(image, whole, shareOf(0.05), referenceResize) });
  let grid = work.luma(image, content, VIEW_WORKING_SIZE);
  // At 256×256 already, it is the picture as stored.
  if (Math.max(content.width, content.height) <= RESCALE_MAX_SOURCE && !(grid.width === 256 && grid.height === 256)) {
    grid = { luma: resampleLuma(grid.luma, grid.width, grid.height, 256, 256), width: 256, height: 256 };
    views.push({ view: 'rescaled-256', ...pdqOfLuma(grid.luma, 256, 256) });
  }
  views.push({ view: 'rescaled-64', ...pdqOfLuma(resampleLuma(grid.luma, grid.width, grid.height, 64, 64), 64, 64) });
  return views;
}

/**
 * The picture's hash with its dihedrals and its derived views, as `views: true` computes them (before
 * repeats are dropped); `shared: false` takes the reference path (the definition the shared-work path is
 * tested against).
 */
export function pictureViews(image: DecodedImage, options: { referenceResize?: boolean; orient?: boolean; shared?: boolean } = {}): { picture: HashOut; views: ViewHashes[] } {
  const resize = options.referenceResize !== false;
  const work = options.shared === false ? referenceWork : sharedWork();
  const picture = work instanceof SharedWork ? work.picture(image, resize) : pdqOf(image, true, resize);
  return { picture, views: hashViews(image, resize, options.orient !== false, work) };
}

/** Views whose hashes repeat the picture's or an earlier view's (a tiny picture's three uncrops) query nothing new. */
function distinctViews(main: { pdq: string; dihedral?: Partial<Record<DihedralName, string>> }, views: ViewHashes[]): ViewHashes[] {
  const key = (v: { pdq: string; dihedral?: Partial<Record<DihedralName, string>> }) => [v.pdq, ...DIHEDRAL_NAMES.slice(1).map((n) => v.dihedral?.[n])].join();
  const seen = new Set([key(main)]);
  return views.filter((v) => {
    const k = key(v);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Luma of a region, sampled by nearest neighbour to `sampleTo` square when a side is larger. */
function lumaOf(image: DecodedImage, box: Box, sampleTo?: number): Luma {
  // The whole picture is sampled on the way to luma, without an RGB copy.
  const pixels = box.width === image.width && box.height === image.height ? image : cropPixels(image, box, sampleTo);
  const size = lumaDimensions(pixels, sampleTo);
  return { luma: lumaFromPixels(pixels, undefined, sampleTo), ...size };
}

function uncropSampleTo(box: Box, share: number, referenceResize: boolean): number | undefined {
  const max = PDQ_REFERENCE_MAX_DIMENSION;
  const fits = !referenceResize || (extended(box.width, share) <= max && extended(box.height, share) <= max);
  return fits ? undefined : uncropSource(share);
}

/** Extended to undo a crop and hashed at its own size: up to 512 (larger pictures are sampled so that they end there). */
function uncroppedHash(image: DecodedImage, box: Box, share: number, referenceResize: boolean): HashOut {
  const source = lumaOf(image, box, uncropSampleTo(box, share, referenceResize));
  const { luma, width, height } = extendLuma(source.luma, source.width, source.height, share);
  return pdqOfLuma(luma, width, height);
}

function pdqOfLuma(luma: Float32Array, width: number, height: number): HashOut {
  const result = pdqDihedralFromLuma(luma, width, height, scratch);
  const others: Partial<Record<DihedralName, string>> = {};
  for (let i = 1; i < DIHEDRAL_NAMES.length; i++) others[DIHEDRAL_NAMES[i]] = hash256ToHex(result.hashes[i]);
  return { pdq: hash256ToHex(result.hashes[0]), quality: result.quality, dihedral: others };
}

/** PDQ (and optionally the 7 other dihedral hashes) of prepared pixels. */
function pdqOf(pixels: PixelBuffer, dihedral: boolean, referenceResize: boolean): HashOut {
  const options = { referenceResize };
  if (!dihedral) {
    const result = pdqFromPixels(pixels, scratch, options);
    return { pdq: hash256ToHex(result.hash), quality: result.quality };
  }
  const result = pdqDihedralFromPixels(pixels, scratch, options);
  // The plain hash skips the blur on exactly-64×64 input (reference behaviour); elsewhere it equals hashes[0].
  const plain = pixels.width === 64 && pixels.height === 64 ? pdqFromPixels(pixels, scratch, options).hash : result.hashes[0];
  const others: Partial<Record<DihedralName, string>> = {};
  for (let i = 1; i < DIHEDRAL_NAMES.length; i++) others[DIHEDRAL_NAMES[i]] = hash256ToHex(result.hashes[i]);
  return { pdq: hash256ToHex(plain), quality: result.quality, dihedral: others };
}

function withError(record: FileHashRecord, err: unknown): FileHashRecord {
  const e = toVigilError(err);
  const code = (err as NodeJS.ErrnoException)?.code;
  if (!(err instanceof VigilError) && typeof code === 'string') {
    record.error = { code: 'VIGIL_ERR_UNREADABLE', message: `Cannot read file: ${code === 'EACCES' ? 'permission denied' : e.message}` };
  } else {
    record.error = { code: e.code, message: e.message };
  }
  return record;
}
