/**
 * 256-bit hashes as 32 bytes in the order of their hex text (byte 0 = the first two hex digits).
 *
 * The reference prints its 16 uint16 words w[15]..w[0]; reading the 64 hex digits as one big-endian
 * integer N, PDQ bit k (k = 16·row + column of the DCT) is (N >> k) & 1. Keeping the hex byte order
 * means a hash stored as a BLOB, sent over the wire or written as hex is the same bytes everywhere.
 */
import { VigilError } from '../../core/errors.js';

export type Hash256 = Uint8Array & { readonly __brand?: 'Hash256' };

export const HASH256_BYTES = 32;
const HEX = '0123456789abcdef';
const HEX_RE = /^[0-9a-fA-F]{64}$/;

export function isHash256Hex(text: string): boolean {
  return HEX_RE.test(text);
}

/** Parses 64 hex digits (either case). Throws VIGIL_ERR_INVALID_HASH otherwise. */
export function hash256FromHex(text: string): Hash256 {
  if (typeof text !== 'string' || !HEX_RE.test(text)) {
    const shown = typeof text === 'string' ? `${text.length} characters` : typeof text;
    throw new VigilError('VIGIL_ERR_INVALID_HASH', `Expected 64 hexadecimal digits for a 256-bit hash but received ${shown}`);
  }
  const out = new Uint8Array(HASH256_BYTES);
  for (let i = 0; i < HASH256_BYTES; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}

export function hash256ToHex(hash: Uint8Array): string {
  let s = '';
  for (let i = 0; i < HASH256_BYTES; i++) s += HEX[hash[i] >> 4] + HEX[hash[i] & 15];
  return s;
}

export function getBit(hash: Uint8Array, k: number): number {
  return (hash[31 - (k >> 3)] >> (k & 7)) & 1;
}

export function setBit(hash: Uint8Array, k: number): void {
  hash[31 - (k >> 3)] |= 1 << (k & 7);
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Hamming distance between two 256-bit hashes (popcount of XOR). */
export function hammingDistance256(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < HASH256_BYTES; i += 4) {
    const x =
      ((a[i] ^ b[i]) << 24) | ((a[i + 1] ^ b[i + 1]) << 16) | ((a[i + 2] ^ b[i + 2]) << 8) | (a[i + 3] ^ b[i + 3]);
    d += popcount32(x);
  }
  return d;
}

export { popcount32 };
