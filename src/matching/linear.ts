/**
 * Brute-force reference index: the oracle for the fast indexes' tests and the baseline of
 * bench/index.ts. Deliberately the obvious code — one `hammingDistance256` per stored hash, no
 * pruning — so that "same result set as LinearHammingIndex" means "correct".
 */
import { VigilError, invalidArgument } from '../core/errors.js';
import { hammingDistance256 } from '../signals/pdq/hash256.js';
import { HASH_BYTES, checkHash, checkId } from './_bits.js';
import type { DihedralMatch, HammingMatch } from './hamming-index.js';

export class LinearHammingIndex {
  private readonly entries = new Map<number, Uint8Array>();

  get size(): number {
    return this.entries.size;
  }

  /** @throws VigilError VIGIL_ERR_CONFLICT if the id is present */
  add(id: number, hash: Uint8Array): void {
    checkId(id);
    checkHash(hash, 'hash');
    if (this.entries.has(id)) throw new VigilError('VIGIL_ERR_CONFLICT', `id ${id} is already in the index`);
    this.entries.set(id, Uint8Array.from(hash));
  }

  addMany(ids: ArrayLike<number>, hashes: Uint8Array): void {
    for (let i = 0; i < ids.length; i++) this.add(ids[i], hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
  }

  remove(id: number): boolean {
    return this.entries.delete(id);
  }

  has(id: number): boolean {
    return this.entries.has(id);
  }

  /** Every entry within `radius`, sorted by distance then id. */
  search(hash: Uint8Array, radius: number): HammingMatch[] {
    checkHash(hash, 'hash');
    if (!Number.isInteger(radius) || radius < 0 || radius > 256) throw invalidArgument('an integer radius in 0..256', 'radius', radius);
    const out: HammingMatch[] = [];
    for (const [id, h] of this.entries) {
      const distance = hammingDistance256(h, hash);
      if (distance <= radius) out.push({ id, distance });
    }
    return out.sort((a, b) => a.distance - b.distance || a.id - b.id);
  }

  /** Best variant per id (smallest distance, then lowest variant index), sorted by distance then id. */
  searchDihedral(hashes: readonly Uint8Array[], radius: number): DihedralMatch[] {
    const best = new Map<number, DihedralMatch>();
    hashes.forEach((q, variant) => {
      for (const m of this.search(q, radius)) {
        const b = best.get(m.id);
        if (b === undefined || m.distance < b.distance) best.set(m.id, { ...m, variant });
      }
    });
    return [...best.values()].sort((a, b) => a.distance - b.distance || a.id - b.id);
  }
}

/** One brute-force pass over packed rows (n × 32 bytes): the bench's baseline, same output order. */
export function linearSearch(hashes: Uint8Array, ids: ArrayLike<number>, query: Uint8Array, radius: number): HammingMatch[] {
  const out: HammingMatch[] = [];
  for (let i = 0; i < ids.length; i++) {
    const distance = hammingDistance256(hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES), query);
    if (distance <= radius) out.push({ id: ids[i], distance });
  }
  return out.sort((a, b) => a.distance - b.distance || a.id - b.id);
}
