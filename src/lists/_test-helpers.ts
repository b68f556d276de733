/**
 * Helpers for the lists tests: synthetic inputs (all data is random hex and made-up file names), chunked
 * feeding to exercise chunk boundaries, and lazy hostile streams that are never held in memory.
 */
import type { ListItem, ListRecord } from './types.js';

const encoder = new TextEncoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Feeds `data` in chunks of `size` bytes (small sizes split lines, BOMs and UTF-8 sequences). */
export async function* chunks(data: string | Uint8Array, size = 7): AsyncGenerator<Uint8Array> {
  const b = typeof data === 'string' ? bytes(data) : data;
  for (let i = 0; i < b.length; i += size) yield b.slice(i, i + size);
}

export function concatBytes(...parts: (string | Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (typeof p === 'string' ? bytes(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

export async function collect<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of gen) out.push(item);
  return out;
}

export async function text(gen: AsyncIterable<string>): Promise<string> {
  return (await collect(gen)).join('');
}

export function recordsOf(items: ListItem[]): ListRecord[] {
  return items.flatMap((i) => (i.kind === 'record' ? [i.record] : []));
}

export function errorsOf(items: ListItem[]): { line: number; message: string }[] {
  return items.flatMap((i) => (i.kind === 'error' ? [{ line: i.line, message: i.message }] : []));
}

/** Deterministic pseudo-random hex (xorshift), so fixtures are reproducible and obviously synthetic. */
export function hexGen(seed = 1): (digits: number) => string {
  let x = seed >>> 0 || 1;
  return (digits: number) => {
    let s = '';
    while (s.length < digits) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      s += x.toString(16).padStart(8, '0');
    }
    return s.slice(0, digits);
  };
}

/**
 * A lazily generated stream of `total` bytes of `fill` with no newline (the "2 GB file without a newline"
 * case, scaled down): one reused buffer, so the test itself holds only `chunkSize` bytes. `stats.yielded`
 * counts bytes handed out, to check how far the reader went.
 */
export function endlessLine(total: number, fill = 0x61, chunkSize = 1024 * 1024, prefix = ''): { stream: AsyncGenerator<Uint8Array>; stats: { yielded: number } } {
  const stats = { yielded: 0 };
  async function* gen(): AsyncGenerator<Uint8Array> {
    if (prefix) {
      const p = bytes(prefix);
      stats.yielded += p.length;
      yield p;
    }
    const buf = new Uint8Array(chunkSize).fill(fill);
    let left = total;
    while (left > 0) {
      const n = Math.min(left, chunkSize);
      left -= n;
      stats.yielded += n;
      yield n === chunkSize ? buf : buf.subarray(0, n);
    }
  }
  return { stream: gen(), stats };
}
