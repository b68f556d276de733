// The `vigil` command line end to end, in-process through main() as the binary runs it.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { runVigil } from './helpers/cli.js';
import { PDQ_DIR, readTsv, requireShared } from './helpers/shared.js';
import { tempDir } from './helpers/temp.js';

const vigil = (...args: string[]) => runVigil(args);

before(requireShared);

test('vigil hash <dir> prints one NDJSON record per file with digests and PDQ; exit 0', async () => {
  const r = await vigil('hash', join(PDQ_DIR, 'bridge-mods'), '--threads', '2');
  assert.equal(r.status, 0, r.stderr);
  const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(records.length, 12);
  const expected = new Map(readTsv(join(PDQ_DIR, 'expected/cpp-reference-full.tsv')).map((row) => [row.file, row]));
  for (const rec of records) {
    const want = expected.get(`bridge-mods/${rec.path.split('/').pop()}`);
    assert.equal(rec.pdq, want?.pdq, rec.path);
    assert.equal(rec.quality, Number(want?.quality));
    assert.match(rec.md5, /^[0-9a-f]{32}$/);
    assert.match(rec.sha1, /^[0-9a-f]{40}$/);
    assert.match(rec.sha256, /^[0-9a-f]{64}$/);
  }
});

test("--format reference prints the C++ tool's hash,quality,filename lines; --dihedral 8 per file", async () => {
  const file = join(PDQ_DIR, 'reg-test-input/dih/bridge-1-original.jpg');
  const r = await vigil('hash', '-f', 'reference', file);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22,100,${file}\n`);
  const d = await vigil('hash', '-f', 'reference', '--dihedral', file);
  const lines = d.stdout.trim().split('\n');
  assert.equal(lines.length, 8);
  const row = readTsv(join(PDQ_DIR, 'expected/cpp-reference-full.tsv')).find((x) => x.file === 'reg-test-input/dih/bridge-1-original.jpg')!;
  assert.deepEqual(lines.map((l) => l.split(',')[0]), [row.pdq, row.rot90, row.rot180, row.rot270, row.flipx, row.flipy, row.flipplus1, row.flipminus1]);
});

test('a batch with bad files: errors per file, the rest hashed, exit status 1', async () => {
  const dir = tempDir('cli');
  writeFileSync(join(dir, 'empty.jpg'), '');
  writeFileSync(join(dir, 'notes.jpg'), 'plain text');
  writeFileSync(join(dir, 'readme.txt'), 'a text file is not media, and not a failure');
  const r = await vigil('hash', dir, join(PDQ_DIR, 'misc-images/wee.jpg'), join(dir, 'missing.png'));
  assert.equal(r.status, 1);
  const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(records.length, 5);
  assert.equal(records.filter((x) => x.error).length, 3);
  const text = records.find((x) => x.path.endsWith('readme.txt'));
  assert.equal(text.media, 'other');
  assert.match(text.sha256, /^[0-9a-f]{64}$/);
  assert.equal(records.find((x) => x.path.endsWith('wee.jpg')).pdq, '6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d');
  assert.ok(records.find((x) => x.path.endsWith('missing.png')).error.code === 'VIGIL_ERR_UNREADABLE');
});

test('usage errors exit 2', async () => {
  assert.equal((await vigil('hash')).status, 2);
  assert.equal((await vigil('hash', '--threads', 'zero', '.')).status, 2);
  assert.equal((await vigil('no-such-command')).status, 2);
});
