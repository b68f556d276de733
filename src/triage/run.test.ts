import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { tempDir } from '../../test/helpers/temp.js';
import { ENGINES } from '../state/test-engines.js';
import { exportCase } from './export.js';
import { picture } from './_pictures.js';
import { makeZip } from './_zip-writer.js';
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

for (const engine of ENGINES) {
  it(`the case database on ${engine.name}: checkpoints, resume, groups and export`, async () => {
    const dir = tempDir('triage-engine');
    const root = join(dir, 'root');
    mkdirSync(root);
    const jpeg = await picture(11);
    writeFileSync(join(root, 'a.jpg'), jpeg);
    writeFileSync(join(root, 'b.jpg'), jpeg);
    writeFileSync(join(root, 'c.jpg'), await picture(11, { rotate: 90, quality: 85 }));
    const test = await engine.open();
    const location = { storeUrl: test.url, casesDir: join(dir, 'cases'), ...(test.schema ? { schema: test.schema } : {}) };
    try {
      const first = await CaseDb.open(location, 'e', { create: true });
      try {
        const s = await runTriage(first, { match: async () => [] }, { roots: [root], threads: 1, checkpointItems: 1 });
        assert.deepEqual([s.items, s.duplicateGroups, s.series], [3, 1, 1]);
        const again = await runTriage(first, { match: async () => [] }, { roots: [root], threads: 1 });
        assert.deepEqual([again.items, again.skipped], [0, 3]);
      } finally {
        await first.close();
      }
      assert.deepEqual(await CaseDb.names(location), ['e']);
      const reopened = await CaseDb.open(location, 'e');
      try {
        let text = '';
        for await (const chunk of exportCase(reopened, 'json')) text += chunk;
        const rows = JSON.parse(text) as { path: string; duplicateGroup: string | null; series: string | null }[];
        assert.deepEqual(rows.map((r) => r.path).sort(), ['a.jpg', 'b.jpg', 'c.jpg']);
        assert.ok(rows.every((r) => r.series !== null));
      } finally {
        await reopened.close();
      }
    } finally {
      await test.drop();
    }
  });
}

it('an archive interrupted part-way is re-opened and only its missing members are hashed', async () => {
  const dir = tempDir('triage-archive-resume');
  const root = join(dir, 'root');
  mkdirSync(root);
  writeFileSync(join(root, 'many.zip'), makeZip(Array.from({ length: 30 }, (_, i) => ({ name: `m${i}.txt`, data: Buffer.from(`member ${i}\n`) }))));
  const caseDb = await CaseDb.open({ storeUrl: join(dir, 'vigil.db'), casesDir: join(dir, 'cases') }, 'c', { create: true });
  try {
    const abort = new AbortController();
    let calls = 0;
    // The matcher is asked about every item: after 8 questions the run is interrupted (Ctrl-C).
    const first = await runTriage(caseDb, { match: async () => (++calls === 8 && abort.abort(), []) }, { roots: [root], threads: 1, checkpointItems: 1, signal: abort.signal });
    assert.equal(first.interrupted, true);
    const done = first.items;
    assert.ok(done > 1 && done < 31, `recorded ${done}`);
    const second = await runTriage(caseDb, { match: async () => [] }, { roots: [root], threads: 1 });
    assert.equal(second.interrupted, false);
    const paths: string[] = [];
    for await (const r of caseDb.items()) paths.push(r.path);
    assert.equal(paths.length, 31);
    assert.equal(new Set(paths).size, 31);
    // The archive and every member hashed exactly once over the two runs.
    assert.equal(first.items + second.items, 31);
    assert.ok(second.skipped >= done - 1, `skipped ${second.skipped}`);
  } finally {
    await caseDb.close();
  }
});
