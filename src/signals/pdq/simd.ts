/**
 * PDQ's luma, blur, decimation, quality and DCT on the WebAssembly SIMD kernels of simd-module.ts
 * (internal). Bit-identical to luma.ts + jarosz.ts + dct.ts + qualityOf; pdq.ts falls back to those
 * where WebAssembly SIMD is missing, and tests compare the two.
 *
 * The row filters need lanes across rows, the column filters lanes across columns, so the image is
 * transposed between passes and every filter is one kernel (`sweep`) running down columns:
 *
 *   luma R×C ─T→ C×R ─rows→ C×R ─T→ R×C ─cols→ R×C ─T→ C×R ─rows, at sampled c→ 64×R
 *            ─T→ R×64 ─cols, at sampled r→ 64×64 grid
 *
 * Sides are padded to multiples of 16; padding lanes and rows are filtered too, but no real output
 * reads them. One instance per thread, its memory grown to the largest image seen.
 */
import { DCT_MATRIX } from './dct.js';
import { jaroszWindowSize } from './jarosz.js';
import type { PixelBuffer } from './luma.js';
import { pdqSimdModuleBytes } from './simd-module.js';

/** The slice of the WebAssembly JS API used here (the project's `lib` has no DOM or wasm types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

type Kernels = {
  transpose(src: number, srcStride: number, dst: number, dstStride: number, groups: number, cols4: number): void;
  sweep(desc: number, descEnd: number, sums: number, n64: number): void;
  dct(grid: number, d: number, dt: number, t: number, out: number): void;
  quality(grid: number): number;
  luma(src: number, srcStride: number, rows: number, colTab: number, n4: number, dst: number, dstStride: number, grey: number): void;
  memory: WasmMemory;
};

// Fixed at the bottom of memory; everything sized by the image comes after.
const D = 0; // DCT matrix, 16×64
const DT = 4096; // its transpose, 64×16
const T = 8192; // D·grid, 16×64
const COEFFS = 12288; // 16×16
const GRID = 13312; // 64×64
const FIXED_END = GRID + 64 * 64 * 4;
const PAGE = 65536;

const ceil16 = (n: number) => (n + 15) & ~15;
/** Byte offsets may pass 2^31: no 32-bit bitwise arithmetic on them. */
const align64 = (n: number) => Math.ceil(n / 64) * 64;
/** Source rows are copied into WebAssembly memory in chunks of about this many bytes. */
const STAGING_BYTES = 1 << 19;

let compiled: object | null | undefined;

function compile(): object | null {
  if (compiled === undefined) {
    const wa = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    compiled = null;
    try {
      const bytes = pdqSimdModuleBytes();
      // validate() is false where SIMD is not supported (and in JIT-less runtimes, WebAssembly is absent).
      if (wa && wa.validate(bytes)) compiled = new wa.Module(bytes);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** Whether this runtime runs the WebAssembly SIMD kernels. */
export function pdqSimdAvailable(): boolean {
  return compile() !== null;
}

/** Indices the 64-cell decimation samples ("target centres"), as jarosz.ts. */
function sampleIndices(inDim: number): Int32Array {
  const idx = new Int32Array(64);
  for (let o = 0; o < 64; o++) idx[o] = Math.trunc(((o + 0.5) * inDim) / 64);
  return idx;
}

/** Divisor field of a step: a power-of-two count multiplies by its exact reciprocal (negated as a flag). */
function divisor(count: number): number {
  return (count & (count - 1)) === 0 ? -1 / count : count;
}

interface Layout {
  rows: number;
  cols: number;
  sums: number;
  input: number;
  bufA: number;
  bufB: number;
  /** [start, end) of each sweep's descriptors, in bytes. */
  sweeps: [number, number][];
  rp: number;
  cp: number;
  /** Row strides in bytes of the R-wide and C-wide matrices. */
  rs: number;
  cs: number;
  end: number;
}

/** One instance per thread: its memory grows to the largest image hashed and is reused. */
class SimdPdq {
  private readonly k: Kernels;
  private f32 = new Float32Array(0);
  private i32 = new Int32Array(0);
  private layout: Layout | undefined;
  private inputView: Float32Array | undefined;
  /**
   * Byte ranges that hold integers or raw bytes (descriptors, staged pixels, column tables). Read as
   * floats by a later layout's buffers they could be subnormal (slow on x86), so a new layout zeroes
   * where its buffers cover them: a few kB, not the megabytes of the whole buffers each time the views
   * of a picture change the size hashed.
   */
  private dirty: [number, number][] = [];

  constructor(module: object, wa: WasmApi) {
    this.k = new wa.Instance(module, {}).exports as unknown as Kernels;
    this.views();
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 64; j++) {
        this.f32[D / 4 + i * 64 + j] = DCT_MATRIX[i * 64 + j];
        this.f32[DT / 4 + j * 16 + i] = DCT_MATRIX[i * 64 + j];
      }
    }
  }

  private views(): void {
    if (this.f32.buffer !== this.k.memory.buffer) {
      this.f32 = new Float32Array(this.k.memory.buffer);
      this.i32 = new Int32Array(this.k.memory.buffer);
      this.inputView = undefined;
    }
  }

  /** Lays memory out for a rows×cols image; false when memory cannot grow that far. */
  private prepare(rows: number, cols: number): Layout | undefined {
    const l = this.layout;
    if (l && l.rows === rows && l.cols === cols) return l;
    const rp = ceil16(rows);
    const cp = ceil16(cols);
    const wide = Math.max(rp, cp, 64);
    const sums = FIXED_END;
    const zero = sums + wide * 4;
    const desc = zero + wide * 4;
    const descBytes = (2 * rows + 2 * cols + 2 * 64) * 16;
    const input = align64(desc + descBytes);
    // Transposing the unpadded input reads up to rp rows of `cols` floats plus one partial block.
    const bufA = align64(input + (rp * cols + 16) * 4);
    // Row strides one cache line past the padded width: power-of-two strides (512 px) would map the 16
    // rows a transpose touches at once onto the same few cache sets.
    const rs = (rp + 16) * 4;
    const cs = (cp + 16) * 4;
    // Each buffer holds in turn a C×R, an R×C, a 64×R and an R×64 matrix.
    const bufBytes = Math.max(Math.max(cp, 64) * rs, rp * cs, rp * 256);
    const bufB = bufA + bufBytes;
    const end = bufB + bufBytes;
    this.layout = undefined;
    if (!this.reserve(end)) return undefined;
    // Zero the zero row, and whatever non-float bytes an earlier layout left in the image buffers: their
    // padding is never cleared by the kernels, and bytes or integers read as floats can be subnormal (slow
    // on x86). Floats left there are harmless: padding lanes are filtered, but no real output reads them.
    this.f32.fill(0, zero / 4, desc / 4);
    this.clean(input, end);
    this.markDirty(desc, desc + descBytes);

    const sweeps: [number, number][] = [];
    let at = desc;
    const write = (n: number, window: number, inBase: number, inStride: number, outBase: number, outStride: number, samples?: Int32Array) => {
      const start = at;
      const entry = (add: number, sub: number, out: number, m: number) => {
        const w = at / 4;
        this.i32[w] = add;
        this.i32[w + 1] = sub;
        this.i32[w + 2] = out;
        this.f32[w + 3] = m;
        at += 16;
      };
      const row = (i: number) => inBase + i * inStride;
      let next = 0;
      let oi = 0;
      // One step of the running sum; with `samples`, output only at sampled indices (a repeated index
      // gets extra steps that add and subtract the zero row, leaving the sum unchanged).
      const step = (add: number, sub: number, count: number, emits: boolean) => {
        if (!emits) return entry(add, sub, 0, 0);
        if (!samples) return entry(add, sub, outBase + oi * outStride, divisor(count));
        let first = true;
        for (; next < 64 && samples[next] === oi; next++, first = false) {
          entry(first ? add : zero, first ? sub : zero, outBase + next * outStride, divisor(count));
        }
        if (first) entry(add, sub, 0, 0);
      };
      // The reference's four phases (jarosz.ts boxRow).
      const half = (window + 2) >> 1;
      let ri = 0;
      let li = 0;
      let count = 0;
      for (let i = 0; i < half - 1; i++) step(row(ri++), zero, ++count, false);
      for (let i = 0; i < window - half + 1; i++, oi++) step(row(ri++), zero, ++count, true);
      for (let i = 0; i < n - window; i++, oi++) step(row(ri++), row(li++), count, true);
      for (let i = 0; i < half - 1; i++, oi++) step(zero, row(li++), --count, true);
      sweeps.push([start, at]);
    };
    const rowWindow = jaroszWindowSize(cols, 64);
    const colWindow = jaroszWindowSize(rows, 64);
    write(cols, rowWindow, bufA, rs, bufB, rs); // rows, on C×R
    write(rows, colWindow, bufA, cs, bufB, cs); // columns, on R×C
    write(cols, rowWindow, bufA, rs, bufB, rs, sampleIndices(cols)); // rows again, sampled columns only
    write(rows, colWindow, bufA, 256, GRID, 256, sampleIndices(rows)); // columns, sampled: the 64×64 grid
    this.layout = { rows, cols, sums, input, bufA, bufB, sweeps, rp, cp, rs, cs, end };
    return this.layout;
  }

  private markDirty(start: number, end: number): void {
    if (this.dirty.some(([s, e]) => s <= start && end <= e)) return;
    this.dirty.push([start, end]);
    if (this.dirty.length > 16) this.dirty = [[Math.min(...this.dirty.map((r) => r[0])), Math.max(...this.dirty.map((r) => r[1]))]];
  }

  /** Zeroes the non-float bytes inside [start, end) (both multiples of 4). */
  private clean(start: number, end: number): void {
    const left: [number, number][] = [];
    for (const [s, e] of this.dirty) {
      const lo = Math.max(s, start);
      const hi = Math.min(e, end);
      if (lo >= hi) {
        left.push([s, e]);
        continue;
      }
      this.f32.fill(0, Math.floor(lo / 4), Math.ceil(hi / 4));
      if (s < lo) left.push([s, lo]);
      if (hi < e) left.push([hi, e]);
    }
    this.dirty = left;
  }

  /** Grows memory to at least `end` bytes; false when it cannot. */
  private reserve(end: number): boolean {
    const have = this.k.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.k.memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        return false;
      }
    }
    this.views();
    return true;
  }

  /**
   * Luma of `pixels` into input(rows, cols), as lumaFromPixels: rows×cols is the pixel size, or with the
   * reference's nearest-neighbour pre-resize the sampled size. Rows are copied into WebAssembly memory
   * a chunk at a time (only the sampled ones when resizing); false when memory cannot grow.
   */
  lumaFrom(pixels: PixelBuffer, rows: number, cols: number): boolean {
    const l = this.prepare(rows, cols);
    if (!l) return false;
    const { data, width, height, channels } = pixels;
    const rowBytes = width * channels;
    const resize = rows !== height || cols !== width;
    const chunk = Math.max(1, Math.min(rows, Math.floor(STAGING_BYTES / rowBytes)));
    const staging = l.end;
    const colTab = align64(staging + chunk * rowBytes + 16);
    const n4 = (cols + 3) >> 2;
    if (!this.reserve(colTab + n4 * 16)) return false;
    this.markDirty(staging, colTab + n4 * 16);
    for (let x = 0; x < n4 * 4; x++) this.i32[colTab / 4 + x] = x < cols ? Math.floor((x * width) / cols) * channels : 0;
    const u8 = new Uint8Array(this.k.memory.buffer);
    for (let y0 = 0; y0 < rows; y0 += chunk) {
      const n = Math.min(chunk, rows - y0);
      if (!resize) {
        u8.set(data.subarray(y0 * rowBytes, (y0 + n) * rowBytes), staging);
      } else {
        for (let i = 0; i < n; i++) {
          const sy = Math.floor(((y0 + i) * height) / rows) * rowBytes;
          u8.set(data.subarray(sy, sy + rowBytes), staging + i * rowBytes);
        }
      }
      // Writes whole groups of 4: up to 3 floats spill into the next row (rewritten next) or the padding.
      this.k.luma(staging, rowBytes, n, colTab, n4, l.input + y0 * cols * 4, cols * 4, channels <= 2 ? 1 : 0);
    }
    return true;
  }

  /**
   * Luma of the pixels at row `srcRows[y]` and byte offset `colBytes[x]` within it (any nearest-neighbour
   * remap of a box), written into input(rows, cols) with its top-left corner at (x0, y0): the derived views
   * of a picture take their luma straight from the decoded pixels, without a crop or sample copy. Only the
   * span of each source row that the columns reach is staged. The caller keeps the region inside the layout.
   */
  lumaGather(pixels: PixelBuffer, srcRows: Int32Array, colBytes: Int32Array, rows: number, cols: number, x0 = 0, y0 = 0): boolean {
    const l = this.prepare(rows, cols);
    if (!l || colBytes.length === 0) return l !== undefined;
    const { data, width, channels } = pixels;
    let min = colBytes[0];
    let max = colBytes[0];
    for (let x = 1; x < colBytes.length; x++) {
      min = Math.min(min, colBytes[x]);
      max = Math.max(max, colBytes[x]);
    }
    const span = max - min + channels;
    const rowBytes = width * channels;
    const chunk = Math.max(1, Math.min(srcRows.length, Math.floor(STAGING_BYTES / span)));
    const staging = l.end;
    const colTab = align64(staging + chunk * span + 16);
    const n4 = (colBytes.length + 3) >> 2;
    if (!this.reserve(colTab + n4 * 16)) return false;
    this.markDirty(staging, colTab + n4 * 16);
    for (let x = 0; x < n4 * 4; x++) this.i32[colTab / 4 + x] = x < colBytes.length ? colBytes[x] - min : 0;
    const u8 = new Uint8Array(this.k.memory.buffer);
    for (let r0 = 0; r0 < srcRows.length; r0 += chunk) {
      const n = Math.min(chunk, srcRows.length - r0);
      for (let i = 0; i < n; i++) {
        const s = srcRows[r0 + i] * rowBytes + min;
        u8.set(data.subarray(s, s + span), staging + i * span);
      }
      // Groups of 4 may spill up to 3 floats past the row: into the next row, or the padding.
      this.k.luma(staging, span, n, colTab, n4, l.input + ((y0 + r0) * cols + x0) * 4, cols * 4, channels <= 2 ? 1 : 0);
    }
    return true;
  }

  /** A view of wasm memory to write a rows×cols luma into (valid until the next call on this thread). */
  input(rows: number, cols: number): Float32Array | undefined {
    const l = this.prepare(rows, cols);
    if (!l) return undefined;
    this.views();
    if (!this.inputView || this.inputView.byteOffset !== l.input || this.inputView.length !== rows * cols) {
      this.inputView = new Float32Array(this.k.memory.buffer, l.input, rows * cols);
    }
    return this.inputView;
  }

  /**
   * Blur + decimate the luma in `input(rows, cols)` (or take it as the grid when `asGrid`), then
   * quality and DCT; the 16×16 coefficients go to `coefficients`.
   */
  run(rows: number, cols: number, asGrid: boolean, coefficients: Float32Array): number {
    const l = this.layout!;
    const k = this.k;
    if (asGrid) {
      this.f32.copyWithin(GRID / 4, l.input / 4, l.input / 4 + 64 * 64);
    } else {
      const { rp, cp, rs, cs, bufA, bufB, sums, sweeps } = l;
      k.transpose(l.input, cols * 4, bufA, rs, rp / 16, cp / 4);
      k.sweep(sweeps[0][0], sweeps[0][1], sums, rp / 16);
      k.transpose(bufB, rs, bufA, cs, cp / 16, rp / 4);
      k.sweep(sweeps[1][0], sweeps[1][1], sums, cp / 16);
      k.transpose(bufB, cs, bufA, rs, rp / 16, cp / 4);
      k.sweep(sweeps[2][0], sweeps[2][1], sums, rp / 16);
      k.transpose(bufB, rs, bufA, 256, 4, rp / 4);
      k.sweep(sweeps[3][0], sweeps[3][1], sums, 4);
    }
    const quality = Math.min(100, Math.trunc(k.quality(GRID) / 90));
    k.dct(GRID, D, DT, T, COEFFS);
    coefficients.set(this.f32.subarray(COEFFS / 4, COEFFS / 4 + 256));
    return quality;
  }
}

let instance: SimdPdq | null | undefined;

/** This thread's SIMD PDQ, or null where WebAssembly SIMD is unavailable. */
export function simdPdq(): SimdPdq | null {
  if (instance === undefined) {
    const module = compile();
    instance = module ? new SimdPdq(module, (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly) : null;
  }
  return instance;
}

export type { SimdPdq };
