import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyAnyCategory, normalizeSignal, normalizeVpdqSignal, parseBoolean, parseFileSize, parseIndustryCategory,
  parseProjectVicCategory, parseTags, parseUkCategory, signalTypeFromName,
} from './_values.js';
import type { Labels } from './types.js';

const A = 'ab'.repeat(32);
const C = 'cd'.repeat(32);

// Timestamps as CPython 3 prints them with `format(x, '.3')` (pytx's serialisation), ties to even included.
const PYTHON_G3: [number, string][] = [
  [0.0, '0.0'], [0.033, '0.033'], [1.125, '1.12'], [1.135, '1.14'], [2.675, '2.67'], [9.995, '9.99'], [10.0, '10.0'],
  [12.345, '12.3'], [99.95, '1e+02'], [123.4, '1.23e+02'], [0.000125, '0.000125'], [1e-05, '1e-05'], [3599.9, '3.6e+03'],
];

describe('vPDQ signal strings', () => {
  it("canonical text is what pytx's vpdq_to_json writes (json.dumps, timestamps as f'{t:.3}')", () => {
    for (const [x, py] of PYTHON_G3) assert.equal(normalizeVpdqSignal(`["${A},100,${x}"]`), `["${A},100,${py}"]`, String(x));
    const pytx = `["${A},100,0.033", "${C},7,1.23e+02"]`;
    assert.equal(normalizeVpdqSignal(`[ "${A.toUpperCase()},100,0.0330" ,"${C},+7,123.4"]`), pytx);
    assert.equal(normalizeVpdqSignal(pytx), pytx, 'idempotent');
  });

  it("reads pytx's old object form too", () => {
    assert.equal(normalizeVpdqSignal(`{"1": {"hash": "${C}", "quality": 90, "timestamp": 1.0}, "0": {"hash": "${A}", "quality": 100, "timestamp": 0}}`), `["${A},100,0.0", "${C},90,1.0"]`);
  });

  it('refuses malformed signals with a reason', () => {
    const cases: string[] = [
      '', '[', '[]', '[1]', `["${A},100"]`, `["${A.slice(2)},100,0"]`, `["${A.slice(0, 63)}g,100,0"]`,
      `["${A},101,0"]`, `["${A},-1,0"]`, `["${A},9.5,0"]`, `["${A},100,-0.5"]`, `["${A},100,nan"]`, `["${A},100,1e999"]`, '"text"',
    ];
    for (const text of cases) assert.throws(() => normalizeVpdqSignal(text), (e: unknown) => e instanceof Error && e.message.length > 10, text);
    assert.throws(() => normalizeSignal('vpdq', '[]'), /at least one frame/);
  });
});

describe('label and value parsers', () => {
  it('PhotoDNA: trimmed printable ASCII, bounded', () => {
    assert.equal(normalizeSignal('photodna', '  QUJD+/=  '), 'QUJD+/=');
    assert.throws(() => normalizeSignal('photodna', ''), /empty/);
    assert.throws(() => normalizeSignal('photodna', 'a b'), /printable ASCII/);
    assert.throws(() => normalizeSignal('photodna', 'x'.repeat(4097)), /at most 4096/);
  });

  it('categories: Project VIC numbers, UK letters, industry classes', () => {
    assert.equal(parseProjectVicCategory(3), 3);
    assert.equal(parseProjectVicCategory(' 4 '), 4);
    for (const bad of [-1, 100, 1.5, 'one', null, true]) assert.throws(() => parseProjectVicCategory(bad), /integer 0\.\.99/);
    assert.equal(parseUkCategory('Category A'), 'A');
    assert.equal(parseUkCategory('cat-b'), 'B');
    assert.equal(parseUkCategory('c'), 'C');
    assert.throws(() => parseUkCategory('D'), /A, B or C/);
    assert.equal(parseIndustryCategory('b2'), 'B2');
    assert.throws(() => parseIndustryCategory('A3'), /A1, A2, B1 or B2/);
    const labels: Labels = {};
    applyAnyCategory(labels, '2', 'c');
    applyAnyCategory(labels, 'A1', 'c');
    applyAnyCategory(labels, 'Category C', 'c');
    assert.deepEqual(labels, { projectVicCategory: 2, industryCategory: 'A1', ukCategory: 'C' });
    assert.throws(() => applyAnyCategory({}, 'severe', 'Cat'), /for Cat but received "severe"/);
  });

  it('booleans accept JSON booleans, "true"/"false" in any case and 1/0', () => {
    for (const t of [true, 'true', ' TRUE ', 'True', 1, '1']) assert.equal(parseBoolean(t, 'f'), true);
    for (const f of [false, 'false', 'FALSE', 0, '0']) assert.equal(parseBoolean(f, 'f'), false);
    for (const bad of ['yes', '', 2, null, {}]) assert.throws(() => parseBoolean(bad, 'IsDistributed'), /true or false for IsDistributed/);
  });

  it('tags, sizes and signal type names', () => {
    assert.deepEqual(parseTags('a, b;c|a,,'), ['a', 'b', 'c']);
    assert.deepEqual(parseTags(['x', 'y, z']), ['x', 'y', 'z']);
    assert.throws(() => parseTags([1]), /text for Tags/);
    assert.equal(parseFileSize('2048'), 2048);
    for (const bad of ['-1', '1e3', 2 ** 53, 1.5, 'x']) assert.throws(() => parseFileSize(bad), /non-negative integer/);
    assert.equal(signalTypeFromName('HASH_PDQ'), 'pdq');
    assert.equal(signalTypeFromName(' Video_MD5 '), 'md5');
    assert.equal(signalTypeFromName('SHA-256'), 'sha256');
    assert.equal(signalTypeFromName('pdna'), 'photodna');
    assert.equal(signalTypeFromName('__proto__'), undefined);
    assert.equal(signalTypeFromName('url'), undefined);
  });
});
