/** The digest index the matcher uses in production: the off-heap ExactIndex (one place to swap it). */
import { VigilError } from '../core/errors.js';
import { ExactIndex, type DigestAlgorithm } from '../matching/exact-index.js';
import type { DigestIndex } from './matcher.js';

const BY_LENGTH: Record<number, DigestAlgorithm> = { 16: 'md5', 20: 'sha1', 32: 'sha256' };

export function createDigestIndex(byteLength: number): DigestIndex {
  const algorithm = BY_LENGTH[byteLength];
  if (!algorithm) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a 16, 20 or 32-byte digest length but received ${byteLength}`);
  return new ExactIndex(algorithm);
}
