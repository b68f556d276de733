/**
 * HMA's view of signals: its signal-type names, which content type a file counts as, the signal strings HMA
 * answers with (every value a string; vPDQ in python-threatexchange's JSON form), its content switch
 * (`disable_until_ts`) and its per-bank sampling (`enabled_ratio`), chosen per content so the same content
 * always behaves the same.
 */
import { createHash } from 'node:crypto';
import { VigilError } from '../core/errors.js';
import type { FileHashRecord } from '../hashing/hash-file.js';
import type { SignalTypeName } from '../signals/registry.js';
import { formatVpdqCompactFeature, formatVpdqJson, parseVpdq, parseVpdqCompactFeature } from '../signals/vpdq/format.js';
import type { Bank } from '../store/types.js';

/** HMA signal type names → Vigil's. HMA calls an MD5 of a video file `video_md5`. */
export const HMA_SIGNAL_TYPES: Record<string, SignalTypeName> = { pdq: 'pdq', video_md5: 'md5', md5: 'md5', vpdq: 'vpdq', sha256: 'sha256', sha1: 'sha1' };
/** HMA's reference configuration: PDQ for photos, video MD5 for videos. */
export const HMA_DEFAULT_SIGNAL_TYPES = ['pdq', 'video_md5'] as const;
export type HmaContentType = 'photo' | 'video';

/** The signal types this server answers with: HMA's defaults plus those the operator enabled. */
export function enabledSignalTypes(extra: readonly string[] = []): Set<string> {
  return new Set([...HMA_DEFAULT_SIGNAL_TYPES, ...extra.filter((t) => t in HMA_SIGNAL_TYPES)]);
}

export function vigilType(name: string | undefined, enabled: Set<string>): SignalTypeName {
  if (!name || !enabled.has(name)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `No such signal type ${JSON.stringify(name ?? '')} (${[...enabled].join(', ')})`);
  return HMA_SIGNAL_TYPES[name]!;
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

/** The HMA signals of a hashed file for its content type: every value a string. */
export function hmaSignals(record: FileHashRecord, contentType: HmaContentType, enabled: Set<string>, only?: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  const want = (t: string) => enabled.has(t) && (!only || only.has(t));
  if (contentType === 'photo') {
    if (want('pdq') && record.pdq) out.pdq = record.pdq;
    if (want('md5') && record.md5) out.md5 = record.md5;
  } else {
    if (want('video_md5') && record.md5) out.video_md5 = record.md5;
    if (want('vpdq') && record.vpdq) out.vpdq = formatVpdqJson(record.vpdq.map((f) => parseVpdqCompactFeature(f)));
  }
  if (want('sha256') && record.sha256) out.sha256 = record.sha256;
  if (want('sha1') && record.sha1) out.sha1 = record.sha1;
  return out;
}

/** A vPDQ signal as HMA sends it (pytx JSON, or Vigil's text form) → Vigil's "hex,quality,timestamp" features. */
export function vpdqFeatures(value: string): string[] {
  return parseVpdq(value).map(formatVpdqCompactFeature);
}

/** A signal value as HMA sends it → the value Vigil stores (vPDQ normalised to pytx's JSON form). */
export function storedValue(type: SignalTypeName, value: unknown): string {
  const text = Array.isArray(value) ? JSON.stringify(value) : String(value);
  return type === 'vpdq' ? formatVpdqJson(parseVpdq(text)) : text;
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
