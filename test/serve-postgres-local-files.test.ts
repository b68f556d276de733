/**
 * `vigil serve --db postgres://…` keeps nothing on the local disk: run as a real process in an empty working
 * folder (evidence keys from the environment, as a fleet configures them; the demo off on PostgreSQL since no
 * demo folder is configured), it serves, records a decision and stops — and the folder is still empty.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TEST_POSTGRES_URL } from '../src/state/test-engines.js';
import { dropSchema, freshSchema } from './_service.js';
import { runVigil } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';
import { vigilNodeArgs } from './helpers/vigil-process.js';

const schema = freshSchema();
after(() => dropSchema(schema));

test('vigil serve --db postgres://… writes nothing in its working folder', { timeout: 60_000 }, async () => {
  const cwd = tempDir('serve-pg-cwd');
  const tmp = tempDir('serve-pg-tmp');
  const env = { ...process.env, VIGIL_DATABASE_SCHEMA: schema, VIGIL_EVIDENCE_KEYS: `k1:${randomBytes(32).toString('base64')}`, TMPDIR: tmp };
  const md5 = randomBytes(16).toString('hex');
  const cli = async (...args: string[]) => {
    const r = await runVigil(['--db', TEST_POSTGRES_URL, ...args], env);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  await cli('bank', 'create', 'benign', '--kind', 'block');
  await cli('bank', 'import', 'benign', await listFile(tmp, md5), '--no-progress');
  const secret = (JSON.parse(await cli('key', 'create', '--name', 'test', '--scope', 'admin', '--json')) as { secret: string }).secret;

  // Started by absolute path: the child's working folder is empty.
  const child = spawn(process.execPath, vigilNodeArgs(['--db', TEST_POSTGRES_URL, 'serve', '--port', '0', '--no-log']), { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void closed.then((code) => reject(new Error(`vigil serve ended (code ${code}):\n${stderr}`)));
  });
  try {
    const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
    const r = await fetch(`${url}/v1/content`, { method: 'POST', headers, body: JSON.stringify({ contentId: 'c-1', hashes: { md5 } }) });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { verdict: string }).verdict, 'block', 'decided and recorded');
    assert.doesNotMatch(stderr, /Demo/, 'no demo on PostgreSQL without a demo folder');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await closed, 0, stderr);
  assert.deepEqual(readdirSync(cwd), [], 'nothing written in the working folder');
  assert.match(await cli('audit', 'verify'), /audit log ok/);
});

async function listFile(dir: string, md5: string): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  const path = join(dir, 'list.txt');
  await writeFile(path, `md5 ${md5}\n`);
  return path;
}
