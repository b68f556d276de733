/**
 * The fleet under faults, with real processes: a private redis-server (no persistence), a fresh PostgreSQL
 * schema, `vigil worker` and `vigil serve` children. A batch of FLEET_FAULT_N (default 200; 1,000 with
 * FLEET_FAULT_N=1000) content jobs, every one matching a benign block bank, with rules that block, draft a
 * report and notify a webhook receiver. Each fault strikes once a quarter of the batch is done (a count read
 * from the database, not a time): kill -9 of a worker, a Redis restart that loses everything Redis held, and
 * pg_terminate_backend of every connection the fleet holds. Afterwards: every content job done, exactly one
 * decision and one report draft per content, exactly one webhook job per decision, every delivery id received
 * (duplicates only as repeats of the same id, which receivers dedupe on). Then two API processes, polling
 * the feed only hourly, see a signal added and marked false positive within 2 s (NOTIFY).
 * Skipped, with a message, when redis-server or PostgreSQL is not available.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../src/app/config.js';
import { createVigil, type Vigil } from '../src/app/vigil.js';
import { queueContent } from '../src/fleet/content-jobs.js';
import { TEST_POSTGRES_URL } from '../src/state/test-engines.js';
import { verifySignature } from '../src/webhooks/sign.js';
import { dropSchema, freshSchema } from './_service.js';
import { API_READY, freePort, hasRedisServer, PrivateRedis, spawnVigil, waitFor, WORKER_READY, type VigilChild } from './helpers/fleet.js';
import { runVigil } from './helpers/cli.js';

const N = Number(process.env.FLEET_FAULT_N ?? 200);
const BANK = 'fleet-faults-benign';
const HOOK = 'receiver';
const SECRET_ENV = 'VIGIL_TEST_FLEET_WEBHOOK_SECRET';
const SECRET = randomBytes(24).toString('hex');
const SETTLE_MS = 180_000;

async function postgresUp(): Promise<boolean> {
  const c = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const unavailable = !hasRedisServer() ? 'redis-server is not installed' : !(await postgresUp()) ? `PostgreSQL at ${TEST_POSTGRES_URL} is unreachable` : undefined;
if (unavailable) console.log(`# fleet fault tests skipped: ${unavailable}`);

/** The webhook endpoint: every delivery id it receives (answers 204). */
class Receiver {
  readonly ids: string[] = [];
  unsigned = 0;
  readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!verifySignature(SECRET, Buffer.concat(chunks), req.headers['vigil-signature'] as string | undefined)) this.unsigned++;
      this.ids.push(String(req.headers['vigil-delivery-id']));
      res.writeHead(204).end();
    });
  });

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

interface Fleet {
  vigil: Vigil;
  env: Record<string, string>;
  receiver: Receiver;
  redis: PrivateRedis;
  appName: string;
  md5s: string[];
  children: VigilChild[];
  worker(): Promise<VigilChild>;
  api(): Promise<VigilChild>;
  apiKey: string;
}

async function setUp(t: TestContext): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fleet-'));
  const schema = freshSchema();
  const redis = new PrivateRedis(await freePort());
  await redis.start();
  const receiver = new Receiver();
  const hookUrl = await receiver.listen();
  // Every connection the fleet's processes open carries this name: pg_terminate_backend picks exactly those.
  const appName = `vigil_fleet_${randomBytes(4).toString('hex')}`;
  const rulesPath = join(dir, 'rules.json');
  writeFileSync(rulesPath, JSON.stringify({
    version: 1,
    webhooks: { [HOOK]: { url: hookUrl, secretEnv: SECRET_ENV } },
    rules: [{ id: 'block-report-tell', description: 'block, draft a report, tell the receiver', when: { bankKind: 'block' }, then: [{ type: 'block' }, { type: 'report_draft' }, { type: 'notify', webhook: HOOK }] }],
  }));
  // The feed is polled hourly: only NOTIFY can bring a bank change in time.
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ matching: { pollMs: 3_600_000, snapshots: false }, demo: { enabled: false } }));
  const env: Record<string, string> = {
    VIGIL_DATABASE_URL: `${TEST_POSTGRES_URL}?application_name=${appName}`,
    VIGIL_DATABASE_SCHEMA: schema,
    VIGIL_REDIS_URL: redis.url,
    VIGIL_REDIS_PREFIX: `t${randomBytes(4).toString('hex')}`,
    VIGIL_EVIDENCE_DIR: join(dir, 'evidence'),
    VIGIL_RULES: rulesPath,
    VIGIL_CONFIG: configPath,
    [SECRET_ENV]: SECRET,
    TMPDIR: dir,
  };
  const children: VigilChild[] = [];
  const held: { vigil?: Vigil } = {};
  t.after(async () => {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await held.vigil?.close().catch(() => undefined);
    await redis.kill();
    await receiver.close();
    await dropSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  });
  // The test's own core: a different application name, so the fault below never cuts the test's connections.
  const vigil = held.vigil = await createVigil(loadConfig({ env: { ...env, VIGIL_DATABASE_URL: TEST_POSTGRES_URL, VIGIL_LOG_LEVEL: 'silent' } }), { secrets: env });
  const md5s = Array.from({ length: N + 2 }, () => randomBytes(16).toString('hex'));
  await vigil.banks.createBank('test', { name: BANK, kind: 'block', source: 'fleet fault test (random benign hashes)' });
  await vigil.banks.addSignals('test', BANK, md5s.slice(0, N).map((value) => ({ type: 'md5' as const, value })));
  const cli = await runVigil(['key', 'create', '--name', 'fleet-test', '--scope', 'admin', '--rate-limit', '0', '--json'], { ...process.env, ...env });
  assert.equal(cli.status, 0, cli.stderr);
  const apiKey = (JSON.parse(cli.stdout) as { secret: string }).secret;
  const start = async (args: string[], ready: RegExp) => {
    const c = await spawnVigil(args, env, ready);
    children.push(c);
    return c;
  };
  return {
    vigil, env, receiver, redis, appName, md5s, children, apiKey,
    worker: () => start(['worker', '--lock-ms', '2000', '--relay-lease-ms', '3000', '--concurrency', '4'], WORKER_READY),
    api: () => start(['serve', '--port', '0', '--no-demo', '--no-log'], API_READY),
  };
}

async function queueBatch(f: Fleet): Promise<void> {
  const items = f.md5s.slice(0, N).map((md5, i) => ({ meta: { contentId: `fleet-${i}`, accountId: `account-${i}`, actor: 'test' }, hashes: { md5 } }));
  for (let i = 0; i < items.length; i += 500) await queueContent(f.vigil, items.slice(i, i + 500), i === 0 ? 'live' : 'backfill');
}

const count = async (v: Vigil, q: ReturnType<typeof sql<{ n: number }>>) => Number((await q.execute(v.db.k)).rows[0]!.n);
const doneContent = (v: Vigil) => count(v, sql<{ n: number }>`SELECT count(*) AS n FROM queue_jobs WHERE queue = 'content' AND state = 'done'`);

/** Waits for the whole batch and its webhooks, then checks every effect happened exactly once. */
async function assertExactlyOnce(f: Fleet): Promise<void> {
  const v = f.vigil;
  const dump = () => f.children.map((c) => c.output().slice(-2000)).join('\n---\n');
  await waitFor(async () => (await doneContent(v)) === N, `all ${N} content jobs are done`, SETTLE_MS, 100).catch((err: Error) => assert.fail(`${err.message}\n${dump()}`));
  await waitFor(async () => (await count(v, sql<{ n: number }>`SELECT count(*) AS n FROM queue_jobs WHERE queue = 'webhook' AND state = 'done'`)) === N,
    `all ${N} webhooks are delivered`, SETTLE_MS, 100).catch((err: Error) => assert.fail(`${err.message}\n${dump()}`));
  assert.equal(await count(v, sql<{ n: number }>`SELECT count(*) AS n FROM queue_jobs WHERE state = 'dead'`), 0, 'no job dead');
  assert.equal(await count(v, sql<{ n: number }>`SELECT count(*) AS n FROM decisions`), N, 'one decision per content');
  assert.equal(await count(v, sql<{ n: number }>`SELECT count(DISTINCT content_id) AS n FROM decisions`), N);
  assert.equal(await count(v, sql<{ n: number }>`SELECT count(*) AS n FROM report_drafts`), N, 'one report draft per decision');
  assert.equal(await count(v, sql<{ n: number }>`SELECT count(*) AS n FROM queue_jobs WHERE queue = 'webhook'`), N, 'one webhook job per decision');
  const expected = (await sql<{ k: string }>`SELECT idempotency_key AS k FROM queue_jobs WHERE queue = 'webhook'`.execute(v.db.k)).rows.map((r) => r.k.slice(`webhook:${HOOK}:`.length));
  const received = new Set(f.receiver.ids);
  assert.deepEqual([...received].sort(), expected.sort(), 'every delivery id arrived; deduplicated by id, each exactly once');
  assert.equal(f.receiver.unsigned, 0);
  console.log(`# ${N} items: ${f.receiver.ids.length} deliveries for ${received.size} delivery ids (repeats are redeliveries of the same id)`);
}

describe('fleet under faults', { skip: unavailable, concurrency: false }, () => {
  it(`kill -9 of a worker mid-batch: ${N} items, every effect exactly once`, { timeout: 300_000 }, async (t) => {
    const f = await setUp(t);
    const [a] = [await f.worker(), await f.worker()];
    await queueBatch(f);
    await waitFor(async () => (await doneContent(f.vigil)) >= N / 4, 'a quarter of the batch is done', SETTLE_MS);
    a!.child.kill('SIGKILL');
    assert.deepEqual(await a!.exited, [null, 'SIGKILL']);
    assert.ok((await doneContent(f.vigil)) < N, 'the kill came mid-batch');
    await assertExactlyOnce(f);
  });

  it(`Redis restarted (its data lost) mid-batch: ${N} items, nothing lost, nothing twice`, { timeout: 300_000 }, async (t) => {
    const f = await setUp(t);
    await f.worker();
    await queueBatch(f);
    await waitFor(async () => (await doneContent(f.vigil)) >= N / 4, 'a quarter of the batch is done', SETTLE_MS);
    await f.redis.kill();
    const doneAtRestart = await doneContent(f.vigil);
    await f.redis.start();
    assert.ok(doneAtRestart < N, 'the restart came mid-batch');
    await assertExactlyOnce(f);
  });

  it(`pg_terminate_backend of every fleet connection mid-batch: ${N} items, processing resumes`, { timeout: 300_000 }, async (t) => {
    const f = await setUp(t);
    await f.worker();
    await f.worker();
    await queueBatch(f);
    await waitFor(async () => (await doneContent(f.vigil)) >= N / 4, 'a quarter of the batch is done', SETTLE_MS);
    const killed = await sql<{ n: number }>`SELECT count(*) AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${f.appName}) k`.execute(f.vigil.db.k);
    assert.ok(Number(killed.rows[0]!.n) >= 2, 'the workers\' connections (pools and LISTEN) were cut');
    assert.ok((await doneContent(f.vigil)) < N, 'the cut came mid-batch');
    await assertExactlyOnce(f);
  });

  it('two API processes see a bank change within 2 s (NOTIFY; the poll is hourly)', { timeout: 120_000 }, async (t) => {
    const f = await setUp(t);
    const apis = [await f.api(), await f.api()];
    const md5 = f.md5s[N]!;
    const lookup = async (url: string) => {
      const res = await fetch(`${url}/v1/lookup`, { method: 'POST', headers: { authorization: `Bearer ${f.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ hashes: [{ type: 'md5', value: md5 }], includeNonActionable: false }) });
      const body = (await res.json()) as { results: { matches: unknown[] }[] };
      return body.results[0]!.matches.length;
    };
    for (const api of apis) assert.equal(await lookup(api.url), 0);
    const signal = await f.vigil.banks.addSignal('test', BANK, { type: 'md5', value: md5 });
    // The poll is hourly, so only a notification can bring the change within this bounded wait; how long it took
    // is printed (the 2 s of the issue is a figure of docs/fleet.md, not an assertion on a loaded machine).
    let started = performance.now();
    await Promise.all(apis.map((api) => waitFor(async () => (await lookup(api.url)) === 1, `${api.url} matches the added signal`, 30_000, 20)));
    t.diagnostic(`signal added → matched by both API processes in ${Math.round(performance.now() - started)} ms`);
    await f.vigil.banks.addOpinion('test', signal.id, { kind: 'false_positive', reason: 'fleet test' });
    started = performance.now();
    await Promise.all(apis.map((api) => waitFor(async () => (await lookup(api.url)) === 0, `${api.url} drops the false positive`, 30_000, 20)));
    t.diagnostic(`false positive → dropped by both API processes in ${Math.round(performance.now() - started)} ms`);
    const ready = (await (await fetch(`${apis[0]!.url}/readyz`)).json()) as { ready: boolean; behind: number };
    assert.equal(ready.ready, true);
    assert.equal(ready.behind, 0);

    // vigil fleet status lists both API processes (their heartbeats) and the queues.
    const status = await runVigil(['fleet', 'status', '--json'], { ...process.env, ...f.env });
    assert.equal(status.status, 0, status.stderr);
    const fleet = JSON.parse(status.stdout) as { processes: { role: string; url: string; ready: boolean }[]; queues: Record<string, { depth: number }> };
    assert.deepEqual(fleet.processes.filter((p) => p.role === 'api').map((p) => p.url).sort(), apis.map((a) => a.url).sort());
    assert.ok(fleet.processes.every((p) => p.ready));
    // Every queue the core has a handler for (vigil.jobHandlers): content, webhooks, reports, exchange feedback.
    for (const queue of ['content', 'webhook', 'ncmec-report']) assert.ok(queue in fleet.queues, `${queue} in ${Object.keys(fleet.queues).join(', ')}`);
  });
});
