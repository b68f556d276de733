import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { VigilError } from '../core/errors.js';
import { ENGINES, type TestEngine } from '../state/test-engines.js';
import { SqlJobQueue } from './sql-queue.js';
import type { Job } from './types.js';
import { isPermanentError, permanentError, QueueWorker } from './worker.js';

const T0 = 1_700_000_000_000;

async function setupOn(engine: TestEngine, t: TestContext) {
  const test = await engine.open();
  t.after(() => test.drop());
  const clock = { t: T0 };
  const queue = await SqlJobQueue.open(test.db, { now: () => clock.t, backoff: (n) => n * 1000 });
  return { clock, queue, now: () => clock.t };
}

/** A promise with its resolver, to hold handlers open and to wait for events without timers. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

const keys = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => ({ queue: 'q', idempotencyKey: `${prefix}${i}`, payload: i }));

for (const engine of ENGINES) {
  describe(`QueueWorker (${engine.name})`, () => {
    const setup = (t: TestContext) => setupOn(engine, t);

    it('runOnce claims up to the concurrency, runs handlers concurrently and completes them', async (t) => {
      const { queue, now } = await setup(t);
      await queue.enqueueAlone(keys(6));
      const gate = deferred();
      const allStarted = deferred();
      let active = 0;
      let peak = 0;
      const seen: unknown[] = [];
      const worker = new QueueWorker({
        queue, now, concurrency: 4,
        handlers: {
          q: async (job) => {
            seen.push(job.payload);
            peak = Math.max(peak, ++active);
            if (peak === 4) allStarted.resolve();
            await gate.promise;
            active--;
          },
        },
      });
      const first = worker.runOnce();
      await allStarted.promise;
      assert.deepEqual(seen, [0, 1, 2, 3]);
      gate.resolve();
      assert.equal(await first, 4);
      assert.equal(await worker.runOnce(), 2);
      assert.equal(await worker.runOnce(), 0);
      assert.equal(peak, 4);
      assert.deepEqual((await queue.stats()).q, { pending: 0, running: 0, done: 6, dead: 0 });
    });

    it('retries a failing handler after the backoff and reports errors', async (t) => {
      const { queue, clock, now } = await setup(t);
      const [{ job }] = await queue.enqueueAlone(keys(1));
      const errors: string[] = [];
      let calls = 0;
      const worker = new QueueWorker({
        queue, now,
        handlers: { q: async () => { if (++calls < 3) throw new VigilError('VIGIL_ERR_WEBHOOK_FAILED', `try ${calls}`); } },
        onError: (j, err) => errors.push(`${j.id}:${(err as Error).message}`),
      });
      assert.equal(await worker.runOnce(), 1);
      let state = await queue.get(job.id);
      assert.deepEqual([state?.state, state?.attempts, state?.runAt, state?.lastError], ['pending', 1, T0 + 1000, 'VIGIL_ERR_WEBHOOK_FAILED: try 1']);
      assert.equal(await worker.runOnce(), 0, 'not due yet');
      clock.t = T0 + 1000;
      assert.equal(await worker.runOnce(), 1);
      clock.t += 2000;
      assert.equal(await worker.runOnce(), 1);
      state = await queue.get(job.id);
      assert.deepEqual([state?.state, state?.attempts], ['done', 2]);
      assert.deepEqual(errors, [`${job.id}:try 1`, `${job.id}:try 2`]);
    });

    it('dead-letters at once on a permanent error, and after maxAttempts; onDead sees the dead job', async (t) => {
      const { queue, clock, now } = await setup(t);
      await queue.enqueueAlone([{ queue: 'perm', idempotencyKey: 'p', payload: null }, { queue: 'flaky', idempotencyKey: 'f', payload: null, maxAttempts: 2 }]);
      const dead: Job[] = [];
      const worker = new QueueWorker({
        queue, now,
        handlers: {
          perm: async () => { throw permanentError(new VigilError('VIGIL_ERR_NOT_FOUND', 'gone')); },
          flaky: async () => { throw new Error('still down'); },
        },
        onDead: (j) => dead.push(j),
        onError: () => { throw new Error('a throwing callback must not break the worker'); },
      });
      assert.equal(await worker.runOnce(), 2);
      assert.deepEqual(dead.map((j) => [j.idempotencyKey, j.state, j.attempts, j.lastError]), [['p', 'dead', 1, 'VIGIL_ERR_NOT_FOUND: gone']]);
      clock.t += 1000;
      assert.equal(await worker.runOnce(), 1);
      assert.deepEqual(dead.map((j) => [j.idempotencyKey, j.state, j.attempts]), [['p', 'dead', 1], ['f', 'dead', 2]]);
      assert.ok(isPermanentError(permanentError(new Error('x'))));
      assert.ok(!isPermanentError(new Error('x')) && !isPermanentError(null) && !isPermanentError('permanent'));
    });

    it('honours retryAt on a handler error (e.g. from Retry-After)', async (t) => {
      const { queue, now } = await setup(t);
      const [{ job }] = await queue.enqueueAlone(keys(1));
      const worker = new QueueWorker({ queue, now, handlers: { q: async () => { throw Object.assign(new Error('slow down'), { retryAt: T0 + 42_000 }); } } });
      await worker.runOnce();
      assert.equal((await queue.get(job.id))?.runAt, T0 + 42_000);
    });

    it('does not run its own job twice when the lease lapses mid-handler; a stale completion is reported, not applied', async (t) => {
      const { queue, clock, now } = await setup(t);
      const [{ job }] = await queue.enqueueAlone(keys(1));
      const gate = deferred();
      const started = deferred();
      let runs = 0;
      const errors: unknown[] = [];
      const slow = new QueueWorker({
        queue, now, leaseMs: 1000, workerId: 'slow',
        handlers: { q: async () => { runs++; started.resolve(); await gate.promise; } },
        onError: (_j, err) => errors.push(err),
      });
      const pending = slow.runOnce();
      await started.promise;
      clock.t = T0 + 1000;
      assert.equal(await slow.runOnce(), 0, 're-claimed by itself: lease renewed, not run again');
      assert.equal(runs, 1);
      clock.t = T0 + 2000;
      const other = await queue.claim(['q'], { limit: 1, leaseMs: 1000, workerId: 'fast' });
      assert.deepEqual(other.map((j) => j.id), [job.id]);
      await queue.complete(job.id, 'fast');
      gate.resolve();
      assert.equal(await pending, 1);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof VigilError && errors[0].code === 'VIGIL_ERR_CONFLICT');
      const final = await queue.get(job.id);
      assert.deepEqual([final?.state, final?.attempts], ['done', 2]);
    });

    it('start() runs jobs on notify(); stop() stops claiming and waits for in-flight handlers', async (t) => {
      const { queue } = await setup(t); // the loop's timers use real time, so no job here waits on the injected clock
      const gate = deferred();
      const started = deferred<number>();
      const ran: number[] = [];
      const worker = new QueueWorker({
        queue, pollMs: 60_000, now: () => T0,
        handlers: { q: async (job) => { started.resolve(job.id); await gate.promise; ran.push(job.id); } },
      });
      worker.start();
      worker.start(); // idempotent
      const [{ job }] = await queue.enqueueAlone(keys(1));
      worker.notify();
      assert.equal(await started.promise, job.id);
      let stopped = false;
      const stopping = worker.stop().then(() => { stopped = true; });
      await new Promise((r) => setImmediate(r));
      assert.equal(stopped, false, 'stop waits for the in-flight handler');
      await queue.enqueueAlone(keys(1, 'late'));
      worker.notify();
      gate.resolve();
      await stopping;
      assert.deepEqual(ran, [job.id]);
      assert.equal((await queue.get(job.id))?.state, 'done');
      assert.equal((await queue.getByKey('late0'))?.state, 'pending', 'nothing claimed after stop()');
    });

    it('validates its options', async (t) => {
      const { queue } = await setup(t);
      assert.throws(() => new QueueWorker({ queue, handlers: {} }), /handler/);
      assert.throws(() => new QueueWorker({ queue, handlers: { q: async () => {} }, concurrency: 0 }), /concurrency/);
      assert.throws(() => new QueueWorker({ queue, handlers: { q: async () => {} }, leaseMs: -1 }), /leaseMs/);
    });
  });
}
