/**
 * Every state-changing HTTP route and CLI command writes exactly its audit entry, in the SAME transaction as the
 * change — on SQLite and on PostgreSQL. One table: each row makes one change.
 *
 * The technique (fault injection in the database): a test trigger makes every INSERT into audit_log fail, the
 * row's change is attempted, and the change must NOT be in the database afterwards. A change committed in a
 * transaction of its own, before or after its audit entry, would survive the failed insert; only a change that
 * shares the audit entry's transaction is rolled back with it. The trigger lives in the database, so the same
 * injection covers the service's connection and the CLI's own (the CLI runs in-process, opening the database
 * as `vigil` would). Then the trigger is dropped, the change is made again, and the entries written since
 * are exactly the row's: action, subject, the actor (`key:<id>` with the request id for HTTP, `cli:<OS user>`
 * for the CLI). Key-use counters (`key.used`, flushed on a timer) are not the row's and are left out.
 * Finally the chain still verifies after all the rolled-back appends, and `vigil audit verify` detects an
 * edited and a deleted entry.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Vigil } from '../src/app/vigil.js';
import { ENGINE_NAMES, startTestService, type EngineName, type TestService } from './_service.js';
import { buildProgram } from '../src/cli/main.js';
import { runVigil } from './helpers/cli.js';
import { syntheticJpeg } from './helpers/images.js';
import { FakeNcmec } from './helpers/ncmec-server.js';
import { seedReviewItem } from '../src/app/_review-seed.js';
import { bufferSource } from '../src/evidence/store.js';
import { startFileServer, type FileServer } from '../src/exchanges/_test-servers.js';

const BANK = 'audited';
// Read by `vigil exchange credentials --env` (secrets never on the command line).
process.env.VIGIL_TEST_TE_CREDENTIALS = JSON.stringify({ api_token: 'benign-token' });
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

interface Entry { action: string; subject: string }
type Setup = Record<string, string | number>;

interface Row {
  /** 'POST /v1/banks' (as the OpenAPI spec names it) or 'vigil bank create'. */
  name: string;
  /** Prerequisites, made through the services (their entries come before the row's). */
  setup?: (v: Vigil) => Promise<Setup>;
  /** Makes the change; true when it reports success. */
  act: (s: Setup) => Promise<boolean>;
  /** Whether the change is in the database. */
  changed: (v: Vigil, s: Setup) => Promise<boolean>;
  audit: (s: Setup) => Entry[];
}

/** State-changing routes that need no row, and why. */
const NOT_STATE_CHANGING = new Set(['POST /v1/lookup', 'POST /v1/rules/test', 'POST /h/hash', 'POST /m/lookup', 'POST /m/compare']);
/** CLI commands that change nothing in the database (or, for evidence, not in it: see below). */
const CLI_NOT_IN_TABLE = new Set([
  'vigil hash', 'vigil match', 'vigil serve', 'vigil worker', 'vigil fleet status', 'vigil bank list', 'vigil bank show', 'vigil bank stats', 'vigil bank export',
  'vigil signal show', 'vigil key list', 'vigil audit list', 'vigil user list',
  // A checkpoint reads the chain's head and appends it to a file outside the database; keygen writes a key file.
  'vigil audit checkpoint', 'vigil audit keygen',
  // These change the evidence store (a folder, or its own tables), then append their entry: the evidence is not
  // in the database's transaction, so a failed append leaves the re-wrapped keys (harmless: same content).
  'vigil evidence rotate-key', 'vigil evidence verify',
  // Triage cases (docs/triage.md) live in their own SQLite file per case: triage, categorise and identify write the
  // case, not the store, after appending their entry in the store's transaction (test/triage.test.ts); exports,
  // reports and links only read (and append an entry); series-to-bank is BankService.addSignals (its unit of work).
  'vigil triage', 'vigil case export', 'vigil case categorise', 'vigil case identify', 'vigil case series-to-bank', 'vigil case report',
  'vigil cases list', 'vigil cases link',
  // Reads; export writes its package outside the database and transparency only reads, then each appends its entry.
  'vigil report list', 'vigil report show', 'vigil report export', 'vigil report transparency',
  'vigil exchange list', 'vigil exchange status', 'vigil exchange apis',
]);
/** Changes only when retained content newly matches; the decisions it makes go through the pipeline's unit of work, as POST /v1/content's do. */
const NOT_IN_TABLE = new Set(['POST /v1/retro/run']);

for (const engine of ENGINE_NAMES) suite(engine);

function suite(engine: EngineName): void {
  describe(`audit entries in the change's transaction (${engine})`, () => {
    let t: TestService;
    let v: Vigil;
    let admin = '';
    let adminId = '';
    let picture: Buffer;
    let ncmec: FakeNcmec;

    before(async () => {
      ncmec = await new FakeNcmec().start();
      t = await startTestService({ engine, reporting: { ncmec: { baseUrl: ncmec.url, username: 'esp', password: 'secret', timeoutMs: 5000 }, reporter: { email: 'safety@example.org' } } });
      v = t.service.ctx.vigil;
      admin = await t.key(['admin']);
      adminId = (await v.keys.authenticate(admin))!.id;
      picture = await syntheticJpeg(320, 240, 7);
      await v.banks.createBank('test', { name: BANK, kind: 'block', source: 'audit transaction test (random benign hashes)' });
    });
    after(async () => {
      await t?.close();
      await ncmec?.close();
    });

    const http = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${admin}` } };
      if (body instanceof FormData) init.body = body;
      else if (typeof body === 'string') Object.assign(init, { body, headers: { ...init.headers, 'content-type': 'text/plain' } });
      else if (body !== undefined) Object.assign(init, { body: JSON.stringify(body), headers: { ...init.headers, 'content-type': 'application/json' } });
      const res = await fetch(`${t.url}${path}`, init);
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) as unknown : undefined };
    };
    const ok = async (method: string, path: string, body?: unknown) => (await http(method, path, body)).status < 300;
    const cli = async (...args: string[]) => (await runVigil(['--db', t.dbUrl, ...args], { ...process.env, ...t.env })).status === 0;
    const signal = async (bank = BANK) => (await v.banks.addSignal('test', bank, { type: 'md5', value: hex(16) })).id;
    const signalRow = async (id: number) => v.store.getSignal(id);
    const hmaBank = async () => {
      const name = `HMA_${hex(4).toUpperCase()}`;
      await v.banks.createBank('test', { name, source: 'HMA API' });
      return name;
    };


    /** An incident with benign bytes preserved as evidence; `report`: a report opened for it, then put in `state`. */
    const incident = async (report?: { state: string; finished?: boolean }): Promise<Setup> => {
      const signalId = await signal();
      const sig = (await v.store.getSignal(signalId))!;
      const ev = await (await v.evidence()).put(bufferSource(Buffer.from(`benign audit bytes ${hex(8)}`)));
      const incidentId = await v.db.transaction(async (tx) => {
        const contentId = `r-${hex(4)}`;
        const item = await seedReviewItem(tx, v.records, { contentId, accountId: 'acct-audit', signals: [sig], evidenceId: ev.id, evidence: { keyId: ev.keyId, sha256: ev.sha256, size: ev.size }, at: new Date().toISOString() });
        // As the pipeline writes it (audit verify cross-checks every decision against its entry).
        const decisionId = Number((await tx.k.selectFrom('review_items').select('decision_id').where('id', '=', item).executeTakeFirstOrThrow()).decision_id);
        await v.audit.append(tx, { actor: 'test', action: 'decision.created', subject: `content:${contentId}`, details: { decisionId, verdict: 'block', rulesVersion: 'test', evidenceId: ev.id } });
        return Number((await tx.k.selectFrom('review_items').select('incident_id').where('id', '=', item).executeTakeFirstOrThrow()).incident_id);
      });
      if (!report) return { incident: incidentId, evidence: ev.id, sha256: ev.sha256 };
      const { id } = await v.reports.open(incidentId, { actor: 'test' });
      // Settled by the background worker first, then put where the row needs it.
      for (let i = 0; i < 10_000 && !['finished', 'failed'].includes((await v.reports.get(id))!.state); i++) await new Promise((r) => setImmediate(r));
      await v.db.k.updateTable('reports').set({ state: report.state, ...(report.state === 'failed' ? { failed_from: 'draft', ncmec_report_id: null } : {}) }).where('id', '=', id).execute();
      return { incident: incidentId, evidence: ev.id, sha256: ev.sha256, id };
    };
    const reportState = async (id: unknown) => (await v.reports.get(Number(id)))?.state;
    const signalsWith = async (bank: string, value: unknown) => {
      for await (const x of v.store.listSignals(bank)) if (x.value === value) return true;
      return false;
    };

    const ROWS: Row[] = [
      // ---- /v1 ----
      // ---- reports ----
      {
        name: 'POST /v1/incidents/{id}/reports',
        setup: () => incident(),
        act: (s) => ok('POST', `/v1/incidents/${s.incident}/reports`, {}),
        changed: async (v, s) => (await v.reports.list({ incidentId: Number(s.incident) })).length > 0,
        audit: () => [{ action: 'report.opened', subject: 'report:*' }],
      },
      {
        name: 'vigil report open',
        setup: () => incident(),
        act: async (s) => (await runVigil(['--db', t.dbUrl, 'report', 'open', String(s.incident)], { ...process.env, ...t.env, VIGIL_REPORTER_EMAIL: 'safety@example.org' })).status === 0,
        changed: async (v, s) => (await v.reports.list({ incidentId: Number(s.incident) })).length > 0,
        audit: () => [{ action: 'report.opened', subject: 'report:*' }],
      },
      ...(['POST /v1/reports/{id}/retry', 'vigil report retry'] as const).map((name): Row => ({
        name,
        setup: () => incident({ state: 'failed' }),
        act: (s) => (name.startsWith('vigil') ? cli('report', 'retry', String(s.id)) : ok('POST', `/v1/reports/${s.id}/retry`)),
        changed: async (_v, s) => (await reportState(s.id)) !== 'failed',
        audit: (s) => [{ action: 'report.retried', subject: `report:${s.id}` }],
      })),
      ...(['POST /v1/reports/{id}/retract', 'vigil report retract'] as const).map((name): Row => ({
        name,
        setup: () => incident({ state: 'failed' }),
        act: (s) => (name.startsWith('vigil') ? cli('report', 'retract', String(s.id), '--reason', 'audit test') : ok('POST', `/v1/reports/${s.id}/retract`, { reason: 'audit test' })),
        changed: async (_v, s) => (await reportState(s.id)) === 'retracted',
        audit: (s) => [{ action: 'report.retracted', subject: `report:${s.id}` }],
      })),
      ...(['POST /v1/reports/{id}/add-to-bank', 'vigil report add-to-bank'] as const).map((name): Row => ({
        name,
        setup: async () => ({ ...(await incident({ state: 'finished' })), bank: await hmaBank() }),
        act: (s) => (name.startsWith('vigil') ? cli('report', 'add-to-bank', String(s.id), '--bank', String(s.bank)) : ok('POST', `/v1/reports/${s.id}/add-to-bank`, { bank: s.bank })),
        changed: (_v, s) => signalsWith(String(s.bank), s.sha256),
        // The picture's PDQ is read from the preserved evidence first (an audited read), then the signals are added.
        audit: () => [{ action: 'evidence.read', subject: 'evidence:*' }, { action: 'signal.added', subject: 'signal:*' }, { action: 'signal.added', subject: 'signal:*' }],
      })),
      {
        name: 'POST /v1/reports/{id}/account-info',
        setup: () => incident({ state: 'finished' }),
        act: (s) => ok('POST', `/v1/reports/${s.id}/account-info`, { info: { email: 'user@example.org' }, preserved: true }),
        changed: async (v, s) => (await v.reports.accountInfo(Number(s.id))).length > 0,
        audit: (s) => [{ action: 'report.account_info_received', subject: `report:${s.id}` }],
      },
      ...(['PUT /v1/evidence/{id}/legal-hold', 'vigil report hold'] as const).map((name): Row => ({
        name,
        setup: () => incident(),
        act: (s) => (name.startsWith('vigil') ? cli('report', 'hold', String(s.evidence), '--reason', 'audit test') : ok('PUT', `/v1/evidence/${s.evidence}/legal-hold`, { hold: true, reason: 'audit test' })),
        changed: async (v, s) => (await v.db.k.selectFrom('evidence').select('legal_hold').where('id', '=', String(s.evidence)).executeTakeFirstOrThrow()).legal_hold === 1,
        audit: (s) => [{ action: 'evidence.legal_hold_placed', subject: `evidence:${s.evidence}` }],
      })),
      {
        name: 'vigil report purge',
        setup: async (v) => {
          const s = await incident();
          await v.db.k.updateTable('evidence').set({ retain_until: '2000-01-01T00:00:00.000Z' }).where('id', '=', String(s.evidence)).execute();
          return s;
        },
        // The service's evidence folder (and the key file beside it), not the CLI's default.
        act: async () => (await runVigil(['--db', t.dbUrl, 'report', 'purge'], { ...process.env, ...t.env, VIGIL_EVIDENCE_DIR: join(t.dir, 'evidence') })).status === 0,
        changed: async (v, s) => (await v.db.k.selectFrom('evidence').select('deleted_at').where('id', '=', String(s.evidence)).executeTakeFirstOrThrow()).deleted_at !== null,
        audit: (s) => [{ action: 'evidence.purged', subject: `evidence:${s.evidence}` }],
      },
      {
        name: 'POST /v1/banks',
        setup: async () => ({ bank: `b-${hex(4)}` }),
        act: (s) => ok('POST', '/v1/banks', { name: s.bank, kind: 'block' }),
        changed: async (v, s) => (await v.store.getBank(String(s.bank))) !== undefined,
        audit: (s) => [{ action: 'bank.created', subject: `bank:${s.bank}` }],
      },
      {
        name: 'PATCH /v1/banks/{name}',
        act: () => ok('PATCH', `/v1/banks/${BANK}`, { description: 'patched over HTTP' }),
        changed: async (v) => (await v.store.getBank(BANK))?.description === 'patched over HTTP',
        audit: () => [{ action: 'bank.changed', subject: `bank:${BANK}` }],
      },
      {
        name: 'POST /v1/banks/{name}/import',
        setup: async () => ({ md5: hex(16) }),
        act: async (s) => {
          const r = await http('POST', `/v1/banks/${BANK}/import?format=threatexchange&fileName=list.txt`, `md5 ${s.md5}\n`);
          if (r.status !== 202) return false;
          return (await t.service.ctx.imports!.whenDone((r.json as { id: string }).id))?.state === 'done';
        },
        changed: async (v, s) => (await v.store.findSignals('md5', String(s.md5))).length > 0,
        audit: () => [{ action: 'bank.imported', subject: `bank:${BANK}` }],
      },
      {
        name: 'POST /v1/banks/{name}/signals',
        setup: async () => ({ md5: hex(16) }),
        act: (s) => ok('POST', `/v1/banks/${BANK}/signals`, { type: 'md5', value: s.md5 }),
        changed: async (v, s) => (await v.store.findSignals('md5', String(s.md5))).length > 0,
        audit: () => [{ action: 'signal.added', subject: 'signal:*' }],
      },
      {
        name: 'DELETE /v1/signals/{id}',
        setup: async () => ({ id: await signal() }),
        act: (s) => ok('DELETE', `/v1/signals/${s.id}`),
        changed: async (_v, s) => (await signalRow(Number(s.id)))?.deletedAt != null,
        audit: (s) => [{ action: 'signal.deleted', subject: `signal:${s.id}` }],
      },
      {
        name: 'POST /v1/signals/{id}/opinions',
        setup: async () => ({ id: await signal() }),
        act: (s) => ok('POST', `/v1/signals/${s.id}/opinions`, { kind: 'false_positive', reason: 'benign test' }),
        changed: async (v, s) => (await v.store.listOpinions(Number(s.id))).length > 0,
        audit: (s) => [{ action: 'signal.opinion', subject: `signal:${s.id}` }],
      },
      {
        name: 'PUT /v1/rules',
        setup: async () => ({ id: `rule-${hex(3)}` }),
        act: (s) => ok('PUT', '/v1/rules', { version: 1, rules: [{ id: s.id, description: 'block a block-bank match', when: { bankKind: 'block' }, then: [{ type: 'block' }] }] }),
        changed: async (v, s) => (await v.rules.fresh()).config.rules.some((r) => r.id === s.id),
        audit: () => [{ action: 'rules.changed', subject: 'rules' }],
      },
      {
        name: 'POST /v1/jobs/{id}/retry',
        setup: async (v) => {
          const [made] = await v.db.transaction((tx) => v.queue.enqueue(tx, [{ queue: 'audit-test', idempotencyKey: hex(8), payload: {} }]));
          await v.db.k.updateTable('queue_jobs').set({ state: 'dead' }).where('id', '=', made!.job.id).execute();
          return { id: made!.job.id };
        },
        act: (s) => ok('POST', `/v1/jobs/${s.id}/retry`),
        changed: async (v, s) => (await v.queue.get(Number(s.id)))?.state === 'pending',
        audit: (s) => [{ action: 'job.retried', subject: `job:${s.id}` }],
      },
      {
        name: 'POST /v1/content',
        setup: async (v) => {
          const md5 = hex(16);
          await v.banks.addSignal('test', BANK, { type: 'md5', value: md5 });
          return { md5, content: `c-${hex(4)}` };
        },
        act: (s) => ok('POST', '/v1/content', { contentId: s.content, hashes: { md5: s.md5 } }),
        changed: async (v, s) => (await v.records.decisionsForContent(String(s.content))).length > 0,
        audit: (s) => [{ action: 'decision.created', subject: `content:${s.content}` }],
      },
      {
        name: 'POST /v1/content/queue',
        setup: async (v) => {
          // The service's job worker would decide the queued content and append its own entry (decision.created)
          // while this or a later row is checked: it stays stopped for the rest of the table.
          await v.worker.stop();
          return { md5: hex(16), content: `q-${hex(4)}` };
        },
        act: (s) => ok('POST', '/v1/content/queue', { items: [{ contentId: s.content, hashes: { md5: s.md5 } }] }),
        changed: async (v, s) => (await v.queue.list({ queue: 'content', limit: 1000 })).some((j) => (j.payload as { meta: { contentId: string } }).meta.contentId === s.content),
        audit: (s) => [{ action: 'content.queued', subject: `content:${s.content}` }],
      },
      {
        // The worker stays stopped (row above): the upload is sealed, its job and entry committed together.
        name: 'POST /v1/content/queue/upload',
        setup: async () => ({ content: `u-${hex(4)}` }),
        act: (s) => {
          const form = new FormData();
          form.set('contentId', String(s.content));
          form.set('file', new Blob([picture]), 'benign.jpg');
          return ok('POST', '/v1/content/queue/upload', form);
        },
        changed: async (v, s) => (await v.queue.list({ queue: 'content', limit: 1000 })).some((j) => (j.payload as { meta: { contentId: string } }).meta.contentId === s.content),
        audit: (s) => [{ action: 'content.queued', subject: `content:${s.content}` }],
      },
      // ---- HMA-compatible ----
      {
        name: 'POST /c/banks',
        setup: async () => ({ bank: `HMA_${hex(4).toUpperCase()}` }),
        act: (s) => ok('POST', '/c/banks', { name: s.bank }),
        changed: async (v, s) => (await v.store.getBank(String(s.bank))) !== undefined,
        audit: (s) => [{ action: 'bank.created', subject: `bank:${s.bank}` }],
      },
      {
        name: 'PUT /c/bank/{name}',
        setup: async () => ({ bank: await hmaBank(), renamed: `HMA_${hex(4).toUpperCase()}` }),
        act: (s) => ok('PUT', `/c/bank/${s.bank}`, { name: s.renamed }),
        changed: async (v, s) => (await v.store.getBank(String(s.renamed))) !== undefined,
        audit: (s) => [{ action: 'bank.changed', subject: `bank:${s.bank}` }],
      },
      {
        name: 'DELETE /c/bank/{name}',
        setup: async () => ({ bank: await hmaBank() }),
        act: (s) => ok('DELETE', `/c/bank/${s.bank}`),
        changed: async (v, s) => (await v.store.getBank(String(s.bank))) === undefined,
        audit: (s) => [{ action: 'bank.deleted', subject: `bank:${s.bank}` }],
      },
      {
        name: 'POST /c/bank/{name}/signal',
        setup: async () => ({ bank: await hmaBank(), pdq: hex(32) }),
        act: (s) => ok('POST', `/c/bank/${s.bank}/signal`, { pdq: s.pdq }),
        changed: async (v, s) => (await v.store.findSignals('pdq', String(s.pdq))).length > 0,
        audit: () => [{ action: 'signal.added', subject: 'signal:*' }],
      },
      {
        name: 'POST /c/bank/{name}/content',
        setup: async () => ({ bank: await hmaBank() }),
        act: (s) => {
          const form = new FormData();
          form.set('photo', new Blob([picture]), 'benign.jpg');
          return ok('POST', `/c/bank/${s.bank}/content`, form);
        },
        changed: async (v, s) => (await v.store.bankStats(String(s.bank))).byType.pdq === 1,
        audit: () => [{ action: 'signal.added', subject: 'signal:*' }],
      },
      {
        name: 'PUT /c/bank/{name}/content/{id}',
        setup: async () => {
          const bank = await hmaBank();
          return { bank, id: await signal(bank) };
        },
        act: (s) => ok('PUT', `/c/bank/${s.bank}/content/${s.id}`, { disable_until_ts: 0 }),
        changed: async (_v, s) => (await signalRow(Number(s.id)))?.disableUntilTs != null,
        audit: (s) => [{ action: 'signal.changed', subject: `signal:${s.id}` }],
      },
      {
        name: 'DELETE /c/bank/{name}/content/{id}',
        setup: async () => {
          const bank = await hmaBank();
          return { bank, id: await signal(bank) };
        },
        act: (s) => ok('DELETE', `/c/bank/${s.bank}/content/${s.id}`),
        changed: async (_v, s) => (await signalRow(Number(s.id)))?.deletedAt != null,
        audit: (s) => [{ action: 'signal.deleted', subject: `signal:${s.id}` }],
      },
      {
        name: 'POST /c/exchanges/api/{api}',
        act: () => ok('POST', '/c/exchanges/api/ncmec', { credential_json: { user: 'benign-user', password: 'not-a-real-secret' } }),
        changed: (v) => v.exchanges.hasCredentials('ncmec'),
        audit: () => [{ action: 'exchange.credentials_set', subject: 'exchange-api:ncmec' }],
      },
      {
        name: 'POST /c/exchanges',
        setup: async () => ({ bank: `EX_${hex(4).toUpperCase()}` }),
        act: (s) => ok('POST', '/c/exchanges', { bank: s.bank, api: 'ncmec', api_json: { environment: 'https://exttest.cybertip.org/hashsharing' } }),
        changed: async (v, s) => (await v.exchanges.get(String(s.bank))) !== undefined,
        audit: (s) => [{ action: 'bank.created', subject: `bank:${s.bank}` }, { action: 'exchange.created', subject: `exchange:${s.bank}` }],
      },
      {
        name: 'PUT /c/exchange/{name}',
        setup: async (v) => exchange(v),
        act: (s) => ok('PUT', `/c/exchange/${s.bank}`, { enabled: false }),
        changed: async (v, s) => (await v.exchanges.get(String(s.bank)))?.enabled === false,
        audit: (s) => [{ action: 'exchange.changed', subject: `exchange:${s.bank}` }],
      },
      {
        name: 'DELETE /c/exchange/{name}',
        setup: async (v) => exchange(v),
        act: (s) => ok('DELETE', `/c/exchange/${s.bank}`),
        changed: async (v, s) => (await v.exchanges.get(String(s.bank))) === undefined,
        audit: (s) => [{ action: 'exchange.deleted', subject: `exchange:${s.bank}` }],
      },
      // ---- Vigil's exchange routes ----
      {
        name: 'POST /v1/exchanges',
        setup: async () => ({ bank: `EX_${hex(4).toUpperCase()}` }),
        act: (s) => ok('POST', '/v1/exchanges', { name: s.bank, api: 'file', config: { url: 'http://127.0.0.1:9/list.txt' }, enabled: false }),
        changed: async (v, s) => (await v.exchanges.get(String(s.bank))) !== undefined,
        audit: (s) => [{ action: 'bank.created', subject: `bank:${s.bank}` }, { action: 'exchange.created', subject: `exchange:${s.bank}` }],
      },
      {
        name: 'PUT /v1/exchange-apis/{api}/credentials',
        act: () => ok('PUT', '/v1/exchange-apis/stop_ncii/credentials', { subscription_key: 'benign-sub', fetch_function_key: 'benign-fn' }),
        changed: (v) => v.exchanges.hasCredentials('stop_ncii'),
        audit: () => [{ action: 'exchange.credentials_set', subject: 'exchange-api:stop_ncii' }],
      },
      {
        name: 'POST /v1/exchanges/{name}/fetch',
        setup: async (v) => fileExchange(v),
        act: (s) => ok('POST', `/v1/exchanges/${s.bank}/fetch`, {}),
        changed: async (v, s) => (await v.store.bankStats(String(s.bank))).active > 0,
        audit: (s) => [{ action: 'exchange.page_applied', subject: `exchange:${s.bank}` }, { action: 'exchange.fetched', subject: `exchange:${s.bank}` }],
      },
      {
        name: 'DELETE /v1/exchanges/{name}',
        setup: async (v) => exchange(v),
        act: (s) => ok('DELETE', `/v1/exchanges/${s.bank}`),
        changed: async (v, s) => (await v.exchanges.get(String(s.bank))) === undefined,
        audit: (s) => [{ action: 'exchange.deleted', subject: `exchange:${s.bank}` }],
      },
      {
        name: 'vigil exchange credentials',
        // The service's evidence folder: credentials are sealed with its master key (on PostgreSQL the CLI needs one).
        act: async () => (await runVigil(['--db', t.dbUrl, 'exchange', 'credentials', 'fb_threatexchange', '--env', 'VIGIL_TEST_TE_CREDENTIALS'], { ...process.env, ...t.env, VIGIL_EVIDENCE_DIR: join(t.dir, 'evidence') })).status === 0,
        changed: (v) => v.exchanges.hasCredentials('fb_threatexchange'),
        audit: () => [{ action: 'exchange.credentials_set', subject: 'exchange-api:fb_threatexchange' }],
      },
      {
        name: 'vigil exchange add',
        setup: async () => ({ bank: `EX_${hex(4).toUpperCase()}` }),
        act: (s) => cli('exchange', 'add', String(s.bank), '--api', 'file', '--api-config', '{"url": "http://127.0.0.1:9/list.txt"}', '--disabled'),
        changed: async (v, s) => (await v.exchanges.get(String(s.bank))) !== undefined,
        audit: (s) => [{ action: 'bank.created', subject: `bank:${s.bank}` }, { action: 'exchange.created', subject: `exchange:${s.bank}` }],
      },
      {
        name: 'vigil exchange fetch',
        setup: async (v) => fileExchange(v),
        act: (s) => cli('exchange', 'fetch', String(s.bank)),
        changed: async (v, s) => (await v.store.bankStats(String(s.bank))).active > 0,
        audit: (s) => [{ action: 'exchange.page_applied', subject: `exchange:${s.bank}` }, { action: 'exchange.fetched', subject: `exchange:${s.bank}` }],
      },
      {
        name: 'vigil exchange remove',
        setup: async (v) => exchange(v),
        act: (s) => cli('exchange', 'remove', String(s.bank)),
        changed: async (v, s) => (await v.exchanges.get(String(s.bank))) === undefined,
        audit: (s) => [{ action: 'exchange.deleted', subject: `exchange:${s.bank}` }],
      },
      // ---- CLI ----
      {
        name: 'vigil bank create',
        setup: async () => ({ bank: `cli-${hex(4)}` }),
        act: (s) => cli('bank', 'create', String(s.bank)),
        changed: async (v, s) => (await v.store.getBank(String(s.bank))) !== undefined,
        audit: (s) => [{ action: 'bank.created', subject: `bank:${s.bank}` }],
      },
      {
        name: 'vigil bank update',
        act: () => cli('bank', 'update', BANK, '--description', 'updated by the cli'),
        changed: async (v) => (await v.store.getBank(BANK))?.description === 'updated by the cli',
        audit: () => [{ action: 'bank.changed', subject: `bank:${BANK}` }],
      },
      {
        name: 'vigil bank disable',
        act: () => cli('bank', 'disable', BANK),
        changed: async (v) => (await v.store.getBank(BANK))?.enabled === false,
        audit: () => [{ action: 'bank.changed', subject: `bank:${BANK}` }],
      },
      {
        name: 'vigil bank enable',
        act: () => cli('bank', 'enable', BANK),
        changed: async (v) => (await v.store.getBank(BANK))?.enabled === true,
        audit: () => [{ action: 'bank.changed', subject: `bank:${BANK}` }],
      },
      {
        name: 'vigil bank import',
        setup: async () => {
          const md5 = hex(16);
          const file = join(t.dir, `list-${md5}.txt`);
          writeFileSync(file, `md5 ${md5}\n`);
          return { md5, file };
        },
        act: (s) => cli('bank', 'import', BANK, String(s.file), '--no-progress'),
        changed: async (v, s) => (await v.store.findSignals('md5', String(s.md5))).length > 0,
        audit: () => [{ action: 'bank.imported', subject: `bank:${BANK}` }],
      },
      {
        name: 'vigil bank import --create',
        setup: async () => {
          const md5 = hex(16);
          const file = join(t.dir, `list-${md5}.txt`);
          writeFileSync(file, `md5 ${md5}\n`);
          return { md5, file, bank: `cli-${hex(4)}` };
        },
        act: (s) => cli('bank', 'import', String(s.bank), String(s.file), '--create', '--no-progress'),
        changed: async (v, s) => (await v.store.getBank(String(s.bank))) !== undefined,
        audit: (s) => [{ action: 'bank.created', subject: `bank:${s.bank}` }, { action: 'bank.imported', subject: `bank:${s.bank}` }],
      },
      {
        name: 'vigil bank delete',
        setup: async (v) => {
          const bank = `cli-${hex(4)}`;
          await v.banks.createBank('test', { name: bank });
          return { bank };
        },
        act: (s) => cli('bank', 'delete', String(s.bank)),
        changed: async (v, s) => (await v.store.getBank(String(s.bank))) === undefined,
        audit: (s) => [{ action: 'bank.deleted', subject: `bank:${s.bank}` }],
      },
      ...(['mark-false-positive', 'confirm', 'dispute'] as const).map((verb): Row => ({
        name: `vigil signal ${verb}`,
        setup: async () => ({ id: await signal() }),
        act: (s) => cli('signal', verb, String(s.id), '--reason', 'benign test', '--by', 'a reviewer'),
        changed: async (v, s) => (await v.store.listOpinions(Number(s.id))).length > 0,
        audit: (s) => [{ action: 'signal.opinion', subject: `signal:${s.id}` }],
      })),
      {
        name: 'vigil key create',
        setup: async () => ({ name: `key-${hex(4)}` }),
        act: (s) => cli('key', 'create', '--name', String(s.name), '--scope', 'lookup'),
        changed: async (v, s) => (await v.keys.list()).some((k) => k.name === s.name),
        audit: () => [{ action: 'key.created', subject: '*' }],
      },
      {
        name: 'vigil key revoke',
        setup: async (v) => ({ id: (await v.keys.createNow({ name: `key-${hex(4)}`, scopes: ['lookup'] }, { actor: 'test' })).key.id }),
        act: (s) => cli('key', 'revoke', String(s.id)),
        changed: async (v, s) => (await v.keys.list()).find((k) => k.id === s.id)?.revokedAt != null,
        audit: (s) => [{ action: 'key.revoked', subject: String(s.id) }],
      },
      {
        name: 'vigil user add',
        setup: async () => ({ name: `person-${hex(4)}` }),
        act: (s) => cli('user', 'add', String(s.name), '--role', 'reviewer'),
        changed: async (v, s) => (await v.users.list()).some((u) => u.name === s.name),
        audit: () => [{ action: 'user.created', subject: 'user:*' }],
      },
      ...(['disable', 'reset-password'] as const).map((verb): Row => ({
        name: `vigil user ${verb}`,
        setup: async (v) => {
          const name = `person-${hex(4)}`;
          const hashed = await v.users.hashPassword(`Benign-test-password-${hex(8)}`);
          const made = await v.db.transaction((tx) => v.users.create(tx, { name, role: 'reviewer', password: hashed }, { actor: 'test' }));
          return { name, id: made.id };
        },
        act: (s) => cli('user', verb, String(s.name)),
        changed: async (v, s) => {
          const u = (await v.users.list()).find((x) => x.name === s.name);
          return verb === 'disable' ? u?.disabled === true : u?.passwordChangedAt !== u?.createdAt;
        },
        audit: (s) => [{ action: verb === 'disable' ? 'user.disabled' : 'user.password_reset', subject: `user:${s.id}` }],
      })),
      {
        name: 'vigil audit verify',
        setup: async (v) => ({ before: (await v.audit.list({ action: 'audit.verified', limit: 10_000 })).length }),
        act: () => cli('audit', 'verify'),
        changed: async (v, s) => (await v.audit.list({ action: 'audit.verified', limit: 10_000 })).length > Number(s.before),
        audit: () => [{ action: 'audit.verified', subject: '' }],
      },
    ];

    let files: FileServer | undefined;
    after(() => files?.close());
    /** A disabled `file` exchange (the scheduler leaves it alone) over a local list of one benign hash. */
    async function fileExchange(v: Vigil): Promise<Setup> {
      if (!files) {
        files = await startFileServer('/list.txt');
        files.body = `md5 ${hex(16)}\n`;
      }
      const bank = `EX_${hex(4).toUpperCase()}`;
      const made = await v.banks.createBank('test', { name: bank });
      await v.exchanges.create('test', { name: bank, api: 'file', bankId: made.id, enabled: false, config: { url: `${files.url}/list.txt` } });
      return { bank };
    }

    async function exchange(v: Vigil): Promise<Setup> {
      const bank = `EX_${hex(4).toUpperCase()}`;
      const made = await v.banks.createBank('test', { name: bank });
      await v.exchanges.create('test', { name: bank, api: 'ncmec', bankId: made.id, enabled: true, config: { environment: 'https://exttest.cybertip.org/hashsharing' } });
      return { bank };
    }

    /** The injected fault: every insert into audit_log fails until it is removed. */
    async function auditInsertsFail(on: boolean): Promise<void> {
      const k = v.db.k;
      if (v.db.engine === 'sqlite') {
        await sql.raw(on ? `CREATE TRIGGER test_audit_fault BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END` : 'DROP TRIGGER test_audit_fault').execute(k);
      } else if (on) {
        await sql.raw(`CREATE FUNCTION test_audit_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected audit failure'; END $$`).execute(k);
        await sql.raw('CREATE TRIGGER test_audit_fault BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION test_audit_fault()').execute(k);
      } else {
        await sql.raw('DROP TRIGGER test_audit_fault ON audit_log').execute(k);
        await sql.raw('DROP FUNCTION test_audit_fault()').execute(k);
      }
    }

    // Report jobs run in the background and write their own entries (actor system): not the row's.
    const rowsOf = async (afterSeq: number) => (await v.audit.list({ afterSeq, limit: 10_000 })).filter((e) => e.action !== 'key.used' && e.actor !== 'system');

    it('every state-changing route of the API has a row (or is listed as not changing state)', async () => {
      const spec = (await (await fetch(`${t.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
      const changing = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).filter((m) => ['post', 'put', 'patch', 'delete'].includes(m)).map((m) => `${m.toUpperCase()} ${path}`));
      const named = new Set(ROWS.map((r) => r.name));
      assert.deepEqual(changing.filter((op) => !named.has(op) && !NOT_STATE_CHANGING.has(op) && !NOT_IN_TABLE.has(op)), []);
    });

    it('every command of the CLI has a row (or is listed as not changing the database)', async () => {
      const program = await buildProgram({ stdout: process.stdout, stderr: process.stderr, env: {}, exitCode: 0 });
      const names = program.commands.flatMap((c) => (c.commands.length ? c.commands.map((sub) => `vigil ${c.name()} ${sub.name()}`) : [`vigil ${c.name()}`]));
      const named = new Set(ROWS.map((r) => r.name.replace(/ --create$/, '')));
      assert.deepEqual(names.filter((n) => !named.has(n) && !CLI_NOT_IN_TABLE.has(n)), []);
    });

    it('each change and its audit entry commit together, or not at all', async () => {
      for (const row of ROWS) {
        const s = (await row.setup?.(v)) ?? {};
        assert.equal(await row.changed(v, s), false, `${row.name}: not yet changed`);

        // With the audit insert failing, the change must roll back with it.
        const head = await v.audit.head();
        await auditInsertsFail(true);
        let reported: boolean;
        try {
          reported = await row.act(s);
        } finally {
          await auditInsertsFail(false);
        }
        assert.equal(reported, false, `${row.name}: reports the failure`);
        assert.equal(await row.changed(v, s), false, `${row.name}: the change rolled back with its failed audit entry`);
        assert.deepEqual(await rowsOf(head.seq), [], `${row.name}: no entry`);

        // Without the fault: the change, and exactly its entries.
        assert.equal(await row.act(s), true, `${row.name}: succeeds`);
        assert.equal(await row.changed(v, s), true, `${row.name}: changed`);
        const entries = await rowsOf(head.seq);
        const expected = row.audit(s);
        const fits = (e: { action: string; subject: string | null }, x: Entry) =>
          e.action === x.action && (x.subject.endsWith('*') ? (e.subject ?? '').startsWith(x.subject.slice(0, -1)) : (e.subject ?? '') === x.subject);
        assert.ok(entries.length === expected.length && expected.every((x, i) => fits(entries[i]!, x)),
          `${row.name}: exactly its audit entries: expected ${JSON.stringify(expected)}, got ${JSON.stringify(entries.map((e) => [e.action, e.subject]))}`);
        for (const e of entries) {
          if (row.name.startsWith('vigil ')) assert.match(e.actor, /^cli:\S+$/, `${row.name}: the CLI's actor`);
          else {
            assert.equal(e.actor, `key:${adminId}`, `${row.name}: the key's actor`);
            assert.ok(e.requestId, `${row.name}: the request id`);
          }
        }
      }
    });

    it('the chain verifies after the rolled-back appends; vigil audit verify detects an edit and a deletion', async () => {
      assert.equal((await v.audit.verify()).ok, true);
      const k = v.db.k;
      const { seq } = await v.audit.head();
      // Tampering needs the append-only triggers out of the way (as someone with the database's owner rights would).
      if (v.db.engine === 'sqlite') await sql.raw('DROP TRIGGER audit_log_no_update').execute(k);
      else await sql.raw('ALTER TABLE audit_log DISABLE TRIGGER USER').execute(k);
      await sql`UPDATE audit_log SET actor = 'someone else' WHERE seq = ${seq - 1}`.execute(k);
      const edited = await runVigil(['--db', t.dbUrl, 'audit', 'verify'], { ...process.env, ...t.env });
      assert.equal(edited.status, 1);
      assert.match(edited.stdout, new RegExp(`TAMPERED at entry ${seq - 1}: hash mismatch`));

      if (v.db.engine === 'sqlite') await sql.raw('DROP TRIGGER audit_log_no_delete').execute(k);
      await sql`DELETE FROM audit_log WHERE seq >= ${seq - 1} AND seq <= ${seq}`.execute(k);
      const deleted = await runVigil(['--db', t.dbUrl, 'audit', 'verify'], { ...process.env, ...t.env });
      assert.equal(deleted.status, 1);
      assert.match(deleted.stdout, new RegExp(`TAMPERED at entry ${seq - 1}: entry ${seq - 1}–${seq} missing`));
    });
  });
}
