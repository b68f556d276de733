// The one conformance test every signal type runs (python-threatexchange's signal_type_test_helper): a new
// type added to the registry is tested here without writing anything.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VigilError } from '../core/errors.js';
import { PDQ_MATCH_DISTANCE } from './pdq/pdq.js';
import { normalizeHexSignal, SIGNAL_TYPE_INFO, SIGNAL_TYPE_REGISTRY, SIGNAL_TYPES, signalTypesMatching } from './registry.js';
import type { SignalType } from './types.js';

const BAD_INPUTS = ['', '   ', 'not a hash', 'zz'.repeat(32), '0'.repeat(31), '{"x": 1}', '[1, 2]', 'a b\tc'];

function throwsInvalidHash(fn: () => unknown, what: string): void {
  assert.throws(fn, (e: unknown) => e instanceof VigilError && e.code === 'VIGIL_ERR_INVALID_HASH' && e.message.length > 10, what);
}

for (const name of SIGNAL_TYPES) {
  const t: SignalType = SIGNAL_TYPE_REGISTRY[name];
  describe(`signal type ${name}`, () => {
    it('is registered under its own persisted name', () => {
      assert.equal(t.name, name);
      assert.ok(t.contentTypes.length > 0);
      assert.ok(t.description.length > 0);
    });

    it('parses its examples to themselves (canonical) and round-trips spacing and case', () => {
      assert.ok(t.examples.length > 0);
      for (const ex of t.examples) {
        assert.equal(t.parse(ex), ex, 'examples are canonical');
        assert.equal(t.parse(t.parse(ex)), ex, 'idempotent');
        assert.equal(t.parse(`  ${ex}\n`), ex, 'surrounding space');
        if (t.hexLength !== undefined) {
          assert.equal(ex.length, t.hexLength);
          assert.equal(t.parse(ex.toUpperCase()), ex, 'upper-case hex');
        }
      }
    });

    it('rejects bad input with VIGIL_ERR_INVALID_HASH', () => {
      for (const bad of BAD_INPUTS) {
        if (t.matching === 'opaque' && bad.trim() !== '' && !/\s/.test(bad.trim())) continue; // opaque text: only form is checked
        throwsInvalidHash(() => t.parse(bad), `${name} ${JSON.stringify(bad)}`);
      }
      if (t.hexLength !== undefined) {
        throwsInvalidHash(() => t.parse('0'.repeat(t.hexLength! + 1)), 'one digit too many');
        throwsInvalidHash(() => t.parse(`${'0'.repeat(t.hexLength! - 1)}g`), 'a non-hex digit');
      }
    });

    it('has distance 0 to itself and a symmetric distance', { skip: t.distance === undefined }, () => {
      for (const a of t.examples) {
        assert.equal(t.distance!(a, a), 0);
        for (const b of t.examples) {
          const d = t.distance!(a, b);
          assert.equal(d, t.distance!(b, a));
          assert.ok(Number.isInteger(d) && d >= 0 && d <= t.maxDistance!);
        }
      }
    });

    it('matches itself, symmetrically', { skip: t.matches === undefined }, () => {
      for (const a of t.examples) {
        assert.equal(t.matches!(a, a), true);
        for (const b of t.examples) assert.equal(t.matches!(a, b), t.matches!(b, a));
      }
    });

    it('has a sane default threshold (or none, when it does not match by distance)', () => {
      if (t.matching === 'distance' || t.matching === 'video') {
        assert.ok(t.defaultThreshold !== undefined && t.maxDistance !== undefined);
        assert.ok(Number.isInteger(t.defaultThreshold) && t.defaultThreshold >= 0 && t.defaultThreshold < t.maxDistance / 2, 'below half the bits');
      } else {
        assert.equal(t.defaultThreshold, undefined);
        assert.equal(t.distance, undefined);
      }
      assert.equal(t.index === 'none', t.matching === 'opaque', 'every locally matched type names its index');
      if (t.matching === 'opaque') assert.equal(t.matches, undefined, 'opaque types are compared by a remote matcher');
      else assert.notEqual(t.matches, undefined);
    });
  });
}

describe('registry wrappers', () => {
  it('SIGNAL_TYPE_INFO and normalizeHexSignal follow the registry', () => {
    assert.deepEqual(Object.keys(SIGNAL_TYPE_INFO), [...SIGNAL_TYPES]);
    assert.equal(SIGNAL_TYPE_INFO.pdq.defaultThreshold, 31);
    assert.equal(SIGNAL_TYPE_INFO.sha1.hexLength, 40);
    assert.equal(normalizeHexSignal('md5', ' D41D8CD98F00B204E9800998ECF8427E '), 'd41d8cd98f00b204e9800998ecf8427e');
    throwsInvalidHash(() => normalizeHexSignal('sha256', 'abc'), 'short sha256');
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
