import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runVigil } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';
import { vigilNodeArgs } from './helpers/vigil-process.js';

const REPO = join(import.meta.dirname, '..');

test('serve --workers 2: both processes decide on one state DB; a rules change in one is in force in the other; SIGTERM stops all', { timeout: 120_000 }, async () => {
  const dir = tempDir('cluster');
  const child = spawn(process.execPath, vigilNodeArgs(['--db', join(dir, 'vigil.db'), 'serve', '--port', '0', '--workers', '2', '--no-log']), { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /listening on (http:\/\/[\d.:]+) with 2 worker processes/.exec(stderr);
      if (m && stderr.includes('Ctrl-C')) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
  });
  try {
    const key = readFileSync(join(dir, 'vigil-demo', 'demo-api-key'), 'utf8').trim();
    const picture = readFileSync(join(dir, 'vigil-demo', 'balloons.png'));
    const submit = async (contentId: string) => {
      const form = new FormData();
      form.set('contentId', contentId);
      form.set('file', new Blob([picture]), 'balloons.png');
      // A new connection per request, so the cluster spreads them over both workers.
      const res = await fetch(`${url}/v1/content`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
      assert.equal(res.status, 200);
      return (await res.json()) as { verdict: string; decisionId: number };
    };
    const before = await Promise.all(Array.from({ length: 6 }, (_, i) => submit(`before-${i}`)));
    assert.deepEqual(new Set(before.map((r) => r.verdict)), new Set(['block']));
    assert.equal(new Set(before.map((r) => r.decisionId)).size, 6);
    const put = await fetch(`${url}/v1/rules`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ version: 1, webhooks: {}, rules: [{ id: 'review-only', description: 'hold for review', when: { bankKind: 'block' }, then: [{ type: 'hold_for_review' }] }] }),
    });
    assert.equal(put.status, 200);
    const after = await Promise.all(Array.from({ length: 6 }, (_, i) => submit(`after-${i}`)));
    assert.deepEqual(new Set(after.map((r) => r.verdict)), new Set(['review']));
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
  assert.equal((await runVigil(['--db', join(dir, 'vigil.db'), 'audit', 'verify'])).status, 0);
});
