/** The digest index the matcher uses in production (one place to swap implementations). */
import { MapDigestIndex } from './_map-digest-index.js';
import type { DigestIndex } from './matcher.js';

export function createDigestIndex(_byteLength: number): DigestIndex {
  return new MapDigestIndex();
}
