// Banks end to end through the CLI (in-process): create, import (idempotent, per-row errors), match, reputation, export.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { runVigil } from './helpers/cli.js';
import { PDQ_DIR, requireShared } from './helpers/shared.js';
import { tempDir } from './helpers/temp.js';

let dir: string;
let db: string;

const vigil = (...args: string[]) => runVigil(['--db', db, ...args]);

const BRIDGE = 'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22';

before(() => {
  requireShared();
  dir = tempDir('banks');
  db = join(dir, 'vigil.db');
  const weeMd5 = createHash('md5').update(readFileSync(join(PDQ_DIR, 'misc-images/wee.jpg'))).digest('hex');
  writeFileSync(join(dir, 'list.txt'), `pdq ${BRIDGE}\nmd5 ${weeMd5}\nmd5 0123abcd\n`);
});

test('bank create, import with a bad row (exit 1, line reported), idempotent re-import', async () => {
  assert.equal((await vigil('bank', 'create', 'benign-demo', '--source', 'test')).status, 0);
  const first = await vigil('bank', 'import', 'benign-demo', join(dir, 'list.txt'), '--json');
  assert.equal(first.status, 1);
  const result = JSON.parse(first.stdout);
  assert.equal(result.format, 'threatexchange');
  assert.equal(result.inserted, 2);
  assert.equal(result.errorCount, 1);
  assert.equal(result.errors[0].line, 3);
  const again = JSON.parse((await vigil('bank', 'import', 'benign-demo', join(dir, 'list.txt'), '--json')).stdout);
  assert.equal(again.inserted, 0);
  assert.equal(again.unchanged, 2);
  assert.equal((await vigil('bank', 'import', 'missing-bank', join(dir, 'list.txt'))).status, 1);
});

test('bank import of an md5sum file with one bad line: detected as md5sum, the line reported as a row error', async () => {
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  writeFileSync(join(dir, 'sums.md5'), `${md5('a')}  a.jpg\n${md5('b')}  b.jpg\nthis line was mangled\n${md5('c')} *c.jpg\n`);
  assert.equal((await vigil('bank', 'create', 'md5sum-bank', '--source', 'test')).status, 0);
  const run = await vigil('bank', 'import', 'md5sum-bank', join(dir, 'sums.md5'), '--json');
  assert.equal(run.status, 1, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.format, 'md5sum');
  assert.equal(result.inserted, 3);
  assert.equal(result.errorCount, 1);
  assert.equal(result.errors[0].line, 3);
});

test('vigil match: matches with bank, type, distance, view; exit 3; letterboxed copy found through the trimmed view', async () => {
  const r = await vigil('match', join(PDQ_DIR, 'bridge-mods/sharpen-a-lot.jpg'), join(PDQ_DIR, 'misc-images/wee.jpg'), join(PDQ_DIR, 'pytx/letterboxed_sample-b.jpg'), join(PDQ_DIR, 'misc-images/c.png'));
  assert.equal(r.status, 3, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const byName = (n: string) => lines.find((l) => l.path.endsWith(n));
  assert.equal(byName('sharpen-a-lot.jpg').matches[0].distance, 14);
  assert.equal(byName('sharpen-a-lot.jpg').matches[0].bank, 'benign-demo');
  const wee = byName('wee.jpg').matches.map((m: { signalType: string }) => m.signalType).sort();
  assert.deepEqual(wee, ['md5']);
  const letterboxed = byName('letterboxed_sample-b.jpg').matches[0];
  assert.equal(letterboxed.view, 'trimmed');
  assert.equal(letterboxed.distance, 0);
  assert.equal(byName('c.png'), undefined, 'files without matches are not printed');
  const noViews = await vigil('match', '--no-views', join(PDQ_DIR, 'pytx/letterboxed_sample-b.jpg'));
  assert.equal(noViews.status, 0);
});

test('false positive: the match is reported but no longer actionable (exit 0); confirm restores', async () => {
  const r = await vigil('match', join(PDQ_DIR, 'reg-test-input/dih/bridge-1-original.jpg'));
  const id = JSON.parse(r.stdout).matches[0].signalId;
  assert.equal((await vigil('signal', 'mark-false-positive', String(id), '--by', 'reviewer', '--reason', 'test')).status, 0);
  const after = await vigil('match', join(PDQ_DIR, 'reg-test-input/dih/bridge-1-original.jpg'));
  assert.equal(after.status, 0);
  assert.equal(JSON.parse(after.stdout).matches[0].actionable, false);
  const shown = JSON.parse((await vigil('signal', 'show', String(id))).stdout);
  assert.equal(shown.opinions[0].kind, 'false_positive');
  await vigil('signal', 'confirm', String(id), '--by', 'reviewer');
  assert.equal((await vigil('match', join(PDQ_DIR, 'reg-test-input/dih/bridge-1-original.jpg'))).status, 3);
  assert.equal((await vigil('signal', 'confirm', '999999', '--by', 'x')).status, 1);
});

test('disable stops matching; export writes the bank back in a list format', async () => {
  await vigil('bank', 'disable', 'benign-demo');
  assert.equal((await vigil('match', join(PDQ_DIR, 'reg-test-input/dih/bridge-1-original.jpg'))).status, 0);
  await vigil('bank', 'enable', 'benign-demo');
  const exported = await vigil('bank', 'export', 'benign-demo', '--format', 'threatexchange');
  assert.equal(exported.status, 0);
  assert.match(exported.stdout, new RegExp(`^pdq ${BRIDGE}$`, 'm'));
  const stats = JSON.parse((await vigil('bank', 'stats', 'benign-demo')).stdout);
  assert.deepEqual(stats.byType, { md5: 1, pdq: 1 });
  assert.ok(stats.matches >= 0);
});
