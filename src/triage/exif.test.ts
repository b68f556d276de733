import assert from 'node:assert/strict';
import { it } from 'node:test';
import { picture } from './_pictures.js';
import { exifFacts, mayHaveExif } from './exif.js';

it('reads EXIF only from JPEGs that carry an EXIF segment, and always tries other formats', async () => {
  const withExif = await picture(1, { width: 64, height: 48, exif: { IFD0: { Make: 'Acme', Model: 'Cam 1' } } });
  const without = await picture(1, { width: 64, height: 48 });
  assert.equal(mayHaveExif(withExif), true);
  assert.equal(mayHaveExif(without), false);
  assert.deepEqual(await exifFacts(withExif), { make: 'Acme', model: 'Cam 1' });
  assert.equal(await exifFacts(without), undefined);
  assert.equal(mayHaveExif(await picture(1, { width: 64, height: 48, format: 'png' })), true);
  // A truncated or malformed header is left to exifr (which finds nothing), never misread.
  assert.equal(mayHaveExif(withExif.subarray(0, 3)), true);
  assert.equal(await exifFacts(Uint8Array.from([0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff])), undefined);
});
