/**
 * Value validation shared by the formats: signal normalisation (each type's `parse`, via the signal registry)
 * and the label vocabularies (Project VIC numbers, UK A/B/C, industry A1–B2, tags, booleans).
 * Every function throws an Error whose message becomes a row error.
 */
import { findSignalType, signalType, type SignalTypeName } from '../signals/registry.js';
import { vpdqSignal } from '../signals/vpdq/signal-type.js';
import type { Labels, ListSignal } from './types.js';

export { MAX_VPDQ_FRAMES } from '../signals/vpdq/signal-type.js';
export { MAX_PHOTODNA_CHARS } from '../signals/photodna/signal-type.js';

/**
 * Canonical text of a vPDQ signal string: exactly what python-threatexchange's `vpdq_to_json` writes (see
 * signals/vpdq/signal-type.ts).
 * @throws Error (VigilError VIGIL_ERR_INVALID_HASH) saying what is wrong.
 */
export function normalizeVpdqSignal(text: string): string {
  return vpdqSignal.parse(text);
}

/**
 * Canonical text of a signal value (the type's own `parse`).
 * @throws Error (VigilError VIGIL_ERR_INVALID_HASH) saying why the value is not a valid `type` signal.
 */
export function normalizeSignal(type: SignalTypeName, raw: string): string {
  return signalType(type).parse(raw);
}

export function signal(type: SignalTypeName, raw: string): ListSignal {
  return { type, value: normalizeSignal(type, raw) };
}

/** Whether `s` is a value a writer may emit verbatim (guards output files against injected separators). */
export function isCanonicalSignal(s: ListSignal): boolean {
  try {
    return normalizeSignal(s.type, s.value) === s.value;
  } catch {
    return false;
  }
}

/** Hex hash length → type for formats where 64 digits can only be SHA-256 (checksum tools, hashdeep). */
export function checksumTypeForLength(length: number): SignalTypeName | undefined {
  switch (length) {
    case 32: return 'md5';
    case 40: return 'sha1';
    case 64: return 'sha256';
    default: return undefined;
  }
}

export function hexLengthOf(type: SignalTypeName): number | undefined {
  return signalType(type).hexLength;
}

/**
 * Signal type names as other tools write them: Vigil's own, python-threatexchange/HMA (`video_md5`),
 * ThreatExchange indicator types (`HASH_PDQ`), NCMEC fingerprint tags (`pdna`) and spelled-out variants.
 */
const SIGNAL_ALIASES: Record<string, SignalTypeName> = {
  'md5': 'md5', 'sha1': 'sha1', 'sha-1': 'sha1', 'sha256': 'sha256', 'sha-256': 'sha256', 'pdq': 'pdq',
  'vpdq': 'vpdq', 'photodna': 'photodna', 'pdna': 'photodna', 'video_md5': 'md5', 'hash_md5': 'md5',
  'hash_sha1': 'sha1', 'hash_sha256': 'sha256', 'hash_pdq': 'pdq', 'video_vpdq': 'vpdq',
};

export function signalTypeFromName(name: string): SignalTypeName | undefined {
  const key = name.trim().toLowerCase();
  // A registered type's own name needs no alias.
  return Object.hasOwn(SIGNAL_ALIASES, key) ? SIGNAL_ALIASES[key] : findSignalType(key)?.name;
}

/** @throws Error for a name that is no signal type Vigil imports. */
export function parseSignalTypeName(name: string): SignalTypeName {
  const type = signalTypeFromName(name);
  if (type === undefined) throw new Error(`Unsupported signal type ${show(name)} (Vigil imports md5, sha1, sha256, pdq, vpdq, photodna)`);
  return type;
}

const UK_RE = /^(?:cat(?:egory)?[\s_-]*)?([abc])$/i;
const INDUSTRY_RE = /^([ab][12])$/i;

/** Project VIC category: an integer 0..99 (number or numeric string). */
export function parseProjectVicCategory(value: unknown, field = 'Category'): number {
  const n = typeof value === 'string' && /^\s*[0-9]{1,2}\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 99) {
    throw new Error(`Expected an integer 0..99 for ${field} but received ${show(value)}`);
  }
  return n;
}

export function parseUkCategory(value: unknown, field = 'UK category'): 'A' | 'B' | 'C' {
  const m = typeof value === 'string' ? UK_RE.exec(value.trim()) : null;
  if (!m) throw new Error(`Expected A, B or C for ${field} but received ${show(value)}`);
  return m[1].toUpperCase() as 'A' | 'B' | 'C';
}

export function parseIndustryCategory(value: unknown, field = 'industry category'): 'A1' | 'A2' | 'B1' | 'B2' {
  const m = typeof value === 'string' ? INDUSTRY_RE.exec(value.trim()) : null;
  if (!m) throw new Error(`Expected A1, A2, B1 or B2 for ${field} but received ${show(value)}`);
  return m[1].toUpperCase() as 'A1' | 'A2' | 'B1' | 'B2';
}

/**
 * A "category" column of unknown scheme: a number is a Project VIC category, A/B/C (or "Category A") a UK
 * category, A1..B2 an industry classification.
 */
export function applyAnyCategory(labels: Labels, value: string, field: string): void {
  const v = value.trim();
  if (/^[0-9]{1,2}$/.test(v)) labels.projectVicCategory = Number(v);
  else if (INDUSTRY_RE.test(v)) labels.industryCategory = parseIndustryCategory(v, field);
  else if (UK_RE.test(v)) labels.ukCategory = parseUkCategory(v, field);
  else throw new Error(`Expected a Project VIC number, A/B/C or A1..B2 for ${field} but received ${show(value)}`);
}

/** JSON or text boolean: true/false, "true"/"false" (any case), 1/0. */
export function parseBoolean(value: unknown, field: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
  }
  throw new Error(`Expected true or false for ${field} but received ${show(value)}`);
}

/** Tags from "a, b; c" text or an array of strings: trimmed, empty dropped, duplicates removed, order kept. */
export function parseTags(value: unknown, field = 'Tags'): string[] {
  const raw: unknown[] = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const item of raw) {
    if (typeof item !== 'string') throw new Error(`Expected text for ${field} but received ${show(item)}`);
    for (const part of item.split(/[,;|]/)) {
      const t = part.trim();
      if (t.length > 0 && !out.includes(t)) out.push(t);
    }
  }
  return out;
}

/** File size in bytes: a non-negative safe integer (number or decimal text). */
export function parseFileSize(value: unknown, field = 'file size'): number {
  const n = typeof value === 'string' && /^\s*[0-9]{1,16}\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new Error(`Expected a non-negative integer for ${field} but received ${show(value)}`);
  }
  return n;
}

/** Short printable rendering of a bad value for an error message. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
