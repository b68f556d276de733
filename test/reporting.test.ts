/**
 * CyberTipline reporting end to end against the local NCMEC server (test/helpers/ncmec-server.ts): the state
 * machine, its idempotency under injected failures, a restart mid-report, tampered evidence, retention and
 * legal holds, key rotation. Benign bytes only.
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { parseConfig, type ConfigInput } from '../src/app/config.js';
import { seedReviewItem } from '../src/app/_review-seed.js';
import { createVigil, type Vigil } from '../src/app/vigil.js';
import { bufferSource } from '../src/evidence/store.js';
import { autoOpenAllowed } from '../src/reports/auto-open.js';
import { INCIDENT_TYPES } from '../src/reports/documents.js';
import { addReportedToBank } from '../src/reports/to-bank.js';
import { exportPackage } from '../src/reports/export.js';
import { transparencyCsv, transparencyHtml, transparencyReport } from '../src/reports/transparency.js';
import { generateCheckpointKey } from '../src/audit/checkpoint.js';
import type { Signal } from '../src/store/types.js';
import { FakeNcmec } from './helpers/ncmec-server.js';
import { syntheticPng } from './helpers/images.js';
import { tempDir } from './helpers/temp.js';

const K1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const K2 = `k2:${Buffer.alloc(32, 2).toString('base64')}`;
const DAY = 86_400_000;
const SYSTEM = { actor: 'test' };

interface Env {
  vigil: Vigil;
  server: FakeNcmec;
  dir: string;
  clock: { t: number };
  signal: Signal;
  reopen(extra?: ConfigInput['reporting'], keys?: string): Promise<Vigil>;
}

const open: Vigil[] = [];
const servers: FakeNcmec[] = [];
after(async () => {
  for (const v of open) await v.close();
  for (const s of servers) await s.close();
});

function configOf(dir: string, server: FakeNcmec, extra: ConfigInput['reporting'] = {}, keys = K1) {
  return parseConfig({
    database: { url: join(dir, 'vigil.db') },
    evidence: { dir: join(dir, 'evidence'), keys },
    matching: { snapshots: false },
    log: { level: 'silent' },
    reporting: {
      ncmec: { baseUrl: server.url, username: 'esp', password: 'secret', timeoutMs: 2_000 },
      reporter: { email: 'safety@example.org', firstName: 'Trust', lastName: 'Safety' },
      platform: 'ExampleApp',
      ...extra,
    },
  });
}

async function setup(extra: ConfigInput['reporting'] = {}): Promise<Env> {
  const dir = tempDir('reporting');
  const server = await new FakeNcmec().start();
  servers.push(server);
  const clock = { t: Date.parse('2026-03-01T10:00:00Z') };
  const make = async (more: ConfigInput['reporting'] = {}, keys = K1) => {
    const v = await createVigil(configOf(dir, server, { ...extra, ...more }, keys), { logger: pino({ level: 'silent' }), now: () => new Date(clock.t) });
    open.push(v);
    return v;
  };
  const vigil = await make();
  await vigil.banks.createBank('test', { name: 'VERIFIED', description: 'hashes of benign test pictures, verified by a person', kind: 'block', source: 'test' });
  const signal = await vigil.banks.addSignal('test', 'VERIFIED', { type: 'md5', value: '0'.repeat(31) + '1' });
  return { vigil, server, dir, clock, signal, reopen: make };
}

let seq = 0;
/** A matched decision with its incident and review item; with benign bytes preserved as evidence unless `text`. */
async function seed(env: Env, o: { bytes?: Buffer; text?: string; ip?: string; vigil?: Vigil } = {}): Promise<{ incidentId: number; itemId: number; evidenceId: string | null }> {
  const vigil = o.vigil ?? env.vigil;
  const n = ++seq;
  let evidence: { id: string; keyId: string; sha256: string; size: number } | undefined;
  if (!o.text) evidence = await (await vigil.evidence()).put(bufferSource(o.bytes ?? Buffer.from(`benign test picture ${n} `.repeat(2000))), `ev-${n}`);
  const at = new Date(env.clock.t).toISOString();
  const itemId = await vigil.db.transaction(async (tx) => {
    const id = await seedReviewItem(tx, vigil.records, {
      contentId: `c-${n}`, accountId: `acct-${n}`, signals: [env.signal], at,
      ...(evidence ? { evidenceId: evidence.id, evidence: { keyId: evidence.keyId, sha256: evidence.sha256, size: evidence.size, mediaType: 'png' } } : {}),
    });
    if (o.ip) await tx.k.updateTable('incidents').set({ ip: o.ip }).where('content_id', '=', `c-${n}`).execute();
    return id;
  });
  const item = await vigil.db.k.selectFrom('review_items').select('incident_id').where('id', '=', itemId).executeTakeFirstOrThrow();
  return { incidentId: Number(item.incident_id), itemId, evidenceId: evidence?.id ?? null };
}

/** Steps a report until it is terminal, swallowing the failures of steps that will be retried. */
async function runToEnd(vigil: Vigil, id: number, maxSteps = 40): Promise<string> {
  for (let i = 0; i < maxSteps; i++) {
    const r = (await vigil.reports.get(id))!;
    if (['finished', 'retracted', 'failed'].includes(r.state)) return r.state;
    await vigil.reports.advance(id).catch(() => undefined);
  }
  return (await vigil.reports.get(id))!.state;
}

async function auditActions(vigil: Vigil, subject: string): Promise<string[]> {
  const rows = await vigil.db.k.selectFrom('audit_log' as never).select(['action' as never]).where('subject' as never, '=', subject as never).orderBy('seq' as never).execute();
  return (rows as { action: string }[]).map((r) => r.action);
}

describe('CyberTipline reports', () => {
  test('a report runs through its states as one queue job: XML in order, file, details, finish; the incident is reported', async () => {
    const env = await setup();
    const { incidentId, evidenceId } = await seed(env, { ip: '203.0.113.7' });
    const { id, created } = await env.vigil.reports.open(incidentId, SYSTEM);
    assert.equal(created, true);
    assert.deepEqual(await env.vigil.reports.open(incidentId, SYSTEM), { id, created: false }, 'one first report per incident');
    assert.equal(await env.vigil.worker.runOnce(), 1);
    const r = (await env.vigil.reports.get(id))!;
    assert.equal(r.state, 'finished');
    assert.equal(env.server.finished().length, 1);
    const sent = env.server.finished()[0]!;
    assert.equal(r.ncmecReportId, sent.id);
    assert.equal(sent.parsed.first.incidentType, INCIDENT_TYPES[0]);
    assert.equal(sent.parsed.first.espIdentifier, `acct-${seq}`);
    assert.equal(sent.parsed.first.ipAddress, '203.0.113.7');
    assert.match(sent.parsed.first.additionalInfo!, /md5 distance 0 in list VERIFIED/);
    assert.equal(sent.files.length, 1);
    const details = sent.files[0]!.details!;
    assert.equal(details.first.fileViewedByEsp, 'false', 'nobody viewed it: never assumed');
    assert.equal(details.first.industryClassification, undefined, 'no classification without a person viewing the file');
    assert.deepEqual(details.all.originalFileHash, [sent.files[0]!.md5, r.files[0]!.sha256], 'MD5 (of what NCMEC received) and SHA-256');
    const incident = await env.vigil.db.k.selectFrom('incidents').select('state').where('id', '=', incidentId).executeTakeFirstOrThrow();
    assert.equal(incident.state, 'reported');
    const steps = (await env.vigil.reports.responses(id)).map((x) => x.step);
    assert.deepEqual(steps, ['submit', 'upload', 'fileinfo', 'finish'], 'every response kept');
    assert.deepEqual(await auditActions(env.vigil, `report:${id}`), ['report.opened', 'report.submitted', 'report.file_uploaded', 'report.file_details_sent', 'report.finished']);
    const ev = await env.vigil.db.k.selectFrom('evidence').select('retain_until').where('id', '=', evidenceId!).executeTakeFirstOrThrow();
    assert.equal(ev.retain_until, new Date(Date.parse(r.submittedAt!) + 365 * DAY).toISOString(), 'preserved one year from submission');
  });

  test('a reviewer\'s confirmation opens the report; fileViewedByEsp and the classification come from the person who viewed it', async () => {
    const env = await setup();
    const { itemId } = await seed(env);
    const ann = await env.vigil.users.createNow({ name: 'ann', role: 'reviewer', childSafety: true, password: 'correct horse battery' }, { actor: 'test' });
    const as = { user: ann, requestId: 'req-1' };
    await env.vigil.review.claim(as, itemId);
    await env.vigil.review.reveal(as, itemId);
    await env.vigil.review.decide(as, itemId, { outcome: 'confirmed', classification: 'A1' });
    const [report] = await env.vigil.reports.list();
    assert.ok(report, 'opened in the confirmation\'s unit of work');
    assert.equal(report.openedBy, `user:${ann.id}`);
    assert.equal(await runToEnd(env.vigil, report.id), 'finished');
    const details = env.server.finished()[0]!.files[0]!.details!;
    assert.equal(details.first.fileViewedByEsp, 'true');
    assert.equal(details.first.industryClassification, 'A1');
    assert.match(env.server.finished()[0]!.parsed.first.additionalInfo!, /Reviewed by a person/);
  });

  test('NCMEC down for a while, then back: failures classified and audited, the report completes once', async () => {
    const env = await setup();
    const { incidentId } = await seed(env);
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    env.server.fail('submit', { kind: 'http', status: 503 }, 2);
    env.server.fail('upload', { kind: 'code', code: 1000 });
    env.server.fail('finish', { kind: 'http', status: 429 });
    await assert.rejects(env.vigil.reports.advance(id));
    let r = (await env.vigil.reports.get(id))!;
    assert.equal(r.state, 'draft');
    assert.deepEqual(r.failure, { class: 'ncmec_server', retryable: true, message: 'submit: HTTP 503' });
    assert.equal(r.stuck, true, 'a failing report is loud');
    assert.equal((await env.vigil.reports.list({ stuck: true }))[0]?.id, id);
    assert.equal(await runToEnd(env.vigil, id), 'finished');
    r = (await env.vigil.reports.get(id))!;
    assert.equal(r.failure, null);
    assert.equal(r.stuck, false);
    assert.equal(env.server.finished().length, 1);
    assert.equal(env.server.reports.size, 1, 'no second report');
    const audit = await auditActions(env.vigil, `report:${id}`);
    assert.equal(audit.filter((a) => a === 'report.attempt_failed').length, 4);
    const failures = (await env.vigil.reports.responses(id)).filter((x) => x.httpStatus !== 200 || x.responseCode !== 0);
    assert.equal(failures.length, 4, 'the failed responses are kept too');
  });

  test('the queue backs off a failing report and runs it again', async () => {
    const env = await setup();
    const { incidentId } = await seed(env);
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    env.server.fail('submit', { kind: 'http', status: 502 });
    assert.equal(await env.vigil.worker.runOnce(), 1);
    const [job] = await env.vigil.queue.list({ queue: 'ncmec-report' });
    assert.equal(job!.state, 'pending');
    assert.equal(job!.attempts, 1);
    assert.ok(job!.runAt > Date.now(), 'retried later, with backoff');
    assert.equal((await env.vigil.reports.get(id))!.state, 'draft');
  });

  test('lost answers: a dropped connection after NCMEC committed submit, upload or finish never files twice', async () => {
    const env = await setup();
    const { incidentId } = await seed(env);
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    env.server.fail('submit', { kind: 'drop-after-commit' });
    env.server.fail('upload', { kind: 'drop-after-commit' });
    env.server.fail('finish', { kind: 'drop-after-commit' });
    assert.equal(await runToEnd(env.vigil, id), 'finished');
    assert.equal(env.server.finished().length, 1, 'filed once');
    assert.equal(env.server.finished()[0]!.files.length, 1, 'with its file once');
    const others = [...env.server.reports.values()].filter((x) => x.state !== 'finished');
    // The orphan of the lost submit stays unfinished (NCMEC deletes it); the one with a doubtful upload was retracted.
    assert.deepEqual(others.map((x) => x.state).sort(), ['open', 'retracted']);
    assert.ok((await auditActions(env.vigil, `report:${id}`)).includes('report.restarted'));
  });

  test('two runs of one report upload the same file at once: the loser restarts the report, filed with its file once', async () => {
    const env = await setup();
    const { incidentId } = await seed(env);
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    assert.equal(await env.vigil.reports.advance(id), 'more');
    const ncmecId = (await env.vigil.reports.get(id))!.ncmecReportId!;
    // A redelivered job: both read "submitted" before either uploads, both upload, one compare-and-set wins.
    const both = await Promise.allSettled([env.vigil.reports.advance(id), env.vigil.reports.advance(id)]);
    assert.deepEqual(both.map((b) => b.status), ['fulfilled', 'fulfilled'], 'the loser restarts instead of failing');
    assert.equal(env.server.reports.get(ncmecId)!.files.length, 2, 'NCMEC got the file twice');
    assert.equal(env.server.reports.get(ncmecId)!.state, 'retracted', 'so that report was retracted');
    assert.equal(await runToEnd(env.vigil, id), 'finished');
    assert.equal(env.server.finished().length, 1);
    assert.equal(env.server.finished()[0]!.files.length, 1, 'filed with its file once');
    assert.ok((await auditActions(env.vigil, `report:${id}`)).includes('report.restarted'));
  });

  test('a time-out is classified and retried', async () => {
    const env = await setup({ ncmec: { baseUrl: 'http://placeholder.invalid', timeoutMs: 300 } });
    // The placeholder above is replaced: the server's URL is only known after it started.
    const v = await env.reopen({ ncmec: { baseUrl: env.server.url, username: 'esp', password: 'secret', timeoutMs: 300 } });
    const { incidentId } = await seed(env, { vigil: v });
    const { id } = await v.reports.open(incidentId, SYSTEM);
    env.server.fail('fileinfo', { kind: 'timeout' });
    for (let i = 0; i < 3; i++) await v.reports.advance(id).catch(() => undefined);
    const r = (await v.reports.get(id))!;
    assert.equal(r.state, 'files_uploaded');
    assert.equal(r.failure?.class, 'timeout');
    assert.equal(r.failure?.retryable, true);
    assert.equal(await runToEnd(v, id), 'finished');
  });

  test('the process killed between "submitted" and "finish": a new process resumes it, no duplicate report', async () => {
    const env = await setup();
    const { incidentId } = await seed(env);
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    assert.equal(await env.vigil.reports.advance(id), 'more');
    assert.equal(await env.vigil.reports.advance(id), 'more');
    const before = (await env.vigil.reports.get(id))!;
    assert.equal(before.state, 'files_uploaded');
    await env.vigil.close();
    const next = await env.reopen();
    assert.equal(await next.worker.runOnce(), 1, 'the pending job is picked up by the new process');
    const r = (await next.reports.get(id))!;
    assert.equal(r.state, 'finished');
    assert.equal(r.ncmecReportId, before.ncmecReportId);
    assert.equal(env.server.reports.size, 1);
    assert.equal(env.server.finished()[0]!.files.length, 1);
  });

  test('evidence tampered with on disk: detected, the report fails as "media", nothing is sent', async () => {
    const env = await setup();
    const { incidentId, evidenceId } = await seed(env);
    const body = readdirSync(join(env.dir, 'evidence')).find((n) => n.startsWith(`${evidenceId}.`) && n.includes('body'))!;
    const path = join(env.dir, 'evidence', body);
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(path, bytes);
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    assert.equal(await runToEnd(env.vigil, id), 'failed');
    const r = (await env.vigil.reports.get(id))!;
    assert.equal(r.failure?.class, 'media');
    assert.equal(r.failure?.retryable, false);
    assert.equal(r.stuck, true);
    assert.equal(env.server.calls.filter((c) => c.step === 'upload').length, 0, 'never sent');
    assert.equal(env.server.finished().length, 0);
    assert.ok((await auditActions(env.vigil, `report:${id}`)).includes('report.failed'));
  });

  test('rejected reports fail loudly; a person retries after the cause is fixed, or retracts', async () => {
    const env = await setup();
    const { incidentId } = await seed(env);
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    env.server.fail('submit', { kind: 'code', code: 4100, description: 'Validation failed' });
    assert.equal(await runToEnd(env.vigil, id), 'failed');
    assert.equal((await env.vigil.reports.get(id))!.failure?.class, 'invalid_report');
    await env.vigil.reports.retry(id, { actor: 'user:1' });
    // The retry's job (and the report's first job, still pending: the steps above ran without the worker).
    assert.equal(await env.vigil.worker.runOnce(), 2);
    assert.equal((await env.vigil.reports.get(id))!.state, 'finished');
    assert.equal(env.server.finished().length, 1);
    assert.deepEqual((await auditActions(env.vigil, `report:${id}`)).filter((a) => a.startsWith('report.') && a !== 'report.opened').slice(0, 3), ['report.failed', 'report.retried', 'report.submitted']);
    await assert.rejects(env.vigil.reports.retract(id, SYSTEM, 'too late'), /finished/);

    const second = await seed(env);
    const r2 = await env.vigil.reports.open(second.incidentId, SYSTEM);
    await env.vigil.reports.advance(r2.id);
    const retracted = await env.vigil.reports.retract(r2.id, { actor: 'user:1' }, 'opened in error');
    assert.equal(retracted.state, 'retracted');
    assert.equal(env.server.reports.get(retracted.ncmecReportId!)!.state, 'retracted');
    assert.equal(await env.vigil.worker.runOnce(), 1, 'its job runs and does nothing');
    assert.equal((await env.vigil.reports.get(r2.id))!.state, 'retracted');
  });

  test('a stuck report (unfinished, no pending or running job) is re-queued by a person; one with a pending job is not', async () => {
    const env = await setup();
    const { incidentId } = await seed(env);
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    assert.equal(await env.vigil.reports.advance(id), 'more');
    await assert.rejects(env.vigil.reports.retry(id, { actor: 'user:1' }), /pending/, 'its job is still pending: it moves by itself');
    // Its job lost outside the report's own failure handling (dead-lettered by hand): nothing will move it.
    await env.vigil.db.k.updateTable('queue_jobs').set({ state: 'dead' }).where('queue', '=', 'ncmec-report').execute();
    assert.equal(await env.vigil.worker.runOnce(), 0);
    const r = await env.vigil.reports.retry(id, { actor: 'user:1', requestId: 'req-stuck' });
    assert.equal(r.state, 'submitted', 'resumes where it stood');
    assert.equal(await env.vigil.worker.runOnce(), 1);
    assert.equal((await env.vigil.reports.get(id))!.state, 'finished');
    assert.equal(env.server.finished().length, 1);
    const audit = await env.vigil.db.k.selectFrom('audit_log' as never).select(['actor' as never, 'request_id' as never, 'details' as never]).where('subject' as never, '=', `report:${id}` as never).where('action' as never, '=', 'report.retried' as never).execute();
    assert.equal(audit.length, 1);
    const entry = audit[0] as { actor: string; request_id: string; details: string };
    assert.equal(entry.actor, 'user:1');
    assert.equal(entry.request_id, 'req-stuck');
    assert.deepEqual(JSON.parse(entry.details), { resumeAt: 'submitted', failure: null, stuck: true });
    await assert.rejects(env.vigil.reports.retry(id, { actor: 'user:1' }), /finished/, 'a finished report is not retried');
  });

  test('wrong credentials: "credentials", not retried; never in the stored error', async () => {
    const env = await setup();
    const v = await env.reopen({ ncmec: { baseUrl: env.server.url, username: 'esp', password: 'wrong-password-xyz', timeoutMs: 2000 } });
    const { incidentId } = await seed(env, { vigil: v });
    const { id } = await v.reports.open(incidentId, SYSTEM);
    await assert.rejects(v.reports.advance(id));
    const r = (await v.reports.get(id))!;
    assert.equal(r.state, 'failed');
    assert.equal(r.failure?.class, 'credentials');
    const stored = JSON.stringify({ r, responses: await v.reports.responses(id) });
    assert.ok(!stored.includes('wrong-password-xyz') && !stored.includes(Buffer.from('esp:wrong-password-xyz').toString('base64')));
  });

  test('a text-only incident (no file) is reportable, and a supplemental report follows the first', async () => {
    const env = await setup();
    const { incidentId } = await seed(env, { text: 'benign placeholder message' });
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM, { incidentType: 'Online Enticement of Children for Sexual Acts', text: 'benign placeholder message' });
    assert.equal(await runToEnd(env.vigil, id), 'finished');
    const first = env.server.finished()[0]!;
    assert.equal(first.files.length, 0);
    assert.equal(first.parsed.first.content, 'benign placeholder message');
    assert.equal(first.parsed.first.incidentType, 'Online Enticement of Children for Sexual Acts');
    const supp = await env.vigil.reports.open(incidentId, SYSTEM, { supplements: id, text: 'benign follow-up' });
    assert.equal(await runToEnd(env.vigil, supp.id), 'finished');
    const second = env.server.finished().find((r) => r.id !== first.id)!;
    assert.deepEqual(second.parsed.all.priorCTReports, [first.id]);
  });

  test('retention: purged one year after submission and audited; a legal hold keeps it; per-jurisdiction periods', async () => {
    const env = await setup({ jurisdictions: { GB: 30 } });
    const a = await seed(env);
    const b = await seed(env);
    const c = await seed(env);
    for (const [s, j] of [[a, 'US'], [b, 'US'], [c, 'GB']] as const) assert.equal(await runToEnd(env.vigil, (await env.vigil.reports.open(s.incidentId, SYSTEM, { jurisdiction: j })).id), 'finished');
    await env.vigil.retention.setLegalHold(b.evidenceId!, true, 'preservation request 2026-17', { actor: 'user:1' });
    env.clock.t += 31 * DAY;
    assert.deepEqual((await env.vigil.retention.purge()).purged.map((p) => p.id), [c.evidenceId], 'GB: 30 days');
    env.clock.t += 335 * DAY;
    const result = await env.vigil.retention.purge();
    assert.deepEqual(result.purged.map((p) => p.id), [a.evidenceId]);
    assert.equal(result.held, 1);
    const store = await env.vigil.evidence();
    await assert.rejects(store.stat(a.evidenceId!), /No evidence/);
    assert.ok((await store.read(b.evidenceId!)).length > 0, 'held: still readable');
    assert.deepEqual(await auditActions(env.vigil, `evidence:${a.evidenceId}`), ['evidence.read', 'evidence.purged']);
    assert.deepEqual(await auditActions(env.vigil, `evidence:${b.evidenceId}`), ['evidence.read', 'evidence.legal_hold_placed']);
    await assert.rejects(env.vigil.retention.read(b.evidenceId!, { actor: 'user:2', role: 'reviewer' }, 'curiosity'), /may not read/);
    assert.ok((await env.vigil.retention.read(b.evidenceId!, { actor: 'user:3', role: 'admin' }, 'law-enforcement request')).readable);
    assert.deepEqual((await auditActions(env.vigil, `evidence:${b.evidenceId}`)).slice(-2), ['evidence.read_refused', 'evidence.read']);
  });

  test('key rotation: items under the old key still report, new items go under the new key', async () => {
    const env = await setup();
    const old = await seed(env);
    await env.vigil.close();
    const v = await env.reopen({}, `${K1},${K2}`);
    const fresh = await seed(env, { vigil: v });
    const store = await v.evidence();
    assert.equal((await store.stat(old.evidenceId!)).keyId, 'k1');
    assert.equal((await store.stat(fresh.evidenceId!)).keyId, 'k2');
    for (const s of [old, fresh]) assert.equal(await runToEnd(v, (await v.reports.open(s.incidentId, SYSTEM)).id), 'finished');
    assert.equal(env.server.finished().length, 2);
  });

  test('a filed report\'s media hashes go into a bank in one step, the report as provenance', async () => {
    const env = await setup();
    const { incidentId } = await seed(env);
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    await assert.rejects(addReportedToBank(env.vigil, id, 'VERIFIED', SYSTEM), /only a filed/);
    assert.equal(await runToEnd(env.vigil, id), 'finished');
    const added = await addReportedToBank(env.vigil, id, 'VERIFIED', { actor: 'user:1', requestId: 'r-1' });
    const r = (await env.vigil.reports.get(id))!;
    assert.deepEqual(added.map((s) => s.type), ['sha256', 'md5']);
    assert.equal(added[0]!.value, r.files[0]!.sha256);
    assert.equal(added[1]!.value, env.server.finished()[0]!.files[0]!.md5);
    assert.equal(added[0]!.sourceId, `ncmec-report:${r.ncmecReportId}`);
  });

  test('a reported picture\'s PDQ goes into the bank too: read from the evidence through a private temp file, audited', async () => {
    const env = await setup();
    const png = await syntheticPng(256, 192, 7);
    const { incidentId, evidenceId } = await seed(env, { bytes: png });
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    assert.equal(await runToEnd(env.vigil, id), 'finished');
    const tmp = tempDir('to-bank');
    const seen: { file: number; dir: number; dirIn: string }[] = [];
    const deps = {
      db: env.vigil.db, banks: env.vigil.banks, audit: env.vigil.audit, evidence: () => env.vigil.evidence(),
      hashFile: async (path: string) => {
        seen.push({ file: statSync(path).mode & 0o777, dir: statSync(dirname(path)).mode & 0o777, dirIn: dirname(dirname(path)) });
        return env.vigil.hashFile(path);
      },
    };
    const added = await addReportedToBank(deps, id, 'VERIFIED', { actor: 'user:1', requestId: 'r-pdq' }, { tempDir: tmp });
    assert.deepEqual(added.map((s) => s.type), ['sha256', 'md5', 'pdq']);
    const direct = join(tmp, 'direct.png');
    writeFileSync(direct, png);
    assert.equal(added[2]!.value, (await env.vigil.hashFile(direct)).pdq, 'the PDQ of the preserved bytes');
    assert.equal(added[2]!.sourceId, `ncmec-report:${(await env.vigil.reports.get(id))!.ncmecReportId}`, 'the report as provenance');
    assert.deepEqual(seen, [{ file: 0o600, dir: 0o700, dirIn: tmp }], 'a 0600 file in a 0700 folder');
    assert.deepEqual(readdirSync(tmp), ['direct.png'], 'the decrypted copy is deleted');
    const reads = await env.vigil.db.k.selectFrom('audit_log' as never).select(['actor' as never, 'request_id' as never, 'details' as never]).where('subject' as never, '=', `evidence:${evidenceId}` as never).where('action' as never, '=', 'evidence.read' as never).execute();
    const mine = (reads as { actor: string; request_id: string | null; details: string }[]).filter((r) => r.actor === 'user:1');
    assert.equal(mine.length, 1, 'the evidence read is audited');
    assert.equal(mine[0]!.request_id, 'r-pdq');
    assert.deepEqual(JSON.parse(mine[0]!.details), { purpose: 'bank_pdq', reportId: id });
  });

  test('law-enforcement package: report XML, files, hashdeep manifest, signed summary; reads audited, roles enforced', async () => {
    const env = await setup();
    const bytes = Buffer.from('benign exported picture '.repeat(500));
    const { incidentId, evidenceId } = await seed(env, { bytes });
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    assert.equal(await runToEnd(env.vigil, id), 'finished');
    const { privateKeyPem, publicKeyPem } = generateCheckpointKey();
    const out = join(env.dir, 'package');
    const deps = { reports: env.vigil.reports, retention: env.vigil.retention, audit: env.vigil.audit };
    await assert.rejects(exportPackage(deps, id, join(env.dir, 'nope'), { actor: 'user:9', role: 'reviewer' }, createPrivateKey(privateKeyPem)), /may not read/);
    const pkg = await exportPackage(deps, id, out, { actor: 'user:1', role: 'admin', requestId: 'r-9' }, createPrivateKey(privateKeyPem));
    assert.deepEqual(pkg.files.map((f) => f.path), ['report.xml', 'ncmec-responses.json', `files/000-c-${seq}.png`]);
    assert.deepEqual(readFileSync(join(out, pkg.files[2]!.path)), bytes);
    assert.equal(statSync(join(out, 'report.xml')).mode & 0o777, 0o600);
    assert.equal(statSync(out).mode & 0o777, 0o700);
    const manifest = readFileSync(join(out, 'manifest.hashdeep'), 'utf8');
    assert.match(manifest, /^%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n/);
    assert.ok(manifest.includes(`${bytes.length},${createHash('md5').update(bytes).digest('hex')},${createHash('sha256').update(bytes).digest('hex')},files/000-c-${seq}.png`));
    const summary = readFileSync(join(out, 'summary.json'));
    assert.ok(verify(null, summary, createPublicKey(publicKeyPem), Buffer.from(readFileSync(join(out, 'summary.sig'), 'utf8').trim(), 'base64')), 'the summary verifies');
    assert.equal(JSON.parse(summary.toString()).manifestSha256, createHash('sha256').update(manifest).digest('hex'));
    const actions = await auditActions(env.vigil, `evidence:${evidenceId}`);
    assert.deepEqual(actions.slice(-2), ['evidence.read_refused', 'evidence.read']);
    assert.ok((await auditActions(env.vigil, `report:${id}`)).includes('report.exported'));
  });

  test('transparency report: confirmed, false positives, matches by bank and type, reports filed; JSON, CSV, HTML', async () => {
    const env = await setup();
    const from = new Date(env.clock.t - 1000).toISOString();
    const a = await seed(env);
    const b = await seed(env);
    const ann = await env.vigil.users.createNow({ name: 'ann', role: 'reviewer', childSafety: true, password: 'correct horse battery' }, { actor: 'test' });
    const as = { user: ann, requestId: 'req-t' };
    await env.vigil.review.claim(as, a.itemId);
    await env.vigil.review.decide(as, a.itemId, { outcome: 'confirmed', classification: 'B2' });
    await env.vigil.review.claim(as, b.itemId);
    await env.vigil.review.decide(as, b.itemId, { outcome: 'false_positive', reason: 'benign test picture' });
    const [report] = await env.vigil.reports.list();
    assert.equal(await runToEnd(env.vigil, report!.id), 'finished');
    const r = await transparencyReport(env.vigil.db, from, new Date(env.clock.t + 1000).toISOString());
    assert.equal(r.confirmedByPerson, 1);
    assert.equal(r.falsePositives, 1);
    assert.deepEqual(r.falsePositivesByHashType, { md5: 1 });
    assert.deepEqual(r.matchesByBank, { VERIFIED: 2 });
    assert.deepEqual(r.matchesByHashType, { md5: 2 });
    assert.equal(r.reportsFiled, 1);
    assert.equal(r.reportsFailed, 0);
    assert.match(transparencyCsv(r), /^reports_filed,,1$/m);
    assert.equal(r.appeals, null, 'appeals: present and null, never absent (absent reads as zero)');
    assert.match(r.appealsNote, /^not tracked/);
    assert.ok('appeals' in JSON.parse(JSON.stringify(r)), 'null survives JSON');
    assert.match(transparencyCsv(r), /^appeals,,$/m);
    assert.match(transparencyCsv(r), /^appeals,note,not tracked: Vigil has no appeals process yet$/m);
    assert.match(transparencyHtml(r), /<tr><th>Appeals<\/th><td>not tracked: Vigil has no appeals process yet<\/td><\/tr>/);
    assert.match(transparencyCsv(r), /^matches_by_bank,VERIFIED,2$/m);
    assert.match(transparencyHtml(r), /<svg role="img" aria-label="Matches by list \(bank\)"/);
    const empty = await transparencyReport(env.vigil.db, '2020-01-01T00:00:00.000Z', '2020-02-01T00:00:00.000Z');
    assert.equal(empty.reportsFiled + empty.confirmedByPerson + Object.keys(empty.matchesByBank).length, 0, 'outside the period: nothing');
  });

  test('the platform is asked through a signed webhook for the account\'s information and its preservation; its answer is kept with the report', async () => {
    const env = await setup({ platformWebhook: 'platform' });
    const { incidentId } = await seed(env);
    const { id } = await env.vigil.reports.open(incidentId, SYSTEM);
    const jobs = await env.vigil.queue.list({ queue: 'webhook' });
    assert.equal(jobs.length, 1);
    const payload = jobs[0]!.payload as { endpoint: string; event: { type: string; data: { reportId: number; accountId: string; preserveAtLeastUntil: string } } };
    assert.equal(payload.endpoint, 'platform');
    assert.equal(payload.event.type, 'report.account_info_requested');
    assert.equal(payload.event.data.reportId, id);
    assert.equal(payload.event.data.accountId, `acct-${seq}`);
    await env.vigil.reports.recordAccountInfo(id, { info: { email: 'user@example.org', createdAt: '2025-01-01' }, preserved: true, preservedUntil: payload.event.data.preserveAtLeastUntil }, { actor: 'key:platform', requestId: 'r-p' });
    const answers = await env.vigil.reports.accountInfo(id);
    assert.deepEqual(answers.map((a) => [a.info.email, a.preserved, a.answeredBy]), [['user@example.org', true, 'key:platform']]);
    assert.ok((await auditActions(env.vigil, `report:${id}`)).includes('report.account_info_received'));
  });

  test('auto-open policy: only an exact match in a bank the operator named', async () => {
    const env = await setup();
    const { incidentId } = await seed(env);
    const decisionId = Number((await env.vigil.db.k.selectFrom('incidents').select('decision_id').where('id', '=', incidentId).executeTakeFirstOrThrow()).decision_id);
    await env.vigil.db.transaction(async (tx) => {
      assert.deepEqual(await autoOpenAllowed(tx, decisionId, []), { allowed: false });
      assert.deepEqual(await autoOpenAllowed(tx, decisionId, ['OTHER']), { allowed: false });
      assert.deepEqual(await autoOpenAllowed(tx, decisionId, ['VERIFIED']), { allowed: true, bank: 'VERIFIED' });
      const evidenceId = (await tx.k.selectFrom('decisions').select('evidence_id').where('id', '=', decisionId).executeTakeFirstOrThrow()).evidence_id;
      await tx.k.updateTable('decisions').set({ evidence_id: null }).where('id', '=', decisionId).execute();
      assert.deepEqual(await autoOpenAllowed(tx, decisionId, ['VERIFIED']), { allowed: false }, 'hashes a client sent (no preserved content) never open one by themselves');
      await tx.k.updateTable('decisions').set({ evidence_id: evidenceId }).where('id', '=', decisionId).execute();
      await tx.k.updateTable('decision_matches').set({ distance: 3 }).where('decision_id', '=', decisionId).execute();
      assert.deepEqual(await autoOpenAllowed(tx, decisionId, ['VERIFIED']), { allowed: false }, 'a near match never opens one by itself');
    });
  });
});
