/**
 * The two text forms of a vPDQ hash (shared/reference/threatexchange.md §3.2), read and written
 * byte-for-byte as the tools that made them:
 *
 * - C++ reference (`vpdq-hash-video`, the sample-hashes files): one line per frame,
 *   `frameNumber,quality,pdqHex,timestamp` with the timestamp as printf "%.3f".
 *   e.g. `1,100,c0f1…055c,0.033`
 * - python-threatexchange / HMA signal string: a JSON array (Python json.dumps, ", " between items) of
 *   `"pdqHex,quality,timestamp"` with the timestamp as Python f"{ts:.3}" — 3 significant digits,
 *   e.g. 12.345 → "12.3", 123.4 → "1.23e+02", 0.0 → "0.0". No frame number.
 *
 * Both numeric formats are reproduced from the exact binary value of the double, rounding half to
 * even like glibc printf and CPython's dtoa; JavaScript's toFixed/toPrecision round exact ties up.
 */
import { VigilError } from '../../core/errors.js';
import { hash256FromHex, hash256ToHex, isHash256Hex } from '../pdq/hash256.js';
import type { VpdqFeature } from './hasher.js';

// ---------------------------------------------------------------------------------------------
// Exact decimal formatting

/** |x| as D × 10^-k exactly (D a BigInt), from the double's bits. */
function exactDecimal(x: number): { digits: bigint; scale: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = hi >>> 20;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exponent: number;
  if (biased === 0) {
    exponent = -1074; // subnormal
  } else {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  if (exponent >= 0) return { digits: mantissa << BigInt(exponent), scale: 0 };
  // m·2^-k = m·5^k / 10^k
  return { digits: mantissa * 5n ** BigInt(-exponent), scale: -exponent };
}

/** Drops `drop` trailing decimal digits of d, rounding half to even. */
function roundHalfEven(d: bigint, drop: number): bigint {
  if (drop <= 0) return d * 10n ** BigInt(-drop);
  const unit = 10n ** BigInt(drop);
  const q = d / unit;
  const r = d % unit;
  const twice = 2n * r;
  return twice > unit || (twice === unit && q % 2n === 1n) ? q + 1n : q;
}

/** printf("%.3f", x) (the C++ reference's `std::fixed << std::setprecision(3)`). */
export function formatFixed3(x: number): string {
  if (!Number.isFinite(x)) return String(x).toLowerCase().replace('infinity', 'inf');
  const { digits, scale } = exactDecimal(x);
  const n = roundHalfEven(digits, scale - 3).toString().padStart(4, '0');
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  return `${sign}${n.slice(0, -3)}.${n.slice(-3)}`;
}

/** Python's `f"{x:.{p}}"` (format spec with a precision and no type) for a float. */
export function formatPythonGeneral(x: number, precision = 3): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  let digits: string;
  let decpt: number; // value = 0.DIGITS × 10^decpt, as CPython's dtoa reports it
  if (x === 0) {
    digits = '0';
    decpt = 1;
  } else {
    const exact = exactDecimal(x);
    const length = exact.digits.toString().length;
    let rounded = roundHalfEven(exact.digits, length - precision);
    decpt = length - exact.scale;
    if (rounded.toString().length > precision) {
      rounded /= 10n; // 9.995 → 10.0: one more digit, the decimal point moves
      decpt++;
    }
    digits = rounded.toString().replace(/0+$/, '');
  }
  // No type + precision = 'g' with at least one digit after the point, and exponent form from
  // precision − 1 integer digits on (CPython format_float_short with Py_DTSF_ADD_DOT_0).
  if (decpt <= -4 || decpt > precision - 1) {
    const exp = decpt - 1;
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt < digits.length) return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
}

// ---------------------------------------------------------------------------------------------
// Validation

function bad(where: string, why: string): VigilError {
  return new VigilError('VIGIL_ERR_INVALID_HASH', `Invalid vPDQ ${where}: ${why}`);
}

const INT_RE = /^\s*\+?\d{1,10}\s*$/;
// Python float() spellings of finite numbers (no inf/nan: a timestamp must be a number of seconds).
const FLOAT_RE = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

function parseQuality(text: string, where: string): number {
  if (!INT_RE.test(text)) throw bad(where, `quality ${JSON.stringify(text.slice(0, 20))} is not an integer`);
  const quality = Number(text);
  if (quality > 100) throw bad(where, `quality ${quality} is outside 0..100`);
  return quality;
}

function parseTimestamp(text: string, where: string): number {
  if (!FLOAT_RE.test(text)) throw bad(where, `timestamp ${JSON.stringify(text.slice(0, 30))} is not a number`);
  const timestamp = Number(text);
  if (!(timestamp >= 0) || !Number.isFinite(timestamp)) throw bad(where, `timestamp ${text.trim()} is negative or not finite`);
  return timestamp === 0 ? 0 : timestamp;
}

function parseHash(text: string, where: string) {
  const hex = text.trim();
  if (!isHash256Hex(hex)) throw bad(where, `expected 64 hexadecimal digits for the PDQ hash, received ${hex.length} characters`);
  return hash256FromHex(hex);
}

function checkFeature(feature: VpdqFeature, where: string): void {
  if (!(feature.hash instanceof Uint8Array) || feature.hash.length !== 32) throw bad(where, 'hash is not 32 bytes');
  if (!Number.isInteger(feature.quality) || feature.quality < 0 || feature.quality > 100) throw bad(where, `quality ${feature.quality} is outside 0..100`);
  if (!(feature.timestamp >= 0) || !Number.isFinite(feature.timestamp)) throw bad(where, `timestamp ${feature.timestamp} is negative or not finite`);
  if (feature.frameNumber !== undefined && !(Number.isInteger(feature.frameNumber) && feature.frameNumber >= 0)) {
    throw bad(where, `frame number ${feature.frameNumber} is not a non-negative integer`);
  }
}

// ---------------------------------------------------------------------------------------------
// C++ reference lines

/**
 * Reads the C++ tool's file: `frameNumber,quality,hash,timestamp` per line. Blank lines and CRLF are
 * tolerated; anything else malformed throws VIGIL_ERR_INVALID_HASH naming the line.
 */
export function parseVpdqText(text: string): VpdqFeature[] {
  const features: VpdqFeature[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const where = `line ${i + 1}`;
    const fields = line.split(',');
    if (fields.length !== 4) throw bad(where, `expected 4 comma-separated fields (frameNumber,quality,hash,timestamp), found ${fields.length}`);
    if (!INT_RE.test(fields[0])) throw bad(where, `frame number ${JSON.stringify(fields[0].slice(0, 20))} is not an integer`);
    const frameNumber = Number(fields[0]);
    features.push({
      frameNumber,
      quality: parseQuality(fields[1], where),
      hash: parseHash(fields[2], where),
      timestamp: parseTimestamp(fields[3], where),
    });
  }
  return features;
}

/** Writes the C++ tool's format (one `\n`-terminated line per feature). Needs frame numbers. */
export function formatVpdqText(features: Iterable<VpdqFeature>): string {
  let out = '';
  let i = 0;
  for (const f of features) {
    checkFeature(f, `feature ${i}`);
    if (f.frameNumber === undefined) throw bad(`feature ${i}`, 'the C++ format needs a frame number');
    out += `${f.frameNumber},${f.quality},${hash256ToHex(f.hash)},${formatFixed3(f.timestamp)}\n`;
    i++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// python-threatexchange / HMA JSON

/** One pytx compact feature string, `hex,quality,timestamp`. */
export function parseVpdqCompactFeature(text: string, where = 'feature'): VpdqFeature {
  const parts = text.split(',');
  if (parts.length !== 3) throw bad(where, `expected "hash,quality,timestamp", found ${parts.length} fields`);
  return { hash: parseHash(parts[0], where), quality: parseQuality(parts[1], where), timestamp: parseTimestamp(parts[2], where) };
}

export function formatVpdqCompactFeature(feature: VpdqFeature): string {
  checkFeature(feature, 'feature');
  return `${hash256ToHex(feature.hash)},${feature.quality},${formatPythonGeneral(feature.timestamp, 3)}`;
}

/**
 * Reads a python-threatexchange / HMA vPDQ signal: a JSON array of "hex,quality,timestamp" strings
 * (an empty string reads as no features, as pytx). Also reads pytx's old form, an object keyed by
 * frame number of {hash, quality, timestamp}.
 */
export function parseVpdqJson(json: string): VpdqFeature[] {
  if (json.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new VigilError('VIGIL_ERR_INVALID_HASH', `Invalid vPDQ JSON: ${(err as Error).message}`, { cause: err });
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => {
      if (typeof item !== 'string') throw bad(`item ${i}`, 'expected a string "hash,quality,timestamp"');
      return parseVpdqCompactFeature(item, `item ${i}`);
    });
  }
  if (value !== null && typeof value === 'object') {
    // Old pytx form: {"0": {"quality": 100, "hash": "…", "timestamp": 0.0}, …}
    const features = Object.entries(value as Record<string, unknown>).map(([key, item]) => {
      const where = `frame ${JSON.stringify(key.slice(0, 20))}`;
      if (!INT_RE.test(key) || item === null || typeof item !== 'object') throw bad(where, 'expected {hash, quality, timestamp} under a frame number');
      const { hash, quality, timestamp } = item as Record<string, unknown>;
      if (typeof hash !== 'string' || typeof quality !== 'number' || typeof timestamp !== 'number') {
        throw bad(where, 'expected {hash: string, quality: number, timestamp: number}');
      }
      const feature: VpdqFeature = { frameNumber: Number(key), hash: parseHash(hash, where), quality, timestamp };
      checkFeature(feature, where);
      return feature;
    });
    return features.sort((a, b) => a.frameNumber! - b.frameNumber!);
  }
  throw bad('JSON', 'expected an array of "hash,quality,timestamp" strings');
}

/** Writes the python-threatexchange / HMA signal string exactly as `vpdq_to_json` (json.dumps) does. */
export function formatVpdqJson(features: Iterable<VpdqFeature>): string {
  const items: string[] = [];
  for (const f of features) items.push(JSON.stringify(formatVpdqCompactFeature(f)));
  return `[${items.join(', ')}]`;
}

/** Either format, told apart by the first character (`[` or `{` = JSON). */
export function parseVpdq(text: string): VpdqFeature[] {
  const first = text.trimStart()[0];
  return first === '[' || first === '{' ? parseVpdqJson(text) : parseVpdqText(text);
}
