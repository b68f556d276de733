/**
 * Signal types Vigil knows, each a `SignalType` (signals/types.ts) in its own module. The names are persisted
 * identifiers (store rows, list files, API bodies): never rename one. A new hash type is its module plus one
 * entry in SIGNAL_TYPES and SIGNAL_TYPE_REGISTRY (ARCHITECTURE.md "A hash type" lists what else it touches).
 */
import { VigilError } from '../core/errors.js';
import { md5Signal } from './md5/signal-type.js';
import { pdqSignal } from './pdq/signal-type.js';
import { photodnaSignal } from './photodna/signal-type.js';
import { sha1Signal } from './sha1/signal-type.js';
import { sha256Signal } from './sha256/signal-type.js';
import type { MatchingKind, SignalType } from './types.js';
import { vpdqSignal } from './vpdq/signal-type.js';

export type { ContentType, IndexKind, MatchingKind, SignalType } from './types.js';

export const SIGNAL_TYPES = ['md5', 'sha1', 'sha256', 'pdq', 'vpdq', 'photodna'] as const;
export type SignalTypeName = (typeof SIGNAL_TYPES)[number];

/** The one table of signal types; keyed by name so a missing or misnamed entry fails the typecheck. */
export const SIGNAL_TYPE_REGISTRY: { readonly [N in SignalTypeName]: SignalType<N> } = {
  md5: md5Signal,
  sha1: sha1Signal,
  sha256: sha256Signal,
  pdq: pdqSignal,
  vpdq: vpdqSignal,
  photodna: photodnaSignal,
};

/**
 * Types added at run time (registerSignalType): the extension point for tests and plugins. Their names are
 * outside the SignalTypeName union the typecheck knows; at run time they are types like any other.
 */
const registered = new Map<string, SignalType>();
let all: readonly SignalType<SignalTypeName>[] = SIGNAL_TYPES.map((n) => SIGNAL_TYPE_REGISTRY[n]);

/**
 * Every signal type, built-in ones first in SIGNAL_TYPES order, then those registered at run time: what code
 * that works per type iterates (the matcher's indexes, client hashes, the file hasher's digests).
 */
export function signalTypes(): readonly SignalType<SignalTypeName>[] {
  return all;
}

/**
 * Adds a type at run time, before the components that read the registry are built (createVigil, a
 * BankMatcher; the HTTP schemas' enums are fixed when service/ loads). For tests and plugins: a type that ships
 * with Vigil is a line in SIGNAL_TYPES and SIGNAL_TYPE_REGISTRY. Returns its removal.
 */
export function registerSignalType(t: SignalType): () => void {
  if (findSignalType(t.name)) throw new VigilError('VIGIL_ERR_CONFLICT', `Signal type ${t.name} is already registered`);
  registered.set(t.name, t);
  all = [...all, t as SignalType<SignalTypeName>];
  return () => {
    registered.delete(t.name);
    all = all.filter((x) => x !== t);
  };
}

/** The signal type of a known name. */
export function signalType(name: SignalTypeName): SignalType<SignalTypeName> {
  return SIGNAL_TYPE_REGISTRY[name] ?? (registered.get(name) as SignalType<SignalTypeName>);
}

/** The signal type of any text, or undefined for a name Vigil does not know (no prototype keys). */
export function findSignalType(name: string): SignalType<SignalTypeName> | undefined {
  return isSignalType(name) ? signalType(name) : undefined;
}

/** Names of the types matching by one of `kinds`, in signalTypes() order (for schema enums). */
export function signalTypesMatching(...kinds: MatchingKind[]): SignalTypeName[] {
  return all.filter((t) => kinds.includes(t.matching)).map((t) => t.name);
}

/** Names of the types with a match threshold (banks may override it). */
export function thresholdSignalTypes(): SignalTypeName[] {
  return all.filter((t) => t.defaultThreshold !== undefined).map((t) => t.name);
}

/** JSON Schema pattern of a fixed-length hex type's value (either case; `parse` lower-cases it). */
export function hexPattern(name: SignalTypeName): string {
  const length = signalType(name).hexLength;
  if (length === undefined) throw new Error(`${name} is no fixed-length hex type`);
  return `^[0-9a-fA-F]{${length}}$`;
}

/** Data view of a signal type (older callers; new code uses SignalType itself). */
export interface SignalTypeInfo {
  name: SignalTypeName;
  matching: MatchingKind;
  hexLength?: number;
  defaultThreshold?: number;
  description: string;
}

export const SIGNAL_TYPE_INFO: Record<SignalTypeName, SignalTypeInfo> = Object.fromEntries(
  SIGNAL_TYPES.map((n) => {
    const t: SignalType<SignalTypeName> = SIGNAL_TYPE_REGISTRY[n];
    return [n, { name: n, matching: t.matching, hexLength: t.hexLength, defaultThreshold: t.defaultThreshold, description: t.description }];
  }),
) as Record<SignalTypeName, SignalTypeInfo>;

export function isSignalType(name: string): name is SignalTypeName {
  return (SIGNAL_TYPES as readonly string[]).includes(name) || registered.has(name);
}

export function parseSignalType(name: string): SignalTypeName {
  const lower = name.trim().toLowerCase();
  if (!isSignalType(lower)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected one of ${all.map((t) => t.name).join(', ')} for signal type but received ${JSON.stringify(name.slice(0, 40))}`);
  }
  return lower;
}

/**
 * Canonical text of a hex signal (trimmed, lower-case), or a VIGIL_ERR_INVALID_HASH error saying why.
 * Types without a hex length (vpdq, photodna) are only trimmed and lower-cased: use `signalType(t).parse`.
 */
export function normalizeHexSignal(type: SignalTypeName, value: string): string {
  const t = signalType(type);
  return t.hexLength === undefined ? value.trim().toLowerCase() : t.parse(value);
}

/**
 * Signal type from a bare hex hash's length. 64 digits is ambiguous (SHA-256 or PDQ) and needs the
 * caller to say which; returns undefined then, and for any length no type has.
 */
export function inferHexSignalType(hex: string): SignalTypeName | undefined {
  switch (hex.length) {
    case 32: return 'md5';
    case 40: return 'sha1';
    default: return undefined;
  }
}
