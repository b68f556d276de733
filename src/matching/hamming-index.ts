/**
 * HammingIndex256: exact Hamming range search over 256-bit hashes (PDQ), off-heap and thread-shareable.
 *
 * Why it exists: hash lists reach millions of PDQ hashes (NCMEC > 3.5M, Safer 57M) and HMA's FAISS
 * index is rebuilt from scratch on every change and takes ~38 s to load at 10M. This index keeps every
 * byte in a few SharedArrayBuffer-backed typed arrays (no per-hash JS objects), answers exact range
 * queries with multi-index hashing or a WASM flat scan (chosen per segment by a cost model), takes
 * adds and removes without a rebuild, and saves to / loads from one checksummed file.
 *
 * Structure (LSM-style): immutable *segments* (see _segment.ts) plus an append-only *tail* that is
 * flat-scanned. A full tail is frozen into a small segment; similar-sized small segments are merged
 * as they appear; `compact()` / `compactAsync()` merge everything and drop removed rows. Removals set a
 * bit in a shared tombstone bitmap. Queries never wait for writers: segments are immutable, the tail
 * publishes its length atomically, and a compaction builds new arrays (in a worker thread for
 * compactAsync) and swaps them in.
 *
 * See docs/matching.md for the API, layouts, file format and measured figures.
 */
import { VigilError, invalidArgument } from '../core/errors.js';
import { HASH_BYTES, checkHash, checkId, hashWords } from './_bits.js';
import { IndexFileReader, writeIndexFile } from './_file-format.js';
import {
  MAX_MIH_RADIUS,
  MAX_SEGMENT_ROWS,
  Segment,
  Tail,
  buildSegment,
  gatherLive,
  type LayoutOptions,
  type SegmentData,
  type SegmentLayout,
  type TailData,
} from './_segment.js';
import { createHashMemory } from './_wasm-scan.js';
import { runCompactionWorker } from './_compact-client.js';

/** One match: the id stored with the hash and its Hamming distance to the query. */
export interface HammingMatch {
  id: number;
  distance: number;
}

/** A dihedral match: the best (smallest-distance, then lowest-index) query variant for this id. */
export interface DihedralMatch extends HammingMatch {
  variant: number;
}

/** `auto` picks per segment by a cost model; `mih` and `flat` force one (for tests and benchmarks). */
export type SearchStrategy = 'auto' | 'mih' | 'flat';

export interface HammingIndexOptions {
  /** Rows buffered in the flat-scanned tail before it is frozen into a segment (default 16384). */
  tailCapacity?: number;
  /**
   * Small segments are merged automatically, synchronously on the writer's thread, while the merged
   * size is at most this (default 65536 rows ≈ 25 ms of build); larger merges are left to
   * `compactAsync()` so a serving thread never stalls on a big rebuild.
   */
  autoMergeRows?: number;
  /** Default search strategy (default 'auto'). */
  strategy?: SearchStrategy;
  /** MIH layout overrides for new segments (tables, bucket size); defaults are tuned for 1M–16M rows. */
  layout?: LayoutOptions;
}

export interface SearchOptions {
  strategy?: SearchStrategy;
}

/** Snapshot of the internal structure (for monitoring and the benchmark). */
export interface HammingIndexStats {
  size: number;
  segments: { rows: number; dead: number; layout: SegmentLayout }[];
  tailRows: number;
  tailDead: number;
  /** Bytes of all typed arrays and hash memories held (the off-heap footprint). */
  bytes: number;
  generation: number;
}

/**
 * What `toShared()` returns: plain data whose SharedArrayBuffers and shared WebAssembly memories are
 * shared (not copied) when posted to a worker thread.
 */
export interface HammingIndexHandle {
  format: 'vigil.hamming256.shared';
  version: 1;
  snapshot: number;
  generation: Int32Array;
  segments: SegmentData[];
  tail: TailData;
  strategy: SearchStrategy;
}

const FILE_KIND = 'vigil.hamming256';
const FILE_KIND_VERSION = 1;

interface Compaction {
  locked: Set<Segment>;
  removed: number[];
  promise: Promise<void>;
}

export class HammingIndex256 {
  private segments: Segment[] = [];
  private tail: Tail;
  /** id → tail row for live tail rows (writer only; shared views scan the tail instead). */
  private readonly tailIndex = new Map<number, number>();
  private readonly tailCapacity: number;
  private readonly autoMergeRows: number;
  private readonly layoutOpts: LayoutOptions;
  private readonly strategy: SearchStrategy;
  private readonly writable: boolean;
  private readonly gen: Int32Array;
  private snapshot: number;
  private liveCount = 0;
  private compaction: Compaction | undefined;

  /**
   * @example
   * const index = new HammingIndex256();
   * index.add(42, hash256FromHex('f162eb9d…'));
   * index.search(queryHash, 31); // [{ id: 42, distance: 3 }]
   */
  constructor(options: HammingIndexOptions = {}) {
    const tc = options.tailCapacity ?? 16384;
    if (!Number.isInteger(tc) || tc < 32 || tc > 1 << 22) throw invalidArgument('an integer in 32..4194304', 'tailCapacity', tc);
    const am = options.autoMergeRows ?? 65536;
    if (!Number.isInteger(am) || am < 0) throw invalidArgument('a non-negative integer', 'autoMergeRows', am);
    this.tailCapacity = tc;
    this.autoMergeRows = am;
    this.layoutOpts = { ...options.layout };
    this.strategy = checkStrategy(options.strategy ?? 'auto');
    this.writable = true;
    this.tail = Tail.create(tc);
    this.gen = new Int32Array(new SharedArrayBuffer(4));
    this.snapshot = 0;
  }

  /** Number of live (not removed) entries. */
  get size(): number {
    if (this.writable) return this.liveCount;
    let n = this.tail.live;
    for (const s of this.segments) n += s.live;
    return n;
  }

  /** False for views made by `fromShared` (search-only). */
  get isWritable(): boolean {
    return this.writable;
  }

  /** Bumped on every structural change (tail frozen, merge, compaction); see `isStale()`. */
  get generation(): number {
    return Atomics.load(this.gen, 0);
  }

  /** True when this shared view no longer sees rows the writer added since its `toShared()` snapshot. */
  isStale(): boolean {
    return Atomics.load(this.gen, 0) !== this.snapshot;
  }

  /**
   * Adds one hash under a uint32 id (ids are unique: an id that is already present throws
   * VIGIL_ERR_CONFLICT; remove it first to replace its hash).
   * @throws VigilError VIGIL_ERR_INVALID_ARGUMENT, VIGIL_ERR_CONFLICT
   */
  add(id: number, hash: Uint8Array): void {
    this.assertWritable();
    checkId(id);
    checkHash(hash, 'hash');
    if (this.has(id)) throw new VigilError('VIGIL_ERR_CONFLICT', `id ${id} is already in the index`);
    if (this.tail.full) this.freezeTail();
    this.tailIndex.set(id, this.tail.append(id, hashWords(hash)));
    this.liveCount++;
  }

  /**
   * Adds many hashes at once: `hashes` holds ids.length × 32 bytes. A batch that does not fit in the
   * tail is built straight into a segment (10M hashes in one call is the fast path for an initial load).
   * @throws VigilError VIGIL_ERR_INVALID_ARGUMENT, VIGIL_ERR_CONFLICT (nothing is added then)
   */
  addMany(ids: Uint32Array | readonly number[], hashes: Uint8Array): void {
    this.assertWritable();
    const n = ids.length;
    if (!(hashes instanceof Uint8Array) || hashes.length !== n * HASH_BYTES) {
      throw invalidArgument(`a Uint8Array of ${n} × 32 bytes`, 'hashes', hashes instanceof Uint8Array ? `${hashes.length} bytes` : typeof hashes);
    }
    const idArr = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      checkId(id, `ids[${i}]`);
      idArr[i] = id;
    }
    if (n === 0) return;
    // Conflicts with existing entries (within the batch they are caught by the segment build or below).
    if (this.liveCount > 0) {
      for (let i = 0; i < n; i++) if (this.has(idArr[i])) throw new VigilError('VIGIL_ERR_CONFLICT', `id ${idArr[i]} is already in the index`);
    }
    if (n <= this.tail.capacity - this.tail.rows) {
      const seen = new Set<number>();
      for (let i = 0; i < n; i++) {
        if (seen.has(idArr[i])) throw new VigilError('VIGIL_ERR_CONFLICT', `id ${idArr[i]} appears more than once in the batch`);
        seen.add(idArr[i]);
      }
      const words = new Uint32Array(8);
      for (let i = 0; i < n; i++) {
        if (this.tail.full) this.freezeTail();
        hashWords(hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES), words);
        this.tailIndex.set(idArr[i], this.tail.append(idArr[i], words));
        this.liveCount++;
      }
      return;
    }
    // A word view of the caller's bytes when aligned (the build only reads it), else one copy.
    let words: Uint32Array;
    if (hashes.byteOffset % 4 === 0) words = new Uint32Array(hashes.buffer, hashes.byteOffset, n * 8);
    else {
      words = new Uint32Array(n * 8);
      new Uint8Array(words.buffer).set(hashes);
    }
    const built = buildChunks(words, idArr, this.layoutOpts);
    for (const d of built) this.segments.push(new Segment(d));
    this.liveCount += n;
    this.bump();
    this.maybeMerge();
  }

  /** Removes an id (tombstone). Returns false if it was not present. */
  remove(id: number): boolean {
    this.assertWritable();
    checkId(id);
    const tr = this.tailIndex.get(id);
    if (tr !== undefined) {
      this.tail.kill(tr);
      this.tailIndex.delete(id);
      this.liveCount--;
      return true;
    }
    for (const s of this.segments) {
      const row = s.findLive(id);
      if (row >= 0 && s.kill(row)) {
        this.liveCount--;
        if (this.compaction?.locked.has(s)) this.compaction.removed.push(id);
        return true;
      }
    }
    return false;
  }

  /** Whether `id` is present (live). */
  has(id: number): boolean {
    checkId(id);
    if (this.writable ? this.tailIndex.has(id) : this.tail.findLive(id) >= 0) return true;
    for (const s of this.segments) if (s.findLive(id) >= 0) return true;
    return false;
  }

  /** The hash stored under `id`, or undefined. */
  get(id: number): Uint8Array | undefined {
    checkId(id);
    const tr = this.writable ? (this.tailIndex.get(id) ?? -1) : this.tail.findLive(id);
    if (tr >= 0) return copyRow(this.tail.hashes, tr);
    for (const s of this.segments) {
      const row = s.findLive(id);
      if (row >= 0) return copyRow(s.hashes, row);
    }
    return undefined;
  }

  /**
   * Every live entry within Hamming distance `radius` (0..256) of `hash`, sorted by distance then id.
   * Exact: the same set a brute-force scan returns, for any radius.
   * @throws VigilError VIGIL_ERR_INVALID_ARGUMENT
   */
  search(hash: Uint8Array, radius: number, options: SearchOptions = {}): HammingMatch[] {
    checkHash(hash, 'hash');
    checkRadius(radius);
    const strategy = this.resolveStrategy(options.strategy, radius);
    const q = hashWords(hash);
    const out: HammingMatch[] = [];
    for (const seg of this.segments) {
      const ids = seg.ids;
      const s = strategy === 'auto' ? seg.choose(radius, 1) : strategy;
      const sink = (row: number, distance: number): void => {
        out.push({ id: ids[row], distance });
      };
      if (s === 'mih') seg.searchMih(q, radius, 0, sink);
      else seg.searchFlat(q, radius, 0, sink);
    }
    const tids = this.tail.ids;
    this.tail.searchFlat(q, radius, 0, (row, distance) => out.push({ id: tids[row], distance }));
    return out.sort(byDistanceThenId);
  }

  /**
   * Searches up to 8 variants of one image (PDQ dihedral hashes: original, rot90, rot180, rot270,
   * flipX, flipY, flipPlus1, flipMinus1) in one call and returns each matching id once, with its best
   * variant (smallest distance, then lowest variant index). Cheaper than 8 `search` calls: flat-scanned
   * segments are read once for all variants, and results are merged without intermediate arrays.
   * @throws VigilError VIGIL_ERR_INVALID_ARGUMENT
   */
  searchDihedral(hashes: readonly Uint8Array[], radius: number, options: SearchOptions = {}): DihedralMatch[] {
    if (!Array.isArray(hashes) || hashes.length < 1 || hashes.length > 8) {
      throw invalidArgument('an array of 1..8 hashes', 'hashes', Array.isArray(hashes) ? `${hashes.length} hashes` : typeof hashes);
    }
    hashes.forEach((h, i) => checkHash(h, `hashes[${i}]`));
    checkRadius(radius);
    const strategy = this.resolveStrategy(options.strategy, radius);
    const qs = hashes.map((h) => hashWords(h));
    const v = qs.length;
    const best = new Map<number, DihedralMatch>();
    const offer = (id: number, distance: number, variant: number): void => {
      const b = best.get(id);
      if (b === undefined) best.set(id, { id, distance, variant });
      else if (distance < b.distance || (distance === b.distance && variant < b.variant)) {
        b.distance = distance;
        b.variant = variant;
      }
    };
    for (const seg of this.segments) {
      const ids = seg.ids;
      const sink = (row: number, d: number, variant: number): void => offer(ids[row], d, variant);
      const s = strategy === 'auto' ? seg.choose(radius, v) : strategy;
      if (s === 'mih') for (let i = 0; i < v; i++) seg.searchMih(qs[i], radius, i, sink);
      else if (v === 1) seg.searchFlat(qs[0], radius, 0, sink);
      else seg.searchFlat8(qs, radius, sink);
    }
    const tids = this.tail.ids;
    const tsink = (row: number, d: number, variant: number): void => offer(tids[row], d, variant);
    if (v === 1) this.tail.searchFlat(qs[0], radius, 0, tsink);
    else this.tail.searchFlat8(qs, radius, tsink);
    return [...best.values()].sort(byDistanceThenId);
  }

  /** The strategy `search` uses in each segment at this radius (diagnostics; the tail is always flat). */
  strategyFor(radius: number, variants = 1): ('mih' | 'flat')[] {
    checkRadius(radius);
    return this.segments.map((s) => (this.strategy === 'auto' ? s.choose(radius, variants) : this.strategy === 'mih' && radius > MAX_MIH_RADIUS ? 'flat' : this.strategy));
  }

  /**
   * Merges every segment and the tail into fresh segments without removed rows, synchronously (the
   * calling thread waits; worker-thread readers holding a shared snapshot keep querying the old arrays).
   * Prefer `compactAsync()` on a serving thread.
   * @throws VigilError VIGIL_ERR_CONFLICT while a background compaction runs
   */
  compact(): void {
    this.assertWritable();
    if (this.compaction) throw new VigilError('VIGIL_ERR_CONFLICT', 'a background compaction is running; await compactAsync() instead');
    const sources = [...this.segments, this.tail];
    const { hashes, ids } = gatherLive(sources);
    this.segments = ids.length === 0 ? [] : buildChunks(hashes, ids, this.layoutOpts).map((d) => new Segment(d));
    this.tail = Tail.create(this.tailCapacity);
    this.tailIndex.clear();
    this.bump();
  }

  /**
   * Compacts in a worker thread: segments are merged (removed rows dropped) off the calling thread
   * while searches, adds and removes go on; the result is swapped in when ready and removals made
   * meanwhile are re-applied. Resolves when swapped in; calling it again while one runs returns the
   * same promise. Falls back to an in-thread build if a worker cannot be started.
   *
   * By default the largest segment is left out when under 10 % of it is removed and the other
   * segments hold less than half as many rows (absorbing 50k new hashes must not rewrite 10M);
   * `{ full: true }` merges everything.
   */
  compactAsync(options: { full?: boolean } = {}): Promise<void> {
    this.assertWritable();
    if (this.compaction) return this.compaction.promise;
    if (this.tail.rows > 0) this.freezeTail(false);
    let inputs = [...this.segments];
    if (!options.full && inputs.length > 1) {
      const big = inputs.reduce((a, b) => (b.rows > a.rows ? b : a));
      const rest = inputs.filter((s) => s !== big);
      const restLive = rest.reduce((n, s) => n + s.live, 0);
      if (big.dead < 0.1 * big.rows && restLive < big.live / 2) inputs = rest;
    }
    if (inputs.length === 0 || (inputs.length === 1 && inputs[0].dead === 0)) return Promise.resolve();
    const c: Compaction = { locked: new Set(inputs), removed: [], promise: Promise.resolve() };
    this.compaction = c;
    c.promise = runCompactionWorker(
      inputs.map((s) => s.data),
      this.layoutOpts,
    )
      .catch(() => {
        const { hashes, ids } = gatherLive(inputs);
        return ids.length === 0 ? [] : buildChunks(hashes, ids, this.layoutOpts);
      })
      .then((built) => {
        const fresh = built.map((d) => new Segment(d));
        for (const id of c.removed) {
          for (const s of fresh) {
            const row = s.findLive(id);
            if (row >= 0) s.kill(row);
          }
        }
        this.segments = [...fresh, ...this.segments.filter((s) => !c.locked.has(s))];
        this.bump();
      })
      .finally(() => {
        this.compaction = undefined;
      });
    return c.promise;
  }

  /**
   * True when removed rows (> 20 %) or many segments (> 6) make a compaction worthwhile; the owner
   * (e.g. a hash bank after applying a batch of list updates) then calls `compactAsync()`.
   */
  get needsCompaction(): boolean {
    let rows = this.tail.rows;
    let dead = this.tail.dead;
    for (const s of this.segments) {
      rows += s.rows;
      dead += s.dead;
    }
    return this.segments.length > 6 || (rows > 0 && dead / rows > 0.2);
  }

  stats(): HammingIndexStats {
    let bytes = this.tail.data.memory.buffer.byteLength + this.tail.ids.byteLength + this.tail.data.tomb.byteLength;
    for (const s of this.segments) {
      const d = s.data;
      bytes += d.memory.buffer.byteLength + d.ids.byteLength + d.offsets.byteLength + d.entries.byteLength + d.tomb.byteLength;
    }
    return {
      size: this.size,
      segments: this.segments.map((s) => ({ rows: s.rows, dead: s.dead, layout: { ...s.layout } })),
      tailRows: this.tail.rows,
      tailDead: this.tail.dead,
      bytes,
      generation: this.generation,
    };
  }

  /**
   * A handle to post to worker threads (`worker.postMessage(handle)`); `fromShared(handle)` there gives
   * a search-only view over the same memory. Removals of rows in shared segments are visible to views
   * at once; rows added after the snapshot are not once the tail is frozen (`view.isStale()` turns
   * true): post a fresh handle then.
   */
  toShared(): HammingIndexHandle {
    return {
      format: 'vigil.hamming256.shared',
      version: 1,
      snapshot: this.generation,
      generation: this.gen,
      segments: this.segments.map((s) => s.data),
      tail: this.tail.data,
      strategy: this.strategy,
    };
  }

  /** A search-only view over a handle from `toShared()` (typically in a worker thread). */
  static fromShared(handle: HammingIndexHandle): HammingIndex256 {
    if (handle === null || typeof handle !== 'object' || handle.format !== 'vigil.hamming256.shared' || handle.version !== 1) {
      throw invalidArgument('a handle from HammingIndex256#toShared()', 'handle', handle === null ? 'null' : typeof handle);
    }
    const view = Object.create(HammingIndex256.prototype) as HammingIndex256;
    const fields = view as unknown as Record<string, unknown>;
    fields.segments = handle.segments.map((d) => new Segment(d));
    fields.tail = new Tail(handle.tail);
    fields.tailIndex = new Map();
    fields.tailCapacity = handle.tail.capacity;
    fields.autoMergeRows = 0;
    fields.layoutOpts = {};
    fields.strategy = handle.strategy;
    fields.writable = false;
    fields.gen = handle.generation;
    fields.snapshot = handle.snapshot;
    fields.liveCount = 0;
    fields.compaction = undefined;
    return view;
  }

  /**
   * Writes the index to one file (versioned header, CRC-32 per section; written to a temporary file
   * and renamed, so readers of `path` never see a partial file). Removed rows are kept as tombstones;
   * call `compact()` first for the smallest file.
   */
  save(path: string): void {
    if (typeof path !== 'string' || path.length === 0) throw invalidArgument('a file path', 'path', path);
    const sections: { name: string; data: ArrayBufferView }[] = [];
    const segs = this.segments.map((s, i) => {
      const d = s.data;
      sections.push(
        { name: `s${i}.hashes`, data: new Uint8Array(d.memory.buffer, 0, d.rows * HASH_BYTES) },
        { name: `s${i}.ids`, data: d.ids },
        { name: `s${i}.offsets`, data: d.offsets },
        { name: `s${i}.entries`, data: d.entries },
        { name: `s${i}.tomb`, data: d.tomb },
      );
      return { rows: d.rows, layout: d.layout };
    });
    const tn = this.tail.rows;
    sections.push(
      { name: 'tail.hashes', data: new Uint8Array(this.tail.data.memory.buffer, 0, tn * HASH_BYTES) },
      { name: 'tail.ids', data: this.tail.ids.subarray(0, tn) },
      { name: 'tail.tomb', data: this.tail.data.tomb },
    );
    writeIndexFile(path, FILE_KIND, FILE_KIND_VERSION, { segments: segs, tail: { rows: tn, capacity: this.tail.capacity } }, sections);
  }

  /**
   * Loads a file written by `save` (one sequential read into shared memory; no rebuild).
   * @throws VigilError VIGIL_ERR_INDEX_CORRUPT when the file is truncated, corrupt or of an unknown
   *   version (rebuild from the store), VIGIL_ERR_UNREADABLE when it cannot be opened.
   */
  static load(path: string, options: HammingIndexOptions = {}): HammingIndex256 {
    const f: IndexFileReader = IndexFileReader.open(path, FILE_KIND, [FILE_KIND_VERSION]);
    try {
      const meta = f.meta as { segments?: unknown; tail?: { rows?: unknown; capacity?: unknown } };
      if (!meta || !Array.isArray(meta.segments) || typeof meta.tail !== 'object' || meta.tail === null) f.corrupt('the header metadata is malformed');
      const index = new HammingIndex256(options);
      let live = 0;
      meta.segments.forEach((raw: unknown, i: number) => {
        const d = readSegment(f, i, raw);
        const seg = new Segment(d);
        live += seg.live;
        index.segments.push(seg);
      });
      const tn = meta.tail.rows;
      if (!Number.isSafeInteger(tn) || (tn as number) < 0 || (tn as number) > 1 << 22) f.corrupt('the tail row count is invalid');
      const rows = tn as number;
      const cap = Math.max(index.tailCapacity, rows);
      const tail = Tail.create(cap);
      f.read('tail.hashes', new Uint8Array(tail.data.memory.buffer, 0, rows * HASH_BYTES));
      f.read('tail.ids', tail.ids.subarray(0, rows));
      const tomb = new Int32Array(f.size('tail.tomb') / 4);
      if (tomb.length * 32 < rows) f.corrupt('the tail tombstones are too short');
      f.read('tail.tomb', tomb);
      // Publish the rows, then replay the tombstones through kill() so the removed count is consistent.
      Atomics.store(tail.data.meta, 0, rows);
      for (let r = 0; r < rows; r++) {
        if ((tomb[r >>> 5] >>> (r & 31)) & 1) tail.kill(r);
        else {
          const id = tail.ids[r];
          if (index.tailIndex.has(id)) f.corrupt(`id ${id} is live twice in the tail`);
          index.tailIndex.set(id, r);
          live++;
        }
      }
      index.tail = tail;
      index.liveCount = live;
      return index;
    } finally {
      f.close();
    }
  }

  // ---- internals ----

  private assertWritable(): void {
    if (!this.writable) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a writable index but this is a read-only shared view (fromShared)');
  }

  private resolveStrategy(requested: SearchStrategy | undefined, radius: number): SearchStrategy {
    const s = checkStrategy(requested ?? this.strategy);
    if (s === 'mih' && radius > MAX_MIH_RADIUS) {
      throw invalidArgument(`a radius ≤ ${MAX_MIH_RADIUS} for the mih strategy`, 'radius', radius);
    }
    return s;
  }

  private bump(): void {
    Atomics.add(this.gen, 0, 1);
  }

  private freezeTail(merge = true): void {
    const t = this.tail;
    this.tail = Tail.create(this.tailCapacity);
    this.tailIndex.clear();
    if (t.live > 0) {
      const { hashes, ids } = gatherLive([t]);
      this.segments.push(new Segment(buildSegment(hashes, ids, this.layoutOpts)));
    }
    this.bump();
    if (merge) this.maybeMerge();
  }

  /** Size-tiered merging of the newest segments while they are small and of similar size. */
  private maybeMerge(): void {
    for (;;) {
      const n = this.segments.length;
      if (n < 2) return;
      const a = this.segments[n - 2];
      const b = this.segments[n - 1];
      if (this.compaction && (this.compaction.locked.has(a) || this.compaction.locked.has(b))) return;
      const total = a.live + b.live;
      if (total > this.autoMergeRows || a.live > 2 * b.live || total > MAX_SEGMENT_ROWS) return;
      const { hashes, ids } = gatherLive([a, b]);
      this.segments.splice(n - 2, 2);
      if (ids.length > 0) this.segments.push(new Segment(buildSegment(hashes, ids, this.layoutOpts)));
      this.bump();
    }
  }
}

function buildChunks(hashes: Uint32Array, ids: Uint32Array, layout: LayoutOptions): SegmentData[] {
  const n = ids.length;
  if (n <= MAX_SEGMENT_ROWS) return [buildSegment(hashes, ids, layout)];
  // Above 2^24 rows (the entry row field) split into even chunks; ids must still be unique across them.
  const seen = new Uint32Array(ids);
  seen.sort();
  for (let i = 1; i < n; i++) if (seen[i] === seen[i - 1]) throw new VigilError('VIGIL_ERR_CONFLICT', `id ${seen[i]} appears more than once in the index`);
  const parts = Math.ceil(n / MAX_SEGMENT_ROWS);
  const size = Math.ceil(n / parts);
  const out: SegmentData[] = [];
  for (let s = 0; s < n; s += size) {
    const e = Math.min(n, s + size);
    out.push(buildSegment(hashes.subarray(s * 8, e * 8), ids.subarray(s, e), layout));
  }
  return out;
}

function readSegment(f: IndexFileReader, i: number, raw: unknown): SegmentData {
  const m = raw as { rows?: unknown; layout?: Partial<SegmentLayout> };
  const rows = m?.rows;
  const l = m?.layout;
  if (!Number.isSafeInteger(rows) || (rows as number) < 1 || (rows as number) > MAX_SEGMENT_ROWS || !l) f.corrupt(`segment ${i} metadata is malformed`);
  const n = rows as number;
  const { tables, subBits, keyBits, resBits } = l as SegmentLayout;
  const ints = [tables, subBits, keyBits, resBits].every((x) => Number.isInteger(x));
  if (!ints || tables < 2 || tables > 32 || subBits < 1 || tables * subBits > 256 || subBits > 32 || keyBits < 1 || keyBits > 24 || keyBits > subBits || resBits < 0 || resBits > 8 || keyBits + resBits > subBits) {
    f.corrupt(`segment ${i} has an impossible layout`);
  }
  const layout: SegmentLayout = { tables, subBits, keyBits, resBits };
  const stride = 2 ** keyBits + 1;
  const memory = createHashMemory(n);
  const ids = new Uint32Array(new SharedArrayBuffer(n * 4));
  const offsets = new Uint32Array(new SharedArrayBuffer(tables * stride * 4));
  const entries = new Uint32Array(new SharedArrayBuffer(tables * n * 4));
  const tomb = new Int32Array(new SharedArrayBuffer(Math.max(4, ((n + 31) >>> 5) * 4)), 0, (n + 31) >>> 5);
  f.read(`s${i}.hashes`, new Uint8Array(memory.buffer, 0, n * HASH_BYTES));
  f.read(`s${i}.ids`, ids);
  f.read(`s${i}.offsets`, offsets);
  f.read(`s${i}.entries`, entries);
  f.read(`s${i}.tomb`, tomb);
  // Structural checks the CRC cannot give (a consistent but wrong file must not make reads stray).
  for (let r = 1; r < n; r++) if (ids[r] <= ids[r - 1]) f.corrupt(`segment ${i} ids are not strictly ascending`);
  for (let j = 0; j < tables; j++) {
    const b = j * stride;
    if (offsets[b] !== j * n || offsets[b + stride - 1] !== (j + 1) * n) f.corrupt(`segment ${i} table ${j} offsets do not cover its entries`);
    for (let k = b + 1; k < b + stride; k++) if (offsets[k] < offsets[k - 1]) f.corrupt(`segment ${i} table ${j} offsets decrease`);
  }
  let dead = 0;
  for (let r = 0; r < n; r++) dead += (tomb[r >>> 5] >>> (r & 31)) & 1;
  const stats = new Int32Array(new SharedArrayBuffer(4));
  stats[0] = dead;
  return { rows: n, layout, memory, ids, offsets, entries, tomb, stats };
}

function copyRow(h: Uint32Array, row: number): Uint8Array {
  const out = new Uint8Array(HASH_BYTES);
  out.set(new Uint8Array(h.buffer, h.byteOffset + row * HASH_BYTES, HASH_BYTES));
  return out;
}

function checkRadius(radius: unknown): asserts radius is number {
  if (typeof radius !== 'number' || !Number.isInteger(radius) || radius < 0 || radius > 256) {
    throw invalidArgument('an integer radius in 0..256', 'radius', radius);
  }
}

function checkStrategy(s: unknown): SearchStrategy {
  if (s !== 'auto' && s !== 'mih' && s !== 'flat') throw invalidArgument("'auto', 'mih' or 'flat'", 'strategy', s);
  return s;
}

function byDistanceThenId(a: HammingMatch, b: HammingMatch): number {
  return a.distance - b.distance || a.id - b.id;
}
