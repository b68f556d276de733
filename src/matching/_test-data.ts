/**
 * Seeded synthetic hashes for the matching tests and bench/index.ts (internal). All data is random or
 * derived from random/benign seeds by flipping bits; nothing here is or describes real media.
 */

/** xorshift32 — tiny, seedable, fast enough to fill 320 MB in a second. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s >>> 0;
    return this.s;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
}

export function randomHashes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n * 32);
  const w = new Uint32Array(out.buffer);
  for (let i = 0; i < w.length; i++) w[i] = rng.u32();
  return out;
}

const picked = new Int32Array(256);

/** Flips `count` (≤ 256) distinct random bits of the 32-byte hash at `out[offset..]` in place. */
export function flipBits(rng: Rng, out: Uint8Array, offset: number, count: number): void {
  let n = 0;
  while (n < count) {
    const b = rng.int(256);
    let dup = false;
    for (let i = 0; i < n; i++) if (picked[i] === b) dup = true;
    if (dup) continue;
    picked[n++] = b;
    out[offset + (b >> 3)] ^= 1 << (b & 7);
  }
}

/** A copy of `hash` with `count` distinct bits flipped. */
export function nearby(rng: Rng, hash: Uint8Array, count: number): Uint8Array {
  const out = Uint8Array.from(hash);
  flipBits(rng, out, 0, count);
  return out;
}

/**
 * Clustered set, skewed like real PDQ lists: `centers` cluster centres (from `seeds` with 24–96 bits
 * flipped, or random when no seeds are given), each followed by near-duplicates with 1–`maxFlip` bits
 * flipped; cluster sizes are heavy-tailed (most small, a few up to 1023) and ~1/16 of the members are
 * exact repeats of their centre (same hash, different id).
 */
export function clusteredHashes(rng: Rng, n: number, seeds: Uint8Array[] = [], maxFlip = 20): Uint8Array {
  const out = new Uint8Array(n * 32);
  let i = 0;
  while (i < n) {
    const center = new Uint8Array(32);
    if (seeds.length > 0) {
      center.set(seeds[rng.int(seeds.length)]);
      flipBits(rng, center, 0, 24 + rng.int(73));
    } else {
      for (let k = 0; k < 32; k++) center[k] = rng.u32() & 255;
    }
    // Heavy tail: size = floor(2^(10·u²)) ∈ [1, 1024): a third are single images, the median
    // cluster has ~5 members, a few percent have hundreds (memes, re-encoded series).
    const u = rng.u32() / 4294967296;
    const size = Math.min(n - i, Math.floor(2 ** (10 * u * u)));
    for (let k = 0; k < size; k++, i++) {
      out.set(center, i * 32);
      const r = rng.u32() % 16;
      if (k > 0 && r !== 0) flipBits(rng, out, i * 32, 1 + rng.int(maxFlip));
    }
  }
  return out;
}
