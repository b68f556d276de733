/**
 * Bank-aware matching: in-memory indexes that follow the store's change feed (added, removed, disabled
 * or re-labelled signals take effect at the next sync, a poll every second by default, without a
 * rebuild), and a match call that applies each bank's thresholds, enablement, kind and reputation
 * policy, then returns matches with labels and provenance.
 */
import { invalidArgument, toVigilError, VigilError } from '../core/errors.js';
import type { Labels } from '../lists/types.js';
import { hammingDistance256, hash256FromHex } from '../signals/pdq/hash256.js';
import { DIHEDRAL_NAMES, PDQ_QUALITY_THRESHOLD, type DihedralName } from '../signals/pdq/pdq.js';
import type { SignalTypeName } from '../signals/registry.js';
import type { Bank, BankKind, Signal, SignalChange, SignalStatus, Store } from '../store/types.js';
import type { VpdqFeature } from '../signals/vpdq/hasher.js';
import { sampleStep, timeRanges, type TimeRange } from '../signals/vpdq/match.js';
import { isDegenerate } from '../signals/pdq/degenerate.js';
import { admitHit, type MatchConfidence, type MatchPrecision, type MatchRule } from './match-policy.js';
import { corruptError } from '../matching/_file-format.js';
import { readSnapshot, writeSnapshot, type FeedCheck, type SavableIndex } from './snapshot.js';
import { createTypeIndexes, DigestTypeIndex, hexBytes, PhotoTypeIndex, VideoTypeIndex, type TypeIndex } from './type-indexes.js';
import { signalTypes } from '../signals/registry.js';

/** Exact digest lookup (md5/sha1/sha256) keyed by binary digests. */
export interface DigestIndex {
  add(id: number, digest: Uint8Array): void;
  remove(id: number): boolean;
  lookup(digest: Uint8Array): number[];
  readonly size: number;
  /** Writes the index to one file (snapshots: see snapshot.ts); indexes without it make a matcher unsavable. */
  save?(path: string): void;
}

/** One perceptual query: a view of the media (as stored, trimmed, oriented, a video frame…) and its hashes. */
export interface PdqQuery {
  view: string;
  quality: number;
  /** The view's hash first, then optionally its 7 other dihedral hashes in DIHEDRAL_NAMES order. */
  hashes: Uint8Array[];
  /** For video frames: the frame's time in seconds. */
  timestamp?: number;
}

/** Derived views of a video's frames (e.g. letterbox bars cropped), matched the same way as the video. */
export interface VideoView {
  view: string;
  features: VpdqFeature[];
}

/** A query's values for one signal type, in the form of the type's index kind (signals/types.ts#IndexKind). */
export type QueryValues = string | readonly string[] | PdqQuery[] | VpdqFeature[] | VideoView[];

/**
 * What the matcher is asked: keyed by signal type name, each value in its type's index-kind form: exact
 * digests as hex (one value or several), 256-bit photo hashes as views with their orientations (PdqQuery[]),
 * videos as frame features, with derived views of the frames under `<type>Views`. The matcher iterates its
 * registered types; the named keys only type the built-in ones for callers.
 */
export interface MatchQuery {
  [type: string]: QueryValues | undefined;
  md5?: string;
  sha1?: string;
  sha256?: string;
  pdq?: PdqQuery[];
  /** Frame features of a video or animation: matched against video banks (vPDQ rule) and, frame by frame, image banks. */
  vpdq?: VpdqFeature[];
  /** Derived views of the same frames (e.g. letterbox bars cropped), matched the same way. */
  vpdqViews?: VideoView[];
}

const NONE: readonly never[] = Object.freeze([]);

/** The exact-digest values of `type` in a query (none, one, or several). */
export function exactValues(query: MatchQuery, type: string): readonly string[] {
  const v = query[type];
  return v === undefined ? NONE : typeof v === 'string' ? [v] : (v as readonly string[]);
}

/** The photo-hash views of `type` (a hamming256 type) in a query. */
export function photoValues(query: MatchQuery, type: string): readonly PdqQuery[] {
  return (query[type] as PdqQuery[] | undefined) ?? NONE;
}

/** The videos of `type` (a vpdq-frames type) in a query: the frames as submitted ('video'), then derived views. */
export function videoValues(query: MatchQuery, type: string): VideoView[] {
  const features = query[type] as VpdqFeature[] | undefined;
  const views = query[`${type}Views`] as VideoView[] | undefined;
  return [...(features ? [{ view: 'video', features }] : []), ...(views ?? [])];
}

/** A video's frames as photo queries of its frame type: a known picture inside a video is found. */
function frameQueries(videos: readonly VideoView[], into: PdqQuery[]): void {
  for (const v of videos) for (const f of v.features) into.push({ view: v.view === 'video' ? 'frame' : `frame (${v.view})`, quality: f.quality, hashes: [f.hash], timestamp: f.timestamp });
}

/** How a video matched: the vPDQ rule's two shares, the frames behind them, and where in each video they are. */
export interface VideoMatchDetails {
  queryMatchPercent: number;
  comparedMatchPercent: number;
  /** Distinct usable frames of the query that matched, of how many; likewise for the known video (absent in matches recorded before they were reported). */
  queryMatchedFrames?: number;
  queryFrames?: number;
  comparedMatchedFrames?: number;
  comparedFrames?: number;
  /** The smallest distance between a matched query frame and the known video (the match's `distance` is the median). */
  minDistance?: number;
  queryRanges: TimeRange[];
  comparedRanges: TimeRange[];
}

export interface BankMatch {
  signalId: number;
  bank: string;
  bankKind: BankKind;
  signalType: SignalTypeName;
  /** The list's hash that matched. */
  value: string;
  /**
   * Hamming distance: 0 for exact digests; for whole-video matches the median, over the matched query
   * frames, of the distance to the nearest frame of the known video (`video` has the rest).
   */
  distance: number;
  /** Which view of the query matched, and in which orientation (perceptual matches). */
  view?: string;
  dihedral?: DihedralName;
  /** Seconds into the query video (a known image seen in it) or into the known video (an image from it). */
  timestamp?: number;
  /** Where the match sits: 'query' (a frame of the submitted video) or 'known' (a frame of the bank's video). */
  timestampIn?: 'query' | 'known';
  /** A picture matched in a video: every stretch of that video (`timestampIn`) where it is shown. */
  ranges?: TimeRange[];
  video?: VideoMatchDetails;
  labels: Labels;
  sourceId: string | null;
  fileName: string | null;
  provenance: { source: string; importId: number | null };
  status: SignalStatus;
  /**
   * False for matches that must not drive action: a signal marked false positive in a 'suppress' bank,
   * or quarantined after a match-rate spike. Returned so reviewers can see why nothing happened.
   */
  actionable: boolean;
  /** A false positive in a 'downrank' bank: still a match, with less weight. */
  downranked: boolean;
  /** How the match was made (perceptual matches): rule, distance, the limit it met, the query's quality. */
  rule?: MatchRule;
  /**
   * How sure the match is: high (a digest, a whole video, or the picture as uploaded within the calibrated
   * distance), medium (a view or orientation that earned its distance), low (loose settings, or a
   * degenerate hash matched exactly). The default rules block only high; the rest goes to review.
   */
  confidence: MatchConfidence;
  /**
   * Set on matches made by a matcher run by someone else (pipeline/remote.ts): no local signal stands behind
   * them (signalId is negative, per decision), the bank is `remote:<name>`, the service's classification is kept.
   */
  remote?: { matcher: string; classification: string; matchType: 'exact' | 'near' | null };
}

/** The closest perceptual signal to a query, matched or not (`vigil match --near`: for tuning thresholds). */
export interface NearestSignal {
  signalId: number;
  bank: string;
  signalType: SignalTypeName;
  value: string;
  distance: number;
  /** The bank's threshold for that type: the distance at which it would have matched. */
  threshold: number;
  view: string;
  dihedral?: DihedralName;
  timestamp?: number;
  timestampIn?: 'query' | 'known';
  fileName: string | null;
  sourceId: string | null;
  labels: Labels;
}

export interface MatcherOptions {
  /** Below this PDQ quality a view is not matched perceptually (pdq/README.md: ≤ 49 is too flat). */
  pdqQualityThreshold?: number;
  /** Change-feed page size. */
  pageSize?: number;
  /** Poll interval for start(). */
  pollMs?: number;
  /** Builds the digest index of an exact-digest type (md5, sha1, sha256…) for its byte length (injected so the index implementation can change). */
  digestIndex: (byteLength: number) => DigestIndex;
  /** 'loose' matches every view and orientation at the bank's threshold (triage, investigations); default calibrated. */
  precision?: MatchPrecision;
  /** Reads a digest index written by its `save` (snapshots). */
  loadDigestIndex?: (path: string, byteLength: number) => DigestIndex;
  /** A background sync or compaction failed (logged and counted by the caller; the matcher keeps trying). */
  onError?: (what: 'sync' | 'compaction', err: unknown) => void;
  /** A background compaction finished (the index sits in its final segments: a good moment for a snapshot). */
  onCompacted?: () => void;
  now?: () => number;
}

/** How current the indexes are: what readiness checks and the lag metric read. */
export interface MatcherHealth {
  /** Seq of the last change applied. */
  position: number;
  /** When a sync last reached the head of the change feed (epoch ms; 0 before the first). */
  caughtUpAt: number;
  /** Background sync failures since start. */
  syncErrors: number;
  lastError: string | null;
}

/** One admitted hit of a query, before the store read that makes it a BankMatch. */
type Hit = { id: number; type: SignalTypeName; distance: number; view?: string; dihedral?: DihedralName; timestamp?: number; timestampIn?: 'query' | 'known'; ranges?: TimeRange[]; video?: VideoMatchDetails; rule?: MatchRule; confidence?: MatchConfidence };

const STATUS_CODE: Record<SignalStatus, number> = { active: 1, false_positive: 2, quarantined: 3 };

export class BankMatcher {
  private cursor = 0;
  /** The change at `cursor` (a snapshot names it, so it is never loaded over another database). */
  private lastApplied: FeedCheck | null = null;
  /**
   * One index per locally matched signal type (type-indexes.ts), by index kind; replaced as a whole when a
   * snapshot is restored. Photo types are searched with their own views plus the frames of the video types
   * whose frames they are (`framesOf`).
   */
  private indexes: TypeIndex[] = [];
  private byType = new Map<string, TypeIndex>();
  private digestIndexes: DigestTypeIndex[] = [];
  private photoIndexes: PhotoTypeIndex[] = [];
  private videoIndexes: VideoTypeIndex[] = [];
  private framesOf = new Map<string, VideoTypeIndex[]>();
  /** Default threshold per type (the registry's), for banks that set none. */
  private readonly defaults = new Map<string, number | undefined>();
  /** Per signal id: its bank id and status, in typed arrays (millions of signals, no objects). */
  private bankOf = new Int32Array(1024);
  private statusOf = new Uint8Array(1024);
  /** 1 where the signal's PDQ hash is degenerate (constant, one value, periodic). */
  private degenerateOf = new Uint8Array(1024);
  private banks = new Map<number, Bank>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<number> | undefined;
  private compacting: Promise<void> | undefined;
  private readonly qualityThreshold: number;
  private readonly pageSize: number;
  private caughtUpAt = 0;
  private syncErrors = 0;
  private lastError: string | null = null;

  constructor(private readonly store: Store, private readonly options: MatcherOptions) {
    this.qualityThreshold = options.pdqQualityThreshold ?? PDQ_QUALITY_THRESHOLD;
    this.pageSize = options.pageSize ?? 50_000;
    for (const t of signalTypes()) this.defaults.set(t.name, t.defaultThreshold);
    this.setIndexes(createTypeIndexes({ digestIndex: options.digestIndex }));
  }

  private setIndexes(indexes: TypeIndex[]): void {
    this.indexes = indexes;
    this.byType = new Map(indexes.map((i) => [i.type, i]));
    this.digestIndexes = indexes.filter((i): i is DigestTypeIndex => i.kind === 'exact-digest');
    this.photoIndexes = indexes.filter((i): i is PhotoTypeIndex => i.kind === 'hamming256');
    this.videoIndexes = indexes.filter((i): i is VideoTypeIndex => i.kind === 'vpdq-frames');
    this.framesOf = new Map(this.photoIndexes.map((p) => [p.type, this.videoIndexes.filter((v) => v.frameType === p.type)]));
  }

  /** A bank's threshold for a type: its own, else the type's default; undefined for exact types. */
  private thresholdOf(bank: Bank | undefined, type: string): number | undefined {
    return (bank?.thresholds as Record<string, number | undefined> | undefined)?.[type] ?? this.defaults.get(type);
  }

  /** Seq of the last change applied. */
  get position(): number {
    return this.cursor;
  }

  get health(): MatcherHealth {
    return { position: this.cursor, caughtUpAt: this.caughtUpAt, syncErrors: this.syncErrors, lastError: this.lastError };
  }

  /** Milliseconds since the indexes last held everything in the change feed. */
  lagMs(now = this.options.now?.() ?? Date.now()): number {
    return this.caughtUpAt === 0 ? Number.POSITIVE_INFINITY : Math.max(0, now - this.caughtUpAt);
  }

  /** Signals held per locally matched type. */
  get sizes(): Record<SignalTypeName, number> {
    return Object.fromEntries(this.indexes.map((i) => [i.type, i.size])) as Record<SignalTypeName, number>;
  }

  /** Applies every change since the last sync. Concurrent calls share one run. Returns changes applied. */
  sync(): Promise<number> {
    this.syncing ??= this.runSync()
      .catch((err: unknown) => {
        // Counted whoever asked (the poll, a bank change, retroactive matching): health and the metric see it.
        this.syncErrors++;
        this.lastError = err instanceof Error ? err.message : String(err);
        throw err;
      })
      .finally(() => {
        this.syncing = undefined;
      });
    return this.syncing;
  }

  private async runSync(): Promise<number> {
    const startedAt = this.options.now?.() ?? Date.now();
    this.banks = new Map((await this.store.listBanks()).map((b) => [b.id, b]));
    let applied = 0;
    for (;;) {
      const changes = await this.store.changesSince(this.cursor, this.pageSize);
      for (const change of changes) this.apply(change);
      applied += changes.length;
      if (changes.length > 0) {
        const last = changes[changes.length - 1];
        this.cursor = last.seq;
        this.lastApplied = { id: last.id, type: last.type, value: last.value };
      }
      if (changes.length < this.pageSize) {
        // Everything committed before this sync started is now applied.
        this.caughtUpAt = startedAt;
        this.maybeCompact();
        return applied;
      }
    }
  }

  private ensureCapacity(id: number): void {
    if (id < this.bankOf.length) return;
    let n = this.bankOf.length;
    while (n <= id) n *= 2;
    const bankOf = new Int32Array(n);
    bankOf.set(this.bankOf);
    const statusOf = new Uint8Array(n);
    statusOf.set(this.statusOf);
    const degenerateOf = new Uint8Array(n);
    degenerateOf.set(this.degenerateOf);
    this.bankOf = bankOf;
    this.statusOf = statusOf;
    this.degenerateOf = degenerateOf;
  }

  private apply(change: SignalChange): void {
    const { id } = change;
    this.ensureCapacity(id);
    // Opaque types (photodna) have no index here: matched by a licensed remote matcher, not locally.
    const index = this.byType.get(change.type);
    if (change.deleted) {
      index?.remove(id);
      this.statusOf[id] = 0;
      return;
    }
    this.bankOf[id] = change.bankId;
    this.statusOf[id] = STATUS_CODE[change.status];
    if (index?.kind === 'hamming256') {
      const bytes = index.add(id, change.value);
      if (bytes) this.degenerateOf[id] = isDegenerate(bytes) ? 1 : 0;
    } else {
      index?.add(id, change.value);
    }
  }

  /**
   * A long-running matcher (start()) folds tombstones and small segments back into the PDQ index in a
   * worker thread once enough have piled up; searches go on meanwhile. One-shot runs never need it.
   */
  private maybeCompact(): void {
    const photos = this.timer && !this.compacting ? this.photoIndexes.find((p) => p.index.needsCompaction) : undefined;
    if (!photos) return;
    this.compacting = photos.index.compactAsync().then(
      () => true,
      (err: unknown) => {
        this.options.onError?.('compaction', err);
        return false;
      },
    ).then((done) => {
      this.compacting = undefined;
      if (done) this.options.onCompacted?.();
    });
  }

  /** True while a background compaction runs (a snapshot waits for its final segments). */
  get compactionRunning(): boolean {
    return this.compacting !== undefined;
  }

  /**
   * Writes the indexes and the feed position into the folder `dir` (snapshot.ts), synchronously, so the files
   * hold one consistent state. Returns false (nothing written) while a compaction runs.
   */
  saveSnapshot(dir: string): boolean {
    if (this.compacting) return false;
    const digests: Record<string, SavableIndex> = {};
    for (const d of this.digestIndexes) {
      if (!d.index.save) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `The ${d.type} index cannot be saved: snapshots need a savable digest index`);
      digests[d.type] = d.index as SavableIndex;
    }
    const photos = Object.fromEntries(this.photoIndexes.map((p) => [p.type, p.index]));
    const videoIds = this.videoIndexes.flatMap((v) => [...v.videoOf.keys()]);
    writeSnapshot(dir, { position: this.cursor, check: this.lastApplied, photos, digests, bankOf: this.bankOf, statusOf: this.statusOf, videoIds });
    return true;
  }

  /**
   * Starts from the snapshot in `dir` instead of empty indexes, before the first sync; sync() then applies only
   * the changes after its position. Throws on anything unusable (corrupt or truncated files, a snapshot of
   * another or a rebuilt database): the matcher is left as it was and sync() replays the whole feed.
   */
  async restoreSnapshot(dir: string): Promise<{ position: number }> {
    const load = this.options.loadDigestIndex;
    if (!load) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Restoring a snapshot needs loadDigestIndex');
    const fresh = () => this.cursor === 0 && this.syncing === undefined && this.indexes.every((i) => i.size === 0);
    if (!fresh()) throw new VigilError('VIGIL_ERR_CONFLICT', 'A snapshot is restored before the first sync');
    const bytesOf = new Map<string, number>(this.digestIndexes.map((d) => [d.type, d.bytes]));
    const s = readSnapshot(dir, { digests: [...bytesOf.keys()], photos: this.photoIndexes.map((p) => p.type) }, (path, type) => load(path, bytesOf.get(type)!));
    const bad = (why: string): never => {
      throw corruptError(dir, why);
    };
    if (s.bankOf.length === 0 || s.bankOf.length !== s.statusOf.length) bad('the per-signal arrays are empty or of different lengths');
    const head = await this.store.latestSeq();
    if (s.position > head) bad(`its position ${s.position} is ahead of the store's change feed (${head}): it was written for another or a rebuilt database`);
    if (s.check) {
      const [signal] = await this.store.getSignals([s.check.id]);
      if (!signal || signal.type !== s.check.type || signal.value !== s.check.value) bad(`signal ${s.check.id} differs in the store: it was written for another database`);
    }
    // Every other index anew, filled from the snapshot's files; videos re-read from the store by id.
    const indexes = this.indexes.map((i): TypeIndex =>
      i.kind === 'exact-digest' ? new DigestTypeIndex(i.type, i.bytes, s.digests[i.type]!)
        : i.kind === 'hamming256' ? new PhotoTypeIndex(i.type, s.photos[i.type]!)
          : new VideoTypeIndex(i.type, i.frameType));
    const videos = new Map(indexes.filter((i): i is VideoTypeIndex => i.kind === 'vpdq-frames').map((v) => [v.type as string, v]));
    const signals = s.videoIds.length > 0 ? await this.store.getSignals(s.videoIds) : [];
    if (signals.length !== s.videoIds.length) bad('some of its videos are missing from the store');
    for (const signal of signals) {
      const index = videos.get(signal.type);
      if (!index) bad(`signal ${signal.id} is no video in the store`);
      // As in apply(): a value this version cannot parse never matches.
      index!.add(signal.id, signal.value);
    }
    if (!fresh()) throw new VigilError('VIGIL_ERR_CONFLICT', 'A sync started while the snapshot was restored');
    // Which list hashes are degenerate is not in the snapshot: recomputed from the restored hashes, as apply() does.
    const degenerateOf = new Uint8Array(s.bankOf.length);
    for (const photos of indexes) {
      if (photos.kind !== 'hamming256') continue;
      for (let id = 0; id < s.bankOf.length; id++) {
        if (s.statusOf[id] === 0) continue;
        const bytes = photos.index.get(id);
        if (bytes && isDegenerate(bytes)) degenerateOf[id] = 1;
      }
    }
    this.setIndexes(indexes);
    this.bankOf = s.bankOf;
    this.statusOf = s.statusOf;
    this.degenerateOf = degenerateOf;
    this.cursor = s.position;
    this.lastApplied = s.check;
    return { position: s.position };
  }

  /**
   * Loads the feed and folds the PDQ index into its final segments before serving: a cold load leaves
   * dozens of small segments, each searched separately (×4 the query time at 1M signals until compacted).
   */
  async warm(): Promise<void> {
    await this.sync();
    for (const p of this.photoIndexes) if (p.index.needsCompaction) await p.index.compactAsync();
  }

  /** Folds every photo index into its final segments now, needed or not (benchmarks measure the compacted state). */
  async compact(): Promise<void> {
    for (const p of this.photoIndexes) await p.index.compactAsync();
  }

  /** Polls the change feed every `pollMs` (default 1 s) until stop(). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sync().catch((err: unknown) => this.options.onError?.('sync', err)), this.options.pollMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The distinct thresholds of the enabled banks for a type. */
  private thresholds(type: string): number[] {
    const set = new Set<number>();
    for (const bank of this.banks.values()) if (bank.enabled) set.add(this.thresholdOf(bank, type)!);
    return [...set];
  }

  /** The widest threshold of the enabled banks (-1 when none is enabled): one index search serves them all. */
  private radius(type: string): number {
    return Math.max(-1, ...this.thresholds(type));
  }

  /** Matches one piece of media's hashes against every enabled bank. */
  async match(query: MatchQuery): Promise<BankMatch[]> {
    const kept = this.hitsOf(query);
    if (kept.length === 0) return [];
    return this.matchesOf(kept, await this.signalsOf(kept));
  }

  /**
   * `match` for many queries (a lookup batch): the same answers, with one store read for the labels and
   * provenance of all their hits instead of one per query that hit. A query that cannot be matched (a bad
   * hash) gets its error in its place; the others are answered.
   */
  async matchMany(queries: readonly MatchQuery[]): Promise<(BankMatch[] | VigilError)[]> {
    const kept = queries.map((q): Hit[] | VigilError => {
      try {
        return this.hitsOf(q);
      } catch (err) {
        return toVigilError(err);
      }
    });
    const all = kept.flatMap((k) => (k instanceof VigilError ? [] : k));
    const signals = all.length === 0 ? new Map<number, Signal>() : await this.signalsOf(all);
    return kept.map((k) => (k instanceof VigilError ? k : k.length === 0 ? [] : this.matchesOf(k, signals)));
  }

  private async signalsOf(hits: readonly Hit[]): Promise<Map<number, Signal>> {
    return new Map((await this.store.getSignals([...new Set(hits.map((h) => h.id))])).map((s) => [s.id, s]));
  }

  /** The hits of one query that its banks admit (in memory, no store read). */
  private hitsOf(query: MatchQuery): Hit[] {
    const hits = new Map<number, Hit>();
    const rank = { high: 0, medium: 1, low: 2 } as const;
    // The surest admitted hit wins, then the closest.
    const keep = (hit: Hit) => {
      const prior = hits.get(hit.id);
      const better = !prior || rank[hit.confidence ?? 'high'] < rank[prior.confidence ?? 'high'] || (rank[hit.confidence ?? 'high'] === rank[prior.confidence ?? 'high'] && hit.distance < prior.distance);
      if (better) hits.set(hit.id, hit);
    };
    const precision = this.options.precision ?? 'default';
    for (const ix of this.digestIndexes) {
      for (const hex of exactValues(query, ix.type)) {
        if (!hex) continue;
        const bytes = hexBytes(hex.toLowerCase(), ix.bytes);
        if (!bytes) throw new VigilError('VIGIL_ERR_INVALID_HASH', `Expected ${ix.bytes * 2} hexadecimal digits for ${ix.type}`);
        for (const id of ix.index.lookup(bytes)) hits.set(id, { id, type: ix.type, distance: 0 });
      }
    }
    const videoQueries = this.videoIndexes.map((v) => videoValues(query, v.type));
    // Per video type, the distinct thresholds of the enabled banks (none: no enabled bank, nothing to search).
    const videoThresholds = this.videoIndexes.map((v): readonly number[] => (v.size === 0 ? NONE : this.thresholds(v.type)));
    for (const p of this.photoIndexes) {
      const related = this.framesOf.get(p.type)!;
      const photoQueries = [...photoValues(query, p.type)];
      // Every sampled frame of a video is also an image query: a known picture inside a video is found.
      const frames: VideoView[] = [];
      const videoSearch = related.map((v) => {
        const i = this.videoIndexes.indexOf(v);
        frames.push(...videoQueries[i]!);
        return { v, thresholds: videoThresholds[i]! };
      });
      frameQueries(frames, photoQueries);
      if (photoQueries.length === 0) continue;
      const photoRadius = this.radius(p.type);
      // Known pictures seen in the query video: per signal, each frame time and its best distance (for ranges).
      const seenAt = new Map<number, Map<number, number>>();
      for (const q of photoQueries) {
        if (q.quality < this.qualityThreshold || q.hashes.length === 0) continue;
        if (photoRadius >= 0) {
          const degenerate = q.hashes.map(isDegenerate);
          // The picture's own unturned hash: a turned or derived hash must do better than it (match-policy.ts).
          const own = (photoQueries.find((o) => o.view === 'original' && o.timestamp === q.timestamp) ?? q).hashes[0];
          // Each orientation on its own: a turned hash may only match where the plain one did not.
          for (let k = 0; k < q.hashes.length; k++) {
            const dihedral = DIHEDRAL_NAMES[k];
            for (const m of p.index.search(q.hashes[k], photoRadius)) {
              const bank = this.banks.get(this.bankOf[m.id]);
              if (!bank) continue;
              const known = p.index.get(m.id);
              const originalDistance = k === 0 && q.hashes[0] === own ? m.distance : known ? hammingDistance256(own, known) : 256;
              const hit = { view: q.view, dihedral, distance: m.distance, quality: q.quality, originalDistance, queryDegenerate: degenerate[k], bankDegenerate: this.degenerateOf[m.id] === 1, frame: q.timestamp !== undefined };
              const admitted = admitHit(hit, this.thresholdOf(bank, p.type)!, bank.degeneratePolicy ?? 'exact', precision);
              if (!admitted) continue;
              const { confidence, ...rule } = admitted;
              keep({ id: m.id, type: p.type, distance: m.distance, view: q.view, dihedral, rule, confidence, ...(q.timestamp !== undefined ? { timestamp: q.timestamp, timestampIn: 'query' as const } : {}) });
              if (q.timestamp !== undefined) {
                const times = seenAt.get(m.id) ?? new Map<number, number>();
                seenAt.set(m.id, times.set(q.timestamp, Math.min(m.distance, times.get(q.timestamp) ?? Infinity)));
              }
            }
          }
        }
        // A still (not a frame) may come from a known video: find it among the videos' frames. The frame
        // distance decides where it is shown, so each distinct bank threshold is its own search.
        if (q.timestamp !== undefined) continue;
        for (const { v, thresholds } of videoSearch) {
          if (v.size === 0) continue;
          for (const radius of thresholds) {
            for (const m of v.index.findImage(q.hashes[0], radius)) {
              const bank = this.banks.get(this.bankOf[m.entry]);
              if (this.thresholdOf(bank, v.type) !== radius) continue;
              const first = m.occurrences.reduce((a, b) => (b.distance < a.distance ? b : a));
              const admitted = bank && admitHit({ view: q.view, dihedral: 'orig', distance: m.distance, quality: q.quality, originalDistance: m.distance, queryDegenerate: isDegenerate(q.hashes[0]), bankDegenerate: false, frame: false }, radius, bank.degeneratePolicy ?? 'exact', precision);
              if (!admitted) continue;
              const { confidence, ...rule } = admitted;
              keep({ id: m.entry, type: v.type, distance: m.distance, view: q.view, timestamp: first.timestamp, timestampIn: 'known', ranges: m.ranges, rule, confidence });
            }
          }
        }
      }
      if (seenAt.size > 0) this.addFrameRanges(p.type, hits, seenAt, frames);
    }
    for (let i = 0; i < this.videoIndexes.length; i++) {
      const v = this.videoIndexes[i]!;
      if (v.size === 0 || videoQueries[i]!.length === 0) continue;
      // Per known video, the view of the query that matched the largest share of its frames. The frame
      // distance is part of the vPDQ rule, so each distinct bank threshold is its own query.
      const best = new Map<number, Hit & { share: number }>();
      for (const radius of videoThresholds[i]!) {
        for (const view of videoQueries[i]!) {
          if (view.features.length === 0) continue;
          for (const m of v.index.query(view.features, { distanceThreshold: radius })) {
            if (this.thresholdOf(this.banks.get(this.bankOf[m.entry]), v.type) !== radius) continue;
            const prior = best.get(m.entry);
            if (prior && prior.share >= m.queryMatchPercent) continue;
            const { queryMatchPercent, comparedMatchPercent, queryMatchedFrames, queryFrames, comparedMatchedFrames, comparedFrames, minDistance, queryRanges, comparedRanges } = m;
            best.set(m.entry, {
              id: m.entry,
              type: v.type,
              distance: m.distance,
              view: view.view,
              share: m.queryMatchPercent,
              rule: { rule: 'video', distance: m.distance, maxDistance: radius },
              confidence: 'high',
              video: { queryMatchPercent, comparedMatchPercent, queryMatchedFrames, queryFrames, comparedMatchedFrames, comparedFrames, minDistance, queryRanges, comparedRanges },
            });
          }
        }
      }
      for (const { share: _share, ...hit } of best.values()) hits.set(hit.id, hit);
    }
    // Bank filters first (cheap, in memory), then one store read for labels and provenance.
    const kept = [...hits.values()].filter((h) => {
      const bank = this.banks.get(this.bankOf[h.id]);
      if (!bank || !bank.enabled || this.statusOf[h.id] === 0) return false;
      // Whole-video matches met their threshold in the vPDQ rule; exact types have none.
      const threshold = h.video === undefined ? this.thresholdOf(bank, h.type) : undefined;
      return threshold === undefined || h.distance <= threshold;
    });
    return kept;
  }

  private matchesOf(kept: readonly Hit[], signals: ReadonlyMap<number, Signal>): BankMatch[] {
    const matches: BankMatch[] = [];
    for (const h of kept) {
      const signal = signals.get(h.id);
      const bank = this.banks.get(this.bankOf[h.id]);
      if (!signal || !bank || signal.deletedAt) continue;
      const status = signal.status;
      const falsePositive = status === 'false_positive';
      matches.push({
        signalId: h.id,
        bank: bank.name,
        bankKind: bank.kind,
        signalType: h.type,
        value: signal.value,
        distance: h.distance,
        ...(h.view !== undefined ? { view: h.view } : {}),
        ...(h.dihedral !== undefined ? { dihedral: h.dihedral } : {}),
        ...(h.timestamp !== undefined ? { timestamp: h.timestamp } : {}),
        ...(h.timestampIn !== undefined ? { timestampIn: h.timestampIn } : {}),
        ...(h.ranges !== undefined ? { ranges: h.ranges } : {}),
        ...(h.video !== undefined ? { video: h.video } : {}),
        ...(h.rule !== undefined ? { rule: h.rule } : {}),
        confidence: h.confidence ?? 'high',
        labels: signal.labels,
        sourceId: signal.sourceId,
        fileName: signal.fileName,
        provenance: { source: bank.source, importId: signal.importId },
        status,
        actionable: status === 'active' || (falsePositive && bank.falsePositivePolicy === 'downrank'),
        downranked: falsePositive && bank.falsePositivePolicy === 'downrank',
      });
    }
    return matches.sort((a, b) => a.distance - b.distance || a.bank.localeCompare(b.bank) || a.signalId - b.signalId);
  }

  /**
   * The closest PDQ signal (or frame of a known video) within `radius` bits of any view, orientation or
   * frame of the query, in an enabled bank, whatever the bank's threshold; undefined when none is that
   * close. Costs a wide search: for tuning, not for serving.
   */
  async nearest(query: MatchQuery, radius: number): Promise<NearestSignal | undefined> {
    if (!Number.isInteger(radius) || radius < 0 || radius > 256) throw invalidArgument('a whole number of bits from 0 to 256', 'radius', radius);
    type Near = { id: number; type: SignalTypeName; distance: number; view: string; dihedral?: DihedralName; timestamp?: number; timestampIn?: 'query' | 'known' };
    let best: Near | undefined;
    const consider = (n: Near) => {
      const bank = this.banks.get(this.bankOf[n.id]);
      if (!bank?.enabled || this.statusOf[n.id] === 0) return;
      if (!best || n.distance < best.distance || (n.distance === best.distance && n.id < best.id)) best = n;
    };
    for (const p of this.photoIndexes) {
      const related = this.framesOf.get(p.type)!;
      const queries = [...photoValues(query, p.type)];
      for (const v of related) frameQueries(videoValues(query, v.type), queries);
      for (const q of queries) {
        if (q.quality < this.qualityThreshold || q.hashes.length === 0) continue;
        for (const m of p.index.searchDihedral(q.hashes, best ? Math.min(radius, best.distance) : radius)) {
          consider({ id: m.id, type: p.type, distance: m.distance, view: q.view, dihedral: DIHEDRAL_NAMES[m.variant], ...(q.timestamp !== undefined ? { timestamp: q.timestamp, timestampIn: 'query' as const } : {}) });
        }
        if (q.timestamp !== undefined) continue;
        for (const v of related) {
          if (v.size === 0) continue;
          for (const m of v.index.findImage(q.hashes[0], best ? Math.min(radius, best.distance) : radius)) {
            const at = m.occurrences.find((o) => o.distance === m.distance)!;
            consider({ id: m.entry, type: v.type, distance: m.distance, view: q.view, timestamp: at.timestamp, timestampIn: 'known' });
          }
        }
      }
    }
    const found = best as Near | undefined;
    if (!found) return undefined;
    const [signal] = await this.store.getSignals([found.id]);
    const bank = this.banks.get(this.bankOf[found.id]);
    if (!signal || !bank || signal.deletedAt) return undefined;
    return {
      signalId: found.id,
      bank: bank.name,
      signalType: found.type,
      value: signal.value,
      distance: found.distance,
      threshold: this.thresholdOf(bank, found.type)!,
      view: found.view,
      ...(found.dihedral !== undefined ? { dihedral: found.dihedral } : {}),
      ...(found.timestamp !== undefined ? { timestamp: found.timestamp, timestampIn: found.timestampIn } : {}),
      fileName: signal.fileName,
      sourceId: signal.sourceId,
      labels: signal.labels,
    };
  }

  /**
   * A known picture seen in the query video: the stretches of the video where it is shown, counting the
   * frames within its bank's threshold (the search ran at the widest). Frames too flat to query neither
   * match nor break a stretch.
   */
  private addFrameRanges(type: SignalTypeName, hits: Map<number, { id: number; type: SignalTypeName; timestampIn?: 'query' | 'known'; ranges?: TimeRange[] }>, seenAt: Map<number, Map<number, number>>, videos: { features: VpdqFeature[] }[]): void {
    const all = videos.flatMap((v) => v.features);
    const usable = all.filter((f) => f.quality >= this.qualityThreshold);
    const step = sampleStep(all);
    for (const [id, times] of seenAt) {
      const hit = hits.get(id);
      if (hit?.type !== type || hit.timestampIn !== 'query') continue;
      const threshold = this.thresholdOf(this.banks.get(this.bankOf[id]), type)!;
      hit.ranges = timeRanges(usable, (f) => (times.get(f.timestamp) ?? Infinity) <= threshold, step);
    }
  }
}

/** The perceptual queries of a hashed file: the picture as stored, then each derived view, with dihedrals. */
export function pdqQueriesOf(record: { pdq?: string; quality?: number; dihedral?: Partial<Record<DihedralName, string>>; views?: { view: string; pdq: string; quality: number; dihedral?: Partial<Record<DihedralName, string>> }[] }): PdqQuery[] {
  const queries: PdqQuery[] = [];
  // Positions name the orientation (DIHEDRAL_NAMES), so the 7 others are used only when all are there.
  const hashesOf = (pdq: string, dihedral?: Partial<Record<DihedralName, string>>) => {
    const others = DIHEDRAL_NAMES.slice(1).map((n) => dihedral?.[n]);
    return [pdq, ...(others.every((h) => h !== undefined) ? (others as string[]) : [])].map(hash256FromHex);
  };
  if (record.pdq !== undefined) queries.push({ view: 'original', quality: record.quality ?? 0, hashes: hashesOf(record.pdq, record.dihedral) });
  for (const v of record.views ?? []) queries.push({ view: v.view, quality: v.quality, hashes: hashesOf(v.pdq, v.dihedral) });
  return queries;
}
