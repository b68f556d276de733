/**
 * The reference's downsampling: two passes of (row box filter, column box filter) — a "Jarosz tent" —
 * then point-sampling 64×64 at the target centres. Loop order and float32 running sums follow the
 * reference exactly (a running sum, not a fresh sum per window), because that is what makes hashes of
 * identical pixels identical. Hand-written: no library reproduces these rounding steps.
 */

/** Reference: (oldDim + 2·newDim − 1) / (2·newDim), integer division. */
export function jaroszWindowSize(oldDim: number, newDim: number): number {
  return Math.floor((oldDim + 2 * newDim - 1) / (2 * newDim));
}

/**
 * Dividing a float32 sum by the integer window size, exactly: fround(s · (1/n)) equals fround(s / n)
 * for every float32 s and integer n < 2^27 (the quotient of a 24-bit significand by n is never closer
 * than 2^-32 relative to a float32 rounding midpoint; the double product errs by at most 2^-52), so the
 * hot loops multiply instead of dividing.
 */
const RECIPROCALS = Float64Array.from({ length: 1025 }, (_, n) => (n === 0 ? 0 : 1 / n));
function reciprocal(n: number): number {
  return n < RECIPROCALS.length ? RECIPROCALS[n] : 1 / n;
}

/** Centred running mean along one row; the window is truncated (and the divisor shrinks) at the edges. */
function boxRow(input: Float32Array, output: Float32Array, base: number, cols: number, window: number): void {
  const fr = Math.fround;
  const half = (window + 2) >> 1;
  let li = base;
  let ri = base;
  let oi = base;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < half - 1; i++) {
    sum = fr(sum + input[ri++]);
    count++;
  }
  for (let i = 0; i < window - half + 1; i++) {
    sum = fr(sum + input[ri++]);
    count++;
    output[oi++] = sum * reciprocal(count);
  }
  const inv = reciprocal(count);
  for (let i = 0; i < cols - window; i++) {
    sum = fr(fr(sum + input[ri++]) - input[li++]);
    output[oi++] = sum * inv;
  }
  for (let i = 0; i < half - 1; i++) {
    sum = fr(sum - input[li++]);
    count--;
    output[oi++] = sum * reciprocal(count);
  }
}

/**
 * Four rows at a time: each running sum is a serial chain of float32 roundings (~13 cycles of latency
 * per element), so interleaving four independent rows lets the CPU overlap them. Same operations, same
 * order per row as boxRow.
 */
function boxAlongRows(input: Float32Array, output: Float32Array, rows: number, cols: number, window: number): void {
  const fr = Math.fround;
  const half = (window + 2) >> 1;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const b0 = r * cols;
    const b1 = b0 + cols;
    const b2 = b1 + cols;
    const b3 = b2 + cols;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let ri = 0;
    let li = 0;
    let oi = 0;
    let count = 0;
    for (let i = 0; i < half - 1; i++, ri++) {
      s0 = fr(s0 + input[b0 + ri]);
      s1 = fr(s1 + input[b1 + ri]);
      s2 = fr(s2 + input[b2 + ri]);
      s3 = fr(s3 + input[b3 + ri]);
      count++;
    }
    for (let i = 0; i < window - half + 1; i++, ri++, oi++) {
      s0 = fr(s0 + input[b0 + ri]);
      s1 = fr(s1 + input[b1 + ri]);
      s2 = fr(s2 + input[b2 + ri]);
      s3 = fr(s3 + input[b3 + ri]);
      count++;
      const inv = reciprocal(count);
      output[b0 + oi] = s0 * inv;
      output[b1 + oi] = s1 * inv;
      output[b2 + oi] = s2 * inv;
      output[b3 + oi] = s3 * inv;
    }
    const inv = reciprocal(count);
    for (let i = 0; i < cols - window; i++, ri++, li++, oi++) {
      s0 = fr(fr(s0 + input[b0 + ri]) - input[b0 + li]);
      s1 = fr(fr(s1 + input[b1 + ri]) - input[b1 + li]);
      s2 = fr(fr(s2 + input[b2 + ri]) - input[b2 + li]);
      s3 = fr(fr(s3 + input[b3 + ri]) - input[b3 + li]);
      output[b0 + oi] = s0 * inv;
      output[b1 + oi] = s1 * inv;
      output[b2 + oi] = s2 * inv;
      output[b3 + oi] = s3 * inv;
    }
    for (let i = 0; i < half - 1; i++, li++, oi++) {
      s0 = fr(s0 - input[b0 + li]);
      s1 = fr(s1 - input[b1 + li]);
      s2 = fr(s2 - input[b2 + li]);
      s3 = fr(s3 - input[b3 + li]);
      count--;
      const inv = reciprocal(count);
      output[b0 + oi] = s0 * inv;
      output[b1 + oi] = s1 * inv;
      output[b2 + oi] = s2 * inv;
      output[b3 + oi] = s3 * inv;
    }
  }
  for (; r < rows; r++) boxRow(input, output, r * cols, cols, window);
}

/**
 * The same filter down each column. Eight columns at a time keep their running sums in locals (each
 * column's float32 chain is independent, so the CPU overlaps them); the remaining columns are processed
 * side by side with the sums in a typed array. Either way each column sees the reference's exact
 * sequence of float32 operations.
 */
function boxAlongCols(input: Float32Array, output: Float32Array, rows: number, cols: number, window: number, sums: Float32Array): void {
  const fr = Math.fround;
  const half = (window + 2) >> 1;
  const phase1 = half - 1;
  const phase2 = window - half + 1;
  const phase3 = rows - window;
  const grouped = cols - (cols % 8);
  for (let c = 0; c < grouped; c += 8) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    let ri = c;
    let li = c;
    let oi = c;
    let count = 0;
    for (let i = 0; i < phase1; i++, ri += cols) {
      s0 = fr(s0 + input[ri]); s1 = fr(s1 + input[ri + 1]); s2 = fr(s2 + input[ri + 2]); s3 = fr(s3 + input[ri + 3]);
      s4 = fr(s4 + input[ri + 4]); s5 = fr(s5 + input[ri + 5]); s6 = fr(s6 + input[ri + 6]); s7 = fr(s7 + input[ri + 7]);
      count++;
    }
    for (let i = 0; i < phase2; i++, ri += cols, oi += cols) {
      s0 = fr(s0 + input[ri]); s1 = fr(s1 + input[ri + 1]); s2 = fr(s2 + input[ri + 2]); s3 = fr(s3 + input[ri + 3]);
      s4 = fr(s4 + input[ri + 4]); s5 = fr(s5 + input[ri + 5]); s6 = fr(s6 + input[ri + 6]); s7 = fr(s7 + input[ri + 7]);
      count++;
      const inv = reciprocal(count);
      output[oi] = s0 * inv; output[oi + 1] = s1 * inv; output[oi + 2] = s2 * inv; output[oi + 3] = s3 * inv;
      output[oi + 4] = s4 * inv; output[oi + 5] = s5 * inv; output[oi + 6] = s6 * inv; output[oi + 7] = s7 * inv;
    }
    const inv = reciprocal(count);
    for (let i = 0; i < phase3; i++, ri += cols, li += cols, oi += cols) {
      s0 = fr(fr(s0 + input[ri]) - input[li]); s1 = fr(fr(s1 + input[ri + 1]) - input[li + 1]);
      s2 = fr(fr(s2 + input[ri + 2]) - input[li + 2]); s3 = fr(fr(s3 + input[ri + 3]) - input[li + 3]);
      s4 = fr(fr(s4 + input[ri + 4]) - input[li + 4]); s5 = fr(fr(s5 + input[ri + 5]) - input[li + 5]);
      s6 = fr(fr(s6 + input[ri + 6]) - input[li + 6]); s7 = fr(fr(s7 + input[ri + 7]) - input[li + 7]);
      output[oi] = s0 * inv; output[oi + 1] = s1 * inv; output[oi + 2] = s2 * inv; output[oi + 3] = s3 * inv;
      output[oi + 4] = s4 * inv; output[oi + 5] = s5 * inv; output[oi + 6] = s6 * inv; output[oi + 7] = s7 * inv;
    }
    for (let i = 0; i < phase1; i++, li += cols, oi += cols) {
      s0 = fr(s0 - input[li]); s1 = fr(s1 - input[li + 1]); s2 = fr(s2 - input[li + 2]); s3 = fr(s3 - input[li + 3]);
      s4 = fr(s4 - input[li + 4]); s5 = fr(s5 - input[li + 5]); s6 = fr(s6 - input[li + 6]); s7 = fr(s7 - input[li + 7]);
      count--;
      const invc = reciprocal(count);
      output[oi] = s0 * invc; output[oi + 1] = s1 * invc; output[oi + 2] = s2 * invc; output[oi + 3] = s3 * invc;
      output[oi + 4] = s4 * invc; output[oi + 5] = s5 * invc; output[oi + 6] = s6 * invc; output[oi + 7] = s7 * invc;
    }
  }
  if (grouped < cols) boxColsSideBySide(input, output, rows, cols, window, sums, grouped);
}

/** Columns [c0, cols) side by side, a row at a time, sums in a typed array. */
function boxColsSideBySide(input: Float32Array, output: Float32Array, rows: number, cols: number, window: number, sums: Float32Array, c0: number): void {
  // Float32Array stores round, but an assignment expression yields the unrounded double: fround explicitly.
  const fr = Math.fround;
  const half = (window + 2) >> 1;
  const phase1 = half - 1;
  const phase2 = window - half + 1;
  const phase3 = rows - window;
  sums.fill(0, c0, cols);
  let ri = 0; // row index being added
  let li = 0; // row index being subtracted
  let oi = 0; // row index being written
  let count = 0;
  for (let i = 0; i < phase1; i++, ri++) {
    const inBase = ri * cols;
    for (let c = c0; c < cols; c++) sums[c] = fr(sums[c] + input[inBase + c]);
    count++;
  }
  for (let i = 0; i < phase2; i++, ri++, oi++) {
    const inBase = ri * cols;
    const outBase = oi * cols;
    count++;
    const inv = reciprocal(count);
    for (let c = c0; c < cols; c++) {
      const s = fr(sums[c] + input[inBase + c]);
      sums[c] = s;
      output[outBase + c] = s * inv;
    }
  }
  const inv = reciprocal(count);
  for (let i = 0; i < phase3; i++, ri++, li++, oi++) {
    const inBase = ri * cols;
    const subBase = li * cols;
    const outBase = oi * cols;
    for (let c = c0; c < cols; c++) {
      const s = fr(fr(sums[c] + input[inBase + c]) - input[subBase + c]);
      sums[c] = s;
      output[outBase + c] = s * inv;
    }
  }
  for (; oi < rows; li++, oi++) {
    const subBase = li * cols;
    const outBase = oi * cols;
    count--;
    const invc = reciprocal(count);
    for (let c = c0; c < cols; c++) {
      const s = fr(sums[c] - input[subBase + c]);
      sums[c] = s;
      output[outBase + c] = s * invc;
    }
  }
}

/** Row/column indices the decimation samples: the centres of a 64-cell grid ("target centers not corners"). */
function sampleIndices(inDim: number, outDim: number): Int32Array {
  const idx = new Int32Array(outDim);
  for (let o = 0; o < outDim; o++) idx[o] = Math.trunc(((o + 0.5) * inDim) / outDim);
  return idx;
}

/**
 * The last column pass fused with decimation: only the sampled columns are filtered (each column's
 * running sum depends on that column alone, so this is exact) and only the sampled rows are written.
 * Saves 7/8 of the final pass at 512 px.
 */
function boxSampledColumns(
  input: Float32Array,
  rows: number,
  cols: number,
  window: number,
  out: Float32Array,
  outRows: number,
  outCols: number,
  sums: Float32Array,
): void {
  const fr = Math.fround;
  const sampleCols = sampleIndices(cols, outCols);
  const sampleRows = sampleIndices(rows, outRows);
  const half = (window + 2) >> 1;
  sums.fill(0, 0, outCols);
  let next = 0; // next output row to fill
  const emit = (oi: number, inv: number) => {
    while (next < outRows && sampleRows[next] === oi) {
      const base = next * outCols;
      for (let k = 0; k < outCols; k++) out[base + k] = sums[k] * inv;
      next++;
    }
  };
  let ri = 0;
  let li = 0;
  let oi = 0;
  let count = 0;
  for (let i = 0; i < half - 1; i++, ri++) {
    const inBase = ri * cols;
    for (let k = 0; k < outCols; k++) sums[k] = fr(sums[k] + input[inBase + sampleCols[k]]);
    count++;
  }
  for (let i = 0; i < window - half + 1; i++, ri++, oi++) {
    const inBase = ri * cols;
    for (let k = 0; k < outCols; k++) sums[k] = fr(sums[k] + input[inBase + sampleCols[k]]);
    count++;
    emit(oi, reciprocal(count));
  }
  const inv = reciprocal(count);
  for (let i = 0; i < rows - window; i++, ri++, li++, oi++) {
    const inBase = ri * cols;
    const subBase = li * cols;
    for (let k = 0; k < outCols; k++) {
      const c = sampleCols[k];
      sums[k] = fr(fr(sums[k] + input[inBase + c]) - input[subBase + c]);
    }
    emit(oi, inv);
  }
  for (; oi < rows; li++, oi++) {
    const subBase = li * cols;
    for (let k = 0; k < outCols; k++) sums[k] = fr(sums[k] - input[subBase + sampleCols[k]]);
    count--;
    emit(oi, reciprocal(count));
  }
}

/**
 * Blurs `buffer1` in place (using `buffer2` as scratch), two passes as the reference
 * (PDQ_NUM_JAROSZ_XY_PASSES = 2). `rowWindow` filters along rows, `colWindow` along columns.
 */
export function jaroszFilter(
  buffer1: Float32Array,
  buffer2: Float32Array,
  rows: number,
  cols: number,
  rowWindow: number,
  colWindow: number,
  passes = 2,
): void {
  const sums = new Float32Array(cols);
  for (let p = 0; p < passes; p++) {
    boxAlongRows(buffer1, buffer2, rows, cols, rowWindow);
    boxAlongCols(buffer2, buffer1, rows, cols, colWindow, sums);
  }
}

/**
 * jaroszFilter (two passes) followed by decimate, bit-identical to running them in turn, but the last
 * column pass only computes the samples the decimation keeps. `buffer1` is clobbered.
 */
export function jaroszBlurDecimate(
  buffer1: Float32Array,
  buffer2: Float32Array,
  rows: number,
  cols: number,
  rowWindow: number,
  colWindow: number,
  out: Float32Array,
  outRows = 64,
  outCols = 64,
): void {
  const sums = new Float32Array(Math.max(cols, outCols));
  boxAlongRows(buffer1, buffer2, rows, cols, rowWindow);
  boxAlongCols(buffer2, buffer1, rows, cols, colWindow, sums);
  boxAlongRows(buffer1, buffer2, rows, cols, rowWindow);
  boxSampledColumns(buffer2, rows, cols, colWindow, out, outRows, outCols, sums);
}

/** Point-samples the blurred image at the centres of a 64×64 grid ("target centers not corners"). */
export function decimate(input: Float32Array, rows: number, cols: number, out: Float32Array, outRows = 64, outCols = 64): void {
  for (let oi = 0; oi < outRows; oi++) {
    const ii = Math.trunc(((oi + 0.5) * rows) / outRows);
    const inBase = ii * cols;
    const outBase = oi * outCols;
    for (let oj = 0; oj < outCols; oj++) {
      const ij = Math.trunc(((oj + 0.5) * cols) / outCols);
      out[outBase + oj] = input[inBase + ij];
    }
  }
}
