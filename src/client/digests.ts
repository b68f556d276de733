/**
 * MD5, SHA-1 and SHA-256 of the encoded bytes. SHA-1/SHA-256 use SubtleCrypto where it exists (browsers in
 * secure contexts, workers, Node, Deno); MD5 — which SubtleCrypto does not offer — and the SHA fallback for
 * insecure contexts (a page on plain http from a LAN address has no crypto.subtle) come from @noble/hashes
 * (audited, dependency-free).
 */
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';

export interface Digests {
  md5: string;
  sha1: string;
  sha256: string;
}

const HEX = '0123456789abcdef';

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
  return s;
}

interface Subtle {
  digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer>;
}

function subtle(): Subtle | undefined {
  return (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
}

/** SHA-1 or SHA-256 as hex: SubtleCrypto when present, else the pure implementation. */
export async function shaHex(algorithm: 'SHA-1' | 'SHA-256', bytes: Uint8Array): Promise<string> {
  const s = subtle();
  if (s) return toHex(new Uint8Array(await s.digest(algorithm, bytes)));
  return toHex(algorithm === 'SHA-1' ? sha1(bytes) : sha256(bytes));
}

export function md5Hex(bytes: Uint8Array): string {
  return toHex(md5(bytes));
}

export async function digestsOf(bytes: Uint8Array): Promise<Digests> {
  const [s1, s256] = await Promise.all([shaHex('SHA-1', bytes), shaHex('SHA-256', bytes)]);
  return { md5: md5Hex(bytes), sha1: s1, sha256: s256 };
}
