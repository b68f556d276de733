/**
 * ExactIndex: id lookup by cryptographic digest (MD5 / SHA-1 / SHA-256) with binary keys.
 *
 * Why not a JS `Map<hexString, id[]>`: at 10M digests that is ~10M strings and arrays on the V8 heap
 * (hundreds of bytes each, GC pauses) and every lookup hashes a 64-character string. Here digests live
 * as raw words in one open-addressing table inside SharedArrayBuffers (~80 B per SHA-256 entry
 * including the id table, no per-entry objects); a lookup hashes one word and compares 4–8 words.
 * No npm package offers an off-heap, thread-shareable multimap of fixed-size binary keys.
 *
 * Layout: `keys` (capacity × digest words), `ids`, `state` (0 empty, 1 live, 2 removed) with linear
 * probing on a mixed first word; a second table maps id → slot for `remove`/`has`. Removed slots are
 * never reused in place (a concurrent reader may be comparing them); growth/rehash reclaims them.
 * Several ids may share one digest (the same file in two lists); `lookup` returns all of them.
 */
import { VigilError, invalidArgument } from '../core/errors.js';
import { checkId } from './_bits.js';
import { IndexFileReader, writeIndexFile } from './_file-format.js';

export type DigestAlgorithm = 'md5' | 'sha1' | 'sha256';

export const DIGEST_BYTES: Record<DigestAlgorithm, number> = { md5: 16, sha1: 20, sha256: 32 };

const FILE_KIND = 'vigil.exact';
const FILE_KIND_VERSION = 1;
const MAX_LOAD = 0.7;

/** What `toShared()` returns (SharedArrayBuffers are shared, not copied, by postMessage). */
export interface ExactIndexHandle {
  format: 'vigil.exact.shared';
  version: 1;
  algorithm: DigestAlgorithm;
  snapshot: number;
  generation: Int32Array;
  tables: Tables;
}

interface Tables {
  capacity: number;
  keys: Uint32Array;
  ids: Uint32Array;
  state: Uint8Array;
  idKeys: Uint32Array;
  idSlots: Uint32Array;
  idState: Uint8Array;
  /** [0] live entries, [1] used digest slots (live + removed), [2] used id slots. */
  counts: Int32Array;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function sab<T extends Uint32Array | Uint8Array | Int32Array>(Ctor: new (b: SharedArrayBuffer) => T, bytes: number): T {
  return new Ctor(new SharedArrayBuffer(bytes));
}

function allocTables(capacity: number, words: number): Tables {
  return {
    capacity,
    keys: sab(Uint32Array, capacity * words * 4),
    ids: sab(Uint32Array, capacity * 4),
    state: sab(Uint8Array, capacity),
    idKeys: sab(Uint32Array, capacity * 4),
    idSlots: sab(Uint32Array, capacity * 4),
    idState: sab(Uint8Array, capacity),
    counts: sab(Int32Array, 12),
  };
}

export class ExactIndex {
  readonly algorithm: DigestAlgorithm;
  readonly digestBytes: number;
  private readonly words: number;
  private t: Tables;
  private readonly writable: boolean;
  private readonly gen: Int32Array;
  private snapshot: number;
  private readonly qw: Uint32Array;

  /**
   * @example
   * const md5 = new ExactIndex('md5');
   * md5.add(7, digestBytes);          // 16-byte Buffer/Uint8Array, e.g. createHash('md5').digest()
   * md5.lookup(digestBytes);          // [7]
   */
  constructor(algorithm: DigestAlgorithm, options: { initialCapacity?: number } = {}) {
    if (!(algorithm in DIGEST_BYTES)) throw invalidArgument("'md5', 'sha1' or 'sha256'", 'algorithm', algorithm);
    this.algorithm = algorithm;
    this.digestBytes = DIGEST_BYTES[algorithm];
    this.words = this.digestBytes / 4;
    const want = options.initialCapacity ?? 1024;
    if (!Number.isInteger(want) || want < 1 || want > 2 ** 30) throw invalidArgument('an integer in 1..2^30', 'initialCapacity', want);
    this.t = allocTables(capacityFor(want), this.words);
    this.writable = true;
    this.gen = new Int32Array(new SharedArrayBuffer(4));
    this.snapshot = 0;
    this.qw = new Uint32Array(8);
  }

  /** Live entries. */
  get size(): number {
    return Atomics.load(this.t.counts, 0);
  }

  get isWritable(): boolean {
    return this.writable;
  }

  /** True when this shared view was made before the writer reallocated its tables (post a fresh handle). */
  isStale(): boolean {
    return Atomics.load(this.gen, 0) !== this.snapshot;
  }

  /**
   * @throws VigilError VIGIL_ERR_INVALID_ARGUMENT (bad id or digest length), VIGIL_ERR_CONFLICT (id present)
   */
  add(id: number, digest: Uint8Array): void {
    this.assertWritable();
    checkId(id);
    const q = this.digestWords(digest);
    if (this.idSlot(id) >= 0) throw new VigilError('VIGIL_ERR_CONFLICT', `id ${id} is already in the index`);
    const c = this.t.counts;
    if (c[1] + 1 > this.t.capacity * MAX_LOAD || c[2] + 1 > this.t.capacity * MAX_LOAD) this.rehash(c[0] + 1);
    this.insert(id, q);
  }

  /** Adds ids.length digests packed in `digests` (ids.length × digest bytes). */
  addMany(ids: Uint32Array | readonly number[], digests: Uint8Array): void {
    this.assertWritable();
    const n = ids.length;
    if (!(digests instanceof Uint8Array) || digests.length !== n * this.digestBytes) {
      throw invalidArgument(`a Uint8Array of ${n} × ${this.digestBytes} bytes`, 'digests', digests instanceof Uint8Array ? `${digests.length} bytes` : typeof digests);
    }
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      checkId(ids[i], `ids[${i}]`);
      if (seen.has(ids[i]) || this.idSlot(ids[i]) >= 0) throw new VigilError('VIGIL_ERR_CONFLICT', `id ${ids[i]} is already in the index`);
      seen.add(ids[i]);
    }
    const c = this.t.counts;
    if (c[1] + n > this.t.capacity * MAX_LOAD || c[2] + n > this.t.capacity * MAX_LOAD) this.rehash(c[0] + n);
    for (let i = 0; i < n; i++) this.insert(ids[i], this.digestWords(digests.subarray(i * this.digestBytes, (i + 1) * this.digestBytes)));
  }

  /** Removes an id; false if absent. */
  remove(id: number): boolean {
    this.assertWritable();
    checkId(id);
    const s = this.idSlot(id);
    if (s < 0) return false;
    const t = this.t;
    Atomics.store(t.state, t.idSlots[s], 2);
    Atomics.store(t.idState, s, 2);
    Atomics.sub(t.counts, 0, 1);
    return true;
  }

  has(id: number): boolean {
    checkId(id);
    return this.idSlot(id) >= 0;
  }

  /** Every id stored with this digest, ascending ([] if none). */
  lookup(digest: Uint8Array): number[] {
    const q = this.digestWords(digest);
    const t = this.t;
    const W = this.words;
    const mask = t.capacity - 1;
    const out: number[] = [];
    for (let s = this.slotHash(q) & mask; ; s = (s + 1) & mask) {
      const st = Atomics.load(t.state, s);
      if (st === 0) break;
      if (st !== 1) continue;
      const b = s * W;
      let eq = true;
      for (let i = 0; i < W; i++) {
        if (t.keys[b + i] !== q[i]) {
          eq = false;
          break;
        }
      }
      if (eq) out.push(t.ids[s]);
    }
    return out.sort((a, b) => a - b);
  }

  /** Rebuilds the tables without removed slots (also happens automatically as the table grows). */
  compact(): void {
    this.assertWritable();
    this.rehash(this.size);
  }

  toShared(): ExactIndexHandle {
    return { format: 'vigil.exact.shared', version: 1, algorithm: this.algorithm, snapshot: Atomics.load(this.gen, 0), generation: this.gen, tables: this.t };
  }

  /** A lookup-only view over a handle from `toShared()` (typically in a worker thread). */
  static fromShared(handle: ExactIndexHandle): ExactIndex {
    if (handle === null || typeof handle !== 'object' || handle.format !== 'vigil.exact.shared' || handle.version !== 1) {
      throw invalidArgument('a handle from ExactIndex#toShared()', 'handle', handle === null ? 'null' : typeof handle);
    }
    const view = Object.create(ExactIndex.prototype) as ExactIndex;
    const f = view as unknown as Record<string, unknown>;
    f.algorithm = handle.algorithm;
    f.digestBytes = DIGEST_BYTES[handle.algorithm];
    f.words = DIGEST_BYTES[handle.algorithm] / 4;
    f.t = handle.tables;
    f.writable = false;
    f.gen = handle.generation;
    f.snapshot = handle.snapshot;
    f.qw = new Uint32Array(8);
    return view;
  }

  /** Writes one file (same container as HammingIndex256: versioned header, CRC-32 per section). */
  save(path: string): void {
    if (typeof path !== 'string' || path.length === 0) throw invalidArgument('a file path', 'path', path);
    const t = this.t;
    writeIndexFile(path, FILE_KIND, FILE_KIND_VERSION, { algorithm: this.algorithm, capacity: t.capacity }, [
      { name: 'keys', data: t.keys },
      { name: 'ids', data: t.ids },
      { name: 'state', data: t.state },
      { name: 'idKeys', data: t.idKeys },
      { name: 'idSlots', data: t.idSlots },
      { name: 'idState', data: t.idState },
    ]);
  }

  /**
   * @throws VigilError VIGIL_ERR_INDEX_CORRUPT (truncated, corrupt, unknown version: rebuild from the
   *   store), VIGIL_ERR_UNREADABLE
   */
  static load(path: string): ExactIndex {
    const f: IndexFileReader = IndexFileReader.open(path, FILE_KIND, [FILE_KIND_VERSION]);
    try {
      const meta = f.meta as { algorithm?: unknown; capacity?: unknown };
      const alg = meta?.algorithm;
      const cap = meta?.capacity;
      if (typeof alg !== 'string' || !(alg in DIGEST_BYTES)) f.corrupt('the digest algorithm is missing or unknown');
      if (!Number.isInteger(cap) || (cap as number) < 1 || (cap as number) > 2 ** 30 || ((cap as number) & ((cap as number) - 1)) !== 0) f.corrupt('the capacity is invalid');
      const index = new ExactIndex(alg as DigestAlgorithm, { initialCapacity: 1 });
      const t = allocTables(cap as number, index.words);
      f.read('keys', t.keys);
      f.read('ids', t.ids);
      f.read('state', t.state);
      f.read('idKeys', t.idKeys);
      f.read('idSlots', t.idSlots);
      f.read('idState', t.idState);
      let live = 0;
      let used = 0;
      let idUsed = 0;
      let idLive = 0;
      for (let s = 0; s < t.capacity; s++) {
        if (t.state[s] > 2 || t.idState[s] > 2) f.corrupt('a slot state is invalid');
        if (t.state[s] !== 0) used++;
        if (t.state[s] === 1) live++;
        if (t.idState[s] !== 0) idUsed++;
        if (t.idState[s] === 1) {
          idLive++;
          const slot = t.idSlots[s];
          if (slot >= t.capacity || t.state[slot] !== 1 || t.ids[slot] !== t.idKeys[s]) f.corrupt('the id table does not match the digest table');
        }
      }
      if (live !== idLive || used === t.capacity || idUsed === t.capacity) f.corrupt('the tables are inconsistent');
      t.counts[0] = live;
      t.counts[1] = used;
      t.counts[2] = idUsed;
      index.t = t;
      return index;
    } finally {
      f.close();
    }
  }

  // ---- internals ----

  private assertWritable(): void {
    if (!this.writable) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a writable index but this is a read-only shared view (fromShared)');
  }

  private digestWords(digest: Uint8Array): Uint32Array {
    if (!(digest instanceof Uint8Array) || digest.length !== this.digestBytes) {
      throw invalidArgument(`a ${this.digestBytes}-byte Uint8Array (${this.algorithm} digest)`, 'digest', digest instanceof Uint8Array ? `${digest.length} bytes` : typeof digest);
    }
    new Uint8Array(this.qw.buffer, 0, this.digestBytes).set(digest);
    return this.qw;
  }

  private slotHash(q: Uint32Array): number {
    return fmix32(q[0] ^ Math.imul(q[1], 0x9e3779b1));
  }

  /** Slot of a live id in the id table, or -1. */
  private idSlot(id: number): number {
    const t = this.t;
    const mask = t.capacity - 1;
    for (let s = fmix32(id) & mask; ; s = (s + 1) & mask) {
      const st = Atomics.load(t.idState, s);
      if (st === 0) return -1;
      if (st === 1 && t.idKeys[s] === id) return s;
    }
  }

  private insert(id: number, q: Uint32Array): void {
    const t = this.t;
    const W = this.words;
    const mask = t.capacity - 1;
    let s = this.slotHash(q) & mask;
    while (t.state[s] !== 0) s = (s + 1) & mask;
    for (let i = 0; i < W; i++) t.keys[s * W + i] = q[i];
    t.ids[s] = id;
    Atomics.store(t.state, s, 1); // publish after the key is written
    let k = fmix32(id) & mask;
    while (t.idState[k] !== 0) k = (k + 1) & mask;
    t.idKeys[k] = id;
    t.idSlots[k] = s;
    Atomics.store(t.idState, k, 1);
    Atomics.add(t.counts, 0, 1);
    t.counts[1]++;
    t.counts[2]++;
  }

  /** New tables sized for `live` entries; old ones stay intact for shared views (now stale). */
  private rehash(live: number): void {
    const old = this.t;
    const W = this.words;
    this.t = allocTables(capacityFor(live), W);
    const q = new Uint32Array(W);
    for (let s = 0; s < old.capacity; s++) {
      if (old.state[s] !== 1) continue;
      for (let i = 0; i < W; i++) q[i] = old.keys[s * W + i];
      this.insert(old.ids[s], q);
    }
    Atomics.add(this.gen, 0, 1);
  }
}

function capacityFor(entries: number): number {
  let c = 16;
  while (c * MAX_LOAD < entries * 1.25 + 1) c *= 2;
  return c;
}
