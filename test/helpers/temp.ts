/**
 * Temporary folders for tests: `vigil-<name>-XXXXXX` under the OS temp directory, all removed once the test
 * file's tests have run (and at exit, should a test file end early), so the suite leaves nothing behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

const made: string[] = [];

function removeAll(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

// Registered while the test file loads, so on the file's root: it runs after every test in the file.
after(removeAll);
process.once('exit', removeAll);

export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `vigil-${name}-`));
  made.push(dir);
  return dir;
}
