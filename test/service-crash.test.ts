/**
 * The service survives kill -9 in the middle of a batch: nothing acknowledged is lost and no webhook action
 * runs twice. `vigil serve` runs as a child process with rules that notify a webhook receiver (a node:http
 * server here) twice per matched content (notify + disable_account). The receiver never answers during the
 * first run, so deliveries are in flight; once enough submissions were acknowledged and a delivery arrived,
 * the child is killed with SIGKILL while clients still have requests outstanding and others never sent; some
 * clients also dropped the answer they got (decided, but never acknowledged to the client). The restarted
 * service (same DB) gets every content of the batch again (clients retry what was not acknowledged, and
 * retrying what was is harmless), the receiver now answers, and the test watches the queue drain. Then: every
 * content has exactly one decision (whatever was decided before the kill replays that decision), every
 * planned webhook action has exactly one job and its delivery id reaches the receiver; only deliveries
 * already seen before the kill arrive twice (at-least-once); the audit log verifies.
 *
 * The kill point does not depend on timing: clients stop before the last RESERVE contents until the kill, so
 * at least RESERVE contents are unacknowledged, and the kill waits for KILL_AFTER_ACKS acknowledgements and a
 * delivery. The job lease is shortened (--queue-lease-ms) so the jobs running at the kill are re-delivered
 * soon after the restart; the test waits for that by polling the queue, not by sleeping.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { openDatabase } from '../src/state/database.js';
import { TEST_POSTGRES_URL } from '../src/state/test-engines.js';
import { verifySignature } from '../src/webhooks/sign.js';
import { ENGINE_NAMES, dropSchema, freshSchema, type EngineName } from './_service.js';
import { runVigil } from './helpers/cli.js';
import { vigilNodeArgs } from './helpers/vigil-process.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const N = 100;
const KILL_AFTER_ACKS = 30;
/** The last RESERVE contents are only sent after the restart: unacknowledged by construction. */
const RESERVE = 10;
const CLIENTS = 8;
/** Every LOST_EVERY-th answer before the kill is dropped by its client: decided but unacknowledged. */
const LOST_EVERY = 7;
const LEASE_MS = 1500;
const BANK = 'crash-test-benign';
const HOOK = 'receiver';
const SECRET_ENV = 'VIGIL_TEST_CRASH_WEBHOOK_SECRET';
const SECRET = randomBytes(24).toString('hex');
/** Planned webhook actions per matched content: notify and disable_account, both to the receiver. */
const WEBHOOK_ACTIONS = ['notify', 'disable_account'];

interface Delivery {
  id: string;
  phase: 1 | 2;
  signed: boolean;
  event: { id: string; type: string; data: { decisionId: number; contentId: string; accountId: string | null } };
}

interface Action {
  type: string;
  status: string;
  webhook?: string;
  jobId?: number;
}

interface ContentResult {
  contentId: string;
  verdict: string;
  decisionId: number | null;
  replayed: boolean;
  actions: Action[];
}

/** The webhook endpoint: records every delivery; 'hang' never answers (deliveries stay in flight), 'ok' answers 200. */
class Receiver extends EventEmitter {
  readonly deliveries: Delivery[] = [];
  mode: 'hang' | 'ok' = 'hang';
  phase: 1 | 2 = 1;
  readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();

  constructor() {
    super();
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/vigil`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const phase = this.phase;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const id = String(req.headers['vigil-delivery-id']);
    const event = JSON.parse(body.toString('utf8')) as Delivery['event'];
    this.deliveries.push({ id, phase, signed: verifySignature(SECRET, body, req.headers['vigil-signature'] as string | undefined), event });
    if (this.mode === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
    } else {
      res.writeHead(204).end();
    }
    this.emit('delivery');
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

interface Serve {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  closed: Promise<[number | null, NodeJS.Signals | null]>;
}

/** `vigil serve` as a child process; resolves once it prints its URL. */
async function startServe(dbUrl: string, dir: string, env: Record<string, string>, rulesPath: string): Promise<Serve> {
  const child = spawn(
    process.execPath,
    vigilNodeArgs(['--db', dbUrl, 'serve', '--port', '0', '--rules', rulesPath, '--no-demo', '--no-log', '--queue-lease-ms', String(LEASE_MS)]),
    // Its temp folder (uploads) inside the test's, which is removed: a kill -9 leaves it behind.
    { cwd: REPO, env: { ...process.env, ...env, [SECRET_ENV]: SECRET, TMPDIR: dir }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, signal) => resolve([code, signal])));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    void closed.then(([code, signal]) => reject(new Error(`vigil serve ended before listening (code ${code}, signal ${signal}):\n${stderr}`)));
  });
  return { child, url, stderr: () => stderr, closed };
}

/** Re-checks `check` on every receiver delivery and otherwise every 50 ms (a poll, not a wait for time to pass). */
async function waitUntil(receiver: Receiver, check: () => Promise<boolean>, what: string, deadline: number): Promise<void> {
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting until ${what}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 50);
      function done() {
        clearTimeout(timer);
        receiver.off('delivery', done);
        resolve();
      }
      receiver.once('delivery', done);
    });
  }
}

describe('service crash safety', () => {
  for (const engine of ENGINE_NAMES) crashTest(engine);
});

function crashTest(engine: EngineName): void {
  it(`${engine}: kill -9 during a batch, restart: every content decided once, every webhook action delivered, none run twice`, { timeout: 180_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-service-crash-'));
    // The database: a SQLite file in the test's folder, or a fresh PostgreSQL schema (dropped afterwards).
    const schema = engine === 'postgres' ? freshSchema() : undefined;
    const dbUrl = schema ? TEST_POSTGRES_URL : join(dir, 'vigil.db');
    const env: Record<string, string> = { ...(schema ? { VIGIL_DATABASE_SCHEMA: schema } : {}), VIGIL_EVIDENCE_DIR: join(dir, 'evidence') };
    const cli = async (...args: string[]) => {
      const r = await runVigil(['--db', dbUrl, ...args], { ...process.env, ...env });
      assert.equal(r.status, 0, `vigil ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const rulesPath = join(dir, 'rules.json');
    const receiver = new Receiver();
    const children: ChildProcess[] = [];
    t.after(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await receiver.close();
      if (schema) await dropSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    });
    const hookUrl = await receiver.listen();

    // A block bank of random MD5s (stand-ins for a real list: no content behind them), a key, and the rules.
    const md5s = Array.from({ length: N }, () => randomBytes(16).toString('hex'));
    writeFileSync(join(dir, 'list.txt'), md5s.map((m) => `md5 ${m}\n`).join(''));
    await cli('bank', 'create', BANK, '--kind', 'block', '--source', 'service crash test (random benign hashes)');
    await cli('bank', 'import', BANK, join(dir, 'list.txt'), '--no-progress');
    const secret = (JSON.parse(await cli('key', 'create', '--name', 'crash-test', '--scope', 'admin', '--rate-limit', '0', '--json')) as { secret: string }).secret;
    writeFileSync(rulesPath, JSON.stringify({
      version: 1,
      webhooks: { [HOOK]: { url: hookUrl, secretEnv: SECRET_ENV } },
      rules: [{
        id: 'block-and-tell',
        description: 'A block-bank match: block, tell the receiver, disable the account.',
        when: { bankKind: 'block' },
        then: [{ type: 'block' }, { type: 'notify', webhook: HOOK }, { type: 'disable_account', webhook: HOOK }],
      }],
    }));

    const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
    const contentId = (i: number) => `crash-${i}`;
    const submit = async (url: string, i: number) => {
      const res = await fetch(`${url}/v1/content`, { method: 'POST', headers, body: JSON.stringify({ contentId: contentId(i), accountId: `account-${i}`, hashes: { md5: md5s[i] } }) });
      return { status: res.status, body: (await res.json()) as ContentResult };
    };

    // Run 1: submit until the kill.
    let serve = await startServe(dbUrl, dir, env, rulesPath);
    children.push(serve.child);
    const acked = new Map<string, number>();
    const unexpected: string[] = [];
    let killed = false;
    let seenBeforeKill = new Set<string>();
    let killedNow!: () => void;
    const killedSignal = new Promise<void>((resolve) => { killedNow = resolve; });
    const maybeKill = () => {
      if (killed || acked.size < KILL_AFTER_ACKS || receiver.deliveries.length === 0) return;
      killed = true;
      serve.child.kill('SIGKILL');
      seenBeforeKill = new Set(receiver.deliveries.map((d) => d.id));
      killedNow();
    };
    receiver.on('delivery', maybeKill);
    let next = 0;
    let failedRequests = 0;
    let lost = 0;
    const client = async () => {
      while (!killed) {
        if (next >= N - RESERVE) {
          await killedSignal;
          return;
        }
        const i = next++;
        try {
          const { status, body } = await submit(serve.url, i);
          if (status !== 200 || typeof body.decisionId !== 'number') unexpected.push(`${contentId(i)}: HTTP ${status} ${JSON.stringify(body)}`);
          // A client that never got the answer (its connection dropped, it timed out): decided, not acknowledged.
          else if (i % LOST_EVERY === LOST_EVERY - 1) lost++;
          else acked.set(contentId(i), body.decisionId);
        } catch {
          failedRequests++; // the service died under this request: not acknowledged
        }
        maybeKill();
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const [code, signal] = await serve.closed;
    assert.equal(signal, 'SIGKILL', `vigil serve ended on its own (code ${code}):\n${serve.stderr()}`);
    assert.deepEqual(unexpected, []);
    assert.ok(acked.size >= KILL_AFTER_ACKS && acked.size <= N - RESERVE, `acknowledged ${acked.size}`);

    // What the kill left: every acknowledged decision is durable; some jobs were running (leased by the dead process).
    const db = await openDatabase(dbUrl, schema ? { schema, poolSize: 2 } : {});
    t.after(() => db.close().catch(() => undefined));
    const rows = async <R,>(query: ReturnType<typeof sql<R>>) => (await query.execute(db.k)).rows;
    const decisionsAt = (id: string) => rows<{ id: number }>(sql`SELECT id FROM decisions WHERE content_id = ${id}`);
    for (const [id, decisionId] of acked) assert.deepEqual(await decisionsAt(id), [{ id: decisionId }], `acknowledged ${id} survived the kill`);
    const payloadOf = (p: string | object) => (typeof p === 'string' ? JSON.parse(p) : p) as { event: { id: string } };
    const runningAtKill = (await rows<{ payload: string | object }>(sql`SELECT payload FROM queue_jobs WHERE state = 'running'`)).map((r) => payloadOf(r.payload).event.id);
    assert.ok(runningAtKill.length > 0, 'deliveries were in flight at the kill');
    const decidedAtKill = new Map((await rows<{ content_id: string; id: number }>(sql`SELECT content_id, id FROM decisions`)).map((r) => [r.content_id, r.id]));
    assert.ok(decidedAtKill.size > acked.size, 'some decided content was not acknowledged');

    // Run 2: the receiver answers; clients send every content of the batch again.
    receiver.mode = 'ok';
    receiver.phase = 2;
    serve = await startServe(dbUrl, dir, env, rulesPath);
    children.push(serve.child);
    const results = new Map<string, ContentResult>();
    let k = 0;
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (k < N) {
        const i = k++;
        const { status, body } = await submit(serve.url, i);
        assert.equal(status, 200, JSON.stringify(body));
        results.set(contentId(i), body);
      }
    }));
    for (const [id, r] of results) {
      assert.equal(r.verdict, 'block', id);
      assert.equal(typeof r.decisionId, 'number', id);
      if (decidedAtKill.has(id)) {
        assert.equal(r.replayed, true, `${id} was decided before the kill${acked.has(id) ? ' and acknowledged' : ''}: its retry replays`);
        assert.equal(r.decisionId, decidedAtKill.get(id), `${id} keeps its decision`);
      } else {
        assert.equal(r.replayed, false, `${id} was not decided before the kill`);
      }
      assert.deepEqual(r.actions.filter((a) => a.status === 'queued').map((a) => a.type), WEBHOOK_ACTIONS, `${id} actions`);
    }

    // Wait for the queue to drain: nothing pending or running (the jobs leased by the dead process come back after LEASE_MS).
    const webhookStats = async () => {
      const res = await fetch(`${serve.url}/v1/jobs?queue=webhook&limit=1`, { headers });
      return ((await res.json()) as { stats: Record<string, Record<string, number>> }).stats.webhook;
    };
    await waitUntil(receiver, async () => {
      const s = await webhookStats();
      return s.pending === 0 && s.running === 0;
    }, 'the webhook queue is drained', Date.now() + 120_000);

    // Exactly one decision per content, seen through the API.
    const expectedIds = new Set<string>();
    for (let i = 0; i < N; i++) {
      const res = await fetch(`${serve.url}/v1/content/${contentId(i)}`, { headers });
      const { decisions } = (await res.json()) as { decisions: ContentResult[] };
      assert.equal(decisions.length, 1, `${contentId(i)} has exactly one decision`);
      const [d] = decisions;
      assert.equal(d.decisionId, results.get(contentId(i))!.decisionId);
      d.actions.forEach((a, index) => { if (a.status === 'queued') expectedIds.add(`decision-${d.decisionId}-${index}`); });
    }
    assert.equal(expectedIds.size, N * WEBHOOK_ACTIONS.length);

    // One job per planned webhook action, all delivered.
    const jobs = await rows<{ key: string; state: string; attempts: number }>(sql`SELECT idempotency_key AS key, state, attempts FROM queue_jobs WHERE queue = 'webhook'`);
    assert.equal(jobs.length, expectedIds.size, 'no second job for any action');
    assert.deepEqual(new Set(jobs.map((j) => j.key)), new Set([...expectedIds].map((id) => `webhook:${HOOK}:${id}`)));
    assert.deepEqual(jobs.filter((j) => j.state !== 'done'), [], 'every webhook job is done');
    assert.equal(Number((await rows<{ n: number }>(sql`SELECT COUNT(*) AS n FROM decisions`))[0]!.n), N);

    // The receiver's view: every planned delivery id arrived, signed, for the right content; none unplanned;
    // after the restart each arrived exactly once; an id arrived twice only if it had reached the receiver before the kill.
    const byId = new Map<string, Delivery[]>();
    for (const d of receiver.deliveries) byId.set(d.id, [...(byId.get(d.id) ?? []), d]);
    assert.deepEqual(new Set(byId.keys()), expectedIds, 'exactly the planned deliveries');
    assert.ok(receiver.deliveries.every((d) => d.signed), 'every delivery carries a valid signature');
    for (const [id, list] of byId) {
      const decisionId = Number(/^decision-(\d+)-\d+$/.exec(id)?.[1]);
      const owner = [...results.values()].find((r) => r.decisionId === decisionId);
      assert.ok(owner, `${id} belongs to a decision of the batch`);
      for (const d of list) assert.deepEqual([d.event.id, d.event.data.contentId, d.event.data.decisionId], [id, owner.contentId, decisionId]);
      // Only a 2xx completes a job, and the receiver answered none before the kill.
      assert.equal(list.filter((d) => d.phase === 2).length, 1, `${id}: deliveries after the restart`);
      if (list.length > 1) assert.ok(seenBeforeKill.has(id), `${id} arrived ${list.length} times though it was never in flight at the kill`);
    }
    const duplicates = [...byId.values()].filter((l) => l.length > 1).length;

    // The decisions were each audited once, and the log still verifies after the kill.
    const [audited] = await rows<{ n: number }>(sql`SELECT COUNT(*) AS n FROM audit_log WHERE action = 'decision.created'`);
    assert.equal(Number(audited!.n), N, 'one decision.created entry per decision');
    await db.close();
    serve.child.kill('SIGTERM');
    const [code2, signal2] = await serve.closed;
    assert.equal(code2, 0, `graceful stop after the restart (signal ${signal2}):\n${serve.stderr()}`);
    const verify = await runVigil(['--db', dbUrl, 'audit', 'verify'], { ...process.env, ...env });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /audit log ok/);

    t.diagnostic(`acknowledged before the kill ${acked.size}/${N}; answers dropped by clients ${lost}; requests cut off by the kill ${failedRequests}; `
      + `decided at the kill ${decidedAtKill.size} (replayed on retry); jobs running at the kill ${runningAtKill.length}; `
      + `deliveries seen before the kill ${seenBeforeKill.size}; delivered twice ${duplicates}`);
  });
}
