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

export type DegenerateKind = 'constant' | 'one-value' | 'periodic';

export interface HashInformation {
  /** Why the hash carries too little information to match loosely; undefined for an ordinary hash. */
  degenerate?: DegenerateKind;
  /** Bits set (an ordinary PDQ hash has about 128). */
  ones: number;
  /** Smallest distance to the hash rotated by 16, 32 or 64 bits (about 128 for an ordinary hash). */
  selfDistance: number;
  /** Share of the 16 rows (16-bit words) that equal the most common row. */
  topRowShare: number;
}

/** At most this many bits from all-zero or all-one: near-constant. */
export const CONSTANT_BITS = 24;
/** At most this far from itself shifted by 1, 2 or 4 rows: periodic. */
export const PERIODIC_DISTANCE = 32;
/** At least this share of rows alike: mostly one value. */
export const ONE_VALUE_SHARE = 0.5;

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
  const degenerate: DegenerateKind | undefined =
    ones <= CONSTANT_BITS || ones >= 256 - CONSTANT_BITS ? 'constant' : selfDistance <= PERIODIC_DISTANCE ? 'periodic' : topRowShare >= ONE_VALUE_SHARE ? 'one-value' : undefined;
  return { ...(degenerate ? { degenerate } : {}), ones, selfDistance, topRowShare };
}

export function isDegenerate(hash: Uint8Array): boolean {
  return hashInformation(hash).degenerate !== undefined;
}
