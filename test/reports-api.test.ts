/**
 * /v1/reports and `vigil report …` over a running service, on SQLite and PostgreSQL: scopes, a report sent
 * through the service's own worker, the stuck list (API, CLI exit status, metrics), retry and retract.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { seedReviewItem } from '../src/app/_review-seed.js';
import { bufferSource } from '../src/evidence/store.js';
import type { Signal } from '../src/store/types.js';
import { runVigil } from './helpers/cli.js';
import { FakeNcmec } from './helpers/ncmec-server.js';
import { ENGINE_NAMES, startTestService, type TestService } from './_service.js';

for (const engine of ENGINE_NAMES) describe(`reports API and CLI (${engine})`, () => {
  let t: TestService;
  let ncmec: FakeNcmec;
  let reviewKey: string;
  let adminKey: string;
  let submitKey: string;
  let n = 0;
  let signal: Signal | undefined;

  before(async () => {
    ncmec = await new FakeNcmec().start();
    t = await startTestService({
      engine, evidenceKeys: `k1:${Buffer.alloc(32, 3).toString('base64')}`,
      reporting: { ncmec: { baseUrl: ncmec.url, username: 'esp', password: 'secret', timeoutMs: 5000 }, reporter: { email: 'safety@example.org' } },
    });
    [reviewKey, adminKey, submitKey] = [await t.key(['review']), await t.key(['admin']), await t.key(['submit'])];
  });
  after(async () => {
    await t?.close();
    await ncmec?.close();
  });

  const api = async (method: string, path: string, key: string, body?: unknown) => {
    const res = await fetch(`${t.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  async function seed(): Promise<number> {
    const vigil = t.service.ctx.vigil;
    if (!signal) {
      await vigil.banks.createBank('test', { name: 'BENIGN', description: 'benign test hashes', kind: 'block', source: 'test' });
      signal = await vigil.banks.addSignal('test', 'BENIGN', { type: 'md5', value: '0'.repeat(31) + '1' });
    }
    const ev = await (await vigil.evidence()).put(bufferSource(Buffer.from(`benign bytes ${++n}`)), `api-ev-${n}`);
    return vigil.db.transaction(async (tx) => {
      const item = await seedReviewItem(tx, vigil.records, { contentId: `api-${n}`, signals: [signal!], evidenceId: ev.id, evidence: { keyId: ev.keyId, sha256: ev.sha256, size: ev.size }, at: new Date().toISOString() });
      return Number((await tx.k.selectFrom('review_items').select('incident_id').where('id', '=', item).executeTakeFirstOrThrow()).incident_id);
    });
  }

  /** Waits for the service's worker: resolves once the report reaches one of `states` (polls the state, no sleeps of fixed length). */
  async function settled(id: number, states: string[]): Promise<Record<string, unknown>> {
    for (;;) {
      const r = (await t.service.ctx.vigil.reports.get(id))!;
      if (states.includes(r.state)) return r as unknown as Record<string, unknown>;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  test('open through the API; the service\'s worker files it; read back with its responses; scopes enforced', { timeout: 30_000 }, async () => {
    const incidentId = await seed();
    assert.equal((await api('POST', `/v1/incidents/${incidentId}/reports`, submitKey, {})).status, 403);
    const opened = await api('POST', `/v1/incidents/${incidentId}/reports`, reviewKey, {});
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    const id = opened.body.id as number;
    await settled(id, ['finished']);
    const shown = await api('GET', `/v1/reports/${id}`, reviewKey);
    assert.equal((shown.body.report as { state: string }).state, 'finished');
    assert.deepEqual((shown.body.responses as { step: string }[]).map((r) => r.step), ['submit', 'upload', 'fileinfo', 'finish']);
    const reads = await t.service.ctx.audit.list({ subject: `report:${id}`, action: 'data.accessed' });
    assert.equal(reads.length, 1, 'reading a report is audited');
    assert.equal(ncmec.finished().length, 1);
    const csv = await runVigil(['--db', t.dbUrl, 'report', 'transparency', '--from', '2000-01-01', '--to', '2100-01-01', '--format', 'csv'], t.env);
    assert.equal(csv.status, 0, csv.stderr);
    assert.match(csv.stdout, /^reports_filed,,1$/m);
    assert.match(csv.stdout, /^matches_by_bank,BENIGN,1$/m);
  });

  test('account info, legal holds and add-to-bank over HTTP: status codes, scopes, audit entries', { timeout: 30_000 }, async () => {
    const audit = t.service.ctx.audit;
    const curateKey = await t.key(['curate']);
    const incidentId = await seed();
    const id = (await api('POST', `/v1/incidents/${incidentId}/reports`, reviewKey, {})).body.id as number;
    const report = await settled(id, ['finished']) as { files: { evidenceId: string }[]; ncmecReportId: string };
    const byKey = (e: { actor: string; requestId: string | null }) => assert.ok(e.actor.startsWith('key:') && e.requestId, `actor ${e.actor}, request ${e.requestId}`);

    // The platform answers the account-information request (scope submit); reviewers read it back (scope review).
    const answer = { info: { username: 'benign-user', createdAt: '2020-01-01' }, preserved: true, preservedUntil: '2027-03-01T00:00:00.000Z' };
    assert.equal((await api('POST', `/v1/reports/${id}/account-info`, reviewKey, answer)).status, 403, 'answering needs submit');
    assert.equal((await api('POST', `/v1/reports/${id}/account-info`, submitKey, { info: {} })).status, 400, 'preserved is required');
    assert.equal((await api('POST', '/v1/reports/999999/account-info', submitKey, answer)).status, 404);
    const posted = await api('POST', `/v1/reports/${id}/account-info`, submitKey, answer);
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    assert.deepEqual(posted.body, { ok: true });
    const received = await audit.list({ subject: `report:${id}`, action: 'report.account_info_received' });
    assert.equal(received.length, 1);
    byKey(received[0]!);
    assert.deepEqual(received[0]!.details, { preserved: true, preservedUntil: answer.preservedUntil, fields: ['username', 'createdAt'] });
    assert.equal((await api('GET', `/v1/reports/${id}/account-info`, submitKey)).status, 403, 'reading needs review');
    const readsBefore = (await audit.list({ subject: `report:${id}`, action: 'data.accessed' })).length;
    const got = await api('GET', `/v1/reports/${id}/account-info`, reviewKey);
    assert.equal(got.status, 200);
    const answers = got.body.answers as { info: unknown; preserved: boolean; preservedUntil: string; answeredBy: string }[];
    assert.deepEqual(answers.map((a) => ({ info: a.info, preserved: a.preserved, preservedUntil: a.preservedUntil })), [answer]);
    assert.match(answers[0]!.answeredBy, /^key:/);
    const reads = await audit.list({ subject: `report:${id}`, action: 'data.accessed' });
    assert.equal(reads.length, readsBefore + 1, 'reading the account information is audited');
    assert.deepEqual(reads.at(-1)!.details, { route: 'GET /v1/reports/:id/account-info' });

    // Legal holds (scope admin), with a reason.
    const evidenceId = report.files[0]!.evidenceId;
    const hold = { hold: true, reason: 'preservation request 2026-17' };
    assert.equal((await api('PUT', `/v1/evidence/${evidenceId}/legal-hold`, reviewKey, hold)).status, 403, 'holds need admin');
    assert.equal((await api('PUT', `/v1/evidence/${evidenceId}/legal-hold`, adminKey, { hold: true })).status, 400, 'a reason is required');
    assert.equal((await api('PUT', '/v1/evidence/no-such-item/legal-hold', adminKey, hold)).status, 404);
    const placed = await api('PUT', `/v1/evidence/${evidenceId}/legal-hold`, adminKey, hold);
    assert.equal(placed.status, 200, JSON.stringify(placed.body));
    assert.deepEqual(placed.body, { id: evidenceId, legalHold: true });
    const row = () => t.service.ctx.vigil.db.k.selectFrom('evidence').select('legal_hold').where('id', '=', evidenceId).executeTakeFirstOrThrow();
    assert.equal(Number((await row()).legal_hold), 1);
    assert.deepEqual((await api('PUT', `/v1/evidence/${evidenceId}/legal-hold`, adminKey, { hold: false, reason: 'case closed' })).body, { id: evidenceId, legalHold: false });
    assert.equal(Number((await row()).legal_hold), 0);
    const holds = await audit.list({ subject: `evidence:${evidenceId}`, action: 'evidence.*' });
    assert.deepEqual(holds.filter((e) => e.action.startsWith('evidence.legal_hold')).map((e) => [e.action, e.details.reason]), [['evidence.legal_hold_placed', hold.reason], ['evidence.legal_hold_lifted', 'case closed']]);
    for (const e of holds.filter((x) => x.action.startsWith('evidence.legal_hold'))) byKey(e);

    // A filed report's hashes into a bank (scope curate).
    assert.equal((await api('POST', `/v1/reports/${id}/add-to-bank`, reviewKey, { bank: 'BENIGN' })).status, 403, 'adding to a bank needs curate');
    assert.equal((await api('POST', '/v1/reports/999999/add-to-bank', curateKey, { bank: 'BENIGN' })).status, 404);
    assert.equal((await api('POST', `/v1/reports/${id}/add-to-bank`, curateKey, {})).status, 400, 'bank is required');
    const added = await api('POST', `/v1/reports/${id}/add-to-bank`, curateKey, { bank: 'BENIGN' });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const signals = added.body.added as { id: number; type: string; value: string; sourceId: string }[];
    assert.deepEqual(signals.map((x) => x.type), ['sha256', 'md5'], 'no PDQ: these bytes are not a picture');
    assert.equal(signals[0]!.sourceId, `ncmec-report:${report.ncmecReportId}`);
    for (const sig of signals) {
      const entries = await audit.list({ subject: `signal:${sig.id}`, action: 'signal.added' });
      assert.equal(entries.length, 1);
      byKey(entries[0]!);
      assert.deepEqual({ via: entries[0]!.details.via, reportId: entries[0]!.details.reportId, bank: entries[0]!.details.bank }, { via: 'report', reportId: id, bank: 'BENIGN' });
    }
  });

  test('a failed report is loud (API, CLI exit status 1, metrics), then retried; another is retracted', { timeout: 30_000 }, async () => {
    const incidentId = await seed();
    ncmec.fail('submit', { kind: 'code', code: 4100, description: 'Validation failed' });
    const { id } = (await api('POST', `/v1/incidents/${incidentId}/reports`, reviewKey, {})).body as { id: number };
    await settled(id, ['failed']);
    const stuck = await api('GET', '/v1/reports?stuck=true', reviewKey);
    assert.deepEqual((stuck.body.reports as { id: number }[]).map((r) => r.id), [id]);
    const cli = await runVigil(['--db', t.dbUrl, 'report', 'list', '--stuck'], { ...t.env, VIGIL_EVIDENCE_KEYS: `k1:${Buffer.alloc(32, 3).toString('base64')}` });
    assert.equal(cli.status, 1, cli.stderr);
    assert.match(cli.stdout, new RegExp(`^${id}\\s.*failed.*invalid_report.*STUCK`, 'm'));
    const metrics = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } }).then((r) => r.text());
    assert.match(metrics, /^vigil_reports_stuck 1$/m);
    assert.match(metrics, /^vigil_reports\{state="failed"\} 1$/m);
    // The review UI's reports page shows it with what to do, and a retry button that works.
    const vigil = t.service.ctx.vigil;
    const ann = await vigil.users.createNow({ name: `ann-${engine}`, role: 'reviewer', childSafety: true, password: 'correct horse battery' }, { actor: 'test' });
    const { token, session } = await vigil.db.transaction((tx) => vigil.sessions.start(tx, ann));
    const pageHtml = await fetch(`${t.url}/review/reports`, { headers: { cookie: `vigil_session=${token}` } }).then((r) => r.text());
    assert.match(pageHtml, /Needing attention \(1\)/);
    assert.match(pageHtml, /invalid_report<\/strong>: NCMEC found the report invalid/);
    assert.match(pageHtml, new RegExp(`action="/review/reports/${id}/retry"`));
    const retried = await fetch(`${t.url}/review/reports/${id}/retry`, { method: 'POST', redirect: 'manual', headers: { cookie: `vigil_session=${token}`, 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${session.csrf}` });
    assert.equal(retried.status, 303);
    assert.equal((await api('POST', `/v1/reports/${id}/retry`, reviewKey)).status, 409, 'already queued again: not failed any more');
    await settled(id, ['finished']);
    const shown = await runVigil(['--db', t.dbUrl, 'report', 'show', String(id)], t.env);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /finished/);
    assert.match(shown.stdout, /viewed by a person: no/);

    const other = await seed();
    ncmec.fail('upload', { kind: 'http', status: 503 }, 1000);
    const second = (await api('POST', `/v1/incidents/${other}/reports`, reviewKey, {})).body.id as number;
    await settled(second, ['submitted']);
    assert.equal((await api('POST', `/v1/reports/${second}/retract`, reviewKey, { reason: 'x' })).status, 403, 'retract needs admin');
    const retracted = await api('POST', `/v1/reports/${second}/retract`, adminKey, { reason: 'opened in error' });
    assert.equal(retracted.status, 200, JSON.stringify(retracted.body));
    assert.equal(retracted.body.state, 'retracted');
  });
});
