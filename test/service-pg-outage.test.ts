/**
 * PostgreSQL going away mid-run, at the service level: uploads are in flight, each inside its unit of work
 * (decision written, audit entry pending), when every connection of the service's pool is terminated
 * (`pg_terminate_backend`). Each of those requests gets a clear 503 VIGIL_ERR_UNAVAILABLE (retry-after), none a
 * 500; nothing of them is kept; the service reconnects on its own and answers the next requests; retries are
 * decided once; nothing acknowledged before, during or after the outage is lost, and the audit log verifies.
 *
 * Deterministic, without timing: the test holds a lock on this schema's audit_log, so the in-flight requests
 * stop at their audit insert (mid-transaction); it waits until all of them are seen waiting in
 * pg_stat_activity, then terminates the connections. Only connections carrying this run's application_name
 * are terminated (the server is shared with other suites), and the lock is on this run's own schema.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { TEST_POSTGRES_URL } from '../src/state/test-engines.js';
import { startTestService, type TestService } from './_service.js';

const APP = `vigil_service_outage_${randomBytes(4).toString('hex')}`;
const BANK = 'outage-benign';
const N = 40;
/** Uploads in flight when the connections are terminated. */
const IN_FLIGHT = 6;

interface Answer { status: number; retryAfter: string | null; body: { decisionId?: number; replayed?: boolean; verdict?: string; error?: { code: string; message: string } } }

describe('service on PostgreSQL: connections terminated with uploads in flight', () => {
  let t: TestService;
  let admin: pg.Client;
  let secret = '';
  const md5s = Array.from({ length: N }, () => randomBytes(16).toString('hex'));

  before(async () => {
    const url = new URL(TEST_POSTGRES_URL);
    url.searchParams.set('application_name', APP);
    t = await startTestService({ engine: 'postgres', storeUrl: url.toString(), pollMs: 200 });
    secret = await t.key(['admin']);
    await t.service.ctx.banks.createBank('test', { name: BANK, kind: 'block', source: 'outage test (random benign hashes)' });
    await t.service.ctx.banks.addSignals('test', BANK, md5s.map((value) => ({ type: 'md5' as const, value })));
    admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
  });
  after(async () => {
    await admin?.end();
    await t?.close();
  });

  const submit = async (i: number): Promise<Answer> => {
    const res = await fetch(`${t.url}/v1/content`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ contentId: `outage-${i}`, hashes: { md5: md5s[i] } }),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Answer['body'] };
  };

  /** Backends of the service waiting on a lock (its requests stopped at the audit insert). */
  const waiting = async () => {
    // pg_stat_activity is a snapshot per transaction, and the lock holder is in one.
    await admin.query('SELECT pg_stat_clear_snapshot()');
    return (await admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [APP])).rows[0]!.n;
  };

  it('in-flight uploads fail with 503 and keep nothing; the service recovers; nothing acknowledged is lost', { timeout: 120_000 }, async () => {
    const acked = new Map<number, number>();
    // Before: a few uploads decided.
    for (let i = 0; i < 10; i++) {
      const r = await submit(i);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      acked.set(i, r.body.decisionId!);
    }

    // The outage: uploads stopped inside their transactions, then every connection of the service cut.
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE ${t.schema}.audit_log IN EXCLUSIVE MODE`);
    const inFlight = Array.from({ length: IN_FLIGHT }, (_, k) => submit(10 + k));
    while ((await waiting()) < IN_FLIGHT) await new Promise<void>((resolve) => setImmediate(resolve));
    const terminated = (await admin.query<{ n: number }>(
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1', [APP])).rows[0]!.n;
    await admin.query('ROLLBACK');
    assert.ok(terminated >= IN_FLIGHT, `terminated ${terminated} connections`);
    const cut = await Promise.all(inFlight);
    for (const r of cut) {
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.error?.code, 'VIGIL_ERR_UNAVAILABLE');
      assert.match(r.body.error!.message, /database connection was lost.*retry/);
      assert.equal(r.retryAfter, '1');
    }
    const decisionsOf = (i: number) => t.service.ctx.records.decisionsForContent(`outage-${i}`);
    for (let k = 0; k < IN_FLIGHT; k++) assert.deepEqual(await decisionsOf(10 + k), [], 'a cut-off upload keeps nothing');

    // After: the service reconnects by itself; the cut-off uploads are retried, the rest submitted.
    for (let i = 10; i < N; i++) {
      const r = await submit(i);
      assert.equal(r.status, 200, `outage-${i}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.verdict, 'block');
      acked.set(i, r.body.decisionId!);
    }
    // Everything acknowledged is there, once; a retry of an acknowledged upload replays it.
    for (const [i, decisionId] of acked) assert.deepEqual((await decisionsOf(i)).map((d) => d.id), [decisionId], `outage-${i}`);
    const again = await submit(3);
    assert.equal(again.body.replayed, true);
    assert.equal(again.body.decisionId, acked.get(3));
    const audit = t.service.ctx.audit;
    assert.equal((await audit.list({ action: 'decision.created', limit: 1000 })).length, N, 'one decision.created entry per decision');
    assert.equal((await audit.verify()).ok, true);
    assert.equal((await fetch(`${t.url}/readyz`)).status, 200);
  });
});
