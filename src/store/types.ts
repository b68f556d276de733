/**
 * The store's model: banks of signals (hash lists) with provenance, opinions and match statistics.
 * Row shapes here are the contract between the two implementations (SQLite, PostgreSQL) and everything
 * above them (matcher, CLI, service). Names of enum values are persisted: never rename them.
 */
import type { DegeneratePolicy } from '../banks/match-policy.js';
import type { Labels, ListItem } from '../lists/types.js';
import type { SignalTypeName } from '../signals/registry.js';
import type { Tx } from '../state/database.js';

/** A block list holds known material; an allow list holds known-good files (NSRL) to drop in triage. */
export const BANK_KINDS = ['block', 'allow'] as const;
export type BankKind = (typeof BANK_KINDS)[number];
/** What a false-positive opinion does to a signal of this bank: stop matching, or keep matching but flagged. */
export const FALSE_POSITIVE_POLICIES = ['suppress', 'downrank'] as const;
export type FalsePositivePolicy = (typeof FALSE_POSITIVE_POLICIES)[number];

export interface Bank {
  id: number;
  name: string;
  description: string;
  kind: BankKind;
  enabled: boolean;
  /** Where the list comes from (e.g. "NCMEC hash sharing", "IWF", "own moderation"). */
  source: string;
  provenance: Record<string, unknown>;
  /** Max Hamming distance per distance-matched signal type; defaults from signals/registry.ts. */
  thresholds: Partial<Record<SignalTypeName, number>>;
  falsePositivePolicy: FalsePositivePolicy;
  /** Hourly matches above which a signal is quarantined as a suspected false positive (0 = off). */
  spikeThreshold: number;
  /** The share of the bank's contents that match (HMA's enabled_ratio), chosen per content; 1 = all. */
  enabledRatio: number;
  /** What a degenerate PDQ hash (constant, one value, periodic) may match in this bank: the identical hash, or nothing. */
  degeneratePolicy: DegeneratePolicy;
  createdAt: string;
  updatedAt: string;
  /** Set when the bank was deleted: it no longer matches and its name is free; its id keeps the history. */
  deletedAt: string | null;
}

export interface NewBank {
  name: string;
  description?: string;
  kind?: BankKind;
  enabled?: boolean;
  source?: string;
  provenance?: Record<string, unknown>;
  thresholds?: Partial<Record<SignalTypeName, number>>;
  falsePositivePolicy?: FalsePositivePolicy;
  spikeThreshold?: number;
  enabledRatio?: number;
  degeneratePolicy?: DegeneratePolicy;
}

export type BankPatch = Partial<Omit<NewBank, 'name'>> & { name?: string };

/** active: matches; false_positive: marked so by a person (bank policy decides); quarantined: match-rate spike. */
export const SIGNAL_STATUSES = ['active', 'false_positive', 'quarantined'] as const;
export type SignalStatus = (typeof SIGNAL_STATUSES)[number];

export interface Signal {
  id: number;
  bankId: number;
  bankName: string;
  type: SignalTypeName;
  value: string;
  labels: Labels;
  sourceId: string | null;
  fileName: string | null;
  fileSize: number | null;
  metadata: Record<string, unknown>;
  status: SignalStatus;
  importId: number | null;
  addedAt: string;
  updatedAt: string;
  deletedAt: string | null;
  /** HMA's content switch: null = enabled; a unix time (seconds) = disabled until then (0: for good). */
  disableUntilTs: number | null;
  matchCount: number;
  lastMatchAt: string | null;
}

export const OPINION_KINDS = ['confirmed', 'false_positive', 'disputed'] as const;
export type OpinionKind = (typeof OPINION_KINDS)[number];

export interface Opinion {
  id: number;
  signalId: number;
  kind: OpinionKind;
  actor: string;
  reason: string;
  createdAt: string;
}

/** One row of the change feed the in-memory indexes follow (ordered by seq). */
export interface SignalChange {
  seq: number;
  id: number;
  bankId: number;
  type: SignalTypeName;
  value: string;
  status: SignalStatus;
  deleted: boolean;
}

export interface ImportOptions {
  /** Recorded with the import (file name, format) for provenance. */
  fileName?: string;
  format?: string;
  /** Keep at most this many row errors in the result (all are counted). Default 1,000. */
  keepErrors?: number;
  /** Called every batch with rows seen so far. */
  onProgress?: (rows: number) => void;
  /** Rows per write batch. */
  batchSize?: number;
  /**
   * Runs inside the import's own write transaction, after the merge (the audit entry of the import): the
   * import and what `withinCommit` writes commit together. Not for long work: the write lock is held.
   */
  withinCommit?: (tx: Tx, result: ImportResult) => Promise<void>;
}

export interface ImportRowError {
  line: number;
  message: string;
}

export interface ImportResult {
  importId: number;
  bank: string;
  /** Source rows read (records and errors). */
  rows: number;
  signals: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  errorCount: number;
  errors: ImportRowError[];
}

export interface BankStats {
  bank: string;
  byType: Partial<Record<SignalTypeName, number>>;
  active: number;
  falsePositive: number;
  quarantined: number;
  deleted: number;
  matches: number;
  imports: number;
  lastImportAt: string | null;
}

/**
 * The store. Every write is one transaction: an import either lands whole or not at all, and a crash
 * mid-import leaves the bank as it was.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  close(): Promise<void>;
  /** This store inside a unit of work (state/database.ts): its writes commit or roll back with the caller's. */
  in(tx: Tx): Store;

  createBank(input: NewBank): Promise<Bank>;
  /** A live (not deleted) bank by name. */
  getBank(name: string): Promise<Bank | undefined>;
  /** Any bank by id, deleted ones included. */
  getBankById(id: number): Promise<Bank | undefined>;
  /** The live banks. */
  listBanks(): Promise<Bank[]>;
  updateBank(name: string, patch: BankPatch): Promise<Bank>;
  /** Deletes a live bank: it stops matching and frees its name; its row stays under its id (history). */
  deleteBank(name: string): Promise<Bank>;
  /** Sets a signal's HMA content switch (null: enabled). */
  setSignalDisabledUntil(signalId: number, disableUntilTs: number | null): Promise<Signal>;

  /** Streams list items into a bank, idempotently (upsert on bank, type and value). */
  importList(bankName: string, items: AsyncIterable<ListItem> | Iterable<ListItem>, options?: ImportOptions): Promise<ImportResult>;
  getSignal(id: number): Promise<Signal | undefined>;
  getSignals(ids: readonly number[]): Promise<Signal[]>;
  findSignals(type: SignalTypeName, value: string): Promise<Signal[]>;
  /** Every non-deleted signal of a bank, in id order, in pages (for export). */
  listSignals(bankName: string, options?: { includeDeleted?: boolean; pageSize?: number }): AsyncGenerator<Signal>;

  /** Changes with seq greater than `afterSeq`, oldest first. */
  changesSince(afterSeq: number, limit: number): Promise<SignalChange[]>;
  /** Highest seq so far (0 on an empty store). */
  latestSeq(): Promise<number>;

  /** Records an opinion; false_positive sets the signal's status, confirmed restores it to active. */
  addOpinion(signalId: number, opinion: { kind: OpinionKind; actor: string; reason?: string }): Promise<Signal>;
  listOpinions(signalId: number): Promise<Opinion[]>;

  /**
   * Counts matches per signal in the current hour; a signal whose hourly count passes its bank's
   * spikeThreshold is quarantined. Returns the ids quarantined by this call.
   */
  recordMatches(signalIds: readonly number[], at?: Date): Promise<number[]>;
  bankStats(bankName: string): Promise<BankStats>;
}
