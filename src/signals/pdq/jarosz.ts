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

/** Centred running mean along each row; the window is truncated (and the divisor shrinks) at the edges. */
function boxAlongRows(input: Float32Array, output: Float32Array, rows: number, cols: number, window: number): void {
  const fr = Math.fround;
  const half = (window + 2) >> 1;
  const phase1 = half - 1;
  const phase2 = window - half + 1;
  const phase3 = cols - window;
  const phase4 = half - 1;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let li = base;
    let ri = base;
    let oi = base;
    let sum = 0;
    let count = 0;
    for (let i = 0; i < phase1; i++) {
      sum = fr(sum + input[ri++]);
      count++;
    }
    for (let i = 0; i < phase2; i++) {
      sum = fr(sum + input[ri++]);
      count++;
      output[oi++] = sum / count;
    }
    for (let i = 0; i < phase3; i++) {
      sum = fr(sum + input[ri++]);
      sum = fr(sum - input[li++]);
      output[oi++] = sum / count;
    }
    for (let i = 0; i < phase4; i++) {
      sum = fr(sum - input[li++]);
      count--;
      output[oi++] = sum / count;
    }
  }
}

/**
 * The same filter down each column. Columns are processed side by side, a row at a time, for cache
 * locality; each column still sees the reference's exact sequence of float32 operations.
 */
function boxAlongCols(
  input: Float32Array,
  output: Float32Array,
  rows: number,
  cols: number,
  window: number,
  sums: Float32Array,
): void {
  // Float32Array stores round, but an assignment expression yields the unrounded double: fround explicitly.
  const fr = Math.fround;
  const half = (window + 2) >> 1;
  const phase1 = half - 1;
  const phase2 = window - half + 1;
  const phase3 = rows - window;
  sums.fill(0, 0, cols);
  let ri = 0; // row index being added
  let li = 0; // row index being subtracted
  let oi = 0; // row index being written
  let count = 0;
  for (let i = 0; i < phase1; i++, ri++) {
    const inBase = ri * cols;
    for (let c = 0; c < cols; c++) sums[c] = fr(sums[c] + input[inBase + c]);
    count++;
  }
  for (let i = 0; i < phase2; i++, ri++, oi++) {
    const inBase = ri * cols;
    const outBase = oi * cols;
    count++;
    for (let c = 0; c < cols; c++) {
      const s = fr(sums[c] + input[inBase + c]);
      sums[c] = s;
      output[outBase + c] = s / count;
    }
  }
  for (let i = 0; i < phase3; i++, ri++, li++, oi++) {
    const inBase = ri * cols;
    const subBase = li * cols;
    const outBase = oi * cols;
    for (let c = 0; c < cols; c++) {
      const s = fr(fr(sums[c] + input[inBase + c]) - input[subBase + c]);
      sums[c] = s;
      output[outBase + c] = s / count;
    }
  }
  for (; oi < rows; li++, oi++) {
    const subBase = li * cols;
    const outBase = oi * cols;
    count--;
    for (let c = 0; c < cols; c++) {
      const s = fr(sums[c] - input[subBase + c]);
      sums[c] = s;
      output[outBase + c] = s / count;
    }
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
