import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { rulesVersionOf } from '../rules/engine.js';
import { parseRulesConfig } from '../rules/config.js';
import { canonicalJson as storedJson } from '../store/_shared.js';
import { canonicalJson } from './canonical-json.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const SAMPLE = { z: 1, a: [true, null, 'x\u2028"'], é: { y: 0.1, b: -0 }, n: 1e21, u: undefined };

// Golden values computed with the three implementations this one replaced (audit, rules engine, store).
test('the hashes fed by canonical JSON are what they were: audit entries and the rules version', () => {
  assert.equal(canonicalJson(SAMPLE), '{"a":[true,null,"x\u2028\\""],"n":1e+21,"z":1,"é":{"b":0,"y":0.1}}');
  assert.equal(sha256(canonicalJson(SAMPLE)), '3110e04cb3fbe304253d672c186c0f19b4c52c1a3af80ca4b4942d27eba97c2b');
  const example = parseRulesConfig(JSON.parse(readFileSync(new URL('../../examples/rules.json', import.meta.url), 'utf8')));
  assert.equal(rulesVersionOf(example), 'adc0f55be2a005a23a70c102d2223bb19cf79778e359876ac6b2eb3eeba5ec1b');
});

test('the store keeps its text for what JSON cannot hold (null), where hashing refuses it', () => {
  assert.equal(storedJson(SAMPLE), canonicalJson(SAMPLE));
  assert.equal(storedJson({ b: [1, undefined, Number.NaN], a: 'x', c: Number.POSITIVE_INFINITY }), '{"a":"x","b":[1,null,null],"c":null}');
  assert.equal(storedJson(undefined), 'null');
  assert.throws(() => canonicalJson({ c: Number.POSITIVE_INFINITY }), { code: 'VIGIL_ERR_INVALID_ARGUMENT', message: /\$\.c/ });
  assert.throws(() => canonicalJson({ b: [1, undefined] }), { code: 'VIGIL_ERR_INVALID_ARGUMENT', message: /\$\.b\[1\]/ });
  assert.throws(() => canonicalJson(undefined), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.throws(() => storedJson(cycle), { message: /cycle/ });
  // A value seen twice is not a cycle.
  const shared = { k: 1 };
  assert.equal(canonicalJson({ a: shared, b: [shared] }), '{"a":{"k":1},"b":[{"k":1}]}');
});
