import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { after, describe, it, type TestContext } from 'node:test';
import { ENGINES, type TestEngine } from '../state/test-engines.js';
import { SqlJobQueue } from '../queue/sql-queue.js';
import type { Job } from '../queue/types.js';
import { QueueWorker } from '../queue/worker.js';
import { DELIVERY_ID_HEADER, WEBHOOK_QUEUE, webhookHandler, webhookJob, type WebhookEndpoint, type WebhookEvent } from './deliver.js';
import { verifySignature } from './sign.js';

const T0 = 1_700_000_000_000;
const SECRET = 'whsec_test_only';

interface Received { path: string; headers: IncomingHttpHeaders; body: string }

/** A local receiver: `reply` decides each response from what arrived; every request is recorded. */
async function receiver(reply: (req: Received, n: number, res: ServerResponse) => void) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      reply(r, received.length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  after(close);
  return { url: `http://127.0.0.1:${port}`, received, close };
}

function event(id = 'evt_1'): WebhookEvent {
  return { id, type: 'decision.block', createdAt: '2023-11-14T22:13:20.000Z', data: { upload: 'u-1', bank: 'test-bank' } };
}

/** Queue + worker with one clock on a fresh database; the handler signs with the same clock, in seconds. */
async function rigOn(engine: TestEngine, t: TestContext, endpoints: WebhookEndpoint[]) {
  const test = await engine.open();
  t.after(() => test.drop());
  const clock = { t: T0 };
  const queue = await SqlJobQueue.open(test.db, { now: () => clock.t, backoff: (n) => n * 1000 });
  const dead: Job[] = [];
  const byName = new Map(endpoints.map((e) => [e.name, e]));
  const worker = new QueueWorker({
    queue, now: () => clock.t,
    handlers: { [WEBHOOK_QUEUE]: webhookHandler((name) => byName.get(name), { nowSec: () => Math.floor(clock.t / 1000) }) },
    onDead: (j) => dead.push(j),
  });
  return { db: test.db, clock, queue, worker, dead };
}

for (const engine of ENGINES) {
  describe(`webhook delivery (${engine.name})`, () => {
    const rig = (t: TestContext, endpoints: WebhookEndpoint[]) => rigOn(engine, t, endpoints);

    it('builds an idempotent job per endpoint and event', async (t) => {
      const j = webhookJob('siem', event('evt_9'), { priority: 3 });
      assert.deepEqual(j, { queue: 'webhook', idempotencyKey: 'webhook:siem:evt_9', payload: { endpoint: 'siem', event: event('evt_9') }, priority: 3, maxAttempts: 12 });
      assert.equal(webhookJob('a', event(), { maxAttempts: 2 }).maxAttempts, 2);
      const { queue } = await rig(t, []);
      const [a, b] = await queue.enqueueAlone([webhookJob('siem', event()), webhookJob('siem', event())]);
      assert.deepEqual([a.created, b.created, b.job.id], [true, false, a.job.id]);
      assert.throws(() => webhookJob('', event()), /endpointName/);
      assert.throws(() => webhookJob('x', { ...event(), id: '' }), /event\.id/);
    });

    it('delivers only what committed: the webhook job is written in the decision\'s own transaction', async (t) => {
      const srv = await receiver((_r, _n, res) => res.writeHead(204).end());
      const { db, queue, worker } = await rig(t, [{ name: 'siem', url: srv.url, secret: SECRET }]);
      await sql`CREATE TABLE outbox_decisions (id TEXT PRIMARY KEY)`.execute(db.k);
      const decide = (id: string, fail: boolean) => db.transaction(async (tx) => {
        await sql`INSERT INTO outbox_decisions (id) VALUES (${id})`.execute(tx.k);
        await queue.enqueue(tx, [webhookJob('siem', event(`evt_${id}`))]);
        if (fail) throw new Error('the decision failed after its webhook was enqueued');
      });
      await assert.rejects(decide('rolled-back', true), /decision failed/);
      await decide('kept', false);
      assert.equal(await worker.runOnce(), 1);
      assert.deepEqual(srv.received.map((r) => r.headers[DELIVERY_ID_HEADER]), ['evt_kept']);
    });

    it('POSTs the signed event; the receiver verifies the signature over the raw body', async (t) => {
      const srv = await receiver((_r, _n, res) => res.writeHead(204).end());
      const { queue, worker, clock } = await rig(t, [{ name: 'siem', url: `${srv.url}/hook?token=abc`, secret: SECRET }]);
      const [{ job }] = await queue.enqueueAlone([webhookJob('siem', event())]);
      assert.equal(await worker.runOnce(), 1);
      assert.equal((await queue.get(job.id))?.state, 'done');
      assert.equal(srv.received.length, 1);
      const [r] = srv.received;
      assert.equal(r.path, '/hook?token=abc');
      assert.deepEqual(JSON.parse(r.body), event());
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['user-agent'], 'vigil/0.1');
      assert.equal(r.headers['vigil-delivery-id'], 'evt_1');
      assert.equal(r.headers['vigil-event'], 'decision.block');
      assert.equal(r.headers['vigil-attempt'], '1');
      const sig = r.headers['vigil-signature'] as string;
      assert.match(sig, new RegExp(`^t=${T0 / 1000},v1=[0-9a-f]{64}$`));
      assert.equal(verifySignature(SECRET, r.body, sig, { nowSec: clock.t / 1000 }), true);
      assert.equal(verifySignature('wrong', r.body, sig, { nowSec: clock.t / 1000 }), false);
    });

    it('signs with previous secrets too during a rotation', async (t) => {
      const srv = await receiver((_r, _n, res) => res.writeHead(200).end('ok'));
      const { queue, worker, clock } = await rig(t, [{ name: 'siem', url: srv.url, secret: 'new', previousSecrets: ['old'] }]);
      await queue.enqueueAlone([webhookJob('siem', event())]);
      await worker.runOnce();
      const [r] = srv.received;
      for (const s of ['new', 'old']) assert.equal(verifySignature(s, r.body, r.headers['vigil-signature'] as string, { nowSec: clock.t / 1000 }), true);
    });

    it('retries a 500 with backoff, then delivers the same event id with the next attempt number', async (t) => {
      const srv = await receiver((_r, n, res) => (n === 1 ? res.writeHead(500).end('upstream exploded') : res.writeHead(200).end()));
      const { queue, worker, clock } = await rig(t, [{ name: 'siem', url: srv.url, secret: SECRET }]);
      const [{ job }] = await queue.enqueueAlone([webhookJob('siem', event())]);
      await worker.runOnce();
      const failed = await queue.get(job.id);
      assert.deepEqual([failed?.state, failed?.attempts, failed?.runAt], ['pending', 1, T0 + 1000]);
      assert.equal(failed?.lastError, 'VIGIL_ERR_WEBHOOK_FAILED: Webhook "siem": HTTP 500: upstream exploded');
      assert.equal(await worker.runOnce(), 0);
      clock.t = T0 + 1000;
      await worker.runOnce();
      assert.equal((await queue.get(job.id))?.state, 'done');
      assert.deepEqual(srv.received.map((r) => [r.headers['vigil-delivery-id'], r.headers['vigil-attempt']]), [['evt_1', '1'], ['evt_1', '2']]);
    });

    it('dead-letters a 410 Gone and an unknown endpoint at once', async (t) => {
      const srv = await receiver((_r, _n, res) => res.writeHead(410).end('endpoint removed'));
      const { queue, worker, dead } = await rig(t, [{ name: 'old', url: srv.url, secret: SECRET }]);
      await queue.enqueueAlone([webhookJob('old', event('e1')), webhookJob('missing', event('e2'))]);
      assert.equal(await worker.runOnce(), 2);
      assert.deepEqual(dead.map((j) => [j.idempotencyKey, j.state, j.attempts]).sort(), [
        ['webhook:missing:e2', 'dead', 1], ['webhook:old:e1', 'dead', 1],
      ]);
      assert.deepEqual(dead.map((j) => j.lastError).sort(), [
        'VIGIL_ERR_NOT_FOUND: No webhook endpoint named "missing"',
        'VIGIL_ERR_WEBHOOK_FAILED: Webhook "old": HTTP 410: endpoint removed',
      ]);
      assert.equal(srv.received.length, 1);
    });

    it('does not follow redirects (a failure, retried)', async (t) => {
      const srv = await receiver((r, _n, res) => (r.path === '/hook' ? res.writeHead(302, { location: '/internal' }).end() : res.writeHead(200).end()));
      const { queue, worker } = await rig(t, [{ name: 'siem', url: `${srv.url}/hook`, secret: SECRET }]);
      const [{ job }] = await queue.enqueueAlone([webhookJob('siem', event())]);
      await worker.runOnce();
      assert.deepEqual(srv.received.map((r) => r.path), ['/hook']);
      const j = await queue.get(job.id);
      assert.equal(j?.state, 'pending');
      assert.match(j?.lastError ?? '', /HTTP 302 redirect not followed \(location \/internal\)/);
    });

    it('gives up on a receiver that does not answer within timeoutMs (retried)', async (t) => {
      const srv = await receiver(() => { /* never responds; the server's close() ends the socket */ });
      const { queue, worker } = await rig(t, [{ name: 'slow', url: srv.url, secret: SECRET, timeoutMs: 100 }]);
      const [{ job }] = await queue.enqueueAlone([webhookJob('slow', event())]);
      await worker.runOnce();
      const j = await queue.get(job.id);
      assert.deepEqual([j?.state, j?.lastError], ['pending', 'VIGIL_ERR_WEBHOOK_FAILED: Webhook "slow": timed out after 100 ms']);
      await srv.close();
    });

    it('reports a refused connection, truncates long error bodies, and honours Retry-After', async (t) => {
      const gone = await receiver(() => undefined);
      await gone.close();
      const srv = await receiver((r, _n, res) => (r.path === '/long'
        ? res.writeHead(502).end(`${'x'.repeat(150)}\n\n${'y'.repeat(10_000)}`)
        : res.writeHead(503, { 'retry-after': '120' }).end()));
      const { queue, worker, clock } = await rig(t, [
        { name: 'refused', url: gone.url, secret: SECRET },
        { name: 'long', url: `${srv.url}/long`, secret: SECRET },
        { name: 'busy', url: `${srv.url}/busy`, secret: SECRET },
      ]);
      await queue.enqueueAlone(['refused', 'long', 'busy'].map((n) => webhookJob(n, event())));
      await worker.runOnce();
      const [refused, long, busy] = await queue.list();
      assert.equal(refused.lastError, 'VIGIL_ERR_WEBHOOK_FAILED: Webhook "refused": network error: ECONNREFUSED');
      const snippet = (long.lastError ?? '').split('HTTP 502: ')[1];
      assert.equal(snippet.length, 200);
      assert.equal(snippet, `${'x'.repeat(150)} ${'y'.repeat(48)}…`);
      assert.deepEqual([busy.state, busy.runAt], ['pending', clock.t + 120_000]);
      assert.equal(long.runAt, clock.t + 1000);
    });

    it('dead-letters a job whose endpoint URL is unusable', async (t) => {
      const { queue, worker, dead } = await rig(t, [{ name: 'ftp', url: 'ftp://example.test/x', secret: SECRET }, { name: 'bad', url: 'not a url', secret: SECRET }]);
      await queue.enqueueAlone([webhookJob('ftp', event()), webhookJob('bad', event())]);
      await worker.runOnce();
      assert.deepEqual(dead.map((j) => j.lastError?.split(':')[0]), ['VIGIL_ERR_INVALID_ARGUMENT', 'VIGIL_ERR_INVALID_ARGUMENT']);
    });

    it('uses an injected fetch with manual redirects and a timeout signal', async () => {
      const calls: RequestInit[] = [];
      const fakeFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
        calls.push(init ?? {});
        return new Response(null, { status: 202 });
      }) as typeof fetch;
      const handler = webhookHandler(() => ({ name: 'x', url: 'https://example.test/h', secret: SECRET }), { fetch: fakeFetch, nowSec: () => 1 });
      const job = { id: 1, attempts: 4, payload: { endpoint: 'x', event: event() } } as Job;
      await handler(job);
      assert.equal(calls[0].redirect, 'manual');
      assert.ok(calls[0].signal instanceof AbortSignal);
      assert.equal((calls[0].headers as Record<string, string>)['vigil-attempt'], '5');
      await assert.rejects(handler({ ...job, payload: { nope: true } }), (err: Error & { permanent?: boolean }) => err.permanent === true);
    });
  });
}
