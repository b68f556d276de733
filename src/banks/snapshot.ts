/**
 * Matcher snapshots: a process starts from the indexes as a file plus the change feed since, instead of
 * replaying the whole feed (1M signals: seconds of SQL, hex decoding and index building).
 *
 * A snapshot is a folder: one file per signal type's index (HammingIndex256 / ExactIndex files, each CRC-checked,
 * named by the generation and the type, e.g. `matcher-<generation>.pdq`), and a manifest (`matcher.snapshot`, the same container) written LAST that names the generation,
 * the feed position and the per-signal bank and status arrays. A crash mid-write leaves the previous manifest,
 * whose files are kept until the generation after; a reader never sees a mixed set. Known videos are saved by
 * signal id only: a signal's value never changes under its id, so they are re-read from the store on load.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { IndexFileReader, writeIndexFile } from '../matching/_file-format.js';
import { HammingIndex256 } from '../matching/hamming-index.js';
import type { SignalTypeName } from '../signals/registry.js';

/** A digest index that can be written to a file (the production ExactIndex can). */
export interface SavableIndex {
  save(path: string): void;
}

/** The last change applied: on load, the store must still hold this signal with this value (same database). */
export interface FeedCheck {
  id: number;
  type: SignalTypeName;
  value: string;
}

export interface SnapshotContents {
  position: number;
  check: FeedCheck | null;
  /** Per photo (hamming256) type, its index. */
  photos: Record<string, HammingIndex256>;
  /** Per exact-digest type, its index. */
  digests: Record<string, SavableIndex>;
  /** Bank id and status code per signal id (the matcher's arrays; only `length` entries are meaningful). */
  bankOf: Int32Array;
  statusOf: Uint8Array;
  videoIds: number[];
}

export interface LoadedSnapshot<D> {
  position: number;
  check: FeedCheck | null;
  photos: Record<string, HammingIndex256>;
  digests: Record<string, D>;
  bankOf: Int32Array<ArrayBuffer>;
  statusOf: Uint8Array<ArrayBuffer>;
  videoIds: number[];
}

const MANIFEST = 'matcher.snapshot';
const KIND = 'vigil.matcher-snapshot';
const KIND_VERSION = 1;
const FILE = /^matcher-([0-9a-z]+-[0-9a-f]+)\.([0-9A-Za-z_-]+)$/;

interface Manifest {
  generation: string;
  position: number;
  check: FeedCheck | null;
  signals: number;
  videos: number;
}

const fileOf = (dir: string, generation: string, part: string) => join(dir, `matcher-${generation}.${part}`);

/** Writes a snapshot into `dir` (which must exist); synchronous, so it captures one consistent state. */
export function writeSnapshot(dir: string, s: SnapshotContents): { generation: string } {
  // Sortable by time, unique across processes sharing the folder.
  const generation = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  for (const [type, index] of Object.entries(s.photos)) index.save(fileOf(dir, generation, type));
  for (const [type, index] of Object.entries(s.digests)) index.save(fileOf(dir, generation, type));
  const previous = readGeneration(dir);
  const meta: Manifest = { generation, position: s.position, check: s.check, signals: s.bankOf.length, videos: s.videoIds.length };
  writeIndexFile(join(dir, MANIFEST), KIND, KIND_VERSION, meta, [
    { name: 'bankOf', data: s.bankOf },
    { name: 'statusOf', data: s.statusOf },
    { name: 'videoIds', data: Int32Array.from(s.videoIds) },
  ]);
  // The previous generation stays for a reader that opened its manifest a moment ago; older ones go.
  for (const name of readdirSync(dir)) {
    const m = FILE.exec(name);
    if (m && m[1] !== generation && m[1] !== previous) rmSync(join(dir, name), { force: true });
  }
  return { generation };
}

function readGeneration(dir: string): string | undefined {
  try {
    const f = IndexFileReader.open(join(dir, MANIFEST), KIND, [KIND_VERSION]);
    f.close();
    return (f.meta as Partial<Manifest>).generation;
  } catch {
    // No snapshot yet, or an unusable one: nothing of it is worth keeping.
    return undefined;
  }
}

/** True when `dir` holds a manifest (valid or not): absent means a first start, not a corruption to report. */
export function hasSnapshot(dir: string): boolean {
  try {
    return readdirSync(dir).includes(MANIFEST);
  } catch {
    // No folder yet (a first start), or one that cannot be read: either way there is no snapshot to load.
    return false;
  }
}

/**
 * Reads the snapshot in `dir`, one file per type named in `types` (the matcher's registered types). Throws
 * (VIGIL_ERR_INDEX_CORRUPT, VIGIL_ERR_UNREADABLE) on anything unusable, a type's missing file included (a type
 * added since): the caller then replays the whole feed.
 */
export function readSnapshot<D>(dir: string, types: { digests: readonly string[]; photos: readonly string[] }, loadDigest: (path: string, type: string) => D): LoadedSnapshot<D> {
  const f = IndexFileReader.open(join(dir, MANIFEST), KIND, [KIND_VERSION]);
  try {
    const m = f.meta as Partial<Manifest> | null;
    const ok = m !== null && typeof m === 'object' && typeof m.generation === 'string' && /^[0-9a-z]+-[0-9a-f]+$/.test(m.generation) &&
      Number.isSafeInteger(m.position) && (m.position as number) >= 0 && Number.isSafeInteger(m.signals) && (m.signals as number) >= 0 &&
      Number.isSafeInteger(m.videos) && (m.videos as number) >= 0 && (m.check === null || (typeof m.check === 'object' && Number.isSafeInteger(m.check?.id) && typeof m.check?.value === 'string'));
    if (!ok) f.corrupt('the manifest is malformed');
    const manifest = m as Manifest;
    const bankOf = new Int32Array(manifest.signals);
    const statusOf = new Uint8Array(manifest.signals);
    const videoIds = new Int32Array(manifest.videos);
    f.read('bankOf', bankOf);
    f.read('statusOf', statusOf);
    f.read('videoIds', videoIds);
    const photos = Object.fromEntries(types.photos.map((t) => [t, HammingIndex256.load(fileOf(dir, manifest.generation, t))]));
    const digests = Object.fromEntries(types.digests.map((t) => [t, loadDigest(fileOf(dir, manifest.generation, t), t)]));
    return { position: manifest.position, check: manifest.check, photos, digests, bankOf, statusOf, videoIds: [...videoIds] };
  } finally {
    f.close();
  }
}
