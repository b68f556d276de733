/** The digest index the matcher uses in production: the off-heap ExactIndex (one place to swap it). */
import { VigilError } from '../core/errors.js';
import { corruptError } from '../matching/_file-format.js';
import { ExactIndex, type DigestAlgorithm } from '../matching/exact-index.js';
import type { DigestIndex } from './matcher.js';

const BY_LENGTH: Record<number, DigestAlgorithm> = { 16: 'md5', 20: 'sha1', 32: 'sha256' };

export function createDigestIndex(byteLength: number): DigestIndex {
  const algorithm = BY_LENGTH[byteLength];
  if (!algorithm) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a 16, 20 or 32-byte digest length but received ${byteLength}`);
  return new ExactIndex(algorithm);
}

/** Reads a digest index written by `ExactIndex.save` (matcher snapshots); its algorithm must be the expected one. */
export function loadDigestIndex(path: string, byteLength: number): DigestIndex {
  const index = ExactIndex.load(path);
  if (index.algorithm !== BY_LENGTH[byteLength]) throw corruptError(path, `it holds ${index.algorithm} digests, not ${BY_LENGTH[byteLength] ?? `${byteLength}-byte ones`}`);
  return index;
}
