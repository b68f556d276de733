/**
 * Bounded line splitting for the line-oriented formats (plain, md5sum, CSV/TSV, NSRL text, hashdeep,
 * ThreatExchange). Lines end at LF (a trailing CR is dropped, so CRLF works). A line longer than the limit
 * is reported once and skipped while it streams past: it is never buffered, so a 2 GB file without a
 * newline costs at most `maxLineBytes` of memory. Each line is decoded as strict UTF-8; an invalid one
 * becomes a per-line error (or, for formats that are not reliably UTF-8 such as NSRL, Latin-1 text).
 */
import { isAscii, isUtf8 } from 'node:buffer';

export type RawLine = { line: number; text: string; error?: undefined } | { line: number; error: string; text?: undefined };

export interface LineOptions {
  maxLineBytes: number;
  /** What to do with a line that is not valid UTF-8: report it (default) or read it as Latin-1. */
  invalidUtf8?: 'error' | 'latin1';
}

const LF = 0x0a;
const CR = 0x0d;

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/**
 * Splits bytes into decoded lines, yielding one batch of lines per input chunk (batches keep the
 * per-line cost low for multi-million-line files).
 */
export async function* readLineBatches(input: AsyncIterable<Uint8Array>, options: LineOptions): AsyncGenerator<RawLine[]> {
  const max = options.maxLineBytes;
  const latin1 = options.invalidUtf8 === 'latin1';
  const tooLong = `Line is longer than ${formatBytes(max)}; skipped`;
  // A line of exactly max+1 bytes is allowed when that last byte is the CR of a CRLF ending.
  const exceeds = (b: Uint8Array): boolean => b.length > max && !(b.length === max + 1 && b[max] === CR);

  // Bytes of the current, unfinished line carried over from earlier chunks (copied: producers may reuse buffers).
  let carry: Uint8Array[] = [];
  let carryLen = 0;
  let skipping = false;
  let lineNo = 0;

  const decode = (bytes: Uint8Array): RawLine => {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === CR) end--;
    const body = Buffer.from(bytes.buffer, bytes.byteOffset, end);
    // Hash lists are almost always ASCII: check that natively and skip UTF-8 decoding.
    if (isAscii(body)) return { line: lineNo, text: body.toString('latin1') };
    if (isUtf8(body)) return { line: lineNo, text: body.toString('utf8') };
    if (latin1) return { line: lineNo, text: body.toString('latin1') };
    return { line: lineNo, error: `Line is not valid UTF-8 (byte ${firstInvalidUtf8(body) + 1} of the line)` };
  };

  for await (const chunk of input) {
    const batch: RawLine[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(LF, pos);
      if (nl === -1) {
        const rest = chunk.length - pos;
        if (!skipping) {
          if (carryLen + rest > max + 1) {
            // +1 leaves room for the CR of a CRLF line that is exactly max bytes long.
            skipping = true;
            carry = [];
            carryLen = 0;
          } else {
            carry.push(chunk.slice(pos));
            carryLen += rest;
          }
        }
        break;
      }
      lineNo++;
      const total = carryLen + (nl - pos);
      if (skipping || total > max + 1) {
        skipping = false;
        carry = [];
        carryLen = 0;
        batch.push({ line: lineNo, error: tooLong });
      } else {
        const bytes = carryLen === 0 ? chunk.subarray(pos, nl) : join(carry, carryLen, chunk.subarray(pos, nl));
        carry = [];
        carryLen = 0;
        batch.push(exceeds(bytes) ? { line: lineNo, error: tooLong } : decode(bytes));
      }
      pos = nl + 1;
    }
    if (batch.length > 0) yield batch;
  }
  if (skipping) {
    lineNo++;
    yield [{ line: lineNo, error: tooLong }];
  } else if (carryLen > 0) {
    lineNo++;
    const bytes = join(carry, carryLen, new Uint8Array(0));
    yield [exceeds(bytes) ? { line: lineNo, error: tooLong } : decode(bytes)];
  }
}

function join(parts: Uint8Array[], partsLen: number, last: Uint8Array): Uint8Array {
  const out = new Uint8Array(partsLen + last.length);
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  out.set(last, o);
  return out;
}

/** Offset of the first byte that breaks UTF-8 (for the error message). */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let n: number;
    if (c < 0x80) n = 0;
    else if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) n = 2;
    else if (c >= 0xf0 && c <= 0xf4) n = 3;
    else return i;
    if (i + n >= b.length && n > 0) return i;
    for (let k = 1; k <= n; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    // Overlongs, surrogates and > U+10FFFF.
    if (c === 0xe0 && b[i + 1] < 0xa0) return i;
    if (c === 0xed && b[i + 1] >= 0xa0) return i;
    if (c === 0xf0 && b[i + 1] < 0x90) return i;
    if (c === 0xf4 && b[i + 1] >= 0x90) return i;
    i += n + 1;
  }
  return 0;
}
