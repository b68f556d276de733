/**
 * Immutable multi-index-hashing segments and the append-only tail (internal to hamming-index.ts).
 *
 * Why hand-written: no npm package does exact Hamming range search with multi-index hashing over
 * off-heap, thread-shareable memory (FAISS is native Python/C++; the JS ANN libraries are approximate
 * and keep JS objects per vector). This file is the whole algorithm.
 *
 * Segment layout (all SharedArrayBuffer-backed, so worker threads share one copy):
 *   hashes   WebAssembly shared memory, row i = 32 bytes at 32·i (rows sorted by id)
 *   ids      Uint32Array[rows], ascending and unique (binary search for has/remove)
 *   offsets  Uint32Array[tables·(2^keyBits + 1)], CSR bucket starts, absolute into `entries`
 *   entries  Uint32Array[tables·rows]: row (low 24 bits) | residual substring bits (high 8 bits)
 *   tomb     Int32Array bitmap of removed rows; stats[0] = removed count
 *
 * Multi-index hashing (Norouzi, Punjani & Fleet, "Fast exact search in Hamming space with multi-index
 * hashing", arXiv 1307.2982): the 256 bits are cut into `tables` disjoint substrings of `subBits` bits.
 * If every probed table j is searched to substring radius p_j and Σ(p_j + 1) > r, any hash within r of
 * the query is within p_j of it in at least one table (pigeonhole), so the union of probed buckets is a
 * complete candidate set and a full-distance check makes it exact. Buckets are keyed on the low
 * `keyBits` of a substring (sized to the segment, ~4 rows per bucket); up to 8 more substring bits are
 * kept in the entry and filter candidates before their 32-byte hash is touched (the random hash read is
 * the dominant cost at 10M rows).
 */
import { VigilError } from '../core/errors.js';
import { POP8, ballSize, binarySearch, binom, distanceAt, field, forEachKeyWithin, sortIndicesByKey } from './_bits.js';
import { createHashMemory, scannerFor, type HashMemory, type Scanner } from './_wasm-scan.js';

export const MAX_SEGMENT_ROWS = 1 << 24;

// Hot-loop helpers are module-local: transpilers (tsx/esbuild) may compile imported bindings to
// getter calls, which cost more than the popcount itself.
const P8: Uint8Array = POP8;
const fieldOf = field;
const keysWithin = forEachKeyWithin;
const ball = ballSize;
function pop32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export interface SegmentLayout {
  /** Number of hash tables (disjoint substrings). */
  tables: number;
  /** Bits per substring (tables · subBits ≤ 256). */
  subBits: number;
  /** Bucket key bits (low bits of the substring). */
  keyBits: number;
  /** Residual substring bits kept in each entry (≤ 8, ≤ subBits − keyBits). */
  resBits: number;
}

/** Tuning knobs for new segments (defaults chosen from bench/index.ts measurements). */
export interface LayoutOptions {
  tables?: number;
  /** Bucket key bits = round(log2(rows)) − keyBitsBelowLog2 (clamped), i.e. ~2^this rows per bucket (default 2). */
  keyBitsBelowLog2?: number;
}

export function chooseLayout(rows: number, opts: LayoutOptions = {}): SegmentLayout {
  const lg = Math.log2(Math.max(rows, 2));
  // The MIH paper suggests tables ≈ bits / log2(n) (11 at 10M). Measured here (bench/index.ts, r = 31):
  // 16 tables of 16 bits are fastest up to ~500k rows, 11 tables of 23 bits from ~1M rows on
  // (1M: 0.145 vs 0.165 ms; 2M: 0.19 vs 0.35 ms), and 11 tables also take 18 % less memory.
  const tables = opts.tables ?? (lg < 19.5 ? 16 : 11);
  if (!Number.isInteger(tables) || tables < 2 || tables > 32) throw new RangeError(`tables must be 2..32, got ${tables}`);
  const subBits = Math.min(32, Math.floor(256 / tables));
  // ~4 rows per bucket. At 10M: 21-bit keys, 89.4 B/hash; keyBitsBelowLog2 = 3 gives 20-bit keys,
  // 84.8 B/hash, and 9–12 % slower queries on clustered data (p50 0.44 vs 0.40 ms, p99 1.1 vs 1.0 ms).
  const below = opts.keyBitsBelowLog2 ?? 2;
  const keyBits = Math.max(1, Math.min(subBits, 24, Math.round(lg) - below));
  const resBits = Math.min(8, subBits - keyBits);
  return { tables, subBits, keyBits, resBits };
}

/** Structured-cloneable description of a segment (postMessage shares the memory, no copy). */
export interface SegmentData {
  rows: number;
  layout: SegmentLayout;
  memory: HashMemory;
  ids: Uint32Array;
  offsets: Uint32Array;
  entries: Uint32Array;
  tomb: Int32Array;
  stats: Int32Array;
}

function sharedU32(n: number): Uint32Array {
  return new Uint32Array(new SharedArrayBuffer(Math.max(4, n * 4)), 0, n);
}
function sharedI32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Math.max(4, n * 4)), 0, n);
}

/** Receives search hits: row of the segment/tail, distance, variant index. */
export type HitSink = (row: number, distance: number, variant: number) => void;

/** Common read side of segments and the tail. */
export interface RowSource {
  readonly rows: number;
  readonly hashes: Uint32Array;
  readonly ids: Uint32Array;
  isDead(row: number): boolean;
}

export class Segment implements RowSource {
  readonly data: SegmentData;
  readonly rows: number;
  readonly layout: SegmentLayout;
  readonly hashes: Uint32Array;
  readonly ids: Uint32Array;
  readonly offsets: Uint32Array;
  readonly entries: Uint32Array;
  readonly tomb: Int32Array;
  readonly stats: Int32Array;
  private scanner: Scanner | undefined;
  private readonly planCache = new Map<number, Int8Array>();
  private readonly strategyCache = new Map<number, 'mih' | 'flat'>();

  constructor(data: SegmentData) {
    this.data = data;
    this.rows = data.rows;
    this.layout = data.layout;
    this.hashes = new Uint32Array(data.memory.buffer, 0, data.rows * 8);
    this.ids = data.ids;
    this.offsets = data.offsets;
    this.entries = data.entries;
    this.tomb = data.tomb;
    this.stats = data.stats;
  }

  get dead(): number {
    return Atomics.load(this.stats, 0);
  }

  get live(): number {
    return this.rows - this.dead;
  }

  isDead(row: number): boolean {
    return ((Atomics.load(this.tomb, row >>> 5) >>> (row & 31)) & 1) === 1;
  }

  /** Marks a row removed; false if it already was. */
  kill(row: number): boolean {
    const bit = 1 << (row & 31);
    const old = Atomics.or(this.tomb, row >>> 5, bit);
    if ((old & bit) !== 0) return false;
    Atomics.add(this.stats, 0, 1);
    return true;
  }

  /** Row of a live id, or -1. */
  findLive(id: number): number {
    const row = binarySearch(this.ids, this.rows, id);
    return row >= 0 && !this.isDead(row) ? row : -1;
  }

  /** Per-table probe radii for query radius r: Σ(p_j + 1) = r + 1 spread evenly; −1 = table not probed. */
  plan(r: number): Int8Array {
    let p = this.planCache.get(r);
    if (p === undefined) {
      const m = this.layout.tables;
      const total = r + 1;
      p = new Int8Array(m);
      for (let j = 0; j < m; j++) p[j] = Math.floor(total / m) + (j < total % m ? 1 : 0) - 1;
      this.planCache.set(r, p);
    }
    return p;
  }

  /** Estimated cost (ns) of an MIH query at radius r for one variant (model in docs/matching.md). */
  mihCost(r: number): number {
    const { keyBits: k, resBits: res } = this.layout;
    const plan = this.plan(r);
    const perBucket = this.rows / 2 ** k;
    let probes = 0;
    let verified = 0;
    for (let j = 0; j < plan.length; j++) {
      const p = plan[j];
      if (p < 0) continue;
      probes += ballSize(k, p);
      for (let d = 0; d <= Math.min(p, k); d++) verified += binom(k, d) * ballSize(res, p - d);
    }
    verified *= this.rows / 2 ** (k + res);
    return COST.probe * probes + COST.entry * probes * perBucket + COST.verify * verified;
  }

  flatCost(variants: number): number {
    return this.rows * (variants === 1 ? COST.flat1 : COST.flat8);
  }

  /** Strategy for radius r (cached per segment). */
  choose(r: number, variants: number): 'mih' | 'flat' {
    if (r > MAX_MIH_RADIUS) return 'flat';
    const key = r * 16 + variants;
    let s = this.strategyCache.get(key);
    if (s === undefined) {
      s = this.mihCost(r) * variants <= this.flatCost(variants) ? 'mih' : 'flat';
      this.strategyCache.set(key, s);
    }
    return s;
  }

  /**
   * Exact range search with multi-index hashing; every live row within r of q goes to `sink` once.
   *
   * Passes over scratch arrays instead of one nested loop: probe keys, bucket bounds, entry scan,
   * verification, with a bare "touch" load pass before the scan and before the verification. Each pass
   * issues independent loads, so the CPU overlaps the cache misses (offsets, buckets and hashes are
   * random DRAM reads at 10M rows) instead of waiting on each in turn: ~2× faster than a nested loop,
   * whose ~60 instructions per candidate fill the reorder window after a few outstanding misses.
   * (Running the 8 dihedral variants through shared passes, sorted or not, measured slower than 8
   * separate calls: their probes and candidates are disjoint, so nothing is saved, and the scratch
   * arrays outgrow L1/L2.)
   */
  searchMih(q: Uint32Array, r: number, variant: number, sink: HitSink): void {
    const { tables: m, subBits: w, keyBits: k, resBits: res } = this.layout;
    const plan = this.plan(r);
    const H = this.hashes;
    const E = this.entries;
    const O = this.offsets;
    const stride = 2 ** k + 1;
    const kmask = 2 ** k - 1;
    // Pass 1: probe list (absolute offset index; info = residual budget << 8 | query residual).
    let need = 0;
    for (let j = 0; j < m; j++) if (plan[j] >= 0) need += ball(k, plan[j]);
    if (need > S.probe.length) growProbes(need);
    const probe = S.probe;
    const info = S.info;
    let np = 0;
    let p = 0;
    let qres = 0;
    let obase = 0;
    const visit = (key: number, d: number): void => {
      probe[np] = obase + key;
      info[np] = ((p - d) << 8) | qres;
      np++;
    };
    for (let j = 0; j < m; j++) {
      p = plan[j];
      if (p < 0) continue;
      const f = fieldOf(q, 0, j * w, k + res);
      qres = res === 0 ? 0 : f >>> k;
      obase = j * stride;
      keysWithin((f & kmask) >>> 0, k, p, visit);
    }
    // Pass 2: bucket bounds, then touch each bucket's first line.
    const lo = S.lo;
    const hi = S.hi;
    let total = 0;
    for (let i = 0; i < np; i++) {
      const o = probe[i];
      const a = O[o];
      const b = O[o + 1];
      lo[i] = a;
      hi[i] = b;
      total += b - a;
    }
    let acc = 0;
    for (let i = 0; i < np; i++) if (lo[i] < hi[i]) acc ^= E[lo[i]];
    // Pass 3: scan buckets, residual filter → candidate rows.
    if (total > S.cand.length) growCandidates(total);
    const cand = S.cand;
    let nc = 0;
    for (let i = 0; i < np; i++) {
      const end = hi[i];
      const budget = info[i] >> 8;
      if (budget >= res) {
        for (let x = lo[i]; x < end; x++) cand[nc++] = E[x] & 0xffffff;
      } else {
        const qres = info[i] & 0xff;
        for (let x = lo[i]; x < end; x++) {
          const e = E[x];
          if (P8[(e >>> 24) ^ qres] <= budget) cand[nc++] = e & 0xffffff;
        }
      }
    }
    // Pass 4: touch every candidate's hash line, then verify against the full hash.
    for (let i = 0; i < nc; i++) acc ^= H[cand[i] << 3];
    S.sink = acc;
    // A row close to the query shows up in several tables (on clustered lists whole clusters do):
    // report it once, via a per-thread row bitset cleared afterwards. Repeat verifications of the
    // same row hit the cache, and deduping every candidate up front measured 7 % slower at 10M.
    const words = (this.rows + 31) >>> 5;
    if (S.seen.length < words) S.seen = new Int32Array(words);
    const seen = S.seen;
    let hits: Int32Array = S.hits;
    let nh = 0;
    const q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3], q4 = q[4], q5 = q[5], q6 = q[6], q7 = q[7];
    for (let i = 0; i < nc; i++) {
      const row = cand[i];
      const b = row << 3;
      let dist = pop32(H[b] ^ q0) + pop32(H[b + 1] ^ q1) + pop32(H[b + 2] ^ q2) + pop32(H[b + 3] ^ q3);
      if (dist > r) continue;
      dist += pop32(H[b + 4] ^ q4) + pop32(H[b + 5] ^ q5) + pop32(H[b + 6] ^ q6) + pop32(H[b + 7] ^ q7);
      if (dist > r) continue;
      const wi = row >>> 5;
      const bit = 1 << (row & 31);
      if ((seen[wi] & bit) !== 0) continue;
      seen[wi] |= bit;
      if (nh === hits.length) hits = S.hits = growHits(hits, nh);
      hits[nh++] = row;
      if (!this.isDead(row)) sink(row, dist, variant);
    }
    for (let i = 0; i < nh; i++) seen[hits[i] >>> 5] = 0;
  }

  searchFlat(q: Uint32Array, r: number, variant: number, sink: HitSink): void {
    flatScan(this, (this.scanner ??= scannerFor(this.data.memory)), q, r, variant, sink);
  }

  searchFlat8(qs: Uint32Array[], r: number, sink: HitSink): void {
    flatScan8(this, (this.scanner ??= scannerFor(this.data.memory)), qs, r, sink);
  }
}

/** Per-thread scratch for searchMih (grown on demand, never shrunk). */
const S = { probe: new Int32Array(4096), info: new Int32Array(4096), lo: new Uint32Array(4096), hi: new Uint32Array(4096), cand: new Int32Array(1 << 16), seen: new Int32Array(0), hits: new Int32Array(1024), sink: 0 };

function growProbes(n: number): void {
  const size = Math.max(n, S.probe.length * 2);
  S.probe = new Int32Array(size);
  S.info = new Int32Array(size);
  S.lo = new Uint32Array(size);
  S.hi = new Uint32Array(size);
}

function growHits(hits: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(hits.length * 2);
  out.set(hits.subarray(0, n));
  return out;
}

function growCandidates(n: number): void {
  S.cand = new Int32Array(Math.max(n, S.cand.length * 2));
}

/** Highest radius MIH is used for (beyond it the flat scan always wins; also bounds probe enumeration). */
export const MAX_MIH_RADIUS = 64;

/**
 * Cost-model constants in ns, measured on the bench machine (bench/index.ts prints the crossover they
 * imply next to the measured one). Only their ratios matter for the MIH/flat choice.
 */
export const COST = { probe: 40, entry: 4, verify: 100, flat1: 2.8, flat8: 16 };

function flatScan(src: RowSource, scanner: Scanner, q: Uint32Array, r: number, variant: number, sink: HitSink): void {
  const n = src.rows;
  const H = src.hashes;
  let start = 0;
  while (start < n) {
    const row = scanner.scan1(start, n, r, q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]);
    if (row >= n) break;
    if (!src.isDead(row)) sink(row, distanceAt(H, row << 3, q), variant);
    start = row + 1;
  }
}

function flatScan8(src: RowSource, scanner: Scanner, qs: Uint32Array[], r: number, sink: HitSink): void {
  const n = src.rows;
  const H = src.hashes;
  const args = new Array<number>(64);
  for (let v = 0; v < 8; v++) {
    const q = qs[v < qs.length ? v : 0];
    for (let i = 0; i < 8; i++) args[v * 8 + i] = q[i];
  }
  let start = 0;
  while (start < n) {
    const row = scanner.scan8(start, n, r, ...args);
    if (row >= n) break;
    if (!src.isDead(row)) {
      for (let v = 0; v < qs.length; v++) {
        const d = distanceAt(H, row << 3, qs[v]);
        if (d <= r) sink(row, d, v);
      }
    }
    start = row + 1;
  }
}

/**
 * Builds a segment from rows in any order (hashes: n·8 words, ids: n). Rows are laid out by id; a
 * repeated id throws VIGIL_ERR_CONFLICT.
 */
export function buildSegment(hashes: Uint32Array, ids: Uint32Array, layoutOpts: LayoutOptions = {}): SegmentData {
  const n = ids.length;
  if (n === 0 || n > MAX_SEGMENT_ROWS) throw new RangeError(`segment rows must be 1..${MAX_SEGMENT_ROWS}, got ${n}`);
  if (hashes.length !== n * 8) throw new RangeError('hashes must hold 8 words per id');
  const layout = chooseLayout(n, layoutOpts);
  const perm = sortIndicesByKey(ids);
  const memory = createHashMemory(n);
  const H = new Uint32Array(memory.buffer, 0, n * 8);
  const sortedIds = sharedU32(n);
  for (let i = 0; i < n; i++) {
    const src = perm[i];
    const id = ids[src];
    if (i > 0 && id === sortedIds[i - 1]) {
      throw new VigilError('VIGIL_ERR_CONFLICT', `id ${id} appears more than once in the index`);
    }
    sortedIds[i] = id;
    const a = src << 3;
    const b = i << 3;
    H[b] = hashes[a];
    H[b + 1] = hashes[a + 1];
    H[b + 2] = hashes[a + 2];
    H[b + 3] = hashes[a + 3];
    H[b + 4] = hashes[a + 4];
    H[b + 5] = hashes[a + 5];
    H[b + 6] = hashes[a + 6];
    H[b + 7] = hashes[a + 7];
  }
  return { ...buildTables(H, n, layout), rows: n, layout, memory, ids: sortedIds, tomb: sharedI32((n + 31) >>> 5), stats: sharedI32(1) };
}

function buildTables(H: Uint32Array, n: number, layout: SegmentLayout): { offsets: Uint32Array; entries: Uint32Array } {
  const { tables: m, subBits: w, keyBits: k, resBits: res } = layout;
  const nb = 2 ** k;
  const stride = nb + 1;
  const offsets = sharedU32(m * stride);
  const entries = sharedU32(m * n);
  const vals = new Uint32Array(n);
  const kmask = nb - 1;
  for (let j = 0; j < m; j++) {
    const obase = j * stride;
    const pos = j * w;
    const len = k + res;
    for (let i = 0; i < n; i++) {
      const v = field(H, i << 3, pos, len);
      vals[i] = v;
      offsets[obase + (v & kmask) + 1]++;
    }
    // Prefix sums → absolute starts; then scatter (rows ascending inside each bucket).
    offsets[obase] = j * n;
    for (let b = 1; b <= nb; b++) offsets[obase + b] += offsets[obase + b - 1];
    const cursor = offsets.slice(obase, obase + nb);
    for (let i = 0; i < n; i++) {
      const v = vals[i];
      entries[cursor[v & kmask]++] = (i | ((v >>> k) << 24)) >>> 0;
    }
  }
  return { offsets, entries };
}

/**
 * The append-only tail: new rows land here (flat-scanned) until it is frozen into a segment. Readers in
 * other threads see rows up to the published length (Atomics), so appends never block them.
 */
export interface TailData {
  capacity: number;
  memory: HashMemory;
  ids: Uint32Array;
  tomb: Int32Array;
  /** [0] published length, [1] removed count. */
  meta: Int32Array;
}

export class Tail implements RowSource {
  readonly data: TailData;
  readonly capacity: number;
  readonly hashes: Uint32Array;
  readonly ids: Uint32Array;
  private readonly tomb: Int32Array;
  private readonly meta: Int32Array;
  private scanner: Scanner | undefined;

  constructor(data: TailData) {
    this.data = data;
    this.capacity = data.capacity;
    this.hashes = new Uint32Array(data.memory.buffer, 0, data.capacity * 8);
    this.ids = data.ids;
    this.tomb = data.tomb;
    this.meta = data.meta;
  }

  static create(capacity: number): Tail {
    return new Tail({
      capacity,
      memory: createHashMemory(capacity),
      ids: sharedU32(capacity),
      tomb: sharedI32((capacity + 31) >>> 5),
      meta: sharedI32(2),
    });
  }

  get rows(): number {
    return Atomics.load(this.meta, 0);
  }

  get dead(): number {
    return Atomics.load(this.meta, 1);
  }

  get live(): number {
    return this.rows - this.dead;
  }

  get full(): boolean {
    return this.rows >= this.capacity;
  }

  isDead(row: number): boolean {
    return ((Atomics.load(this.tomb, row >>> 5) >>> (row & 31)) & 1) === 1;
  }

  /** Appends a row (writer thread only); returns its row number. */
  append(id: number, words: Uint32Array): number {
    const row = this.rows;
    this.ids[row] = id;
    this.hashes.set(words, row << 3);
    Atomics.store(this.meta, 0, row + 1); // publish after the row is written
    return row;
  }

  kill(row: number): boolean {
    const bit = 1 << (row & 31);
    const old = Atomics.or(this.tomb, row >>> 5, bit);
    if ((old & bit) !== 0) return false;
    Atomics.add(this.meta, 1, 1);
    return true;
  }

  /** Live row holding `id`, or -1 (linear: the tail is small). */
  findLive(id: number): number {
    const n = this.rows;
    for (let i = n - 1; i >= 0; i--) if (this.ids[i] === id && !this.isDead(i)) return i;
    return -1;
  }

  searchFlat(q: Uint32Array, r: number, variant: number, sink: HitSink): void {
    flatScan(this, (this.scanner ??= scannerFor(this.data.memory)), q, r, variant, sink);
  }

  searchFlat8(qs: Uint32Array[], r: number, sink: HitSink): void {
    flatScan8(this, (this.scanner ??= scannerFor(this.data.memory)), qs, r, sink);
  }
}

/** Live rows of several sources gathered into fresh arrays (input of a merge/compaction). */
export function gatherLive(sources: RowSource[]): { hashes: Uint32Array; ids: Uint32Array } {
  let total = 0;
  for (const s of sources) for (let i = 0; i < s.rows; i++) if (!s.isDead(i)) total++;
  const hashes = new Uint32Array(total * 8);
  const ids = new Uint32Array(total);
  let o = 0;
  for (const s of sources) {
    const n = s.rows;
    for (let i = 0; i < n; i++) {
      if (s.isDead(i)) continue;
      ids[o] = s.ids[i];
      hashes.set(s.hashes.subarray(i << 3, (i << 3) + 8), o << 3);
      o++;
    }
  }
  return { hashes, ids };
}
