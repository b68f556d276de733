/** Pieces both store implementations share: validation, canonical JSON (its stored form), list items → signal rows. */
import { canonicalJson as canonical } from '../core/canonical-json.js';
import { VigilError } from '../core/errors.js';
import type { Labels, ListItem } from '../lists/types.js';
import { findSignalType, thresholdSignalTypes, type SignalTypeName } from '../signals/registry.js';
import type { Bank, BankPatch, ImportRowError, NewBank, Signal, SignalStatus } from './types.js';

const BANK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validateBankName(name: unknown): string {
  if (typeof name !== 'string' || !BANK_NAME_RE.test(name)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a bank name of letters, digits, "_", "." or "-" (1–64, starting with a letter or digit) but received ${JSON.stringify(String(name).slice(0, 80))}`);
  }
  return name;
}

export function validateBankInput(input: NewBank | BankPatch): void {
  if (input.name !== undefined) validateBankName(input.name);
  if (input.enabledRatio !== undefined && !(typeof input.enabledRatio === 'number' && input.enabledRatio >= 0 && input.enabledRatio <= 1)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected an enabledRatio from 0 to 1 but received ${JSON.stringify(input.enabledRatio)}`);
  }
  if (input.kind !== undefined && input.kind !== 'block' && input.kind !== 'allow') {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected "block" or "allow" for kind but received ${JSON.stringify(input.kind)}`);
  }
  if (input.falsePositivePolicy !== undefined && !['suppress', 'downrank'].includes(input.falsePositivePolicy)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected "suppress" or "downrank" for falsePositivePolicy but received ${JSON.stringify(input.falsePositivePolicy)}`);
  }
  for (const [type, value] of Object.entries(input.thresholds ?? {})) {
    const t = findSignalType(type);
    if (t?.defaultThreshold === undefined) {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a distance-matched signal type (${thresholdSignalTypes().join(', ')}) for a threshold but received ${JSON.stringify(type)}`);
    }
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 128) {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected an integer 0..128 for the ${type} threshold but received ${String(value)}`);
    }
  }
  if (input.degeneratePolicy !== undefined && !['exact', 'none'].includes(input.degeneratePolicy)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected "exact" or "none" for degeneratePolicy but received ${JSON.stringify(input.degeneratePolicy)}`);
  }
  if (input.spikeThreshold !== undefined && (!Number.isInteger(input.spikeThreshold) || input.spikeThreshold < 0)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a non-negative integer for spikeThreshold but received ${String(input.spikeThreshold)}`);
  }
}

/**
 * JSON with object keys sorted, so equal content is equal text (re-imports detect "unchanged"): the one canonical
 * JSON, in JSON.stringify's lossy form for what JSON cannot hold, so rows written before keep their text.
 */
export function canonicalJson(value: unknown): string {
  return canonical(value, { unrepresentable: 'null' });
}

export function labelsJson(labels: Labels | undefined): string {
  return canonicalJson(labels ?? {});
}

/** One row to upsert or delete. A deletion without a value deletes by source id. */
export interface SignalRow {
  line: number;
  type: SignalTypeName | null;
  value: string | null;
  labels: string;
  sourceId: string | null;
  fileName: string | null;
  fileSize: number | null;
  metadata: string;
  deleted: boolean;
}

/** Flattens list items into signal rows and collects row errors (all counted, `keep` stored). */
export class RowCollector {
  rows = 0;
  errorCount = 0;
  readonly errors: ImportRowError[] = [];

  constructor(private readonly keep: number) {}

  /** Appends the item's rows to `out` (no per-item generator: this runs millions of times per import). */
  collect(item: ListItem, out: SignalRow[]): void {
    this.rows++;
    if (item.kind === 'error') {
      this.errorCount++;
      if (this.errors.length < this.keep) this.errors.push({ line: item.line, message: item.message });
      return;
    }
    const r = item.record;
    const labels = isEmptyObject(r.labels) ? '{}' : labelsJson(r.labels);
    const metadata = isEmptyObject(r.metadata) ? '{}' : canonicalJson(r.metadata);
    // NUL is not storable in PostgreSQL text; a file name from a seized disk can contain anything.
    const sourceId = r.sourceId === undefined ? null : r.sourceId.replace(/\0/g, '\uFFFD');
    const fileName = r.fileName === undefined ? null : r.fileName.replace(/\0/g, '\uFFFD');
    const fileSize = typeof r.fileSize === 'number' && Number.isFinite(r.fileSize) ? r.fileSize : null;
    const deleted = r.deleted === true;
    if (r.signals.length === 0) {
      if (deleted && sourceId) out.push({ line: item.line, type: null, value: null, labels, sourceId, fileName, fileSize, metadata, deleted });
      else {
        this.errorCount++;
        if (this.errors.length < this.keep) this.errors.push({ line: item.line, message: 'Record has no hash' });
      }
      return;
    }
    for (const s of r.signals) out.push({ line: item.line, type: s.type, value: s.value, labels, sourceId, fileName, fileSize, metadata, deleted });
  }
}

/** A row with nothing but its hash: staged through the narrow insert (most rows of most lists). */
export function isPlainRow(r: SignalRow): boolean {
  return r.value !== null && !r.deleted && r.labels === '{}' && r.metadata === '{}' && r.sourceId === null && r.fileName === null && r.fileSize === null;
}

const FILTER_LEVEL_BITS = [20, 29];
const FILTER_PROBES = 8;
const FILTER_BITS_PER_KEY = 128;

/**
 * The keys an import has staged, approximately (a Bloom filter): "not seen" is certain, so a row it lets
 * through needs no duplicate check; "maybe seen" (a hash listed twice, or a rare false positive) marks the
 * row for an exact check in SQL. That replaces sorting every staged row to find the few duplicates. A key's
 * bits share one 64-byte block (one cache miss, not one per bit). 128 KiB serve the first 8,192 keys, then
 * 64 MiB (allocated untouched: only the pages written take memory): no false positive in 5M keys; past
 * that the false-positive rate rises, which costs time, never correctness.
 */
export class KeyFilter {
  private readonly levels: Int32Array[] = [];
  private room = 0;

  /** True when (type, value) may have been passed before; records it either way. */
  seen(type: string, value: string): boolean {
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < type.length; i++) {
      h1 = Math.imul(h1 ^ type.charCodeAt(i), 0x01000193);
      h2 = Math.imul(h2 ^ type.charCodeAt(i), 0x5bd1e995);
    }
    // Four characters a round (hash lists are mostly hex digits).
    let i = 0;
    for (; i + 4 <= value.length; i += 4) {
      const k = value.charCodeAt(i) ^ (value.charCodeAt(i + 1) << 8) ^ (value.charCodeAt(i + 2) << 16) ^ (value.charCodeAt(i + 3) << 24) ^ (value.charCodeAt(i + 1) >>> 8);
      h1 = Math.imul(h1 ^ k, 0xcc9e2d51);
      h1 = (h1 << 13) | (h1 >>> 19);
      h2 = Math.imul(h2 + k, 0x1b873593);
      h2 ^= h2 >>> 15;
    }
    for (; i < value.length; i++) {
      h1 = Math.imul(h1 ^ value.charCodeAt(i), 0x01000193);
      h2 = Math.imul(h2 ^ value.charCodeAt(i), 0x5bd1e995);
    }
    h1 = fmix32(h1 ^ value.length);
    h2 = fmix32(h2);
    for (let l = 0; l < this.levels.length; l++) {
      const bits = this.levels[l];
      const block = (h1 >>> (32 - FILTER_LEVEL_BITS[l] + 9)) << 4;
      let all = true;
      let x = h2;
      for (let k = 0; k < FILTER_PROBES && all; k++) {
        x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9;
        const bit = x >>> 23;
        all = (bits[block + (bit >>> 5)] & (1 << (bit & 31))) !== 0;
      }
      if (all) return true;
    }
    if (this.room <= 0 && this.levels.length < FILTER_LEVEL_BITS.length) {
      const b = FILTER_LEVEL_BITS[this.levels.length];
      this.levels.push(new Int32Array(1 << (b - 5)));
      this.room = this.levels.length === FILTER_LEVEL_BITS.length ? Infinity : Math.floor(2 ** b / FILTER_BITS_PER_KEY);
    }
    const l = this.levels.length - 1;
    const bits = this.levels[l];
    const block = (h1 >>> (32 - FILTER_LEVEL_BITS[l] + 9)) << 4;
    let x = h2;
    for (let k = 0; k < FILTER_PROBES; k++) {
      x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9;
      const bit = x >>> 23;
      bits[block + (bit >>> 5)] |= 1 << (bit & 31);
    }
    this.room--;
    return false;
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function isEmptyObject(o: object | undefined): boolean {
  if (o === undefined) return true;
  for (const key in o) if ((o as Record<string, unknown>)[key] !== undefined) return false;
  return true;
}

export function nowIso(): string {
  return new Date().toISOString();
}

export function currentHourBucket(at: Date): number {
  return Math.floor(at.getTime() / 3_600_000);
}

/**
 * Row → model mapping shared by both stores. SQLite returns TEXT for JSON, 0/1 for booleans and ISO text for
 * times; PostgreSQL returns objects, booleans and Dates: each converter accepts both.
 */
type Row = Record<string, unknown>;
const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));
const numberOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function bankFromRow(r: Row): Bank {
  return {
    id: Number(r.id),
    name: String(r.name),
    description: String(r.description),
    kind: r.kind as Bank['kind'],
    enabled: r.enabled === true || r.enabled === 1,
    source: String(r.source),
    provenance: json(r.provenance),
    thresholds: json(r.thresholds),
    falsePositivePolicy: r.fp_policy as Bank['falsePositivePolicy'],
    spikeThreshold: Number(r.spike_threshold),
    enabledRatio: Number(r.enabled_ratio ?? 1),
    degeneratePolicy: (r.degenerate_policy ?? 'exact') as Bank['degeneratePolicy'],
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    deletedAt: isoOrNull(r.deleted_at),
  };
}

export function signalFromRow(r: Row): Signal {
  return {
    id: Number(r.id),
    bankId: Number(r.bank_id),
    bankName: String(r.bank_name),
    type: r.type as Signal['type'],
    value: String(r.value),
    labels: json(r.labels),
    sourceId: (r.source_id as string | null) ?? null,
    fileName: (r.file_name as string | null) ?? null,
    fileSize: numberOrNull(r.file_size),
    metadata: json(r.metadata),
    status: r.status as SignalStatus,
    importId: numberOrNull(r.import_id),
    addedAt: iso(r.added_at),
    updatedAt: iso(r.updated_at),
    deletedAt: isoOrNull(r.deleted_at),
    disableUntilTs: numberOrNull(r.disable_until_ts),
    matchCount: Number(r.match_count ?? 0),
    lastMatchAt: isoOrNull(r.last_match_at),
  };
}

/** The signal columns every read joins: bank name and match statistics. */
export const SIGNAL_SELECT = `SELECT s.*, b.name AS bank_name, st.match_count, st.last_match_at
  FROM signals s JOIN banks b ON b.id = s.bank_id LEFT JOIN signal_stats st ON st.signal_id = s.id`;
