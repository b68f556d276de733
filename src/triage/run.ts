/**
 * `vigil triage`: walks the roots, opens archives as streams, and gives every file, archive and member one
 * record in the case database. Each file is read once: the main thread takes the digests and checks the
 * allow banks (NSRL-style: a known-benign file, archive or installer goes no further, an allow-listed
 * archive is never opened), then a worker thread decodes the same bytes for PDQ (8 orientations, derived
 * views) and EXIF. Records are checkpointed in batches; a re-run skips what was committed.
 */
import { availableParallelism } from 'node:os';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import type { Piscina } from 'piscina';
import type { BankMatch, MatchQuery } from '../banks/matcher.js';
import { VigilError } from '../core/errors.js';
import { pdqQueriesOf } from '../banks/matcher.js';
import { digestsOf, digestsOfFile, type FileDigests } from '../media/digests.js';
import { walkFiles } from '../media/walk.js';
import { parseVpdqCompactFeature } from '../signals/vpdq/format.js';
import { decodeName, DEFAULT_ARCHIVE_LIMITS, ExpansionBudget, readArchive, type ArchiveLimits, type ArchiveSource, type ItemError } from './archive.js';
import type { CaseDb, CaseItem, StoredMatch } from './case-db.js';
import type { DecodeInput, DecodeResult } from './decode-task.js';
import { assignGroups } from './groups.js';
import { archiveKindOf, HEAD_BYTES, isImageMime, isVideoMime, mimeOf, type ArchiveKind } from './mime.js';
import type { ItemKind, ItemStatus } from './schema.js';

/** The matcher as triage uses it (BankMatcher, or a test double). */
export interface TriageMatcher {
  match(query: MatchQuery): Promise<BankMatch[]>;
}

export interface TriageProgress {
  /** Files on disk done (archive members are counted in `items`). */
  files: number;
  items: number;
  bytes: number;
  /** From a metadata-only count running alongside (undefined until it finishes). */
  totalFiles?: number;
  totalBytes?: number;
  elapsedMs: number;
  skipped: number;
}

export interface TriageOptions {
  roots: string[];
  threads?: number;
  /** Near-duplicate series: PDQ distance (default 31). */
  seriesDistance?: number;
  limits?: Partial<ArchiveLimits>;
  /** Items per checkpoint (one transaction). */
  checkpointItems?: number;
  /** Derived views (border trimming, uncrops…) for matching and series; default true. */
  views?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: TriageProgress) => void;
  now?: () => Date;
  /** Test seam: runs between reading a file and checking it did not change (a writer racing the read). */
  afterRead?: (fullPath: string) => Promise<void>;
}

export interface TriageSummary {
  items: number;
  skipped: number;
  known: number;
  knownBenign: number;
  unknown: number;
  errors: number;
  bytes: number;
  interrupted: boolean;
  duplicateGroups: number;
  series: number;
}

const SERIES_DISTANCE = 31;
/** Files up to this size are read whole without looking at their head first. */
const SMALL_FILE_BYTES = 4 * 1024 * 1024;

/** A root-relative path with forward slashes; with several roots, prefixed by the root's folder name. */
export function casePathOf(root: string, file: string, several: boolean): string {
  const rel = resolve(root) === resolve(file) ? basename(file) : relative(root, file);
  const joined = several && resolve(root) !== resolve(file) ? `${basename(resolve(root))}/${rel}` : rel;
  return joined.split(sep).join('/');
}

/** A FIFO semaphore bounding the items in flight (memory: at most `size` files' bytes held). */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number) {
    this.free = size;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

const workerFile = new URL(import.meta.url.endsWith('.ts') ? './decode-worker.ts' : './decode-worker.js', import.meta.url);

export class Triage {
  private readonly limits: ArchiveLimits;
  private readonly threads: number;
  private readonly slots: Slots;
  private pool: Piscina | undefined;
  private pending: CaseItem[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly summary: TriageSummary = { items: 0, skipped: 0, known: 0, knownBenign: 0, unknown: 0, errors: 0, bytes: 0, interrupted: false, duplicateGroups: 0, series: 0 };
  private readonly started = Date.now();
  private totals: { files: number; bytes: number } | undefined;
  private lastProgress = 0;
  private diskFilesDone = 0;
  private finished = false;
  private resuming = true;
  private committing = false;

  constructor(
    private readonly caseDb: CaseDb,
    private readonly matcher: TriageMatcher,
    private readonly options: TriageOptions,
  ) {
    this.limits = { ...DEFAULT_ARCHIVE_LIMITS, ...options.limits };
    this.threads = Math.max(1, options.threads ?? availableParallelism());
    this.slots = new Slots(this.threads * 2);
  }

  private get stopped(): boolean {
    return this.options.signal?.aborted === true;
  }

  async run(): Promise<TriageSummary> {
    const { Piscina: PiscinaClass } = await import('piscina');
    this.pool = new PiscinaClass({ filename: workerFile.href, minThreads: this.threads, maxThreads: this.threads, idleTimeout: 1000 });
    const now = this.options.now ?? (() => new Date());
    await this.caseDb.begin(this.options.roots, { seriesDistance: this.options.seriesDistance ?? SERIES_DISTANCE, limits: this.limits }, now());
    this.resuming = await this.caseDb.hasItems();
    void this.countTotals();
    const several = this.options.roots.length > 1;
    try {
      for (const root of this.options.roots) {
        for await (const entry of walkFiles([root])) {
          if (this.stopped) break;
          const path = casePathOf(root, entry.path, several);
          // An archive recorded but not complete (interrupted inside it) is opened again for its missing members.
          if ((await this.recorded(path))?.complete) {
            this.summary.skipped++;
            continue;
          }
          if (entry.kind === 'error') {
            if (entry.path.includes('\uFFFD') && (await this.rawNamed(entry.path, path))) continue;
            const message = entry.path.includes('\uFFFD') ? `${entry.error.message} (the name is not valid UTF-8)` : entry.error.message;
            this.record({ path, kind: 'file', status: 'error', error: { code: entry.error.code, message } });
            continue;
          }
          await this.slots.acquire();
          this.track(
            this.diskFile(entry.path, path, entry).finally(() => {
              this.diskFilesDone++;
              this.slots.release();
            }),
          );
        }
        if (this.stopped) break;
      }
      await Promise.all(this.inFlight);
      await this.flush();
      if (this.stopped) {
        this.summary.interrupted = true;
      } else {
        const groups = await assignGroups(this.caseDb, this.options.seriesDistance ?? SERIES_DISTANCE);
        this.summary.duplicateGroups = groups.duplicateGroups;
        this.summary.series = groups.series;
        await this.caseDb.finish(now());
      }
      this.progress(true);
      return this.summary;
    } finally {
      this.finished = true;
      await Promise.allSettled(this.inFlight);
      await this.flushing.catch(() => undefined);
      await this.pool.destroy();
    }
  }

  /** A previous run's record of the path; a case that was empty when the run began has none (no lookup per file). */
  private recorded(path: string): Promise<{ complete: boolean } | undefined> {
    return this.resuming ? this.caseDb.recorded(path) : Promise.resolve(undefined);
  }

  private track(p: Promise<void>): void {
    const tracked: Promise<void> = p.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async countTotals(): Promise<void> {
    let files = 0;
    let bytes = 0;
    for await (const e of walkFiles(this.options.roots)) {
      if (this.stopped || this.finished) return;
      if (e.kind === 'file') {
        files++;
        bytes += e.bytes;
      }
    }
    this.totals = { files, bytes };
  }

  private progress(force = false): void {
    const t = Date.now();
    if (!this.options.onProgress || (!force && t - this.lastProgress < 250)) return;
    this.lastProgress = t;
    this.options.onProgress({ files: this.diskFilesDone, items: this.summary.items, bytes: this.summary.bytes, skipped: this.summary.skipped, elapsedMs: t - this.started, ...(this.totals ? { totalFiles: this.totals.files, totalBytes: this.totals.bytes } : {}) });
  }

  // ---- checkpoints ----

  private record(item: CaseItem): void {
    this.summary.items++;
    const key = ({ known: 'known', 'known-benign': 'knownBenign', unknown: 'unknown', error: 'errors' } as const)[item.status];
    this.summary[key]++;
    this.pending.push(item);
    // A failed checkpoint (disk full…) keeps the chain rejected: the run's final flush throws it.
    if (this.pending.length >= (this.options.checkpointItems ?? 256)) this.flush().catch(() => undefined);
    else this.commitSoon();
    this.progress();
  }

  /**
   * Group commit: whatever finished while the previous checkpoint was being written is committed next, as
   * soon as the writer is free. Batches grow with the load, and a kill -9 loses only what was in flight
   * (not a checkpoint's worth of finished items).
   */
  private commitSoon(): void {
    if (this.committing || this.pending.length === 0) return;
    this.committing = true;
    setImmediate(() => {
      this.flush()
        .catch(() => undefined)
        .finally(() => {
          this.committing = false;
          this.commitSoon();
        });
    });
  }

  /** Commits what is pending; checkpoints run one after another, in order. */
  private flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.flushing.then(() => this.caseDb.write(batch));
    return this.flushing;
  }

  // ---- names that are not UTF-8 ----

  /**
   * The walk works on decoded names, so a file whose name is not valid UTF-8 cannot be opened through it.
   * Its folder is listed again as raw bytes and the file opened by its byte name; it is recorded under the
   * name decoded as archives' names are (UTF-8, else Latin-1). Folders with such names stay reported errors.
   */
  private async rawNamed(decodedPath: string, casePath: string): Promise<boolean> {
    const parent = dirname(decodedPath);
    let raws: Buffer[];
    try {
      raws = (await readdir(parent, { encoding: 'buffer' })).filter((b) => b.toString('utf8') === basename(decodedPath));
    } catch {
      return false;
    }
    const handled: Promise<void>[] = [];
    for (const raw of raws) {
      const full = Buffer.concat([Buffer.from(parent.endsWith('/') ? parent : `${parent}/`), raw]);
      const info = await stat(full).catch(() => undefined);
      if (!info?.isFile()) continue;
      const path = casePath.slice(0, casePath.lastIndexOf('/') + 1) + decodeName(raw);
      if ((await this.recorded(path))?.complete) {
        this.summary.skipped++;
        handled.push(Promise.resolve());
        continue;
      }
      const meta = { path, kind: 'file' as ItemKind, size: info.size, mtime: info.mtime.toISOString(), ctime: info.ctime.toISOString() };
      if (info.size > this.limits.maxMemberBytes) {
        this.record({ ...meta, status: 'error', error: { code: 'VIGIL_ERR_FILE_TOO_LARGE', message: `A file with a name that is not UTF-8 is read whole, up to ${this.limits.maxMemberBytes} bytes; this one is larger` } });
        handled.push(Promise.resolve());
        continue;
      }
      await this.slots.acquire();
      const p = readFile(full)
        .then((bytes) => {
          this.summary.bytes += bytes.length;
          return this.bytesItem(bytes, { ...meta, size: bytes.length }, undefined, 0, new ExpansionBudget(this.limits));
        })
        .catch((err: unknown) => this.record({ ...meta, status: 'error', error: fsError(err) }))
        .finally(() => this.slots.release());
      this.track(p);
      handled.push(p);
    }
    return handled.length > 0;
  }

  // ---- one file on disk ----

  private async diskFile(fullPath: string, path: string, walked: { bytes: number; mtimeMs?: number; ctimeMs?: number }): Promise<void> {
    // The walk's stat serves (one stat fewer per file); the file is checked again after it is read.
    let info = walked.mtimeMs !== undefined && walked.ctimeMs !== undefined ? { size: walked.bytes, mtimeMs: walked.mtimeMs, ctimeMs: walked.ctimeMs } : undefined;
    try {
      info ??= await stat(fullPath);
    } catch (err) {
      this.record({ path, kind: 'file', status: 'error', error: fsError(err) });
      return;
    }
    const meta = { path, size: info.size, mtime: new Date(info.mtimeMs).toISOString(), ctime: new Date(info.ctimeMs).toISOString() };
    try {
      // Small files (most of a seizure) are read whole at once: one open, one read feeds the type, digests,
      // archive reader and decoders. Only larger ones have their head read first (a video goes to ffmpeg by
      // path, a file over the memory limit is streamed through the digests).
      if (info.size > SMALL_FILE_BYTES) {
        const type = mimeOf(await readHead(fullPath));
        if (isVideoMime(type)) {
          const result = await this.decode({ path: fullPath });
          this.summary.bytes += info.size;
          await this.finishItem({ ...meta, kind: 'file', type }, result as FileDigests & DecodeResult, result);
          return;
        }
        // Large archives are read from the file (random access, members streamed), not held whole.
        const archive = archiveKindOf(type);
        if (archive || info.size > this.limits.maxMemberBytes) {
          const digests = await digestsOfFile(fullPath);
          this.summary.bytes += digests.bytes;
          if (archive) await this.archive({ path: fullPath }, archive, { ...meta, kind: 'archive', type }, digests, new ExpansionBudget(this.limits), 0);
          else await this.finishItem({ ...meta, kind: 'file', type }, digests, undefined);
          return;
        }
      }
      const bytes = await readFile(fullPath);
      this.summary.bytes += bytes.length;
      if (info.size <= SMALL_FILE_BYTES && isVideoMime(mimeOf(bytes.subarray(0, HEAD_BYTES)))) {
        // A short clip: ffmpeg reads it again by path (rare enough not to pipe the bytes).
        const result = await this.decode({ path: fullPath });
        await this.finishItem({ ...meta, kind: 'file', type: mimeOf(bytes.subarray(0, HEAD_BYTES)) }, result as FileDigests & DecodeResult, result);
        return;
      }
      await this.options.afterRead?.(fullPath);
      const after = await stat(fullPath);
      const changed = after.size !== bytes.length || after.mtimeMs !== info.mtimeMs;
      await this.bytesItem(bytes, { ...meta, size: bytes.length, kind: 'file' }, changed ? { code: 'VIGIL_ERR_FILE_CHANGED', message: `The file changed while it was read (${info.size} → ${after.size} bytes); hashed as read` } : undefined, 0, new ExpansionBudget(this.limits));
    } catch (err) {
      this.record({ ...meta, kind: 'file', status: 'error', error: fsError(err) });
    }
  }

  // ---- bytes in memory (a file, or an archive member) ----

  private async bytesItem(bytes: Buffer, meta: Omit<CaseItem, 'status'>, error: ItemError | undefined, depth: number, budget: ExpansionBudget): Promise<void> {
    const type = mimeOf(bytes.subarray(0, HEAD_BYTES));
    const digests = digestsOf(bytes);
    const archive = archiveKindOf(type);
    if (archive) {
      await this.archive({ bytes }, archive, { ...meta, type, kind: meta.kind === 'file' ? 'archive' : 'archive-member' }, digests, budget, depth, error);
      return;
    }
    if (bytes.length === 0 || !(isImageMime(type) || type === 'application/octet-stream')) {
      await this.finishItem({ ...meta, type }, digests, undefined, error);
      return;
    }
    // Allow banks first: a known-benign picture is not decoded.
    const allowed = await this.allowMatches(digests);
    if (allowed) {
      this.record({ ...meta, type, ...digests, status: 'known-benign', matches: allowed, ...(error ? { error } : {}) });
      return;
    }
    const result = await this.decode({ bytes });
    // Bytes that no decoder takes (octet-stream) are not an error: they have their digests.
    const decodeError = result.error && (isImageMime(type) ? result.error : undefined);
    delete result.error;
    await this.finishItem({ ...meta, type }, digests, result, error ?? decodeError, true);
  }

  private async decode(input: { bytes?: Buffer; path?: string }): Promise<DecodeResult> {
    const options = { dihedral: true, views: this.options.views !== false };
    const task: DecodeInput = { options };
    const transferList: ArrayBuffer[] = [];
    if (input.path !== undefined) task.path = input.path;
    if (input.bytes) {
      // Only a buffer that owns its memory is moved to the worker (a pooled slice would take its neighbours).
      const own = input.bytes.byteOffset === 0 && input.bytes.byteLength === input.bytes.buffer.byteLength ? input.bytes : Buffer.from(input.bytes);
      task.bytes = new Uint8Array(own.buffer, own.byteOffset, own.byteLength);
      transferList.push(own.buffer as ArrayBuffer);
    }
    try {
      return (await this.pool!.run(task, { transferList })) as DecodeResult;
    } catch (err) {
      return { path: '', error: { code: 'VIGIL_ERR_INTERNAL', message: `Decoding worker failed: ${(err as Error)?.message ?? String(err)}` } };
    }
  }

  private async allowMatches(digests: Partial<FileDigests>): Promise<StoredMatch[] | undefined> {
    if (!digests.sha256 && !digests.md5) return undefined;
    const matches = (await this.matcher.match({ ...pick(digests) })).filter((m) => m.bankKind === 'allow' && m.actionable);
    return matches.length > 0 ? matches.map(storedMatch) : undefined;
  }

  /** Matches (allow, then block, with every view and orientation) and records the item. */
  private async finishItem(meta: Omit<CaseItem, 'status'>, digests: Partial<FileDigests>, result: DecodeResult | undefined, error?: ItemError, allowChecked = false): Promise<void> {
    const item: CaseItem = { ...meta, status: 'unknown', ...pick(digests) };
    if (result) {
      if (result.pdq) {
        item.pdq = result.pdq;
        item.quality = result.quality!;
        item.pdqAll = [...new Set([result.pdq, ...Object.values(result.dihedral ?? {}), ...(result.views ?? []).map((v) => v.pdq)])] as string[];
      }
      if (result.vpdq) item.vpdq = result.vpdq;
      if (result.exif) item.exif = result.exif;
      if (result.error && !error) error = result.error;
    }
    if (error) item.error = error;
    if (!item.sha256) {
      item.status = 'error';
      this.record(item);
      return;
    }
    const query: MatchQuery = { ...pick(digests) };
    if (result) {
      query.pdq = pdqQueriesOf(result);
      if (result.vpdq) query.vpdq = result.vpdq.map((f) => parseVpdqCompactFeature(f));
    }
    // One lookup gives both kinds: allow matches win (digests only), block matches flag.
    const found = await this.matcher.match(query);
    const allowed = allowChecked ? [] : found.filter((m) => m.bankKind === 'allow' && m.actionable && m.signalType !== 'pdq' && m.signalType !== 'vpdq');
    if (allowed.length > 0) {
      this.record({ ...item, status: 'known-benign', matches: allowed.map(storedMatch) });
      return;
    }
    const block = found.filter((m) => m.bankKind === 'block');
    if (block.length > 0) {
      item.status = 'known';
      item.matches = block.map(storedMatch);
    }
    this.record(item);
  }

  // ---- archives ----

  private async archive(source: ArchiveSource, kind: ArchiveKind, meta: Omit<CaseItem, 'status'>, digests: FileDigests, budget: ExpansionBudget, depth: number, error?: ItemError): Promise<void> {
    const allowed = await this.allowMatches(digests);
    if (allowed) {
      this.record({ ...meta, ...digests, status: 'known-benign', matches: allowed });
      return;
    }
    const block = (await this.matcher.match({ ...digests })).filter((m) => m.bankKind === 'block');
    const status: ItemStatus = block.length > 0 ? 'known' : 'unknown';
    const base = { ...meta, ...digests, status, ...(block.length ? { matches: block.map(storedMatch) } : {}) };
    if (depth >= this.limits.maxDepth) {
      this.record({ ...base, error: { code: 'VIGIL_ERR_ARCHIVE_DEPTH', message: `Nested ${depth} archives deep (limit ${this.limits.maxDepth}): not opened` } });
      return;
    }
    const resumed = await this.recorded(meta.path);
    if (!resumed) this.record({ ...base, ...(error ? { error } : {}), complete: false });
    const members: Promise<void>[] = [];
    let failure: ItemError | undefined;
    for await (const m of readArchive(source, kind, budget)) {
      if (m.kind === 'failure') {
        failure = m.error;
        continue;
      }
      if (this.stopped) break;
      const path = `${meta.path}!${m.name}`;
      const done = await this.recorded(path);
      if (done?.complete) {
        this.summary.skipped++;
        continue;
      }
      const memberMeta = { path, kind: 'member' as ItemKind, parent: meta.path, size: m.size, ...(m.mtime ? { mtime: m.mtime.toISOString() } : {}) };
      if (!m.bytes) {
        // Too large to hold (digests only), or not read at all (encrypted, bomb).
        const item: CaseItem = { ...memberMeta, status: m.digests ? 'unknown' : 'error', ...(m.digests ?? {}), ...(m.error ? { error: m.error } : {}) };
        if (m.digests) members.push(this.finishItem(memberMeta, m.digests, undefined, m.error));
        else this.record(item);
        continue;
      }
      const bytes = m.bytes;
      const type = mimeOf(bytes.subarray(0, HEAD_BYTES));
      if (archiveKindOf(type)) {
        // A nested archive is opened here, in order (its bytes are already in memory).
        await this.bytesItem(bytes, memberMeta, m.error, depth + 1, budget);
        continue;
      }
      // Members in flight are bounded per archive (not by the shared slots, which the archive's own file may hold).
      members.push(this.bytesItem(bytes, memberMeta, m.error, depth, budget));
      if (members.length >= this.threads * 2) await members.shift();
    }
    await Promise.all(members);
    if (failure) {
      this.pending.push({ ...base, error: failure, complete: true });
    } else if (!this.stopped) {
      this.pending.push({ ...base, ...(error ? { error } : {}), complete: true });
    }
    await this.flush();
  }
}

function pick(d: Partial<FileDigests>): Partial<FileDigests> {
  return { ...(d.md5 ? { md5: d.md5 } : {}), ...(d.sha1 ? { sha1: d.sha1 } : {}), ...(d.sha256 ? { sha256: d.sha256 } : {}) };
}

function storedMatch(m: BankMatch): StoredMatch {
  const categories: StoredMatch['categories'] = {};
  if (m.labels.projectVicCategory !== undefined) categories.projectVic = m.labels.projectVicCategory;
  if (m.labels.ukCategory !== undefined) categories.uk = m.labels.ukCategory;
  return { bank: m.bank, signalType: m.signalType, distance: m.distance, signalId: m.signalId, ...(m.view ? { view: m.view } : {}), ...(m.dihedral ? { dihedral: m.dihedral } : {}), categories };
}

async function readHead(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const head = new Uint8Array(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function fsError(err: unknown): ItemError {
  if (err instanceof VigilError) return { code: err.code, message: err.message };
  const code = (err as NodeJS.ErrnoException)?.code;
  return { code: 'VIGIL_ERR_UNREADABLE', message: `Cannot read: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error)?.message ?? String(err)}` };
}

export async function runTriage(caseDb: CaseDb, matcher: TriageMatcher, options: TriageOptions): Promise<TriageSummary> {
  return new Triage(caseDb, matcher, options).run();
}
