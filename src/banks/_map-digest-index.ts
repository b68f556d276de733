/**
 * A small exact digest index over a JS Map, used where the off-heap ExactIndex is not needed
 * (tests, tiny banks). Keys are the digest bytes as a latin1 string: compact and exact.
 */
import type { DigestIndex } from './matcher.js';

export class MapDigestIndex implements DigestIndex {
  private readonly byKey = new Map<string, number[]>();
  private readonly keyOf = new Map<number, string>();

  add(id: number, digest: Uint8Array): void {
    const key = Buffer.from(digest).toString('latin1');
    this.keyOf.set(id, key);
    const ids = this.byKey.get(key);
    if (ids) ids.push(id);
    else this.byKey.set(key, [id]);
  }

  remove(id: number): boolean {
    const key = this.keyOf.get(id);
    if (key === undefined) return false;
    this.keyOf.delete(id);
    const ids = this.byKey.get(key)!.filter((x) => x !== id);
    if (ids.length > 0) this.byKey.set(key, ids);
    else this.byKey.delete(key);
    return true;
  }

  lookup(digest: Uint8Array): number[] {
    return this.byKey.get(Buffer.from(digest).toString('latin1')) ?? [];
  }

  get size(): number {
    return this.keyOf.size;
  }
}
