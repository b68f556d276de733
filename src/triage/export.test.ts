// CSV cells from a seized device's file names never become spreadsheet formulas; plain numbers stay numbers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { csvCell } from './export.js';

test('csvCell: formulas neutralised (a number-looking prefix too), numbers and ordinary text unchanged', () => {
  assert.equal(csvCell('=HYPERLINK("http://example.org")'), `"'=HYPERLINK(""http://example.org"")"`);
  assert.equal(csvCell('-1+HYPERLINK("x")'), `"'-1+HYPERLINK(""x"")"`);
  assert.equal(csvCell('@SUM(A1)'), `'@SUM(A1)`);
  assert.equal(csvCell('-12.5'), '-12.5');
  assert.equal(csvCell(48.85), '48.85');
  assert.equal(csvCell('photos/a,b.jpg'), '"photos/a,b.jpg"');
  assert.equal(csvCell(undefined), '');
});
