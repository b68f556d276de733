/**
 * PDQ (Meta's open perceptual image hash), pure TypeScript, bit-exact with the C++ reference given
 * identical pixels. Spec: shared/reference/threatexchange.md §1. No Node-only imports: this module also
 * runs in browsers and workers for client-side hashing.
 *
 * Hand-written because no maintained npm package is conformance-tested against the reference.
 * The blur, decimation, quality and DCT run as WebAssembly SIMD kernels (simd.ts, embedded bytes) where
 * the runtime has them, bit-identical to the TypeScript stages that remain the fallback.
 */
import { dct64To16 } from './dct.js';
import { HASH256_BYTES, setBit, type Hash256 } from './hash256.js';
import { jaroszBlurDecimate, jaroszWindowSize } from './jarosz.js';
import { lumaDimensions, lumaFromPixels, validatePixels, type PixelBuffer } from './luma.js';
import { simdPdq } from './simd.js';

/** Reference MIN_HASHABLE_DIM: smaller images give the zero hash with quality 0. */
export const PDQ_MIN_DIMENSION = 5;
/** Reference file tool: any side above this and the image is first resized to 512×512 (nearest neighbour). */
export const PDQ_REFERENCE_MAX_DIMENSION = 512;
/** pdq/README.md: "<= 49: discard"; python-threatexchange QUALITY_THRESHOLD = 50. */
export const PDQ_QUALITY_THRESHOLD = 50;
/** pdq/README.md and python-threatexchange PDQ_CONFIDENT_MATCH_THRESHOLD. */
export const PDQ_MATCH_DISTANCE = 31;

export interface PdqResult {
  hash: Hash256;
  /** 0..100; below PDQ_QUALITY_THRESHOLD the hash is too flat to match on. */
  quality: number;
}

/** The 8 dihedral orientations, in the reference CLI's `--pdqdih` order. */
export const DIHEDRAL_NAMES = ['orig', 'rot90', 'rot180', 'rot270', 'flipx', 'flipy', 'flipplus1', 'flipminus1'] as const;
export type DihedralName = (typeof DIHEDRAL_NAMES)[number];

export interface PdqDihedralResult {
  /** Indexed like DIHEDRAL_NAMES; hashes[0] is the plain hash. */
  hashes: Hash256[];
  quality: number;
}

export interface PdqScratchOptions {
  /**
   * Use the WebAssembly SIMD kernels where the runtime has them (default true). Both paths give
   * bit-identical results; false forces the plain TypeScript path (tests compare the two).
   */
  simd?: boolean;
}

/** Reusable float buffers; one per thread keeps the hot path free of large allocations. */
export class PdqScratch {
  readonly simd: boolean;
  buffer1 = new Float32Array(0);
  buffer2 = new Float32Array(0);
  readonly grid64 = new Float32Array(64 * 64);
  readonly dct16x64 = new Float32Array(16 * 64);
  readonly dct16x16 = new Float32Array(16 * 16);
  readonly transformed = new Float32Array(16 * 16);
  readonly sorted = new Float32Array(16 * 16);

  constructor(options: PdqScratchOptions = {}) {
    this.simd = options.simd ?? true;
  }

  ensure(n: number): void {
    if (this.buffer1.length < n) {
      this.buffer1 = new Float32Array(n);
      this.buffer2 = new Float32Array(n);
    }
  }
}

const defaultScratch = new PdqScratch();

/**
 * Reference pdqImageDomainQualityMetric: sum of truncated neighbour gradients (in percent of 255)
 * over the 64×64 grid, divided by 90, capped at 100.
 */
function qualityOf(grid: Float32Array): number {
  const fr = Math.fround;
  let gradientSum = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) {
      gradientSum += Math.abs(Math.trunc(fr(fr(fr(grid[i * 64 + j] - grid[(i + 1) * 64 + j]) * 100) / 255)));
    }
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) {
      gradientSum += Math.abs(Math.trunc(fr(fr(fr(grid[i * 64 + j] - grid[i * 64 + j + 1]) * 100) / 255)));
    }
  }
  return Math.min(100, Math.trunc(gradientSum / 90));
}

/**
 * Bit k = 16·row + col is set iff the coefficient is strictly above the median. The reference uses
 * Torben's median, which for 256 values returns the 128th smallest; a sort gives the same value.
 */
function bitsFromCoefficients(coefficients: Float32Array, sorted: Float32Array, median = medianOf(coefficients, sorted)): Hash256 {
  const hash = new Uint8Array(HASH256_BYTES);
  for (let k = 0; k < 256; k++) if (coefficients[k] > median) setBit(hash, k);
  return hash;
}

/** Blur + decimate to 64×64, then quality and DCT. `skipBlurAt64` mirrors the reference's 64×64 shortcut. */
function coefficientsFromLuma(
  luma: Float32Array,
  width: number,
  height: number,
  scratch: PdqScratch,
  skipBlurAt64: boolean,
): number {
  const n = width * height;
  const asGrid = skipBlurAt64 && width === 64 && height === 64;
  const simd = scratch.simd ? simdPdq() : null;
  const input = simd?.input(height, width);
  if (simd && input) {
    if (input !== luma) input.set(luma.subarray(0, n));
    return simd.run(height, width, asGrid, scratch.dct16x16);
  }
  if (asGrid) {
    scratch.grid64.set(luma.subarray(0, n));
  } else {
    scratch.ensure(n);
    const buffer1 = scratch.buffer1;
    if (buffer1 !== luma) buffer1.set(luma.subarray(0, n));
    jaroszBlurDecimate(buffer1, scratch.buffer2, height, width, jaroszWindowSize(width, 64), jaroszWindowSize(height, 64), scratch.grid64);
  }
  const quality = qualityOf(scratch.grid64);
  dct64To16(scratch.grid64, scratch.dct16x64, scratch.dct16x16);
  return quality;
}

function checkLuma(luma: Float32Array, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0 || luma.length < width * height) {
    throw new RangeError(`Expected a ${width}×${height} float32 luma buffer but received ${luma.length} values`);
  }
}

/** PDQ of a float32 luma buffer (row-major, width × height), as reference pdqHash256FromFloatLuma. */
export function pdqFromLuma(luma: Float32Array, width: number, height: number, scratch = defaultScratch): PdqResult {
  checkLuma(luma, width, height);
  if (width < PDQ_MIN_DIMENSION || height < PDQ_MIN_DIMENSION) return { hash: new Uint8Array(HASH256_BYTES), quality: 0 };
  const quality = coefficientsFromLuma(luma, width, height, scratch, true);
  return { hash: bitsFromCoefficients(scratch.dct16x16, scratch.sorted), quality };
}

function medianOf(coefficients: Float32Array, sorted: Float32Array): number {
  sorted.set(coefficients);
  sorted.sort();
  return sorted[127];
}

/**
 * Orientations whose coefficients are the same values (a transpose moves them, it flips no sign), so the
 * same median: orig and flipplus1; rot90 and flipy; rot180 and flipminus1; rot270 and flipx. Four sorts
 * instead of eight for every dihedral hash.
 */
const SAME_MEDIAN_AS = [-1, -1, -1, -1, 3, 1, 0, 2];

/**
 * Sign flips and transposes of the 16×16 DCT that give the hash of each rotation/flip without
 * re-hashing (reference pdqDihedralHash256esFromFloatLuma). Index 0 of the DCT is frequency 1, so an
 * even index is an odd frequency, whose sign flips under reflection.
 */
function transformCoefficients(a: Float32Array, t: number, out: Float32Array): void {
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      const v = a[i * 16 + j];
      switch (t) {
        case 1: out[j * 16 + i] = j & 1 ? v : -v; break; // rot90 (counter-clockwise)
        case 2: out[i * 16 + j] = (i + j) & 1 ? -v : v; break; // rot180
        case 3: out[j * 16 + i] = i & 1 ? v : -v; break; // rot270
        case 4: out[i * 16 + j] = i & 1 ? v : -v; break; // flipx (top/bottom)
        case 5: out[i * 16 + j] = j & 1 ? v : -v; break; // flipy (left/right)
        case 6: out[j * 16 + i] = v; break; // flipplus1 (transpose)
        case 7: out[j * 16 + i] = (i + j) & 1 ? -v : v; break; // flipminus1 (anti-transpose)
        default: out[i * 16 + j] = v;
      }
    }
  }
}

/**
 * All 8 dihedral hashes from one DCT. As in the reference, this path always blurs (no 64×64 shortcut),
 * so its first hash can differ from pdqFromLuma by float rounding on exactly-64×64 input.
 */
export function pdqDihedralFromLuma(
  luma: Float32Array,
  width: number,
  height: number,
  scratch = defaultScratch,
): PdqDihedralResult {
  checkLuma(luma, width, height);
  if (width < PDQ_MIN_DIMENSION || height < PDQ_MIN_DIMENSION) {
    return { hashes: DIHEDRAL_NAMES.map(() => new Uint8Array(HASH256_BYTES)), quality: 0 };
  }
  const quality = coefficientsFromLuma(luma, width, height, scratch, false);
  const hashes: Hash256[] = [];
  const medians: number[] = [];
  for (let t = 0; t < 8; t++) {
    transformCoefficients(scratch.dct16x16, t, scratch.transformed);
    medians[t] = SAME_MEDIAN_AS[t] >= 0 ? medians[SAME_MEDIAN_AS[t]] : medianOf(scratch.transformed, scratch.sorted);
    hashes.push(bitsFromCoefficients(scratch.transformed, scratch.sorted, medians[t]));
  }
  return { hashes, quality };
}

export interface PixelHashOptions {
  /**
   * Sample images with a side over PDQ_REFERENCE_MAX_DIMENSION to 512×512 first, as the reference file tool
   * does (nearest neighbour, aspect not kept). Default false: the core hashes the pixels it is given.
   */
  referenceResize?: boolean;
}

function lumaOf(pixels: PixelBuffer, scratch: PdqScratch, options: PixelHashOptions) {
  validatePixels(pixels);
  const sampleTo = options.referenceResize ? PDQ_REFERENCE_MAX_DIMENSION : undefined;
  const { width, height } = lumaDimensions(pixels, sampleTo);
  // The SIMD path computes luma in WebAssembly memory, where its blur reads it.
  const simd = width >= PDQ_MIN_DIMENSION && height >= PDQ_MIN_DIMENSION && scratch.simd ? simdPdq() : null;
  const luma = simd?.lumaFrom(pixels, height, width) ? simd.input(height, width) : undefined;
  if (luma) return { luma, width, height };
  scratch.ensure(width * height);
  return { luma: lumaFromPixels(pixels, scratch.buffer1, sampleTo), width, height };
}

/** PDQ of decoded 8-bit pixels. */
export function pdqFromPixels(pixels: PixelBuffer, scratch = defaultScratch, options: PixelHashOptions = {}): PdqResult {
  const { luma, width, height } = lumaOf(pixels, scratch, options);
  return pdqFromLuma(luma, width, height, scratch);
}

export function pdqDihedralFromPixels(pixels: PixelBuffer, scratch = defaultScratch, options: PixelHashOptions = {}): PdqDihedralResult {
  const { luma, width, height } = lumaOf(pixels, scratch, options);
  return pdqDihedralFromLuma(luma, width, height, scratch);
}
