// Degenerate PDQ hashes are recognised; ordinary hashes of benign photos are not.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PDQ_DIR } from '../../../test/helpers/shared.js';
import { hash256FromHex } from './hash256.js';
import { hashInformation } from './degenerate.js';

const kind = (hex: string) => hashInformation(hash256FromHex(hex)).degenerate;

test('constant, one-value and periodic hashes are degenerate (the shapes seen at distance 0 between unrelated pictures)', () => {
  assert.equal(kind('0'.repeat(64)), 'constant');
  assert.equal(kind('f'.repeat(62) + '00'), 'constant');
  assert.equal(kind('a'.repeat(64)), 'periodic');
  // Half the rows one value, the others varied (not a shift of each other).
  assert.equal(kind('1234'.repeat(8) + '9e3779b97f4a7c15f39cc0605cedc834'), 'one-value');
  assert.equal(kind('5555aaaa'.repeat(8)), 'periodic');
  assert.equal(kind('0000ffff'.repeat(8)), 'periodic');
  // One row repeated every 4 rows, with a few bits of noise: still periodic.
  const rows = '3c5a96e1f00fa55a';
  const noisy = hash256FromHex(rows.repeat(4));
  noisy[3] ^= 0x11;
  noisy[20] ^= 0x80;
  assert.equal(hashInformation(noisy).degenerate, 'periodic');
});

test('striped hashes (detail in one direction only: bars, streaks) are degenerate', () => {
  // The two bank hashes behind the defaults' last false pairs on bench:precision: a progress bar and a rain streak.
  assert.equal(kind('0000ffff00007fffffff0000ffff0000ffff0000ffff0000ffff0000ffff8000'), 'striped');
  assert.equal(kind('3fff7fff1fff0000000000003fff7fff3fff0000000000003fff7fff3fff0000'), 'striped');
  // Columns: 12 columns all one value (the low 12 bits of every row are 0fc0), the top 4 bits of each row
  // varied enough that the hash is not periodic.
  const columns = hashInformation(hash256FromHex('9fc03fc0efc05fc0cfc00fc07fc0afc02fc0ffc06fc01fc0bfc04fc0dfc08fc0'));
  assert.equal(columns.degenerate, 'striped');
  assert.ok(columns.selfDistance > 32 && columns.uniformLines === 12);
  // Photo hashes judged true on bench:precision keep matching.
  for (const hex of ['532a08fb417e60c5c0eb607070faf8e3ffe373e33ae31800608300030eff77fe', '08c31227e7fb68c332e7bbff48c7644b3ffa1204fffc0d18122b96240cd860cf']) {
    assert.equal(kind(hex), undefined, hex);
  }
});

test('ordinary hashes of benign photos (ThreatExchange haystack) are not degenerate', () => {
  const hashes = readFileSync(join(PDQ_DIR, 'reg-test-input/haystack.txt'), 'utf8').split(/\s+/).filter((h) => /^[0-9a-f]{64}$/.test(h));
  assert.ok(hashes.length > 500);
  const flagged = hashes.filter((h) => kind(h) !== undefined);
  assert.equal(flagged.length, 0, flagged.slice(0, 3).join(' '));
  const info = hashInformation(hash256FromHex(hashes[0]));
  assert.ok(info.selfDistance > 60 && info.ones > 64 && info.ones < 192);
});
