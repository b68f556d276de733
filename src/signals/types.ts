/**
 * The signal-type seam (python-threatexchange's `SignalType`): everything Vigil needs to know about one hash
 * type, behind one interface, so a new type is one module plus one registry entry instead of branches spread
 * over the code. Pure TypeScript like the rest of signals/: hashing files stays in hashing/ (Node).
 */
import { VigilError } from '../core/errors.js';

/** What a type hashes: a picture, a video, or any file's bytes. */
export type ContentType = 'photo' | 'video' | 'file';

/**
 * How the matcher compares values: `exact` digests, `distance` (Hamming within a threshold), `video`
 * (frame sets, vPDQ's rule) or `opaque` (stored and exchanged; matched by a licensed remote matcher).
 */
export type MatchingKind = 'exact' | 'distance' | 'video' | 'opaque';

/**
 * How HMA (python-threatexchange) names a type on the wire. HMA's vocabulary is HMA's: an MD5 of a video is
 * `video_md5`, an MD5 of a photo `md5`; a type HMA does not exchange has none.
 */
export interface HmaName {
  readonly name: string;
  /** HMA content types whose files answer with this name (absent: photos and videos). */
  readonly contentTypes?: readonly ('photo' | 'video')[];
  /** In HMA's reference configuration: answered without the operator enabling it (`--hma-signal-types`). */
  readonly default?: boolean;
}

/** Which index in matching/ holds the type's values (the matcher builds it; signals/ stays free of it). */
export type IndexKind = 'exact-digest' | 'hamming256' | 'vpdq-frames' | 'none';

export interface SignalType<N extends string = string> {
  /** Persisted identifier (store rows, list files, API bodies): never rename. */
  readonly name: N;
  readonly description: string;
  readonly contentTypes: readonly ContentType[];
  readonly matching: MatchingKind;
  readonly index: IndexKind;
  /** Hex length for fixed-size hex hashes (list formats that carry bare hex use it). */
  readonly hexLength?: number;
  /**
   * Exact digests of the file bytes: the digest's OpenSSL name (`md5`, `sha256`, `shake128`…); the file hasher
   * computes every registered one in its single read (hashing/signal-hashers.ts).
   */
  readonly digest?: string;
  /**
   * Video types: the signal type of each frame's hash (vpdq: pdq). The matcher then matches a video's frames
   * against that type's banks and that type's stills against the videos' frames.
   */
  readonly frameType?: string;
  /** Default match threshold (max Hamming distance, per frame for video) where the type has one. */
  readonly defaultThreshold?: number;
  /** Largest meaningful distance (the hash's bit count) where the type has a distance. */
  readonly maxDistance?: number;
  /**
   * Canonical text of a value (what is stored and compared).
   * @throws VigilError VIGIL_ERR_INVALID_HASH saying why the value is not one.
   */
  parse(value: string): string;
  /** Distance between two canonical values, where the type has one (0 = same). */
  distance?(a: string, b: string): number;
  /** Whether two canonical values match at `threshold` (default: the type's); absent for opaque types. */
  matches?(a: string, b: string, threshold?: number): boolean;
  /** Benign example values (canonical), for the shared conformance test and documentation. */
  readonly examples: readonly string[];
  /** HMA's names for the type; the first `default` one (else the first) names a stored value of it. */
  readonly hma?: readonly HmaName[];
  /** A value as HMA sends it → canonical (default: `parse`), where HMA's form is wider than the type's own. */
  parseHma?(value: string): string;
}

export function invalidHash(message: string, cause?: unknown): VigilError {
  return new VigilError('VIGIL_ERR_INVALID_HASH', message, cause === undefined ? undefined : { cause });
}

const HEX_RE = /^[0-9a-f]+$/;

/** Trimmed, lower-case hex of exactly `length` digits, or VIGIL_ERR_INVALID_HASH. */
export function parseFixedHex(name: string, length: number, value: string): string {
  const v = value.trim().toLowerCase();
  if (v.length !== length) throw invalidHash(`Expected ${length} hexadecimal digits for ${name} but received ${v.length} characters`);
  if (!HEX_RE.test(v)) throw invalidHash(`Expected only hexadecimal digits for ${name}`);
  return v;
}

/** A cryptographic digest of the file bytes: hex, matched exactly. */
export function digestSignalType<N extends string>(name: N, hexLength: number, description: string, examples: readonly string[], digest: string = name, hma?: readonly HmaName[]): SignalType<N> {
  return {
    name,
    description,
    contentTypes: ['photo', 'video', 'file'],
    matching: 'exact',
    index: 'exact-digest',
    hexLength,
    digest,
    parse: (value) => parseFixedHex(name, hexLength, value),
    matches: (a, b) => a === b,
    examples,
    ...(hma ? { hma } : {}),
  };
}
