/**
 * kill -9 in the middle of `vigil triage`, then the same command again: what was committed is not hashed
 * again (its rows keep their sequence numbers), everything else is done once. A real process, because the
 * process dying is the point. With the default checkpoint (256 items, more than the 200 files) rows are
 * committed as files finish, not a checkpoint at a time.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { picture } from '../src/triage/_pictures.js';
import { CaseDb } from '../src/triage/case-db.js';
import { runTriage } from '../src/triage/run.js';
import { runVigil } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';
import { vigilNodeArgs } from './helpers/vigil-process.js';

const FILES = 200;

function committed(file: string): Map<string, number> {
  if (!existsSync(file)) return new Map();
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return new Map((db.prepare('SELECT path, seq FROM triage_items').all() as { path: string; seq: number }[]).map((r) => [r.path, r.seq]));
  } catch {
    return new Map(); // tables not created yet
  } finally {
    db.close();
  }
}

it('resumes after kill -9 without hashing committed files again', async () => {
  const dir = tempDir('triage-kill');
  const root = join(dir, 'root');
  mkdirSync(root);
  for (let i = 0; i < FILES; i++) writeFileSync(join(root, `p${String(i).padStart(3, '0')}.jpg`), await picture(100 + i, { width: 160, height: 120 }));
  const db = join(dir, 'vigil.db');
  const caseFile = join(dir, 'vigil-cases', 'k.sqlite');
  const args = vigilNodeArgs(['--db', db, 'triage', root, '--case', 'k', '-j', '1', '--progress']);
  const child = spawn(process.execPath, args, { env: { ...process.env, VIGIL_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  let stderr = '';
  // Each progress line is a moment to look: once 10 rows are committed, the process is killed mid-run.
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (child.exitCode === null && child.signalCode === null && committed(caseFile).size >= 10) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`triage ended before it was killed: ${stderr.slice(-500)}`)));
  });
  assert.equal(await exited, 'SIGKILL');
  const before = committed(caseFile);
  assert.ok(before.size >= 10 && before.size < FILES, `committed ${before.size}`);

  const again = await runVigil(['--db', db, 'triage', root, '--case', 'k'], { ...process.env, VIGIL_LOG_LEVEL: 'silent' });
  assert.equal(again.status, 0, again.stderr);
  const summary = JSON.parse(again.stdout) as { items: number; skipped: number };
  // Exactly the files not committed were hashed: none twice, none lost.
  assert.equal(summary.skipped, before.size);
  assert.equal(summary.items, FILES - before.size);
  const after = committed(caseFile);
  assert.equal(after.size, FILES);
  for (const [path, seq] of before) assert.equal(after.get(path), seq, `${path} was recorded again`);
});

/**
 * The bound itself, deterministically: with one thread (two files in flight), every file after the first 20
 * stalls once read. When two have stalled, the walk is blocked and everything before them has finished; what
 * is committed then is what a kill -9 would leave. Every finished file must be committed, so a re-run hashes
 * again exactly the two in flight (a checkpoint of finished-but-uncommitted files would be hashed again too).
 */
it('after a crash only the files in flight are hashed again (finished files are committed at once)', { timeout: 120_000 }, async () => {
  const dir = tempDir('triage-inflight');
  const root = join(dir, 'root');
  mkdirSync(root);
  for (let i = 0; i < 40; i++) writeFileSync(join(root, `p${String(i).padStart(2, '0')}.jpg`), await picture(300 + i, { width: 96, height: 72 }));
  const caseDb = await CaseDb.open({ storeUrl: join(dir, 'vigil.db'), casesDir: join(dir, 'cases') }, 'f', { create: true });
  const caseFile = join(dir, 'cases', 'f.sqlite');
  const started: string[] = [];
  const stalls: (() => void)[] = [];
  const abort = new AbortController();
  let settled!: () => void;
  const crashPoint = new Promise<void>((resolve) => (settled = resolve));
  // The moment to look: both slots stalled and every finished file committed (checked after each commit).
  const check = () => {
    if (stalls.length === 2 && committed(caseFile).size === started.length - 2) settled();
  };
  const write = caseDb.write.bind(caseDb);
  caseDb.write = async (items) => {
    await write(items);
    check();
  };
  const run = runTriage(caseDb, { match: async () => [] }, {
    roots: [root],
    threads: 1,
    signal: abort.signal,
    afterRead: async (path) => {
      started.push(basename(path));
      if (started.length <= 20 || abort.signal.aborted) return;
      await new Promise<void>((resolve) => {
        stalls.push(resolve);
        check();
      });
    },
  });
  try {
    await crashPoint;
    const rows = committed(caseFile);
    const inFlight = started.filter((p) => !rows.has(p));
    assert.equal(inFlight.length, 2, `in flight: ${inFlight.join(', ')}`);
    assert.equal(rows.size, started.length - 2);
  } finally {
    abort.abort();
    for (const release of stalls) release();
    await run;
    await caseDb.close();
  }
});
