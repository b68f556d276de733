/**
 * File uploads as fleet jobs (fleet/upload-jobs.ts): queued, the upload exists only sealed (encrypted) in the
 * evidence store; a worker decides it; the sealed copy becomes the matched upload's evidence and is deleted for
 * an unmatched one. Benign synthetic pictures only. In-process on SQLite, the jobs run by `worker.runOnce()`;
 * the route through a test service.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../src/app/config.js';
import { createVigil, type Vigil } from '../src/app/vigil.js';
import { queueUpload } from '../src/fleet/upload-jobs.js';
import type { EvidenceSink } from '../src/pipeline/pipeline.js';
import { startTestService } from './_service.js';
import { syntheticPng } from './helpers/images.js';
import { tempDir } from './helpers/temp.js';

const KEYS = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
const open: Vigil[] = [];
after(async () => {
  for (const v of open) await v.close();
});

async function setUp() {
  const dir = tempDir('fleet-uploads');
  const vigil = await createVigil(parseConfig({ database: { url: join(dir, 'vigil.db') }, evidence: { dir: join(dir, 'evidence'), keys: KEYS }, matching: { snapshots: false }, log: { level: 'silent' } }), { logger: pino({ level: 'silent' }) });
  open.push(vigil);
  await vigil.warm();
  const matched = await syntheticPng(64, 64, 11);
  const unmatched = await syntheticPng(64, 64, 12);
  await vigil.banks.createBank('test', { name: 'KNOWN', description: 'hashes of benign test pictures', kind: 'block', source: 'test' });
  await vigil.banks.addSignal('test', 'KNOWN', { type: 'md5', value: createHash('md5').update(matched).digest('hex') });
  await vigil.matcher.sync();
  const store = await vigil.evidence();
  const sink: EvidenceSink = { sealFile: (path) => store.put(createReadStream(path)), discard: (id) => store.delete(id) };
  const file = (name: string, bytes: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, bytes, { mode: 0o600 });
    return path;
  };
  const queue = (contentId: string, path: string, priority: 'live' | 'backfill' = 'live') => queueUpload({ db: vigil.db, queue: vigil.queue, audit: vigil.audit, evidence: sink }, { contentId, actor: 'test' }, path, priority);
  const ids = async () => {
    const out: string[] = [];
    for await (const id of store.ids()) out.push(id);
    return out.sort();
  };
  return { dir, vigil, store, matched, unmatched, file, queue, ids };
}

test('a queued upload is kept only sealed; the worker keeps it as evidence when matched and deletes it when not', async () => {
  const s = await setUp();
  const a = await s.queue('up-match', s.file('a.png', s.matched));
  const b = await s.queue('up-clean', s.file('b.png', s.unmatched));
  assert.ok(a.created && b.created);
  const staged = await s.ids();
  assert.equal(staged.length, 2, 'both uploads staged');
  // Staged, encrypted: no file of the evidence folder holds either picture's bytes; every file is private.
  for (const name of readdirSync(join(s.dir, 'evidence'))) {
    const path = join(s.dir, 'evidence', name);
    if (!statSync(path).isFile()) continue;
    const bytes = readFileSync(path);
    assert.equal(bytes.includes(s.matched.subarray(0, 64)) || bytes.includes(s.unmatched.subarray(0, 64)), false, `${name} holds plaintext`);
    assert.equal(statSync(path).mode & 0o777, 0o600, name);
  }
  // A repeat of the same (content id, bytes) finds the first job and leaves no second copy.
  const again = await s.queue('up-match', s.file('a2.png', s.matched));
  assert.deepEqual({ jobId: again.jobId, created: again.created }, { jobId: a.jobId, created: false });
  assert.deepEqual(await s.ids(), staged);

  assert.equal(await s.vigil.worker.runOnce(), 2);
  assert.equal((await s.vigil.queue.get(a.jobId))?.state, 'done');
  assert.equal((await s.vigil.queue.get(b.jobId))?.state, 'done');
  const [decision] = await s.vigil.records.decisionsForContent('up-match');
  assert.equal(decision?.verdict, 'block');
  const preserved = decision!.actions.find((x) => x.type === 'preserve_evidence');
  assert.equal(preserved?.status, 'done');
  assert.deepEqual(await s.ids(), [preserved!.evidenceId], 'only the matched upload is kept, as its evidence (the staged copy, not a second one)');
  assert.deepEqual(await s.store.read(preserved!.evidenceId!), s.matched);
  assert.deepEqual(await s.vigil.records.decisionsForContent('up-clean'), [], 'nothing recorded of the unmatched upload');
});

test('a job delivered again after its decision repeats nothing and keeps the evidence', async () => {
  const s = await setUp();
  const a = await s.queue('up-twice', s.file('a.png', s.matched));
  const job = (await s.vigil.queue.get(a.jobId))!;
  await s.vigil.jobHandlers.content!(job);
  const evidence = await s.ids();
  assert.equal(evidence.length, 1);
  await s.vigil.jobHandlers.content!(job); // a worker killed after the decision, before the job was marked done
  assert.equal((await s.vigil.records.decisionsForContent('up-twice')).length, 1);
  assert.deepEqual(await s.ids(), evidence);
});

test('content that cannot be read or fails its integrity check leaves no staged copy; a copy gone is finished only if it was decided', async () => {
  const s = await setUp();
  const q = await s.queue('up-broken', s.file('c.bin', Buffer.from('not a picture, and not in any bank')));
  const job = (await s.vigil.queue.get(q.jobId))!;
  // Not a picture: matched on its digests only, nothing in the bank: no decision, the staged copy deleted.
  await s.vigil.jobHandlers.content!(job);
  assert.deepEqual(await s.ids(), []);
  // Tampered: the sealed copy fails its integrity check: a permanent failure, the copy deleted.
  const tampered = await s.queue('up-tampered', s.file('d.png', s.unmatched));
  const job2 = (await s.vigil.queue.get(tampered.jobId))!;
  const bad = { ...job2, payload: { ...(job2.payload as object), staged: { ...(job2.payload as { staged: object }).staged, sha256: 'f'.repeat(64) } } };
  await assert.rejects(s.vigil.jobHandlers.content!(bad), (err: Error & { permanent?: boolean }) => err.permanent === true);
  assert.deepEqual(await s.ids(), []);
  // Gone after an earlier delivery decided it unmatched and died before the job was marked done: nothing to do.
  await s.vigil.jobHandlers.content!(job);
  // Gone without a decision (here: the tampered copy): a loud, permanent failure, never a silent "done".
  await assert.rejects(s.vigil.jobHandlers.content!(job2), (err: Error & { permanent?: boolean; code?: string }) => err.permanent === true && /never checked/.test(err.message));
});

test('POST /v1/content/queue/upload: 202 with the job, the same job for a repeat; a file is required; not for device keys', async () => {
  const t = await startTestService();
  try {
    const secret = await t.key(['submit']);
    const png = await syntheticPng(32, 32, 5);
    const post = async (fields: Record<string, string>, file: Buffer | undefined, key = secret) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.set(k, v);
      if (file) form.set('file', new Blob([file]), 'p.png');
      const res = await fetch(`${t.url}/v1/content/queue/upload`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
      return { status: res.status, body: (await res.json()) as { contentId?: string; jobId?: number; created?: boolean; error?: { code: string } } };
    };
    const first = await post({ contentId: 'q-up-1', priority: 'backfill' }, png);
    assert.equal(first.status, 202);
    assert.equal(first.body.created, true);
    const job = await t.service.ctx.queue.get(first.body.jobId!);
    assert.equal(job?.priority, 0, 'backfill');
    const again = await post({ contentId: 'q-up-1' }, png);
    assert.deepEqual([again.status, again.body.jobId, again.body.created], [202, first.body.jobId, false]);
    assert.equal((await post({ contentId: 'q-up-2' }, undefined)).status, 400);
    assert.equal((await post({ contentId: 'q-up-3', priority: 'urgent' }, png)).status, 400);
    assert.equal((await post({ contentId: 'q-up-4' }, png, await t.key(['device']))).status, 403);
  } finally {
    await t.close();
  }
});
