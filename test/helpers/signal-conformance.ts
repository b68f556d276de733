// The one conformance suite every signal type runs (python-threatexchange's signal_type_test_helper):
// signals/signal-types.test.ts runs it over the registry, and a test that registers a type runs it too.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VigilError } from '../../src/core/errors.js';
import { findSignalType } from '../../src/signals/registry.js';
import type { IndexKind, MatchingKind, SignalType } from '../../src/signals/types.js';

/** The index kind the matcher builds for each way of matching (banks/type-indexes.ts). */
const INDEX_OF: Record<MatchingKind, IndexKind> = { exact: 'exact-digest', distance: 'hamming256', video: 'vpdq-frames', opaque: 'none' };

const BAD_INPUTS = ['', '   ', 'not a hash', 'zz'.repeat(32), '0'.repeat(31), '{"x": 1}', '[1, 2]', 'a b\tc'];

export function throwsInvalidHash(fn: () => unknown, what: string): void {
  assert.throws(fn, (e: unknown) => e instanceof VigilError && e.code === 'VIGIL_ERR_INVALID_HASH' && e.message.length > 10, what);
}

export function describeSignalType(name: string, t: SignalType): void {
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

    it('names an index kind the matcher builds, with what that kind needs', () => {
      assert.equal(t.index, INDEX_OF[t.matching]);
      if (t.index === 'exact-digest') assert.ok(t.hexLength !== undefined && t.hexLength % 2 === 0, 'a whole number of bytes');
      else assert.equal(t.digest, undefined, 'only exact digests are hashed from the bytes by name');
      if (t.index === 'hamming256') assert.ok(t.hexLength === 64 && t.maxDistance === 256, '256 bits as 64 hex digits');
      if (t.frameType !== undefined) {
        assert.equal(t.index, 'vpdq-frames', 'only videos have frames');
        assert.equal(findSignalType(t.frameType)?.index, 'hamming256', 'frames of a registered photo type');
      }
    });
  });
}

