/**
 * k-anonymity lookups for exact digests: the device sends the first few hex digits of its digest, the server
 * answers with every listed digest of that type in that range — as one-way tags, not the digests themselves —
 * and the device compares locally. The server learns the prefix (20 bits by default), never the digest of a
 * file that is not on a list; the device learns tags it can only check a digest against, not list entries it
 * could search for elsewhere (a raw SHA-1 list is a search index for some file-sharing networks).
 */
import { shaHex } from './digests.js';

export const RANGE_TYPES = ['md5', 'sha1', 'sha256'] as const;
export type RangeType = (typeof RANGE_TYPES)[number];

/** Hex digits a range query may carry: fewer gives too many candidates, more tells the server too much. */
export const RANGE_PREFIX_MIN = 4;
export const RANGE_PREFIX_MAX = 8;
export const RANGE_PREFIX_DEFAULT = 5;

/** The versioned domain of the tags; the server computes the same (src/service/routes/range.ts). */
export const RANGE_TAG_DOMAIN = 'vigil-range-v1';

export function rangeTagInput(type: RangeType, hex: string): string {
  return `${RANGE_TAG_DOMAIN}:${type}:${hex.toLowerCase()}`;
}

/** SHA-256 over the tag input, hex: what a candidate of the range is compared with. */
export async function rangeTag(type: RangeType, hex: string): Promise<string> {
  return shaHex('SHA-256', new TextEncoder().encode(rangeTagInput(type, hex)));
}

export function rangePrefix(hex: string, length = RANGE_PREFIX_DEFAULT): string {
  if (!Number.isInteger(length) || length < RANGE_PREFIX_MIN || length > RANGE_PREFIX_MAX) {
    throw new RangeError(`A range prefix has ${RANGE_PREFIX_MIN}–${RANGE_PREFIX_MAX} hex digits, not ${length}`);
  }
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length < length) throw new RangeError('Expected a hexadecimal digest');
  return hex.slice(0, length).toLowerCase();
}
