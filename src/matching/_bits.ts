/**
 * Bit helpers shared by the match indexes (internal).
 *
 * Internal word order: a stored 256-bit hash is 8 native uint32 words read over its 32 hex-order bytes
 * (word i = bytes 4i..4i+3 in platform byte order). XOR/popcount distances do not depend on the word
 * order as long as stored hashes and queries use the same view, so the hot loops never reorder bytes.
 * Bit position p of that word space is bit (p & 31) of word (p >> 5); multi-index substrings are
 * contiguous ranges of these positions.
 */
import { invalidArgument } from '../core/errors.js';
import { popcount32 } from '../signals/pdq/hash256.js';

export const HASH_BYTES = 32;
export const HASH_WORDS = 8;

/** popcount of every byte value (residual-filter lookups in the MIH inner loop). */
export const POP8 = (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >>> 1];
  return t;
})();

/** Distance between the 8 words at `base` of `h` and the query words `q`. */
export function distanceAt(h: Uint32Array, base: number, q: Uint32Array): number {
  return (
    popcount32(h[base] ^ q[0]) +
    popcount32(h[base + 1] ^ q[1]) +
    popcount32(h[base + 2] ^ q[2]) +
    popcount32(h[base + 3] ^ q[3]) +
    popcount32(h[base + 4] ^ q[4]) +
    popcount32(h[base + 5] ^ q[5]) +
    popcount32(h[base + 6] ^ q[6]) +
    popcount32(h[base + 7] ^ q[7])
  );
}

/** `len` (1..32) bits starting at bit position `pos` of the 8 words at `base`. */
export function field(h: Uint32Array, base: number, pos: number, len: number): number {
  const wi = pos >>> 5;
  const sh = pos & 31;
  let v = h[base + wi] >>> sh;
  if (sh + len > 32) v |= h[base + wi + 1] << (32 - sh);
  return len >= 32 ? v >>> 0 : v & ((1 << len) - 1);
}

/** Copies a 32-byte hash into native words (the same view the stored arrays use). */
export function hashWords(hash: Uint8Array, out: Uint32Array = new Uint32Array(HASH_WORDS)): Uint32Array {
  new Uint8Array(out.buffer, out.byteOffset, HASH_BYTES).set(hash);
  return out;
}

/** Eager validation of a 256-bit hash argument. */
export function checkHash(hash: unknown, name: string): asserts hash is Uint8Array {
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_BYTES) {
    const shown = hash instanceof Uint8Array ? `a Uint8Array of ${hash.length} bytes` : typeof hash;
    throw invalidArgument('a 32-byte Uint8Array (256-bit hash)', name, shown);
  }
}

/** Eager validation of a uint32 id. */
export function checkId(id: unknown, name = 'id'): asserts id is number {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw invalidArgument('an integer id in 0..4294967295', name, id);
  }
}

/** Binomial coefficients C(n, k) for n ≤ 64 as doubles (exact well beyond what the cost model needs). */
const BINOM: Float64Array[] = (() => {
  const rows: Float64Array[] = [];
  for (let n = 0; n <= 64; n++) {
    const row = new Float64Array(n + 1);
    row[0] = 1;
    row[n] = 1;
    for (let k = 1; k < n; k++) row[k] = rows[n - 1][k - 1] + rows[n - 1][k];
    rows.push(row);
  }
  return rows;
})();

export function binom(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  return BINOM[n][k];
}

/** Number of k-bit keys within Hamming distance `p` of a key: Σ_{i≤p} C(k, i). */
export function ballSize(k: number, p: number): number {
  let s = 0;
  for (let i = 0; i <= Math.min(p, k); i++) s += binom(k, i);
  return s;
}

/**
 * Calls `visit(key ^ mask, d)` for every mask of popcount d ≤ p over the low `bits` bits, in order of
 * increasing d. Iterative (an explicit stack of bit positions) so radius 6+ probes stay cheap.
 */
const combo = new Int32Array(33);

export function forEachKeyWithin(key: number, bits: number, p: number, visit: (k: number, d: number) => void): void {
  visit(key, 0);
  const maxD = Math.min(p, bits);
  const pos = combo; // scratch; visit() must not call forEachKeyWithin itself
  for (let d = 1; d <= maxD; d++) {
    // First combination: positions 0..d-1.
    let mask = 0;
    for (let i = 0; i < d; i++) {
      pos[i] = i;
      mask |= 1 << i;
    }
    for (;;) {
      visit((key ^ mask) >>> 0, d);
      // Advance to the next combination (lexicographic).
      let i = d - 1;
      while (i >= 0 && pos[i] === bits - d + i) i--;
      if (i < 0) break;
      mask &= ~(1 << pos[i]);
      pos[i]++;
      mask |= 1 << pos[i];
      for (let j = i + 1; j < d; j++) {
        mask &= ~(1 << pos[j]);
        pos[j] = pos[j - 1] + 1;
        mask |= 1 << pos[j];
      }
    }
  }
}

/**
 * Stable LSD radix sort of the indices 0..n-1 by uint32 `keys` (two 16-bit passes). Returns the
 * permutation. Used to lay segments out in id order (10M ids in ~0.2 s; Array.prototype.sort would
 * box every element).
 */
export function sortIndicesByKey(keys: Uint32Array): Uint32Array {
  const n = keys.length;
  const a = new Uint32Array(n);
  const b = new Uint32Array(n);
  const count = new Uint32Array(65537);
  for (let i = 0; i < n; i++) count[(keys[i] & 0xffff) + 1]++;
  for (let i = 1; i <= 65536; i++) count[i] += count[i - 1];
  for (let i = 0; i < n; i++) a[count[keys[i] & 0xffff]++] = i;
  count.fill(0);
  for (let i = 0; i < n; i++) count[(keys[i] >>> 16) + 1]++;
  for (let i = 1; i <= 65536; i++) count[i] += count[i - 1];
  for (let i = 0; i < n; i++) {
    const idx = a[i];
    b[count[keys[idx] >>> 16]++] = idx;
  }
  return b;
}

/** Index of `id` in the ascending `ids[0..n)`, or -1. */
export function binarySearch(ids: Uint32Array, n: number, id: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = ids[mid];
    if (v < id) lo = mid + 1;
    else if (v > id) hi = mid - 1;
    else return mid;
  }
  return -1;
}
