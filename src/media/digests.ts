/**
 * Cryptographic digests of file bytes. The exact-match lists of the field (NCMEC, Project VIC, NSRL)
 * carry MD5 and SHA-1 alongside SHA-256, so all three are computed from the same read.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface FileDigests {
  md5: string;
  sha1: string;
  sha256: string;
}

export function digestsOf(bytes: Uint8Array): FileDigests {
  return {
    md5: createHash('md5').update(bytes).digest('hex'),
    sha1: createHash('sha1').update(bytes).digest('hex'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** Streams a file too large to hold in memory through all three digests in one pass. */
export async function digestsOfFile(path: string): Promise<FileDigests & { bytes: number }> {
  const md5 = createHash('md5');
  const sha1 = createHash('sha1');
  const sha256 = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    md5.update(chunk);
    sha1.update(chunk);
    sha256.update(chunk);
    bytes += chunk.length;
  }
  return { md5: md5.digest('hex'), sha1: sha1.digest('hex'), sha256: sha256.digest('hex'), bytes };
}
