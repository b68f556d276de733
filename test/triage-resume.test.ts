/**
 * kill -9 in the middle of `vigil triage`, then the same command again: what was committed is not hashed
 * again (its rows keep their sequence numbers), everything else is done once. A real process, because the
 * process dying is the point.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { picture } from '../src/triage/_pictures.js';
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
  const args = vigilNodeArgs(['--db', db, 'triage', root, '--case', 'k', '--checkpoint', '5', '-j', '1', '--progress']);
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
