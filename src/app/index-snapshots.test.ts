import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { tempDir } from '../../test/helpers/temp.js';
import { parseConfig } from './config.js';
import { IndexSnapshots } from './index-snapshots.js';
import { createVigil, snapshotDirOf } from './vigil.js';

const md5 = (i: number) => i.toString(16).padStart(32, '0');

/** A core whose log lines are kept for the test. */
async function core(dir: string) {
  const lines: { level: number; msg: string; position?: number }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
  const config = parseConfig({ database: { url: join(dir, 'vigil.db') }, demo: { enabled: false }, evidence: { dir: join(dir, 'evidence') } });
  return { vigil: await createVigil(config, { logger: log }), lines, config };
}

test('a process starts from the snapshot beside an embedded store plus the feed since; an unusable one is logged and the feed replayed', async () => {
  const dir = tempDir('vigil-snapshot');
  const first = await core(dir);
  const { vigil } = first;
  await vigil.store.createBank({ name: 'list', source: 'test' });
  await vigil.store.importList('list', Array.from({ length: 50 }, (_, i) => ({ kind: 'record' as const, line: i + 1, record: { signals: [{ type: 'md5' as const, value: md5(i) }], labels: {} } })));
  await vigil.warm();
  const snapshotDir = snapshotDirOf(first.config)!;
  assert.equal(snapshotDir, `${join(dir, 'vigil.db')}.index`);
  assert.equal(new IndexSnapshots({ matcher: vigil.matcher, dir: snapshotDir, intervalMs: 60_000, log: vigil.log }).save(), true);
  const position = vigil.matcher.position;
  await vigil.store.importList('list', [{ kind: 'record', line: 1, record: { signals: [{ type: 'md5', value: md5(999) }], labels: {} } }]);
  await vigil.close();

  const second = await core(dir);
  await second.vigil.warm();
  assert.ok(second.lines.some((l) => l.msg.startsWith('index snapshot loaded') && l.position === position));
  assert.equal(second.vigil.matcher.sizes.md5, 51);
  assert.equal((await second.vigil.matcher.match({ md5: md5(999) })).length, 1);
  await second.vigil.close();

  // Garbage where the PDQ index should be: logged at warn, and the whole feed gives the same indexes.
  const pdqFile = readdirSync(snapshotDir).find((n) => n.endsWith('.pdq'))!;
  writeFileSync(join(snapshotDir, pdqFile), 'not an index');
  const third = await core(dir);
  await third.vigil.warm();
  assert.ok(third.lines.some((l) => l.level === 40 && l.msg.startsWith('index snapshot unusable')));
  assert.equal(third.vigil.matcher.sizes.md5, 51);
  assert.equal((await third.vigil.matcher.match({ md5: md5(7) })).length, 1);
  await third.vigil.close();
});
