import { type SignalType, invalidHash } from '../types.js';
import { formatVpdqJson, parseVpdq, parseVpdqJson } from './format.js';
import { matchVpdq, VPDQ_DISTANCE_THRESHOLD } from './match.js';

/** Most frames accepted in one vPDQ signal (a 3-hour video hashed at 30 fps). */
export const MAX_VPDQ_FRAMES = 400_000;

/**
 * Canonical text of a vPDQ signal string (a JSON array of "hex,quality,timestamp", or pytx's older object
 * form): exactly what python-threatexchange's `vpdq_to_json` writes for the same frames, so a value
 * exported by Vigil equals HMA's own and re-importing either gives the same value.
 */
function parse(text: string): string {
  const frames = parseVpdqJson(text);
  if (frames.length === 0) throw invalidHash('Expected at least one frame for vpdq');
  if (frames.length > MAX_VPDQ_FRAMES) throw invalidHash(`Expected at most ${MAX_VPDQ_FRAMES} frames for vpdq but received ${frames.length}`);
  return formatVpdqJson(frames);
}

const BRIDGE = 'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22';

/** Whole-video matching (the reference rule: frame distance, quality filter, match percentages): no single distance. */
export const vpdqSignal: SignalType<'vpdq'> = {
  name: 'vpdq',
  description: 'vPDQ: PDQ of video frames with quality and timestamp',
  contentTypes: ['video'],
  matching: 'video',
  index: 'vpdq-frames',
  frameType: 'pdq',
  defaultThreshold: VPDQ_DISTANCE_THRESHOLD,
  maxDistance: 256,
  parse,
  matches: (a, b, threshold = VPDQ_DISTANCE_THRESHOLD) => matchVpdq(parseVpdqJson(a), parseVpdqJson(b), { distanceThreshold: threshold }).isMatch,
  // Two frames of the bridge photo (benign), as pytx writes them.
  examples: [`["${BRIDGE},100,0.0", "${BRIDGE},100,1.0"]`],
  hma: [{ name: 'vpdq', contentTypes: ['video'] }],
  // HMA clients send pytx's JSON or Vigil's text form ("hex,quality,timestamp" per line).
  parseHma: (text) => parse(formatVpdqJson(parseVpdq(text))),
};
