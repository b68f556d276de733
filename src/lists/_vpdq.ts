/**
 * vPDQ signal strings as python-threatexchange and HMA exchange them (`extensions/vpdq/vpdq_util.py`): a
 * JSON array of `"<pdq hex>,<quality>,<timestamp>"` strings. The canonical form Vigil stores is exactly what
 * pytx's `vpdq_to_json` writes for the same frames — `json.dumps` with its `", "` separator, lower-case hex,
 * the quality as an integer and the timestamp in Python's `f"{t:.3}"` (3 significant digits) — so a
 * signal exported by Vigil is byte-identical to HMA's own and re-importing either gives the same value.
 *
 * TODO(signals): move to src/signals/vpdq/ when that module exists; the rules are the signal's, not the lists'.
 */

const PDQ_HEX_RE = /^[0-9a-fA-F]{64}$/;
const QUALITY_RE = /^\s*\+?[0-9]{1,3}\s*$/;
// Python float() syntax for finite decimal numbers (no inf/nan, no underscores).
const FLOAT_RE = /^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$/;

/** Most frames accepted in one vPDQ signal (a 3-hour video hashed at 30 fps). */
export const MAX_VPDQ_FRAMES = 400_000;

export interface VpdqFrame {
  hex: string;
  quality: number;
  timestamp: number;
}

/**
 * Parses a vPDQ signal string and returns its canonical text.
 * @throws Error with a message saying what is wrong (used as a row error).
 */
export function normalizeVpdqSignal(text: string): string {
  return formatVpdq(parseVpdq(text));
}

export function parseVpdq(text: string): VpdqFrame[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[')) throw new Error('Expected a JSON array of "hex,quality,timestamp" strings for vpdq');
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new Error('Expected a JSON array of "hex,quality,timestamp" strings for vpdq but the JSON is malformed');
  }
  if (!Array.isArray(parsed)) throw new Error('Expected a JSON array for vpdq');
  if (parsed.length === 0) throw new Error('Expected at least one frame for vpdq but the array is empty');
  if (parsed.length > MAX_VPDQ_FRAMES) throw new Error(`Expected at most ${MAX_VPDQ_FRAMES} frames for vpdq but received ${parsed.length}`);
  const frames: VpdqFrame[] = [];
  for (let i = 0; i < parsed.length; i++) {
    const item: unknown = parsed[i];
    if (typeof item !== 'string') throw new Error(`Expected a string for vpdq frame ${i + 1} but received ${typeof item}`);
    const parts = item.split(',');
    if (parts.length !== 3) throw new Error(`Expected "hex,quality,timestamp" for vpdq frame ${i + 1}`);
    const [hex, q, ts] = parts;
    if (!PDQ_HEX_RE.test(hex)) throw new Error(`Expected 64 hexadecimal digits for the PDQ hash of vpdq frame ${i + 1}`);
    if (!QUALITY_RE.test(q) || Number(q) > 100) throw new Error(`Expected an integer quality 0..100 for vpdq frame ${i + 1}`);
    if (!FLOAT_RE.test(ts)) throw new Error(`Expected a number for the timestamp of vpdq frame ${i + 1}`);
    const timestamp = Number(ts.trim());
    if (!Number.isFinite(timestamp) || timestamp < 0) throw new Error(`Expected a finite timestamp >= 0 for vpdq frame ${i + 1}`);
    frames.push({ hex: hex.toLowerCase(), quality: Number(q), timestamp: timestamp === 0 ? 0 : timestamp });
  }
  return frames;
}

export function formatVpdq(frames: readonly VpdqFrame[]): string {
  return '[' + frames.map((f) => `"${f.hex},${f.quality},${formatPythonG3(f.timestamp)}"`).join(', ') + ']';
}

/**
 * Python's `format(x, '.3')` for a finite x >= 0: 3 significant digits, round-half-even on exact ties,
 * fixed notation with at least one decimal when -4 <= exponent < 2, else `1.23e+02` style.
 */
export function formatPythonG3(x: number): string {
  if (x === 0) return '0.0';
  let [mantissa, expText] = x.toExponential(2).split('e');
  // toExponential rounds exact ties away from zero; Python rounds them to even.
  const exact = x.toPrecision(100).replace(/e.*$/, '').replace('.', '').replace(/^0+/, '');
  if (exact[3] === '5' && /^0*$/.test(exact.slice(4)) && Number(exact[2]) % 2 === 0) {
    mantissa = `${exact[0]}.${exact.slice(1, 3)}`;
    expText = x.toExponential(20).split('e')[1];
  }
  const exp = Number(expText);
  const digits = mantissa.replace('.', '');
  if (exp >= -4 && exp < 2) {
    // Fixed: place the decimal point, drop trailing zeros but keep one decimal.
    let fixed: string;
    if (exp >= 0) fixed = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
    else fixed = `0.${'0'.repeat(-exp - 1)}${digits}`;
    fixed = fixed.replace(/0+$/, '');
    if (fixed.endsWith('.')) fixed += '0';
    return fixed;
  }
  const m = mantissa.replace(/\.?0+$/, '');
  const sign = exp < 0 ? '-' : '+';
  const e = Math.abs(exp);
  return `${m}e${sign}${e < 10 ? '0' : ''}${e}`;
}
