// Start-up cost of the CLI: a command loads only what it uses, so `vigil --version` and `vigil hash one-file`
// stay near Node's own start-up (figures: npm run bench:cold-start -- --cli-only). CPU time is not asserted
// (no timing in tests); what is loaded is. sharp (libvips, ~0.3 s of CPU to load) is the largest piece, and
// only pictures need it. Each case runs in a fresh process: this one has long since loaded everything.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/temp.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/** Runs `vigil ARGS` in a new process; says its exit status and whether sharp's native library was loaded. */
function loadedBy(args: string[]): { status: number; sharp: boolean } {
  const code = `
    import { Writable } from 'node:stream';
    const { main } = await import(${JSON.stringify(MAIN)});
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const status = await main(${JSON.stringify(args)}, { stdout: sink, stderr: sink });
    const libs = process.report.getReport().sharedObjects;
    process.stdout.write(JSON.stringify({ status, sharp: libs.some((l) => /sharp|vips/.test(l)) }));`;
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' })) as { status: number; sharp: boolean };
}

test('vigil --version and vigil hash of one non-picture file do not load the image decoder', () => {
  const text = join(tempDir('cli-startup'), 'notes.txt');
  writeFileSync(text, 'benign text\n');
  assert.deepEqual(loadedBy(['--version']), { status: 0, sharp: false });
  assert.deepEqual(loadedBy(['hash', text]), { status: 0, sharp: false });
});
