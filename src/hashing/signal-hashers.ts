/**
 * The Node side of the signal-type seam for hashing: which values of a hashed file (FileHashRecord) each
 * signal type queries the matcher with. Exact digests of the bytes need nothing here: media/digests.ts computes
 * every registered type that names a `digest` in the one read and the record carries it under the type's name.
 * A perceptual type brings its hasher (hash-file.ts runs the photo hasher on pictures and the video hasher on
 * videos and animations) and its entry below, which turns what the hasher wrote into the type's query form.
 */
import { pdqQueriesOf, type MatchQuery } from '../banks/matcher.js';
import type { SignalTypeName } from '../signals/registry.js';
import { parseVpdqCompactFeature } from '../signals/vpdq/format.js';
import type { FileHashRecord } from './hash-file.js';

export const RECORD_QUERIES: Partial<Record<SignalTypeName, (record: FileHashRecord) => MatchQuery>> = {
  pdq: (record) => ({ pdq: pdqQueriesOf(record) }),
  vpdq: (record) => {
    const vpdq = record.vpdq?.map((f) => parseVpdqCompactFeature(f));
    const vpdqViews = record.vpdqViews ? [{ view: 'unletterboxed', features: record.vpdqViews.unletterboxed.map((f) => parseVpdqCompactFeature(f)) }] : [];
    return { ...(vpdq ? { vpdq } : {}), vpdqViews };
  },
};
