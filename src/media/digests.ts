/**
 * Cryptographic digests of file bytes. The exact-match lists of the field (NCMEC, Project VIC, NSRL)
 * carry MD5 and SHA-1 alongside SHA-256, so every digest is computed from the same read: one per registered
 * exact signal type that names a `digest` (signals/registry.ts), under the type's name.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { signalTypes } from '../signals/registry.js';

export interface FileDigests {
  md5: string;
  sha1: string;
  sha256: string;
}

/** Type name → digest name of the types hashed from the bytes (the registry's order). */
function digestTypes(): [string, string][] {
  return signalTypes().flatMap((t) => (t.digest === undefined ? [] : [[t.name, t.digest] as [string, string]]));
}

function hashers(): [string, Hash][] {
  return digestTypes().map(([name, digest]) => [name, createHash(digest)]);
}

export function digestsOf(bytes: Uint8Array): FileDigests & Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, h] of hashers()) out[name] = h.update(bytes).digest('hex');
  return out as FileDigests & Record<string, string>;
}

/** Streams a file too large to hold in memory through every digest in one pass. */
export async function digestsOfFile(path: string): Promise<FileDigests & { bytes: number }> {
  const all = hashers();
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (const [, h] of all) h.update(chunk);
    bytes += chunk.length;
  }
  const out: Record<string, string> = {};
  for (const [name, h] of all) out[name] = h.digest('hex');
  // Digests of types registered beyond the built-in three ride along under their names.
  return { ...(out as unknown as FileDigests), bytes };
}
