import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { tempDir } from '../../test/helpers/temp.js';
import { picture } from './_pictures.js';
import { CaseDb } from './case-db.js';
import { casePathOf, runTriage } from './run.js';

it('a file that changes while it is read is hashed as read and reported', async () => {
  const dir = tempDir('triage-run');
  const root = join(dir, 'root');
  mkdirSync(root);
  writeFileSync(join(root, 'growing.log'), 'first line\n');
  writeFileSync(join(root, 'still.jpg'), await picture(9));
  const caseDb = await CaseDb.open({ storeUrl: join(dir, 'vigil.db'), casesDir: join(dir, 'cases') }, 'c', { create: true });
  try {
    const summary = await runTriage(caseDb, { match: async () => [] }, {
      roots: [root],
      threads: 1,
      afterRead: async (path) => {
        if (path.endsWith('growing.log')) appendFileSync(path, 'a second line written during the read\n');
      },
    });
    assert.equal(summary.items, 2);
    const rows = new Map<string, unknown>();
    for await (const r of caseDb.items()) rows.set(r.path, r);
    const grown = rows.get('growing.log') as { error?: { code: string }; size: number; status: string };
    assert.equal(grown.error?.code, 'VIGIL_ERR_FILE_CHANGED');
    assert.equal(grown.size, 'first line\n'.length);
    assert.equal(grown.status, 'unknown');
    assert.equal((rows.get('still.jpg') as { error?: unknown }).error, undefined);
  } finally {
    await caseDb.close();
  }
});

it('paths are relative to their root; with several roots they start with the root folder name', () => {
  assert.equal(casePathOf('/media/disk1', '/media/disk1/DCIM/a.jpg', false), 'DCIM/a.jpg');
  assert.equal(casePathOf('/media/disk1', '/media/disk1/DCIM/a.jpg', true), 'disk1/DCIM/a.jpg');
  assert.equal(casePathOf('/media/one.jpg', '/media/one.jpg', true), 'one.jpg');
});
