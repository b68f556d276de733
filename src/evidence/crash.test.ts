/**
 * kill -9 in the middle of writing evidence leaves nothing readable and nothing behind once the store is
 * opened again: not the temp body, not a body whose header never landed. A live writer's files are kept.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FolderBlobStore } from './folder-blob-store.js';

const base = mkdtempSync(join(tmpdir(), 'vigil-evcrash-'));
after(() => rmSync(base, { recursive: true, force: true }));

test('a writer killed mid-item leaves nothing once the folder is opened again', { timeout: 60_000 }, async () => {
  const dir = join(base, 'evidence');
  const module = fileURLToPath(new URL('./open.ts', import.meta.url));
  // Writes an endless generated stream as one evidence item; never finishes.
  const script = `
    const { openEvidenceStore } = await import(${JSON.stringify(module)});
    const { store } = await openEvidenceStore({ location: ${JSON.stringify(dir)}, keys: 'k1:${Buffer.alloc(32, 7).toString('base64')}' });
    async function* endless() { for (;;) yield Buffer.alloc(65536, 1); }
    await store.put(endless(), 'killed');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  // Poll (not sleep) until the child is writing its temp body.
  while (!existsSync(dir) || !readdirSync(dir).some((n) => n.startsWith('killed.body.') && n.endsWith('.tmp'))) {
    assert.equal(child.exitCode, null, 'the writer is still running');
    await new Promise((resolve) => setTimeout(resolve, 20)); // a poll, not a wait for time to pass
  }
  child.kill('SIGKILL');
  await exited;

  // A body whose writer died between its two renames, and one of a live writer (this process) mid-commit.
  writeFileSync(join(dir, 'orphan.body'), 'sealed bytes with no header');
  writeFileSync(join(dir, 'live.body'), 'sealed bytes');
  writeFileSync(join(dir, `live.head.${process.pid}.abcdef.tmp`), 'header being committed');

  const store = await FolderBlobStore.open(dir);
  assert.deepEqual(readdirSync(dir).sort(), ['live.body', `live.head.${process.pid}.abcdef.tmp`]);
  assert.equal(await store.readHeader('killed'), undefined);
  const ids: string[] = [];
  for await (const id of store.ids()) ids.push(id);
  assert.deepEqual(ids, []);
});
