/**
 * Signal types Vigil knows. The names are persisted identifiers (store rows, list files, API bodies):
 * never rename one. A new hash type is one entry here plus its folder under src/signals/<type>/.
 */
import { VigilError } from '../core/errors.js';

export const SIGNAL_TYPES = ['md5', 'sha1', 'sha256', 'pdq', 'vpdq', 'photodna'] as const;
export type SignalTypeName = (typeof SIGNAL_TYPES)[number];

export interface SignalTypeInfo {
  name: SignalTypeName;
  /** Exact (cryptographic) or perceptual (distance-matched). */
  matching: 'exact' | 'distance' | 'video' | 'opaque';
  /** Hex length for fixed-size hex hashes. */
  hexLength?: number;
  /** Default match threshold (max Hamming distance) for distance-matched types. */
  defaultThreshold?: number;
  description: string;
}

export const SIGNAL_TYPE_INFO: Record<SignalTypeName, SignalTypeInfo> = {
  md5: { name: 'md5', matching: 'exact', hexLength: 32, description: 'MD5 of the file bytes' },
  sha1: { name: 'sha1', matching: 'exact', hexLength: 40, description: 'SHA-1 of the file bytes' },
  sha256: { name: 'sha256', matching: 'exact', hexLength: 64, description: 'SHA-256 of the file bytes' },
  // pdq/README.md and python-threatexchange: distance <= 31 is a match.
  pdq: { name: 'pdq', matching: 'distance', hexLength: 64, defaultThreshold: 31, description: "Meta's PDQ perceptual image hash" },
  vpdq: { name: 'vpdq', matching: 'video', defaultThreshold: 31, description: 'vPDQ: PDQ of video frames with quality and timestamp' },
  // PhotoDNA is proprietary: Vigil stores and exchanges it but matching needs a licensed remote matcher.
  photodna: { name: 'photodna', matching: 'opaque', description: 'Microsoft PhotoDNA (opaque; matched by a remote matcher)' },
};

export function isSignalType(name: string): name is SignalTypeName {
  return (SIGNAL_TYPES as readonly string[]).includes(name);
}

export function parseSignalType(name: string): SignalTypeName {
  const lower = name.trim().toLowerCase();
  if (!isSignalType(lower)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected one of ${SIGNAL_TYPES.join(', ')} for signal type but received ${JSON.stringify(name.slice(0, 40))}`);
  }
  return lower;
}

const HEX_RE = /^[0-9a-f]+$/;

/**
 * Canonical text of a hex signal (trimmed, lower-case), or a VIGIL_ERR_INVALID_HASH error saying why.
 * vpdq and photodna values are validated by their own modules.
 */
export function normalizeHexSignal(type: SignalTypeName, value: string): string {
  const info = SIGNAL_TYPE_INFO[type];
  const v = value.trim().toLowerCase();
  if (info.hexLength === undefined) return v;
  if (v.length !== info.hexLength) {
    throw new VigilError('VIGIL_ERR_INVALID_HASH', `Expected ${info.hexLength} hexadecimal digits for ${type} but received ${v.length} characters`);
  }
  if (!HEX_RE.test(v)) throw new VigilError('VIGIL_ERR_INVALID_HASH', `Expected only hexadecimal digits for ${type}`);
  return v;
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
