/** Pieces both store implementations share: validation, canonical JSON, list items → signal rows. */
import { VigilError } from '../core/errors.js';
import type { Labels, ListItem } from '../lists/types.js';
import { SIGNAL_TYPE_INFO, type SignalTypeName } from '../signals/registry.js';
import type { BankPatch, ImportRowError, NewBank } from './types.js';

const BANK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validateBankName(name: unknown): string {
  if (typeof name !== 'string' || !BANK_NAME_RE.test(name)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a bank name of letters, digits, "_", "." or "-" (1–64, starting with a letter or digit) but received ${JSON.stringify(String(name).slice(0, 80))}`);
  }
  return name;
}

export function validateBankInput(input: NewBank | BankPatch): void {
  if (input.name !== undefined) validateBankName(input.name);
  if (input.kind !== undefined && input.kind !== 'block' && input.kind !== 'allow') {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected "block" or "allow" for kind but received ${JSON.stringify(input.kind)}`);
  }
  if (input.falsePositivePolicy !== undefined && !['suppress', 'downrank'].includes(input.falsePositivePolicy)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected "suppress" or "downrank" for falsePositivePolicy but received ${JSON.stringify(input.falsePositivePolicy)}`);
  }
  for (const [type, value] of Object.entries(input.thresholds ?? {})) {
    const info = SIGNAL_TYPE_INFO[type as SignalTypeName];
    if (!info || info.matching === 'exact' || info.matching === 'opaque') {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a distance-matched signal type (pdq, vpdq) for a threshold but received ${JSON.stringify(type)}`);
    }
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 128) {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected an integer 0..128 for the ${type} threshold but received ${String(value)}`);
    }
  }
  if (input.spikeThreshold !== undefined && (!Number.isInteger(input.spikeThreshold) || input.spikeThreshold < 0)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a non-negative integer for spikeThreshold but received ${String(input.spikeThreshold)}`);
  }
}

/** JSON with object keys sorted, so equal content is equal text (re-imports detect "unchanged"). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
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

  *rowsOf(item: ListItem): Generator<SignalRow> {
    this.rows++;
    if (item.kind === 'error') {
      this.errorCount++;
      if (this.errors.length < this.keep) this.errors.push({ line: item.line, message: item.message });
      return;
    }
    const r = item.record;
    const common = {
      line: item.line,
      labels: labelsJson(r.labels),
      sourceId: r.sourceId ?? null,
      fileName: r.fileName ?? null,
      fileSize: Number.isFinite(r.fileSize) ? (r.fileSize as number) : null,
      metadata: canonicalJson(r.metadata ?? {}),
      deleted: r.deleted === true,
    };
    if (r.signals.length === 0) {
      if (r.deleted && r.sourceId) yield { ...common, type: null, value: null };
      else {
        this.errorCount++;
        if (this.errors.length < this.keep) this.errors.push({ line: item.line, message: 'Record has no hash' });
      }
      return;
    }
    for (const s of r.signals) yield { ...common, type: s.type, value: s.value };
  }
}

export function nowIso(): string {
  return new Date().toISOString();
}

export function currentHourBucket(at: Date): number {
  return Math.floor(at.getTime() / 3_600_000);
}
