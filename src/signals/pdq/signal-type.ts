import { type SignalType, parseFixedHex } from '../types.js';
import { hammingDistance256, hash256FromHex } from './hash256.js';

// pdq/README.md and python-threatexchange: distance <= 31 is a match (= pdq.ts#PDQ_MATCH_DISTANCE; not imported
// so that validating a value never loads the hasher).
const PDQ_THRESHOLD = 31;

const distance = (a: string, b: string): number => hammingDistance256(hash256FromHex(a), hash256FromHex(b));

export const pdqSignal: SignalType<'pdq'> = {
  name: 'pdq',
  description: "Meta's PDQ perceptual image hash",
  contentTypes: ['photo'],
  matching: 'distance',
  index: 'hamming256',
  hexLength: 64,
  defaultThreshold: PDQ_THRESHOLD,
  maxDistance: 256,
  parse: (value) => parseFixedHex('pdq', 64, value),
  distance,
  matches: (a, b, threshold = PDQ_THRESHOLD) => distance(a, b) <= threshold,
  // The conformance bridge photo's PDQ, and a value a few bits from it.
  examples: ['d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22', 'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b2d'],
  hma: [{ name: 'pdq', contentTypes: ['photo'], default: true }],
};
