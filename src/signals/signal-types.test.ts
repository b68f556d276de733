// The one conformance test every signal type runs (python-threatexchange's signal_type_test_helper): a new
// type added to the registry is tested here without writing anything.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeSignalType, throwsInvalidHash } from '../../test/helpers/signal-conformance.js';
import { PDQ_MATCH_DISTANCE } from './pdq/pdq.js';
import { normalizeHexSignal, SIGNAL_TYPE_INFO, SIGNAL_TYPE_REGISTRY, SIGNAL_TYPES, signalTypes, signalTypesMatching } from './registry.js';

for (const name of SIGNAL_TYPES) describeSignalType(name, SIGNAL_TYPE_REGISTRY[name]);

describe('registry wrappers', () => {
  it('SIGNAL_TYPE_INFO and normalizeHexSignal follow the registry', () => {
    assert.deepEqual(Object.keys(SIGNAL_TYPE_INFO), [...SIGNAL_TYPES]);
    assert.equal(SIGNAL_TYPE_INFO.pdq.defaultThreshold, 31);
    assert.equal(SIGNAL_TYPE_INFO.sha1.hexLength, 40);
    assert.equal(normalizeHexSignal('md5', ' D41D8CD98F00B204E9800998ECF8427E '), 'd41d8cd98f00b204e9800998ecf8427e');
    throwsInvalidHash(() => normalizeHexSignal('sha256', 'abc'), 'short sha256');
  });

  it('lists the built-in types first, in SIGNAL_TYPES order', () => {
    assert.deepEqual(signalTypes().map((t) => t.name).slice(0, SIGNAL_TYPES.length), [...SIGNAL_TYPES]);
  });

  it('derives the schema enums', () => {
    assert.deepEqual(signalTypesMatching('exact', 'distance', 'video'), ['md5', 'sha1', 'sha256', 'pdq', 'vpdq']);
  });

  it('a pdq distance counts bits', () => {
    const pdq = SIGNAL_TYPE_REGISTRY.pdq;
    assert.equal(pdq.distance!(pdq.examples[0], pdq.examples[1]), 4); // last digit 2 → d: 0010 ^ 1101
    assert.equal(pdq.defaultThreshold, PDQ_MATCH_DISTANCE, 'one PDQ threshold (signal-type.ts does not load the hasher)');
    assert.equal(pdq.matches!(pdq.examples[0], pdq.examples[1], 3), false);
  });
});
