/**
 * Archive members as a stream of in-memory items: nothing is ever written to disk (a seizure is evidence;
 * extracting it would both alter the working copy and risk zip slip).
 *
 * Libraries (well kept, no native code, no dependencies that write files):
 * - zip: yauzl. It reads the central directory, the authoritative member list (a streaming local-header
 *   parser is fooled by stored entries with data descriptors and by prepended data), works on a file
 *   (random access, no buffering) or on a buffer (a nested zip), verifies sizes and CRCs, and reports
 *   encryption. `decodeStrings: false` hands us raw names so that an unsafe name is reported, not refused.
 * - tar / tar.gz: tar-stream, a pure streaming parser (entries as streams, async iteration), behind zlib.
 *
 * Limits (ArchiveLimits) stop zip bombs: a member over the compression-ratio limit or the expanded-bytes
 * budget (shared by an archive and everything nested in it) is reported, not read; nesting deeper than
 * `maxDepth` is reported, not opened. A member larger than `maxMemberBytes` is streamed through the
 * digests without being held.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import yauzl from 'yauzl';
import type { VigilErrorCode } from '../core/errors.js';
import type { FileDigests } from '../media/digests.js';
import type { ArchiveKind } from './mime.js';
import { salvageZip } from './zip-salvage.js';

export interface ArchiveLimits {
  /** Archives inside archives: an archive at this depth (1 = inside one archive) is recorded but not opened. */
  maxDepth: number;
  /** Members up to this size are held in memory (hashed and decoded); larger ones are digested as they stream. */
  maxMemberBytes: number;
  /** Bytes one top-level archive may expand to, nested archives included. */
  maxExpandedBytes: number;
  /** Expanded ÷ compressed size above which a member (zip) or stream (gzip) is a bomb… */
  maxRatio: number;
  /** …once it expands past this many bytes (small, highly compressible files are ordinary). */
  ratioFloorBytes: number;
  /** Members per archive. */
  maxMembers: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxDepth: 4,
  maxMemberBytes: 256 * 1024 * 1024,
  maxExpandedBytes: 64 * 1024 ** 3,
  maxRatio: 200,
  ratioFloorBytes: 16 * 1024 * 1024,
  maxMembers: 1_000_000,
};

export interface ItemError {
  code: VigilErrorCode;
  message: string;
}

/** One member: its bytes (up to `maxMemberBytes`) or, when larger, its digests; or an error and neither. */
export interface ArchiveMember {
  kind: 'member';
  name: string;
  size: number;
  mtime?: Date;
  bytes?: Buffer;
  digests?: FileDigests;
  error?: ItemError;
}

/** The archive as a whole failed (truncated, corrupt): members read before it still count. */
export interface ArchiveFailure {
  kind: 'failure';
  error: ItemError;
}

/** Shared by a top-level archive and all archives inside it. */
export class ExpansionBudget {
  expanded = 0;
  constructor(readonly limits: ArchiveLimits) {}
}

export type ArchiveSource = { path: string } | { bytes: Buffer };

/** Decodes a raw member name: UTF-8 when valid, else Latin-1 (byte for byte, so nothing is lost). */
export function decodeName(raw: Buffer | string): string {
  if (typeof raw === 'string') return raw;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return raw.toString('latin1');
  }
}

/** Absolute names and names that climb out with `..` (zip slip): reported, and kept as written. */
export function unsafeNameReason(name: string): string | undefined {
  if (/^([/\\]|[a-zA-Z]:)/.test(name)) return 'absolute path';
  if (name.split(/[/\\]/).includes('..')) return 'climbs out of the archive with ..';
  return undefined;
}

export async function* readArchive(source: ArchiveSource, kind: ArchiveKind, budget: ExpansionBudget): AsyncGenerator<ArchiveMember | ArchiveFailure> {
  yield* kind === 'zip' ? readZip(source, budget) : readTar(source, kind === 'tar.gz', budget);
}

function failure(code: VigilErrorCode, err: unknown): ArchiveFailure {
  return { kind: 'failure', error: { code, message: (err as Error)?.message ?? String(err) } };
}

function withNameCheck(member: ArchiveMember): ArchiveMember {
  const reason = unsafeNameReason(member.name);
  if (reason && !member.error) member.error = { code: 'VIGIL_ERR_ARCHIVE_UNSAFE_PATH', message: `Unsafe member name (${reason}): read in memory, never written out` };
  return member;
}

/** A member's bytes, or past `limit` its digests (streamed, nothing held). */
async function collect(stream: AsyncIterable<Buffer>, limit: number): Promise<{ bytes?: Buffer; digests?: FileDigests; size: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let hashes: ReturnType<typeof createHash>[] | undefined;
  for await (const chunk of stream) {
    size += chunk.length;
    if (!hashes && size > limit) {
      hashes = [createHash('md5'), createHash('sha1'), createHash('sha256')];
      for (const c of chunks.splice(0)) for (const h of hashes) h.update(c);
    }
    if (hashes) for (const h of hashes) h.update(chunk);
    else chunks.push(chunk);
  }
  if (!hashes) return { bytes: Buffer.concat(chunks, size), size };
  const [md5, sha1, sha256] = hashes.map((h) => h.digest('hex'));
  return { digests: { md5, sha1, sha256 }, size };
}

function bombReason(expanded: number, compressed: number, budget: ExpansionBudget): string | undefined {
  const { limits } = budget;
  if (budget.expanded + expanded > limits.maxExpandedBytes) return `expands past the archive budget of ${limits.maxExpandedBytes} bytes`;
  if (expanded > limits.ratioFloorBytes && expanded / Math.max(1, compressed) > limits.maxRatio) return `expands ${Math.round(expanded / Math.max(1, compressed))}× (${expanded} bytes), over the ${limits.maxRatio}× limit`;
  return undefined;
}

// ---- zip ----

async function readIfSmall(path: string, limit: number): Promise<Buffer | undefined> {
  try {
    return (await stat(path)).size <= limit ? await readFile(path) : undefined;
  } catch {
    return undefined;
  }
}

type ZipFile = yauzl.ZipFile;
const ZIP_OPTIONS: yauzl.Options = { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: true, strictFileNames: false };

function openZip(source: ArchiveSource): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, zip?: ZipFile) => (err || !zip ? reject(err ?? new Error('zip did not open')) : resolve(zip));
    if ('path' in source) yauzl.open(source.path, ZIP_OPTIONS, done);
    else yauzl.fromBuffer(source.bytes, ZIP_OPTIONS, done);
  });
}

/** The next entry, or undefined at the end. */
function nextEntry(zip: ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (e: yauzl.Entry) => (cleanup(), resolve(e));
    const onEnd = () => (cleanup(), resolve(undefined));
    const onError = (err: Error) => (cleanup(), reject(err));
    zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
    zip.readEntry();
  });
}

function openEntry(zip: ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => zip.openReadStream(entry, (err, stream) => (err || !stream ? reject(err ?? new Error('no stream')) : resolve(stream))));
}

async function* readZip(source: ArchiveSource, budget: ExpansionBudget): AsyncGenerator<ArchiveMember | ArchiveFailure> {
  let zip: ZipFile;
  try {
    zip = await openZip(source);
  } catch (err) {
    // No central directory (cut off): the whole members before the cut are salvaged from their local headers.
    const bytes = 'bytes' in source ? source.bytes : await readIfSmall(source.path, budget.limits.maxMemberBytes);
    if (bytes) {
      for (const m of salvageZip(bytes, budget.limits)) {
        if (m.bytes) budget.expanded += m.bytes.length;
        yield withNameCheck(m);
      }
    }
    yield failure('VIGIL_ERR_ARCHIVE_CORRUPT', new Error(`${(err as Error).message}${bytes ? '' : ' (too large to salvage members from)'}`));
    return;
  }
  let count = 0;
  try {
    for (let entry = await nextEntry(zip); entry; entry = await nextEntry(zip)) {
      const name = decodeName(entry.fileName as unknown as Buffer);
      if (name.endsWith('/')) continue;
      if (++count > budget.limits.maxMembers) {
        yield failure('VIGIL_ERR_ARCHIVE_BOMB', new Error(`More than ${budget.limits.maxMembers} members; the rest were not read`));
        break;
      }
      const member: ArchiveMember = { kind: 'member', name, size: entry.uncompressedSize, mtime: entry.getLastModDate() };
      if (entry.isEncrypted()) {
        member.error = { code: 'VIGIL_ERR_ARCHIVE_ENCRYPTED', message: 'Encrypted member: not read' };
        yield withNameCheck(member);
        continue;
      }
      const bomb = bombReason(entry.uncompressedSize, entry.compressedSize, budget);
      if (bomb) {
        member.error = { code: 'VIGIL_ERR_ARCHIVE_BOMB', message: `Not read: ${bomb}` };
        yield withNameCheck(member);
        continue;
      }
      budget.expanded += entry.uncompressedSize;
      try {
        const got = await collect(await openEntry(zip, entry), budget.limits.maxMemberBytes);
        Object.assign(member, got);
      } catch (err) {
        member.error = { code: 'VIGIL_ERR_ARCHIVE_CORRUPT', message: `Member could not be read: ${(err as Error).message}` };
      }
      yield withNameCheck(member);
    }
  } catch (err) {
    yield failure('VIGIL_ERR_ARCHIVE_CORRUPT', err);
  } finally {
    zip.close();
  }
}

// ---- tar, tar.gz ----

/** Counts bytes going through (compressed in, expanded out) so a gzip bomb is stopped as it inflates. */
class Counter extends Transform {
  bytes = 0;
  constructor(private readonly check?: (bytes: number) => Error | undefined) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    done(this.check?.(this.bytes) ?? null, chunk);
  }
}

class BombError extends Error {}

async function* readTar(source: ArchiveSource, gzip: boolean, budget: ExpansionBudget): AsyncGenerator<ArchiveMember | ArchiveFailure> {
  const input = 'path' in source ? createReadStream(source.path, { highWaterMark: 1 << 20 }) : Readable.from([source.bytes]);
  const compressed = new Counter();
  const start = budget.expanded;
  const expanded = new Counter((bytes) => {
    const reason = gzip ? bombReason(bytes, compressed.bytes, { ...budget, expanded: start } as ExpansionBudget) : undefined;
    return reason ? new BombError(`Stopped: the gzip stream ${reason}`) : undefined;
  });
  const extract = tar.extract();
  const stages = gzip ? [input, compressed, createGunzip(), expanded, extract] : [input, expanded, extract];
  let feedError: unknown;
  const feeding = (pipeline as (...s: unknown[]) => Promise<void>)(...stages).catch((err: unknown) => {
    feedError = err;
  });
  let count = 0;
  let stopped = false;
  try {
    for await (const entry of extract) {
      const { header } = entry;
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      if (++count > budget.limits.maxMembers) {
        yield failure('VIGIL_ERR_ARCHIVE_BOMB', new Error(`More than ${budget.limits.maxMembers} members; the rest were not read`));
        stopped = true;
        break;
      }
      const name = decodeName(header.name);
      const member: ArchiveMember = { kind: 'member', name, size: header.size ?? 0, ...(header.mtime ? { mtime: header.mtime } : {}) };
      if (budget.expanded + member.size > budget.limits.maxExpandedBytes) {
        entry.resume();
        member.error = { code: 'VIGIL_ERR_ARCHIVE_BOMB', message: `Not read: expands past the archive budget of ${budget.limits.maxExpandedBytes} bytes` };
        yield withNameCheck(member);
        continue;
      }
      try {
        Object.assign(member, await collect(entry as unknown as AsyncIterable<Buffer>, budget.limits.maxMemberBytes));
        budget.expanded += member.size;
      } catch (err) {
        // The stream ended inside this member: it is not whole, so it is reported, not hashed.
        member.error = { code: 'VIGIL_ERR_ARCHIVE_CORRUPT', message: `Member cut short: ${(err as Error).message}` };
        yield withNameCheck(member);
        throw err;
      }
      yield withNameCheck(member);
    }
  } catch (err) {
    feedError ??= err;
  } finally {
    input.destroy();
    await feeding;
  }
  if (feedError && !stopped) yield failure(feedError instanceof BombError ? 'VIGIL_ERR_ARCHIVE_BOMB' : 'VIGIL_ERR_ARCHIVE_CORRUPT', feedError);
}
