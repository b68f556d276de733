/**
 * The exchange interface: a client turns a program's API (NCMEC hash sharing, StopNCII, ThreatExchange, another
 * Vigil, a published file) into pages of keyed updates and deletions, each page carrying the checkpoint from
 * which the fetch resumes once that page is applied. The fetcher (fetcher.ts) applies a page and stores its
 * checkpoint in one unit of work, so a fetch killed anywhere resumes without loss or duplication.
 */
import type { Labels, ListSignal } from '../lists/types.js';
import type { SignalTypeName } from '../signals/registry.js';

/** Where a client resumes; JSON, opaque to the fetcher. null: from the beginning. */
export type Checkpoint = Record<string, unknown> | null;

/** Who published an entry, what it is, when: kept on every signal the entry brings (signal metadata). */
export interface Provenance {
  /** The exchange's id of the entry (NCMEC entry id, ThreatExchange indicator id, the hash for StopNCII). */
  entryId: string;
  /** The publishing member (NCMEC member id, ThreatExchange owner), where the program says. */
  member?: string;
  memberName?: string;
  /** The program's classification (NCMEC A1–B2, StopNCII case status, ThreatExchange tags). */
  classification?: string;
  /** When the program last changed the entry (ISO 8601). */
  timestamp?: string;
  /** Fingerprints Vigil cannot match (video hashes, links to large ones), kept so nothing is lost. */
  otherFingerprints?: Record<string, string>;
  /** Ids the program needs for feedback (a ThreatExchange descriptor id). */
  refs?: Record<string, string>;
}

/**
 * One keyed change. An update replaces everything the key brought before (signals it no longer lists go); a
 * deletion removes every signal the key brought.
 */
export type ExchangeItem =
  | { kind: 'update'; key: string; signals: ListSignal[]; labels?: Labels; provenance: Provenance }
  | { kind: 'delete'; key: string }
  | { kind: 'error'; key?: string; message: string };

export interface ExchangePage {
  items: AsyncIterable<ExchangeItem> | Iterable<ExchangeItem>;
  /** Where to resume once this page is applied. */
  checkpoint: Checkpoint;
  /**
   * This page holds the whole list (a published file): once applied, signals of the bank that it did not list
   * are deleted.
   */
  snapshot?: boolean;
}

/** A reviewer's verdict on a signal that came from an exchange, sent back where the operator enabled it. */
export interface ExchangeFeedback {
  verdict: 'confirmed' | 'false_positive';
  key: string;
  signal: { type: SignalTypeName; value: string };
  provenance: Provenance;
  /** The reviewer's reason text (never sent unless the program takes free text). */
  reason?: string;
}

export interface ExchangeClient {
  readonly api: string;
  /** Pages from `checkpoint` to the program's present; the last page's checkpoint is where the next fetch starts. */
  fetch(checkpoint: Checkpoint, signal?: AbortSignal): AsyncIterable<ExchangePage>;
  /** Sends one verdict; absent where the program takes none. Throws to be retried (the queue retries). */
  feedback?(feedback: ExchangeFeedback): Promise<void>;
}
