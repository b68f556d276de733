/**
 * HMA's view of signals: its signal-type names (each type's `hma` in signals/*), which content type a file
 * counts as, the signal strings HMA answers with (every value a string; vPDQ in python-threatexchange's JSON
 * form), its content switch (`disable_until_ts`) and its per-bank sampling (`enabled_ratio`), chosen per
 * content so the same content always behaves the same.
 */
import { createHash } from 'node:crypto';
import { VigilError } from '../core/errors.js';
import type { FileHashRecord } from '../hashing/hash-file.js';
import { findSignalType, signalType, signalTypes, type SignalType, type SignalTypeName } from '../signals/registry.js';
import type { HmaName } from '../signals/types.js';
import type { Bank } from '../store/types.js';

/** HMA's names of the registered types (signals/*: each type's `hma`), with the type each names. */
function hmaNames(): Map<string, { type: SignalType<SignalTypeName>; name: HmaName }> {
  const out = new Map<string, { type: SignalType<SignalTypeName>; name: HmaName }>();
  for (const type of signalTypes()) for (const name of type.hma ?? []) out.set(name.name, { type, name });
  return out;
}

/** HMA's reference configuration: PDQ for photos, video MD5 for videos. */
export function hmaDefaultSignalTypes(): string[] {
  return [...hmaNames().values()].filter((n) => n.name.default).map((n) => n.name.name);
}

/** The names an operator may add to HMA's defaults (`--hma-signal-types`). */
export function hmaExtraSignalTypes(): string[] {
  return [...hmaNames().values()].filter((n) => !n.name.default).map((n) => n.name.name);
}

/** Vigil's type of an HMA name, or undefined for a name HMA's vocabulary here lacks. */
export function hmaSignalType(name: string): SignalTypeName | undefined {
  return hmaNames().get(name)?.type.name;
}

/** HMA's name of a stored value of a type: its default name, else its first, else Vigil's own. */
export function hmaNameOf(type: SignalTypeName): string {
  const names = findSignalType(type)?.hma ?? [];
  return (names.find((n) => n.default) ?? names[0])?.name ?? type;
}

export type HmaContentType = 'photo' | 'video';

/** The signal types this server answers with: HMA's defaults plus those the operator enabled. */
export function enabledSignalTypes(extra: readonly string[] = []): Set<string> {
  const names = hmaNames();
  return new Set([...hmaDefaultSignalTypes(), ...extra.filter((t) => names.has(t))]);
}

export function vigilType(name: string | undefined, enabled: Set<string>): SignalTypeName {
  const type = name && enabled.has(name) ? hmaSignalType(name) : undefined;
  if (!type) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `No such signal type ${JSON.stringify(name ?? '')} (${[...enabled].join(', ')})`);
  return type;
}

/** The content type of a request: explicit (content_type or the multipart field name), else the MIME type, else the file. */
export function contentTypeOf(hint: string | undefined, mime: string | undefined, record: FileHashRecord): HmaContentType {
  if (hint === 'photo' || hint === 'video') return hint;
  if (hint) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Unknown content_type ${JSON.stringify(hint)} (photo, video)`);
  if (mime?.startsWith('image/')) return 'photo';
  if (mime?.startsWith('video/')) return 'video';
  if (record.media === 'video') return 'video';
  if (record.media === 'image' || record.media === 'animation') return 'photo';
  throw new VigilError('VIGIL_ERR_UNSUPPORTED_MEDIA', 'The file is neither a photo nor a video');
}

/**
 * A hashed file's value of a type as a signal string: the record carries each type under its name, a hex
 * string or (video types) a list of frame features, which the type's canonical form turns into pytx's JSON.
 */
function recordValue(record: FileHashRecord, type: SignalType<SignalTypeName>): string | undefined {
  const value = (record as unknown as Record<string, unknown>)[type.name];
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.length ? type.parse(JSON.stringify(value)) : '[]';
  return undefined;
}

/** The HMA signals of a hashed file for its content type: every value a string. */
export function hmaSignals(record: FileHashRecord, contentType: HmaContentType, enabled: Set<string>, only?: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { type, name } of hmaNames().values()) {
    if (!enabled.has(name.name) || (only && !only.has(name.name))) continue;
    if (name.contentTypes && !name.contentTypes.includes(contentType)) continue;
    const value = recordValue(record, type);
    if (value !== undefined) out[name.name] = value;
  }
  return out;
}

/** A signal value as HMA sends it (a string, or a list for video types) → the value Vigil stores. */
export function storedValue(type: SignalTypeName, value: unknown): string {
  const text = Array.isArray(value) ? JSON.stringify(value) : String(value);
  const t = signalType(type);
  return t.parseHma ? t.parseHma(text) : t.parse(text);
}

/** HMA's BankContentConfig.ENABLED. */
export const CONTENT_ENABLED = 1;

/** HMA's disable_until_ts of a stored switch (null = enabled). */
export function disableUntilTsOf(stored: number | null): number {
  return stored ?? CONTENT_ENABLED;
}

/** 1 (or nothing stored): enabled; 0: disabled; a time: disabled until then. */
export function contentEnabled(stored: number | null, nowSeconds = Date.now() / 1000): boolean {
  return stored === null || stored === CONTENT_ENABLED || (stored > CONTENT_ENABLED && stored <= nowSeconds);
}

/** HMA's matching_enabled_ratio of a bank: 0 when disabled. */
export function matchingRatio(bank: Bank): number {
  return bank.enabled ? bank.enabledRatio : 0;
}

/** Whether a bank's sampling lets this content match: a fixed draw per (bank, content[, seed]). */
export function coinflipPasses(bank: Bank, contentId: number, seed?: string): boolean {
  const ratio = matchingRatio(bank);
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  const draw = createHash('sha256').update(`${seed ?? ''}\0${bank.id}\0${contentId}`).digest().readUInt32BE(0) / 2 ** 32;
  return draw < ratio;
}
