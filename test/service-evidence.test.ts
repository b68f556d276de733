/**
 * The service preserves a matched upload as streamed evidence (folder or PostgreSQL), leaves no readable
 * upload behind (not even after kill -9 mid-upload), and keeps its files private. Benign demo pictures only.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openEvidenceStore } from '../src/evidence/open.js';
import { startTestService } from './_service.js';
import { vigilNodeArgs } from './helpers/vigil-process.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const PG_URL = process.env.VIGIL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const base = mkdtempSync(join(tmpdir(), 'vigil-service-evidence-'));
after(() => rmSync(base, { recursive: true, force: true }));

async function submitDemo(url: string, dir: string, contentId: string): Promise<{ body: Buffer; evidenceId: string }> {
  const secret = readFileSync(join(dir, 'demo', 'demo-api-key'), 'utf8').trim();
  const body = readFileSync(join(dir, 'demo', 'sunset.png'));
  const form = new FormData();
  form.set('contentId', contentId);
  form.set('file', new Blob([body]), 'sunset.png');
  const res = await fetch(`${url}/v1/content`, { method: 'POST', headers: { authorization: `Bearer ${secret}` }, body: form });
  assert.equal(res.status, 200);
  const result = (await res.json()) as { actions: { type: string; status: string; evidenceId?: string }[] };
  const preserved = result.actions.find((a) => a.type === 'preserve_evidence');
  assert.equal(preserved?.status, 'done');
  return { body, evidenceId: preserved!.evidenceId! };
}

test('a matched upload is preserved in the evidence folder, readable with its SHA-256; uploads leave nothing; files 0600, folders 0700', async () => {
  const uploads = join(base, 'uploads-1');
  const t = await startTestService({ demo: true, uploadDir: uploads });
  try {
    const { body, evidenceId } = await submitDemo(t.url, t.dir, 'ev-1');
    const { store } = await openEvidenceStore({ location: join(t.dir, 'evidence') });
    assert.deepEqual(await store.read(evidenceId, createHash('sha256').update(body).digest('hex')), body);
    await store.close();
    assert.equal(statSync(uploads).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(join(uploads, String(process.pid))), [], 'the upload is gone');
    for (const file of ['evidence.key', 'vigil.db', 'vigil.db-wal', 'vigil.db-shm']) assert.equal(statSync(join(t.dir, file)).mode & 0o777, 0o600, file);
    for (const folder of ['evidence', 'demo']) assert.equal(statSync(join(t.dir, folder)).mode & 0o777, 0o700, folder);
  } finally {
    await t.close();
  }
});

test('with evidence in PostgreSQL, nothing of it is written locally', async () => {
  const schema = `vigil_svc_ev_${process.pid}_${Date.now() % 1e8}`;
  const keys = `fleet-1:${randomBytes(32).toString('base64')}`;
  const t = await startTestService({ demo: true, uploadDir: join(base, 'uploads-2'), evidence: { location: PG_URL, schema, keys } });
  try {
    const { body, evidenceId } = await submitDemo(t.url, t.dir, 'ev-pg-1');
    assert.equal(existsSync(join(t.dir, 'evidence')) || existsSync(join(t.dir, 'evidence.key')), false);
    const { store } = await openEvidenceStore({ location: PG_URL, schema, keys });
    assert.deepEqual(await store.stat(evidenceId), { id: evidenceId, keyId: 'fleet-1', sha256: createHash('sha256').update(body).digest('hex'), size: body.length });
    assert.deepEqual(await store.read(evidenceId), body);
    await store.close();
  } finally {
    await t.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
});

test('kill -9 mid-upload leaves no readable upload, and the next start clears the dead process folder', { timeout: 120_000 }, async () => {
  // The child's os.tmpdir() is `temp`, so its uploads go to temp/vigil-uploads-<uid>/<pid>.
  const temp = join(base, 'tmp');
  mkdirSync(temp);
  const db = join(base, 'kill', 'vigil.db');
  mkdirSync(join(base, 'kill'));
  const child = spawn(process.execPath, vigilNodeArgs(['--db', db, 'serve', '--port', '0', '--no-log']), {
    cwd: REPO,
    env: { ...process.env, TMPDIR: temp },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = once(child, 'exit');
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    void exited.then(() => reject(new Error(`serve ended early: ${stderr}`)));
  });
  const secret = readFileSync(join(base, 'kill', 'vigil-demo', 'demo-api-key'), 'utf8').trim();
  const uploadBase = join(temp, `vigil-uploads-${process.getuid!()}`);
  const mine = join(uploadBase, String(child.pid));

  // A multipart upload whose file part never ends: the server is mid-upload.
  const boundary = 'vigil-test-boundary';
  const req = request(`${url}/v1/content`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': `multipart/form-data; boundary=${boundary}` } });
  req.on('error', () => undefined);
  req.write(`--${boundary}\r\nContent-Disposition: form-data; name="contentId"\r\n\r\nkill-1\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  req.write(randomBytes(256 * 1024));
  // Poll (not sleep) until the server holds the upload open: a descriptor on an unlinked file of its folder.
  const holdsUpload = () => readdirSync(`/proc/${child.pid}/fd`).some((fd) => {
    try {
      const target = readlinkSync(`/proc/${child.pid}/fd/${fd}`);
      return target.startsWith(mine) && target.endsWith(' (deleted)');
    } catch {
      return false;
    }
  });
  while (!holdsUpload()) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(readdirSync(mine), [], 'while in flight the upload has no name in the folder');
  child.kill('SIGKILL');
  await exited;
  req.destroy();
  assert.deepEqual(readdirSync(mine), [], 'after the kill nothing is left to read');

  const t = await startTestService({ uploadDir: uploadBase });
  try {
    assert.deepEqual(readdirSync(uploadBase), [String(process.pid)], "the dead process's folder is gone");
    const evidence = join(base, 'kill', 'vigil-evidence');
    assert.deepEqual(readdirSync(evidence).filter((n) => n.endsWith('.tmp')), []);
  } finally {
    await t.close();
  }
});
