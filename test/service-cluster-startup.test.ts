/**
 * `vigil serve --workers 2` where the workers cannot start (here: the port is taken) stops the whole
 * service with the reason instead of hanging with a half-started cluster. A fresh folder also exercises
 * the evidence key file created once for both workers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { vigilNodeArgs } from './helpers/vigil-process.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-startup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('serve --workers 2: a worker that cannot start stops the whole service, with the reason', { timeout: 120_000 }, async () => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const port = (blocker.address() as { port: number }).port;
  try {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VIGIL_EVIDENCE')));
    const child = spawn(process.execPath, vigilNodeArgs(['--db', join(dir, 'vigil.db'), 'serve', '--workers', '2', '--port', String(port), '--no-demo', '--no-log']), { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.notEqual(code, 0, stderr);
    assert.match(stderr, /worker failed to start: Cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
    assert.equal(readFileSync(join(dir, 'vigil-evidence.key'), 'utf8').trim().split('\n').length, 1, 'one key, made once');
  } finally {
    blocker.close();
  }
});
