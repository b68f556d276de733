import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hash256FromHex, hash256ToHex } from '../pdq/hash256.js';
import {
  formatFixed3,
  formatPythonGeneral,
  formatVpdqJson,
  formatVpdqText,
  parseVpdq,
  parseVpdqJson,
  parseVpdqText,
} from './format.js';
import type { VpdqFeature } from './hasher.js';

const REFERENCE_DIR = fileURLToPath(new URL('../../../../shared/conformance/vpdq/reference-hashes/', import.meta.url));
const H = 'e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c';

// [value, Python f"{v:.3}", C "%.3f"], produced by CPython 3 and glibc printf.
const CASES: [number, string, string][] = [
  [0.0, '0.0', '0.000'], [12.345, '12.3', '12.345'], [123.4, '1.23e+02', '123.400'], [10.0, '10.0', '10.000'],
  [1.0, '1.0', '1.000'], [99.96, '1e+02', '99.960'], [100.0, '1e+02', '100.000'], [0.5, '0.5', '0.500'],
  [0.033, '0.033', '0.033'], [1 / 30, '0.0333', '0.033'], [0.0001, '0.0001', '0.000'], [1e-5, '1e-05', '0.000'],
  [1.2e-5, '1.2e-05', '0.000'], [12.25, '12.2', '12.250'], [12.35, '12.3', '12.350'], [0.125, '0.125', '0.125'],
  [2.675, '2.67', '2.675'], [1e22, '1e+22', '10000000000000000000000.000'], [1.5, '1.5', '1.500'], [9.995, '9.99', '9.995'],
  [99.95, '1e+02', '99.950'], [0.0625, '0.0625', '0.062'], [0.1, '0.1', '0.100'], [18.733, '18.7', '18.733'],
  [18.767, '18.8', '18.767'], [22.4, '22.4', '22.400'], [1234.5, '1.23e+03', '1234.500'], [0.999, '0.999', '0.999'],
  [0.9995, '1.0', '1.000'], [0.99951, '1.0', '1.000'], [5e-324, '4.94e-324', '0.000'], [0.00099999, '0.001', '0.001'],
  [33.36666666, '33.4', '33.367'], [7.0, '7.0', '7.000'], [70.0, '70.0', '70.000'], [700.0, '7e+02', '700.000'],
  [2832.496337890625, '2.83e+03', '2832.496'], [3450.0, '3.45e+03', '3450.000'], [316.4666748046875, '3.16e+02', '316.467'],
  [327.6333312988281, '3.28e+02', '327.633'], [611.0103759765625, '6.11e+02', '611.010'], [3709.5, '3.71e+03', '3709.500'],
];

test('timestamps are written exactly as Python f"{ts:.3}" and C printf "%.3f"', () => {
  for (const [value, python, c] of CASES) {
    assert.equal(formatPythonGeneral(value, 3), python, `Python format of ${value}`);
    assert.equal(formatFixed3(value), c, `printf format of ${value}`);
  }
  // Exact ties round to even, where JavaScript's toFixed/toPrecision would round up.
  assert.equal((0.0625).toFixed(3), '0.063');
  assert.equal((12.25).toPrecision(3), '12.3');
});

test('the C++ reference files read and write back byte for byte', () => {
  const files = readdirSync(REFERENCE_DIR).filter((f) => f.endsWith('.txt'));
  assert.ok(files.length >= 30, `reference hashes found in ${REFERENCE_DIR}`);
  for (const file of files) {
    const text = readFileSync(join(REFERENCE_DIR, file), 'utf8');
    const features = parseVpdqText(text);
    assert.ok(features.length > 100, file);
    assert.equal(formatVpdqText(features), text, file);
    assert.deepEqual(features.map((f) => f.frameNumber), features.map((_, i) => i), `${file}: every frame in order`);
  }
});

test('python-threatexchange JSON: writes json.dumps output, reads it back', () => {
  const features: VpdqFeature[] = [
    { hash: hash256FromHex(H), quality: 100, timestamp: 0, frameNumber: 0 },
    { hash: hash256FromHex(H.toUpperCase()), quality: 49, timestamp: Math.fround(1 / Math.fround(30)), frameNumber: 1 },
    { hash: hash256FromHex(H), quality: 7, timestamp: 123.4, frameNumber: 3702 },
  ];
  const json = formatVpdqJson(features);
  assert.equal(json, `["${H},100,0.0", "${H},49,0.0333", "${H},7,1.23e+02"]`);
  const back = parseVpdqJson(json);
  assert.deepEqual(back.map((f) => [hash256ToHex(f.hash), f.quality, f.timestamp, f.frameNumber]), [
    [H, 100, 0, undefined],
    [H, 49, 0.0333, undefined],
    [H, 7, 123, undefined],
  ]);
  assert.equal(formatVpdqJson([]), '[]');
  assert.deepEqual(parseVpdqJson(''), []);
  assert.equal(parseVpdq(json).length, 3);
  assert.equal(parseVpdq(`0,100,${H},0.000\n`).length, 1);
});

test("python-threatexchange's old JSON form (keyed by frame number) is read", () => {
  const old = JSON.stringify({ 1: { quality: 90, hash: H, timestamp: 0.033 }, 0: { quality: 100, hash: H, timestamp: 0 } });
  const features = parseVpdqJson(old);
  assert.deepEqual(features.map((f) => [f.frameNumber, f.quality, f.timestamp]), [[0, 100, 0], [1, 90, 0.033]]);
});

test('malformed vPDQ text is refused with the line or item that is wrong', () => {
  const bad: [string, RegExp][] = [
    [`0,100,${H}\n`, /line 1: expected 4/],
    [`0,100,${H},0.000\n1,100,${H.slice(1)},0.033\n`, /line 2: expected 64 hexadecimal/],
    [`0,101,${H},0.000`, /quality 101/],
    [`0,-1,${H},0.000`, /quality "-1"/],
    [`0,100,${H},-0.5`, /negative/],
    [`0,100,${H},abc`, /timestamp "abc"/],
    [`x,100,${H},0.0`, /frame number "x"/],
    [`0,100,${'g'.repeat(64)},0.0`, /hexadecimal/],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseVpdqText(text), (err: Error & { code?: string }) => err.code === 'VIGIL_ERR_INVALID_HASH' && message.test(err.message), text.slice(0, 40));
  }
  const badJson: [string, RegExp][] = [
    ['{not json', /Invalid vPDQ JSON/],
    ['42', /expected an array/],
    ['[1]', /item 0: expected a string/],
    [`["${H},100"]`, /item 0: expected "hash,quality,timestamp"/],
    [`["${H},100,nan"]`, /timestamp "nan"/],
    [`["${H},100,inf"]`, /timestamp "inf"/],
    [`["${H},100,0.0", "${H},1000,0.0"]`, /item 1: quality 1000/],
    [`["${H}0,100,0.0"]`, /65 characters/],
  ];
  for (const [text, message] of badJson) {
    assert.throws(() => parseVpdqJson(text), (err: Error & { code?: string }) => err.code === 'VIGIL_ERR_INVALID_HASH' && message.test(err.message), text.slice(0, 40));
  }
});

test('writing refuses features the formats cannot carry', () => {
  const hash = hash256FromHex(H);
  assert.throws(() => formatVpdqText([{ hash, quality: 100, timestamp: 0 }]), /needs a frame number/);
  assert.throws(() => formatVpdqJson([{ hash, quality: 100, timestamp: Number.NaN }]), /timestamp NaN/);
  assert.throws(() => formatVpdqJson([{ hash, quality: 100.5, timestamp: 0 }]), /quality 100.5/);
  assert.throws(() => formatVpdqJson([{ hash: new Uint8Array(31), quality: 100, timestamp: 0 }]), /32 bytes/);
});
