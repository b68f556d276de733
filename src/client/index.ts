/**
 * vigil/client: hashing on the device for end-to-end-encrypted apps (docs/client.md). Runs in browsers,
 * Web Workers, Node and Deno; no Node-only imports (lint-enforced).
 */
export { HashPool, type HashPoolOptions } from './pool.js';
export { hashHere, pdqOfPixels, PDQ_QUALITY_THRESHOLD, type HashInput, type HashOptions, type ImageHashes } from './hash.js';
export { digestsOf, md5Hex, shaHex, type Digests } from './digests.js';
export { canDecode, decodeBlob, DecodeUnavailableError, type RawPixels } from './pixels.js';
export { rangePrefix, rangeTag, RANGE_PREFIX_DEFAULT, RANGE_PREFIX_MAX, RANGE_PREFIX_MIN, RANGE_TYPES, type RangeType } from './range.js';
export { VigilApiError, VigilClient, type CheckOptions, type CheckResult, type ClientHashes, type ContentDecision, type SubmitRequest, type Verdict, type VigilClientOptions } from './api.js';
export { hammingDistance256, hash256FromHex } from '../signals/pdq/hash256.js';
export { DIHEDRAL_NAMES, PDQ_MATCH_DISTANCE, type DihedralName } from '../signals/pdq/pdq.js';
export { hashVideo, type VideoHashOptions, type VideoHashResult } from './video-lazy.js';
