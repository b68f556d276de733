/**
 * How much a PDQ hash says about its picture, from the hash alone. PDQ thresholds 256 DCT coefficients at
 * their median, so a picture with nothing in it (a flat colour, an empty transparent sprite, a gradient)
 * or with one repeating pattern (a grate, a checkerboard, a normal map) gives a hash made of one value or
 * of one row repeated: `0000…`, `aaaa…`, `0000ffff0000ffff…`. Such hashes collide across unrelated
 * pictures at distance 0, whatever their quality, so they may only match exactly, or not at all.
 *
 * Measured on the bench:precision collection (docs/matching.md): the thresholds below flag no hash of
 * a picture of quality ≥ 50 that is not itself periodic, and every hash seen at distance 0 between
 * unrelated pictures.
 */
import { hammingDistance256 } from './hash256.js';

export type DegenerateKind = 'constant' | 'one-value' | 'periodic' | 'striped';

export interface HashInformation {
  /** Why the hash carries too little information to match loosely; undefined for an ordinary hash. */
  degenerate?: DegenerateKind;
  /** Bits set (an ordinary PDQ hash has about 128). */
  ones: number;
  /** Smallest distance to the hash rotated by 16, 32 or 64 bits (about 128 for an ordinary hash). */
  selfDistance: number;
  /** Share of the 16 rows (16-bit words) that equal the most common row. */
  topRowShare: number;
  /** Most rows, or columns, of the 16×16 bit matrix that are nearly all one bit (≤ 2 bits the other way). */
  uniformLines: number;
}

/** At most this many bits from all-zero or all-one: near-constant. */
export const CONSTANT_BITS = 24;
/** At most this far from itself shifted by 1, 2 or 4 rows: periodic. */
export const PERIODIC_DISTANCE = 32;
/** At least this share of rows alike: mostly one value. */
export const ONE_VALUE_SHARE = 0.5;
/**
 * At least this many of the 16 rows (or of the 16 columns) nearly uniform: striped. The bits are the 16×16
 * DCT coefficients against their median; a row (column) that is all one side means the picture has no detail
 * across that frequency band: it varies in one direction only (a bar, a streak, stripes, a gradient).
 * A random row is nearly uniform with probability 0.004; the most seen in 1,792 reference photo hashes is 6 of
 * 16, in the bench:precision true pairs 2; the false pairs that remained after the other rules had 15 and 16.
 */
export const STRIPED_LINES = 12;
const NEAR_UNIFORM_BITS = 2;

const scratch = new Uint8Array(32);

function rotated(hash: Uint8Array, bytes: number): Uint8Array {
  for (let i = 0; i < 32; i++) scratch[i] = hash[(i + bytes) % 32];
  return scratch;
}

export function hashInformation(hash: Uint8Array): HashInformation {
  let ones = 0;
  for (let i = 0; i < 32; i++) {
    let b = hash[i];
    while (b) {
      ones += b & 1;
      b >>= 1;
    }
  }
  let selfDistance = 256;
  for (const bytes of [2, 4, 8]) selfDistance = Math.min(selfDistance, hammingDistance256(hash, rotated(hash, bytes)));
  const rows = new Map<number, number>();
  for (let i = 0; i < 32; i += 2) {
    const row = (hash[i] << 8) | hash[i + 1];
    rows.set(row, (rows.get(row) ?? 0) + 1);
  }
  const topRowShare = Math.max(...rows.values()) / 16;
  const uniformLines = mostUniformLines(hash);
  const degenerate: DegenerateKind | undefined =
    ones <= CONSTANT_BITS || ones >= 256 - CONSTANT_BITS
      ? 'constant'
      : selfDistance <= PERIODIC_DISTANCE
        ? 'periodic'
        : topRowShare >= ONE_VALUE_SHARE
          ? 'one-value'
          : uniformLines >= STRIPED_LINES
            ? 'striped'
            : undefined;
  return { ...(degenerate ? { degenerate } : {}), ones, selfDistance, topRowShare, uniformLines };
}

const nearUniform = (bitsSet: number) => bitsSet <= NEAR_UNIFORM_BITS || bitsSet >= 16 - NEAR_UNIFORM_BITS;

/** The larger of: rows nearly uniform, columns nearly uniform (row r = bytes 2r, 2r+1; column c = bit c of each row). */
function mostUniformLines(hash: Uint8Array): number {
  const columnOnes = new Array<number>(16).fill(0);
  let uniformRows = 0;
  for (let r = 0; r < 16; r++) {
    const row = (hash[2 * r] << 8) | hash[2 * r + 1];
    let rowOnes = 0;
    for (let c = 0; c < 16; c++) {
      const bit = (row >> c) & 1;
      rowOnes += bit;
      columnOnes[c] += bit;
    }
    if (nearUniform(rowOnes)) uniformRows++;
  }
  return Math.max(uniformRows, columnOnes.filter(nearUniform).length);
}

export function isDegenerate(hash: Uint8Array): boolean {
  return hashInformation(hash).degenerate !== undefined;
}
