/**
 * The Node side of the signal-type seam for matching: a signal type's `index` kind (signals/types.ts) → the
 * index that holds its values in the matcher. The matcher keeps one of these per locally matched type and
 * iterates them, so a new type of an existing kind needs no edit here or in matcher.ts; a new index kind is
 * a class here, its entry in INDEX_FACTORIES, and its search in matcher.ts#match.
 */
import { HammingIndex256 } from '../matching/hamming-index.js';
import type { IndexKind, SignalType, SignalTypeName } from '../signals/registry.js';
import { signalTypes } from '../signals/registry.js';
import { parseVpdqJson } from '../signals/vpdq/format.js';
import { VpdqVideoIndex } from '../signals/vpdq/video-index.js';
import type { DigestIndex } from './matcher.js';

/** Hex → bytes through Node's native decoder (the feed carries millions of values on a cold start). */
export function hexBytes(hex: string, bytes: number): Uint8Array | undefined {
  if (hex.length !== bytes * 2) return undefined;
  const out = Buffer.from(hex, 'hex');
  // Buffer.from stops at the first non-hex pair: a short result means a malformed value.
  return out.length === bytes ? out : undefined;
}

/** Exact digests (md5, sha1, sha256, …): binary keys in a DigestIndex. */
export class DigestTypeIndex {
  readonly kind = 'exact-digest' as const;
  constructor(readonly type: SignalTypeName, readonly bytes: number, public index: DigestIndex) {}
  get size(): number {
    return this.index.size;
  }
  add(id: number, value: string): void {
    const bytes = hexBytes(value, this.bytes);
    if (!bytes) return;
    this.index.remove(id);
    this.index.add(id, bytes);
  }
  remove(id: number): void {
    this.index.remove(id);
  }
}

/** 256-bit perceptual photo hashes (pdq): a Hamming index; the matcher searches it with views and orientations. */
export class PhotoTypeIndex {
  readonly kind = 'hamming256' as const;
  constructor(readonly type: SignalTypeName, public index = new HammingIndex256()) {}
  get size(): number {
    return this.index.size;
  }
  /** The value's bytes when newly added (the matcher notes whether the hash is degenerate). */
  add(id: number, value: string): Uint8Array | undefined {
    const bytes = this.index.has(id) ? undefined : hexBytes(value, 32);
    if (bytes) this.index.add(id, bytes);
    return bytes;
  }
  remove(id: number): void {
    this.index.remove(id);
  }
}

/** Known videos (vpdq): every frame hash in one Hamming index, entry = signal id. */
export class VideoTypeIndex {
  readonly kind = 'vpdq-frames' as const;
  index = new VpdqVideoIndex<number>({ search: new HammingIndex256() });
  videoOf = new Map<number, number>();
  /** The type of each frame's hash: its stills are looked up among the frames, the frames in its banks. */
  readonly frameType: string | undefined;
  constructor(readonly type: SignalTypeName, frameType: string | undefined) {
    this.frameType = frameType;
  }
  get size(): number {
    return this.videoOf.size;
  }
  add(id: number, value: string): void {
    if (this.videoOf.has(id)) return;
    try {
      this.videoOf.set(id, this.index.add(id, parseVpdqJson(value)));
    } catch {
      // A value the store accepted but this version cannot parse never matches; it is not fatal.
    }
  }
  remove(id: number): void {
    const video = this.videoOf.get(id);
    if (video === undefined) return;
    this.index.remove(video);
    this.videoOf.delete(id);
  }
}

export type TypeIndex = DigestTypeIndex | PhotoTypeIndex | VideoTypeIndex;

export interface IndexFactoryOptions {
  /** Builds a digest index for a byte length (injected so the index implementation can change). */
  digestIndex: (byteLength: number) => DigestIndex;
}

/** Index kind → the index of one type. `none` (opaque types, e.g. photodna) is matched remotely, never here. */
export const INDEX_FACTORIES: { readonly [K in Exclude<IndexKind, 'none'>]: (t: SignalType<SignalTypeName>, o: IndexFactoryOptions) => TypeIndex } = {
  'exact-digest': (t, o) => {
    if (t.hexLength === undefined || t.hexLength % 2 !== 0) throw new Error(`Exact-digest type ${t.name} needs an even hexLength`);
    return new DigestTypeIndex(t.name, t.hexLength / 2, o.digestIndex(t.hexLength / 2));
  },
  hamming256: (t) => new PhotoTypeIndex(t.name),
  'vpdq-frames': (t) => new VideoTypeIndex(t.name, t.frameType),
};

/** One index per locally matched registered type, in registry order. */
export function createTypeIndexes(o: IndexFactoryOptions): TypeIndex[] {
  return signalTypes().flatMap((t) => (t.index === 'none' ? [] : [INDEX_FACTORIES[t.index](t, o)]));
}
