/**
 * A CyberTipline report whose unfinished report NCMEC keeps dropping (5001 on every upload) never stops in
 * silence: one job run restarts it at most twice, then records a failed attempt (class ncmec_server) and backs
 * off through the queue; the report is never left idle in a state no job will move.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../src/app/config.js';
import { seedReviewItem } from '../src/app/_review-seed.js';
import { createVigil } from '../src/app/vigil.js';
import { bufferSource } from '../src/evidence/store.js';
import { FakeNcmec } from './helpers/ncmec-server.js';
import { tempDir } from './helpers/temp.js';

test('NCMEC drops the unfinished report on every upload: bounded restarts, a loud failed attempt, a retry queued', async () => {
  const dir = tempDir('report-restarts');
  const server = await new FakeNcmec().start();
  const clock = { t: Date.parse('2026-03-01T10:00:00Z') };
  const vigil = await createVigil(parseConfig({
    database: { url: join(dir, 'v.db') },
    evidence: { dir: join(dir, 'ev'), keys: `k1:${Buffer.alloc(32, 1).toString('base64')}` },
    matching: { snapshots: false },
    log: { level: 'silent' },
    reporting: { ncmec: { baseUrl: server.url, username: 'esp', password: 'secret', timeoutMs: 2000 }, reporter: { email: 'a@example.org', firstName: 'T', lastName: 'S' }, platform: 'X' },
  }), { logger: pino({ level: 'silent' }), now: () => new Date(clock.t) });
  after(async () => {
    await vigil.close();
    await server.close();
  });
  await vigil.banks.createBank('test', { name: 'B', description: 'benign', kind: 'block', source: 'test' });
  const signal = await vigil.banks.addSignal('test', 'B', { type: 'md5', value: `${'0'.repeat(31)}1` });
  const ev = await (await vigil.evidence()).put(bufferSource(Buffer.from('benign '.repeat(2000))), 'ev-1');
  const itemId = await vigil.db.transaction((tx) => seedReviewItem(tx, vigil.records, { contentId: 'c1', accountId: 'a1', signals: [signal], at: new Date(clock.t).toISOString(), evidenceId: ev.id, evidence: { keyId: ev.keyId, sha256: ev.sha256, size: ev.size, mediaType: 'png' } }));
  const item = await vigil.db.k.selectFrom('review_items').select('incident_id').where('id', '=', itemId).executeTakeFirstOrThrow();
  const { id } = await vigil.reports.open(Number(item.incident_id), { actor: 'test' });
  server.fail('upload', { kind: 'code', code: 5001 }, 100);

  assert.equal(await vigil.worker.runOnce(), 1);
  const submits = server.calls.filter((c) => c.step === 'submit').length;
  assert.equal(submits, 2, 'the first submission and one restart, then the run backs off');
  const report = (await vigil.reports.get(id))!;
  assert.equal(report.failure?.class, 'ncmec_server', 'the failed attempt is recorded on the report');
  const jobs = await vigil.queue.list({ queue: 'ncmec-report' });
  assert.ok(jobs.some((j) => j.state === 'pending' && j.attempts === 1), `the job waits for its retry: ${JSON.stringify(jobs.map((j) => [j.state, j.attempts]))}`);
});
