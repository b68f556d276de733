// Degenerate PDQ hashes are counted at import and in a bank's statistics.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../store/store.js';
import { countDegenerate, importListFile } from './list-io.js';

test('import and bank stats count degenerate PDQ hashes by kind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-listio-'));
  const store = await openStore(join(dir, 's.db'));
  try {
    const file = join(dir, 'list.txt');
    // A benign photo's hash (the conformance bridge), a flat picture's and a grate's.
    writeFileSync(file, ['d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22', '0'.repeat(64), '0000ffff'.repeat(8)].join('\n') + '\n');
    const result = await importListFile(store, 'benign', file, { create: true, format: 'plain', readOptions: { signalType: 'pdq' } });
    assert.equal(result.inserted, 3);
    assert.deepEqual(result.degeneratePdq, { total: 2, constant: 1, 'one-value': 0, periodic: 1, striped: 0 });
    assert.deepEqual(await countDegenerate(store, 'benign'), result.degeneratePdq);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
