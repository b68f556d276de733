/** Vigil's stable programmatic API (the CLI is built on the same). */
export { VigilError, ERROR_CODES, type VigilErrorCode } from './core/errors.js';
export { SIGNAL_TYPES, type SignalTypeName } from './signals/registry.js';
export { hash256FromHex, hash256ToHex, hammingDistance256, type Hash256 } from './signals/pdq/hash256.js';
export { pdqFromPixels, pdqDihedralFromPixels, pdqFromLuma, pdqDihedralFromLuma, PdqScratch, DIHEDRAL_NAMES, PDQ_MATCH_DISTANCE, PDQ_QUALITY_THRESHOLD } from './signals/pdq/pdq.js';
export type { PixelBuffer } from './signals/pdq/luma.js';
export { hashFile, hashImageBytes, type FileHashRecord, type HashOptions } from './hashing/hash-file.js';
export { HashPool } from './hashing/pool.js';
export { openStore } from './store/store.js';
export type { Store, Bank, Signal, ImportResult } from './store/types.js';
export { BankMatcher, pdqQueriesOf, type BankMatch, type MatchQuery } from './banks/matcher.js';
export { createDigestIndex } from './banks/digest-index.js';
export { importListFile, bankRecords } from './banks/list-io.js';
export { HammingIndex256 } from './matching/hamming-index.js';
export { ExactIndex } from './matching/exact-index.js';
