/**
 * The 16×16 partial DCT of the 64×64 blurred luma, skipping the DC row and column, in float32 with the
 * reference's summation order (k = 0..63 sequentially), so identical input gives identical coefficients.
 */
const DCT_SCALE = Math.fround(Math.sqrt(2.0 / 64.0));

/** D[i][j] = sqrt(2/64)·cos(π/128·(i+1)·(2j+1)), float32, i < 16, j < 64 (row-major). */
export const DCT_MATRIX: Float32Array = (() => {
  const d = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) d[i * 64 + j] = DCT_SCALE * Math.cos((Math.PI / 2 / 64) * (i + 1) * (2 * j + 1));
  }
  return d;
})();

/** B = D·A·Dᵀ. `scratch` holds T = D·A (16×64); `out` receives B (16×16, row = vertical frequency). */
export function dct64To16(a: Float32Array, scratch: Float32Array, out: Float32Array): void {
  const fr = Math.fround;
  const d = DCT_MATRIX;
  // T = D·A with k outermost per row of T: each T[i][j] still sums k = 0..63 in order (the reference's
  // order, so bit-identical), but the inner loop walks A's row k contiguously. A Float32Array store rounds
  // the running sum to float32 after every step, as the reference's float accumulator does.
  for (let i = 0; i < 16; i++) {
    const di = i * 64;
    scratch.fill(0, di, di + 64);
    for (let k = 0; k < 64; k++) {
      const dik = d[di + k];
      const ak = k * 64;
      for (let j = 0; j < 64; j++) scratch[di + j] += fr(dik * a[ak + j]);
    }
  }
  for (let i = 0; i < 16; i++) {
    const ti = i * 64;
    for (let j = 0; j < 16; j++) {
      const dj = j * 64;
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = fr(sum + fr(scratch[ti + k] * d[dj + k]));
      out[i * 16 + j] = sum;
    }
  }
}
