import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPythonG3, normalizeVpdqSignal, parseVpdq } from './_vpdq.js';

// Expected strings printed by CPython 3 `format(x, '.3')` (pytx's timestamp serialisation).
const PYTHON_G3: [number, string][] = [
  [0.0, '0.0'], [0.033, '0.033'], [0.5, '0.5'], [1.0, '1.0'], [1.125, '1.12'], [1.135, '1.14'], [2.5, '2.5'],
  [2.675, '2.67'], [9.995, '9.99'], [10.0, '10.0'], [12.345, '12.3'], [12.25, '12.2'], [33.366, '33.4'],
  [99.95, '1e+02'], [100.0, '1e+02'], [123.4, '1.23e+02'], [1234.5, '1.23e+03'], [0.0001, '0.0001'],
  [0.000125, '0.000125'], [1e-05, '1e-05'], [3599.9, '3.6e+03'], [7200.0, '7.2e+03'], [1e21, '1e+21'],
];

const A = 'ab'.repeat(32);
const C = 'cd'.repeat(32);

describe('vPDQ signal strings', () => {
  it("formats timestamps exactly like Python's format(x, '.3'), ties to even included", () => {
    for (const [x, expected] of PYTHON_G3) assert.equal(formatPythonG3(x), expected, String(x));
  });

  it('canonical text is what pytx vpdq_to_json writes (json.dumps ", " separator)', () => {
    // json.dumps(["abab…,100,0.033", "cdcd…,7,1.23e+02"]) from CPython.
    const pytx = `["${A},100,0.033", "${C},7,1.23e+02"]`;
    assert.equal(normalizeVpdqSignal(`[ "${A.toUpperCase()},100,0.0330" ,"${C},+7,123.4"]`), pytx);
    assert.equal(normalizeVpdqSignal(pytx), pytx, 'idempotent');
  });

  it('keeps frame order and duplicate frames', () => {
    const frames = parseVpdq(`["${C},50,2", "${A},60,1", "${C},50,2"]`);
    assert.deepEqual(frames.map((f) => [f.hex.slice(0, 2), f.quality, f.timestamp]), [['cd', 50, 2], ['ab', 60, 1], ['cd', 50, 2]]);
  });

  it('refuses malformed signals with a reason', () => {
    const cases: [string, RegExp][] = [
      ['', /JSON array/],
      ['[', /malformed/],
      ['{}', /JSON array/],
      ['[]', /at least one frame/],
      ['[1]', /string for vpdq frame 1/],
      [`["${A},100"]`, /"hex,quality,timestamp"/],
      [`["${A.slice(2)},100,0"]`, /64 hexadecimal digits/],
      [`["${A.slice(0, 63)}g,100,0"]`, /64 hexadecimal digits/],
      [`["${A},101,0"]`, /quality 0\.\.100/],
      [`["${A},-1,0"]`, /quality 0\.\.100/],
      [`["${A},9.5,0"]`, /quality 0\.\.100/],
      [`["${A},100,-0.5"]`, /timestamp >= 0/],
      [`["${A},100,nan"]`, /number for the timestamp/],
      [`["${A},100,inf"]`, /number for the timestamp/],
      [`["${A},100,1e999"]`, /finite/],
    ];
    for (const [text, re] of cases) assert.throws(() => normalizeVpdqSignal(text), re, text);
  });
});
