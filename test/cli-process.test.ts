// The real `vigil` process (everything else runs main() in-process): what the shell sees is its exit status.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { tempDir } from './helpers/temp.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function vigilProcess(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

test('src/cli/main.ts run as a program: its exit status is the command\'s (1: a file failed; 2: usage)', async () => {
  const missing = join(tempDir('cli-process'), 'missing.png');
  const [failed, usage] = await Promise.all([vigilProcess(['hash', missing]), vigilProcess(['hash', '--threads', 'zero', '.'])]);
  assert.equal(failed.status, 1, failed.stderr);
  assert.equal(JSON.parse(failed.stdout).error.code, 'VIGIL_ERR_UNREADABLE');
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--threads/);
});
