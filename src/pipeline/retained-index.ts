/**
 * The reverse of the matcher, for retroactive matching: an index of the RETAINED submissions' hashes, in which a
 * newly added signal is looked up. A retained submission is re-matched (through the real matcher, with every
 * bank's rules) only when a new signal is near one of its hashes, instead of every submission on every feed
 * change. The lookup is a superset filter: the widest threshold of any bank, digests exact.
 */
import { exactValues, photoValues, videoValues, type MatchQuery } from '../banks/matcher.js';
import { HammingIndex256 } from '../matching/hamming-index.js';
import { findSignalType, signalTypes } from '../signals/registry.js';
import { parseVpdqJson } from '../signals/vpdq/format.js';
import type { SignalChange } from '../store/types.js';

export class RetainedIndex {
  /**
   * Every 256-bit hash of every retained query (photo types' views and orientations, video types' frames), entry
   * id → owner below. One index for all types: a superset is all a lookup must give (the matcher re-matches).
   */
  private readonly hashes256 = new HammingIndex256();
  private readonly ownerOf: number[] = [];
  private readonly entriesOf = new Map<number, number[]>();
  private readonly digests = new Map<string, Set<number>>();
  private readonly digestKeysOf = new Map<number, string[]>();

  /** Retained submissions indexed. */
  get size(): number {
    return this.entriesOf.size;
  }

  has(retainedId: number): boolean {
    return this.entriesOf.has(retainedId);
  }

  add(retainedId: number, query: MatchQuery): void {
    if (this.has(retainedId)) return;
    const entries: number[] = [];
    const put = (hash: Uint8Array) => {
      const entry = this.ownerOf.length;
      this.ownerOf.push(retainedId);
      this.hashes256.add(entry, hash);
      entries.push(entry);
    };
    const keys: string[] = [];
    for (const t of signalTypes()) {
      if (t.index === 'hamming256') for (const q of photoValues(query, t.name)) for (const h of q.hashes) put(h);
      else if (t.index === 'vpdq-frames') for (const v of videoValues(query, t.name)) for (const f of v.features) put(f.hash);
      else if (t.index === 'exact-digest') {
        for (const value of exactValues(query, t.name)) {
          const hex = value.toLowerCase();
          if (!hex) continue;
          const key = `${t.name}:${hex}`;
          keys.push(key);
          const owners = this.digests.get(key);
          if (owners) owners.add(retainedId);
          else this.digests.set(key, new Set([retainedId]));
        }
      }
    }
    this.entriesOf.set(retainedId, entries);
    this.digestKeysOf.set(retainedId, keys);
  }

  remove(retainedId: number): void {
    for (const entry of this.entriesOf.get(retainedId) ?? []) this.hashes256.remove(entry);
    for (const key of this.digestKeysOf.get(retainedId) ?? []) {
      const owners = this.digests.get(key);
      owners?.delete(retainedId);
      if (owners?.size === 0) this.digests.delete(key);
    }
    this.entriesOf.delete(retainedId);
    this.digestKeysOf.delete(retainedId);
  }

  /**
   * The retained submissions a new or changed signal may match: an equal digest, or a PDQ hash within `radius`
   * of the signal's PDQ or of one of its video's frames (a known image in a retained video, a retained picture
   * or video in a known video). PhotoDNA is matched remotely, never here.
   */
  candidates(change: SignalChange, radius: number): number[] {
    const out = new Set<number>();
    const near = (hash: Uint8Array) => {
      for (const m of this.hashes256.search(hash, radius)) out.add(this.ownerOf[m.id]!);
    };
    const kind = findSignalType(change.type)?.index;
    if (kind === 'hamming256') {
      if (/^[0-9a-fA-F]{64}$/.test(change.value)) near(Buffer.from(change.value, 'hex'));
    } else if (kind === 'vpdq-frames') {
      let frames: { hash: Uint8Array }[] = [];
      try {
        frames = parseVpdqJson(change.value);
      } catch {
        // As in the matcher: a value this version cannot parse never matches.
      }
      const seen = new Set<string>();
      for (const f of frames) {
        const key = Buffer.from(f.hash).toString('latin1');
        if (seen.has(key)) continue;
        seen.add(key);
        near(f.hash);
      }
    } else if (kind === 'exact-digest') {
      for (const id of this.digests.get(`${change.type}:${change.value.toLowerCase()}`) ?? []) out.add(id);
    }
    return [...out];
  }
}
