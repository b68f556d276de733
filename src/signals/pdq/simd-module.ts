/**
 * The PDQ hot stages as a WebAssembly SIMD module, assembled here byte by byte (internal; no toolchain,
 * as src/matching/_wasm-scan.ts). Every kernel is vectorised ACROSS independent rows or columns: each
 * f32x4 lane runs exactly the scalar sequence of float32 operations of the JS path (luma.ts, jarosz.ts,
 * dct.ts, pdq.ts qualityOf), so results are bit-identical. WebAssembly has no fused multiply-add, and f32x4
 * add/sub/mul/div round like Math.fround of the double result (double holds 2·24+2 bits).
 *
 *   transpose(src, srcStride, dst, dstStride, groups, cols4)
 *       dst = srcᵀ for 16·groups source rows × 4·cols4 columns (strides in bytes). Blocks of 16 rows,
 *       so each destination row gets a whole 64-byte line per source column block.
 *   sweep(desc, descEnd, sums, n64)
 *       One running-sum box filter down every column of a row-major matrix (lanes = columns, n64 groups
 *       of 16 columns), driven by 16-byte step descriptors {add row, subtract row, output row, m}:
 *       sums = (sums + add) − sub; if output: out = sums / m (m > 0) or sums · −m (m < 0, an exact
 *       power-of-two reciprocal). The JS side encodes the reference's four phases as steps; a phase that
 *       only adds or only subtracts points the other operand at a zero row (x + 0 and x − 0 are exact:
 *       the sums start at +0 and can never become −0).
 *   dct(grid, d, dt, t, out)   out = D·grid·Dᵀ (16×16) with T = D·grid in `t`; k summed in order.
 *   quality(grid) → i32        the reference's gradient sum (each |term| capped at 9000, which cannot
 *                              change min(100, sum / 90) and keeps the sum in i32; a NaN term counts 0
 *                              where the JS path's quality would be NaN — only for non-finite luma).
 *   luma(src, srcStride, rows, colTab, n4, dst, dstStride, grey)
 *       8-bit pixels → float32 luma, 4 pixels per step, each read as the 4 bytes at its column's byte
 *       offset in `colTab` (so one kernel serves 1–4 channels and the nearest-neighbour pre-resize).
 */

import { F32, I32, V128, name, section, sleb, uleb, vec } from '../../core/wasm-encoding.js';

/** A function body under construction: typed locals plus a flat instruction stream. */
class Body {
  readonly code: number[] = [];
  private readonly locals: number[] = [];
  constructor(private readonly nParams: number) {}

  local(type: number): number {
    this.locals.push(type);
    return this.nParams + this.locals.length - 1;
  }

  op(...bytes: (number | number[])[]): this {
    for (const b of bytes) {
      if (typeof b === 'number') this.code.push(b);
      else this.code.push(...b);
    }
    return this;
  }

  get(i: number): this { return this.op(0x20, uleb(i)); }
  set(i: number): this { return this.op(0x21, uleb(i)); }
  i32(n: number): this { return this.op(0x41, sleb(n | 0)); }
  /** local[i] += n (i32). */
  inc(i: number, n: number | { local: number }): this {
    this.get(i);
    if (typeof n === 'number') this.i32(n);
    else this.get(n.local);
    return this.op(0x6a).set(i);
  }
  simd(opcode: number, ...imm: number[]): this { return this.op(0xfd, uleb(opcode), imm); }
  load(ptr: number, offset = 0): this { return this.get(ptr).simd(0x00, 0, ...uleb(offset)); }
  /** Pushes the address first: store(ptr, offset, () => value). */
  store(ptr: number, offset: number, value: () => void): this {
    this.get(ptr);
    value();
    return this.simd(0x0b, 0, ...uleb(offset));
  }
  shuffle(lanes32: number[]): this {
    return this.simd(0x0d, ...lanes32.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  }
  zero(): this { return this.simd(0x0c, ...new Array<number>(16).fill(0)); }
  /** Counted loop: body runs while (local[counter] -= 1) != 0, so at least once. */
  countdown(counter: number, body: () => void): this {
    this.op(0x03, 0x40);
    body();
    this.get(counter).i32(1).op(0x6b).set(counter).get(counter).op(0x0d, 0, 0x0b);
    return this;
  }
  /** do { body } while (local[p] <u local[end]). */
  doWhileBelow(p: number, end: number, body: () => void): this {
    this.op(0x03, 0x40);
    body();
    return this.get(p).get(end).op(0x49, 0x0d, 0, 0x0b);
  }

  encode(): number[] {
    const runs: number[][] = [];
    for (let i = 0; i < this.locals.length; ) {
      let j = i;
      while (j < this.locals.length && this.locals[j] === this.locals[i]) j++;
      runs.push([...uleb(j - i), this.locals[i]]);
      i = j;
    }
    const all = [...vec(runs), ...this.code, 0x0b];
    return [...uleb(all.length), ...all];
  }
}

// SIMD opcodes (after the 0xfd prefix).
const F32X4_SPLAT = 0x13;
const LOAD32_SPLAT = 0x09;
const F32X4_ADD = 0xe4;
const F32X4_SUB = 0xe5;
const F32X4_MUL = 0xe6;
const F32X4_DIV = 0xe7;
const I32X4_TRUNC_SAT_F32X4_S = 0xf8;
const I32X4_ABS = 0xa0;
const I32X4_ADD = 0xae;
const I32X4_MIN_U = 0xb7;
const I32X4_SPLAT = 0x11;
const I32X4_EXTRACT = 0x1b;
const V128_AND = 0x4e;
const LOAD32_LANE = 0x56;
const F32X4_CONVERT_I32X4_S = 0xfa;


function transposeBody(): number[] {
  const [src, ss, dst, ds, groups, cols4] = [0, 1, 2, 3, 4, 5];
  const f = new Body(6);
  const [srow, dcol, sp, dp, q, w1, w2, w3, n, ss16] = Array.from({ length: 10 }, () => f.local(I32));
  const [a, b, c, d, t0, t1, t2, t3] = Array.from({ length: 8 }, () => f.local(V128));
  f.get(src).set(srow).get(dst).set(dcol);
  f.get(ss).i32(4).op(0x74).set(ss16);
  f.countdown(groups, () => {
    f.get(srow).set(sp).get(dcol).set(dp).get(cols4).set(n);
    f.countdown(n, () => {
      f.get(sp).set(q);
      f.get(dp).get(ds).op(0x6a).set(w1);
      f.get(w1).get(ds).op(0x6a).set(w2);
      f.get(w2).get(ds).op(0x6a).set(w3);
      // Four 4×4 blocks down the 16-row group fill 64 bytes of each of 4 destination rows.
      for (let k = 0; k < 4; k++) {
        for (const r of [a, b, c, d]) f.load(q).set(r).inc(q, { local: ss });
        f.get(a).get(b).shuffle([0, 4, 1, 5]).set(t0); // a0 b0 a1 b1
        f.get(a).get(b).shuffle([2, 6, 3, 7]).set(t1); // a2 b2 a3 b3
        f.get(c).get(d).shuffle([0, 4, 1, 5]).set(t2); // c0 d0 c1 d1
        f.get(c).get(d).shuffle([2, 6, 3, 7]).set(t3); // c2 d2 c3 d3
        f.store(dp, 16 * k, () => f.get(t0).get(t2).shuffle([0, 1, 4, 5]));
        f.store(w1, 16 * k, () => f.get(t0).get(t2).shuffle([2, 3, 6, 7]));
        f.store(w2, 16 * k, () => f.get(t1).get(t3).shuffle([0, 1, 4, 5]));
        f.store(w3, 16 * k, () => f.get(t1).get(t3).shuffle([2, 3, 6, 7]));
      }
      f.inc(sp, 16);
      f.get(w3).get(ds).op(0x6a).set(dp);
    });
    f.inc(srow, { local: ss16 });
    f.inc(dcol, 64);
  });
  return f.encode();
}

function sweepBody(): number[] {
  const [desc, descEnd, sums, n64] = [0, 1, 2, 3];
  const f = new Body(4);
  const [a, b, o, p, end] = Array.from({ length: 5 }, () => f.local(I32));
  const m = f.local(F32);
  const factor = f.local(V128);
  const x = f.local(V128);
  f.get(sums).set(p);
  f.get(sums).get(n64).i32(6).op(0x74).op(0x6a).set(end);
  f.doWhileBelow(p, end, () => {
    for (let u = 0; u < 4; u++) f.store(p, 16 * u, () => f.zero());
    f.inc(p, 64);
  });
  const update = (u: number) => {
    // x = (sums + add) − sub, two float32 roundings as the reference's `sum += in[ri]; sum -= in[li]`.
    f.load(p, 16 * u).load(a, 16 * u).simd(F32X4_ADD).load(b, 16 * u).simd(F32X4_SUB).set(x);
    f.store(p, 16 * u, () => f.get(x));
  };
  const advance = (withOut: boolean) => {
    f.inc(p, 64).inc(a, 64).inc(b, 64);
    if (withOut) f.inc(o, 64);
  };
  f.op(0x02, 0x40, 0x03, 0x40); // block { loop {
  f.get(desc).get(descEnd).op(0x4f, 0x0d, 1); // if desc >= descEnd: break
  f.get(desc).op(0x28, 2, 0).set(a);
  f.get(desc).op(0x28, 2, 4).set(b);
  f.get(desc).op(0x28, 2, 8).set(o);
  f.get(desc).op(0x2a, 2, 12).set(m);
  f.inc(desc, 16);
  f.get(sums).set(p);
  f.get(o).op(0x45, 0x04, 0x40); // if (o == 0): no output this step
  f.doWhileBelow(p, end, () => {
    for (let u = 0; u < 4; u++) update(u);
    advance(false);
  });
  f.op(0x05); // else
  f.get(m).op(0x43, 0, 0, 0, 0, 0x5d, 0x04, 0x40); // if (m < 0): multiply by the exact reciprocal −m
  f.get(m).op(0x8c).simd(F32X4_SPLAT).set(factor);
  f.doWhileBelow(p, end, () => {
    for (let u = 0; u < 4; u++) {
      update(u);
      f.store(o, 16 * u, () => f.get(x).get(factor).simd(F32X4_MUL));
    }
    advance(true);
  });
  f.op(0x05); // else: divide, as the reference's sum / count
  f.get(m).simd(F32X4_SPLAT).set(factor);
  f.doWhileBelow(p, end, () => {
    for (let u = 0; u < 4; u++) {
      update(u);
      f.store(o, 16 * u, () => f.get(x).get(factor).simd(F32X4_DIV));
    }
    advance(true);
  });
  f.op(0x0b, 0x0b); // end ifs
  f.op(0x0c, 0, 0x0b, 0x0b); // continue; end loop, block
  return f.encode();
}

function dctBody(): number[] {
  const [grid, d, dt, t, out] = [0, 1, 2, 3, 4];
  const f = new Body(5);
  const [i, vg, k, drow, trow, gcol, tp, dk, gk] = Array.from({ length: 9 }, () => f.local(I32));
  const acc = Array.from({ length: 4 }, () => f.local(V128));
  const s = f.local(V128);
  const clear = () => acc.forEach((r) => f.zero().set(r));
  // acc[u] = acc[u] + s·row[u]: product rounded, then sum rounded, as dct.ts.
  const mac = (ptr: number) =>
    acc.forEach((r, u) => f.get(r).get(s).load(ptr, 16 * u).simd(F32X4_MUL).simd(F32X4_ADD).set(r));
  // T = D·A, four 4-column accumulators per (i, 16-column group), k = 0..63 in order.
  f.i32(16).set(i).get(d).set(drow).get(t).set(trow);
  f.countdown(i, () => {
    f.get(grid).set(gcol).get(trow).set(tp).i32(4).set(vg);
    f.countdown(vg, () => {
      clear();
      f.get(drow).set(dk).get(gcol).set(gk).i32(64).set(k);
      f.countdown(k, () => {
        f.get(dk).simd(LOAD32_SPLAT, 2, 0).set(s);
        mac(gk);
        f.inc(dk, 4).inc(gk, 256);
      });
      acc.forEach((r, u) => f.store(tp, 16 * u, () => f.get(r)));
      f.inc(tp, 64).inc(gcol, 64);
    });
    f.inc(drow, 256).inc(trow, 256);
  });
  // B = T·Dᵀ: B[i][j..j+3] = Σk T[i][k]·Dᵀ[k][j..j+3].
  f.i32(16).set(i).get(t).set(trow).get(out).set(tp);
  f.countdown(i, () => {
    clear();
    f.get(trow).set(dk).get(dt).set(gk).i32(64).set(k);
    f.countdown(k, () => {
      f.get(dk).simd(LOAD32_SPLAT, 2, 0).set(s);
      mac(gk);
      f.inc(dk, 4).inc(gk, 64);
    });
    acc.forEach((r, u) => f.store(tp, 16 * u, () => f.get(r)));
    f.inc(tp, 64).inc(trow, 256);
  });
  return f.encode();
}

function qualityBody(): number[] {
  const grid = 0;
  const f = new Body(1);
  const [p, end, rowEnd] = Array.from({ length: 3 }, () => f.local(I32));
  const [acc, c100, c255, cap] = Array.from({ length: 4 }, () => f.local(V128));
  const f32 = (v: number) => Array.from(new Uint8Array(new Float32Array([v]).buffer));
  f.zero().set(acc);
  f.op(0x43, f32(100)).simd(F32X4_SPLAT).set(c100);
  f.op(0x43, f32(255)).simd(F32X4_SPLAT).set(c255);
  f.i32(9000).simd(I32X4_SPLAT).set(cap);
  // |trunc((u − v)·100 / 255)|, capped; the difference is on the stack.
  const term = () => f.get(c100).simd(F32X4_MUL).get(c255).simd(F32X4_DIV).simd(I32X4_TRUNC_SAT_F32X4_S).simd(I32X4_ABS).get(cap).simd(I32X4_MIN_U);
  const add = () => f.get(acc).simd(I32X4_ADD).set(acc);
  f.get(grid).set(p).get(grid).i32(63 * 256).op(0x6a).set(end);
  f.doWhileBelow(p, end, () => {
    f.load(p).load(p, 256).simd(F32X4_SUB);
    term();
    add();
    f.inc(p, 16);
  });
  f.get(grid).set(p).get(grid).i32(64 * 256).op(0x6a).set(end);
  f.doWhileBelow(p, end, () => {
    f.get(p).i32(240).op(0x6a).set(rowEnd);
    f.doWhileBelow(p, rowEnd, () => {
      f.load(p).load(p, 4).simd(F32X4_SUB);
      term();
      add();
      f.inc(p, 16);
    });
    // Columns 60..63: the last lane would pair column 63 with the next row.
    f.load(p).load(p, 4).simd(F32X4_SUB);
    term();
    f.simd(0x0c, ...[255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0]).simd(V128_AND);
    add();
    f.inc(p, 16);
  });
  for (let l = 0; l < 4; l++) f.get(acc).simd(I32X4_EXTRACT, l);
  f.op(0x6a, 0x6a, 0x6a);
  return f.encode();
}

function lumaBody(): number[] {
  const [src, srcStride, rows, colTab, n4, dst, dstStride, grey] = [0, 1, 2, 3, 4, 5, 6, 7];
  const f = new Body(8);
  const [t, d, k] = Array.from({ length: 3 }, () => f.local(I32));
  const [px, zero, cr, cg, cb] = Array.from({ length: 5 }, () => f.local(V128));
  const f32 = (v: number) => Array.from(new Uint8Array(new Float32Array([v]).buffer));
  f.zero().set(zero);
  f.op(0x43, f32(0.299)).simd(F32X4_SPLAT).set(cr);
  f.op(0x43, f32(0.587)).simd(F32X4_SPLAT).set(cg);
  f.op(0x43, f32(0.114)).simd(F32X4_SPLAT).set(cb);
  // Byte `c` of each 32-bit pixel slot, zero-extended and converted: the channel value as a float.
  const channel = (c: number) => {
    f.get(px).get(zero).simd(0x0d, ...[0, 1, 2, 3].flatMap((l) => [4 * l + c, 16, 16, 16])).simd(F32X4_CONVERT_I32X4_S);
  };
  const rowLoop = (pixel: () => void) => {
    f.countdown(rows, () => {
      f.get(colTab).set(t).get(dst).set(d).get(n4).set(k);
      f.countdown(k, () => {
        // Four pixels, each read as 4 bytes at its column's byte offset (the extra bytes are ignored).
        f.get(zero).set(px);
        for (let l = 0; l < 4; l++) f.get(src).get(t).op(0x28, 2, ...uleb(4 * l)).op(0x6a).get(px).simd(LOAD32_LANE, 0, 0, l).set(px);
        f.store(d, 0, pixel);
        f.inc(t, 16).inc(d, 16);
      });
      f.inc(src, { local: srcStride }).inc(dst, { local: dstStride });
    });
  };
  f.get(grey).op(0x04, 0x40);
  rowLoop(() => channel(0));
  f.op(0x05);
  // (R·0.299 + G·0.587) + B·0.114, each step rounded to float32, as the reference's fillFloatLumaFromRGB.
  rowLoop(() => {
    channel(0);
    f.get(cr).simd(F32X4_MUL);
    channel(1);
    f.get(cg).simd(F32X4_MUL).simd(F32X4_ADD);
    channel(2);
    f.get(cb).simd(F32X4_MUL).simd(F32X4_ADD);
  });
  f.op(0x0b);
  return f.encode();
}

const PDQ_SIMD_EXPORTS = ['transpose', 'sweep', 'dct', 'quality', 'luma'] as const;

/** The module: one exported, growable memory and the four kernels. */
export function pdqSimdModuleBytes(): Uint8Array {
  const type = (params: number, results: number[]) => [0x60, ...vec(Array.from({ length: params }, () => [I32])), ...vec(results.map((r) => [r]))];
  const bodies = [transposeBody(), sweepBody(), dctBody(), qualityBody(), lumaBody()];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([type(6, []), type(4, []), type(5, []), type(1, [I32]), type(8, [])])),
    ...section(3, vec([[0], [1], [2], [3], [4]])),
    ...section(5, vec([[0x00, 1]])), // memory: 1 page to start, grown by the host
    ...section(7, vec([...PDQ_SIMD_EXPORTS.map((n, i) => [...name(n), 0x00, i]), [...name('memory'), 0x02, 0]])),
    ...section(10, vec(bodies)),
  ];
  return new Uint8Array(bytes);
}
