import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { VigilError } from '../core/errors.js';
import { openStateDb } from '../state/sqlite.js';
import { defaultBackoff, SqliteJobQueue } from './sqlite-queue.js';
import type { NewJob } from './types.js';
import { tempDir } from '../../test/helpers/temp.js';

const T0 = 1_700_000_000_000;

function setup(options: { backoff?: (attempt: number) => number } = {}) {
  const db = openStateDb(':memory:');
  const clock = { t: T0 };
  const queue = new SqliteJobQueue(db, { now: () => clock.t, ...options });
  return { db, clock, queue };
}

function job(key: string, extra: Partial<NewJob> = {}): NewJob {
  return { queue: 'q', idempotencyKey: key, payload: { key }, ...extra };
}

const lease = (workerId: string, limit = 10, leaseMs = 1000) => ({ limit, leaseMs, workerId });

async function rejectsWith(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof VigilError);
    assert.equal(err.code, code);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe('SqliteJobQueue', () => {
  it('enqueues idempotently on the key: a repeat returns the existing job, created=false', async () => {
    const { queue } = setup();
    const first = await queue.enqueue([job('a'), job('b', { priority: 5, maxAttempts: 3 }), job('a', { payload: 'other' })]);
    assert.deepEqual(first.map((r) => r.created), [true, true, false]);
    assert.equal(first[2].job.id, first[0].job.id);
    assert.deepEqual(first[0].job, {
      id: first[0].job.id, queue: 'q', idempotencyKey: 'a', payload: { key: 'a' }, priority: 0, state: 'pending',
      attempts: 0, maxAttempts: 10, runAt: T0, leaseUntil: null, lastError: null, createdAt: T0, updatedAt: T0, finishedAt: null,
    });
    assert.equal(first[1].job.priority, 5);
    assert.equal(first[1].job.maxAttempts, 3);
    const again = await queue.enqueue([job('b', { payload: 'changed' })]);
    assert.equal(again[0].created, false);
    assert.deepEqual(again[0].job, first[1].job);
    assert.deepEqual(await queue.getByKey('b'), first[1].job);
    assert.deepEqual(await queue.get(first[0].job.id), first[0].job);
    assert.equal(await queue.get(999), undefined);
    assert.equal(await queue.getByKey('nope'), undefined);
  });

  it('rejects an invalid batch as a whole, before writing anything', async () => {
    const { queue } = setup();
    const bad: unknown[] = [
      job(''), { ...job('x'), queue: '' }, job('x', { priority: 1.5 }), job('x', { maxAttempts: 0 }),
      job('x', { runAt: Number.NaN }), job('x', { payload: undefined }), job('x', { payload: 10n }),
    ];
    for (const b of bad) {
      await rejectsWith(queue.enqueue([job('ok'), b as NewJob]), 'VIGIL_ERR_INVALID_ARGUMENT');
    }
    assert.deepEqual(await queue.list(), []);
  });

  it('claims due jobs by priority desc, then runAt, then id; future jobs wait', async () => {
    const { queue, clock } = setup();
    await queue.enqueue([
      job('low-early', { priority: 0, runAt: T0 - 500 }),
      job('high', { priority: 10 }),
      job('low-late', { priority: 0 }),
      job('future', { priority: 99, runAt: T0 + 1000 }),
      job('mid', { priority: 5, runAt: T0 - 10 }),
      job('other-queue', { queue: 'r', priority: 7 }),
      job('unclaimed-queue', { queue: 's', priority: 100 }),
    ]);
    const claimed = await queue.claim(['q', 'r'], lease('w1'));
    assert.deepEqual(claimed.map((j) => j.idempotencyKey), ['high', 'other-queue', 'mid', 'low-early', 'low-late']);
    assert.ok(claimed.every((j) => j.state === 'running' && j.leaseUntil === T0 + 1000));
    assert.deepEqual(await queue.claim(['q', 'r'], lease('w2')), []);
    clock.t = T0 + 1000; // 'future' is due, and the leases above expired at the same instant
    const next = await queue.claim(['q'], lease('w2', 1));
    assert.deepEqual(next.map((j) => j.idempotencyKey), ['future']);
    assert.deepEqual(await queue.claim(['q'], lease('w2', 0)), []);
  });

  it('retries with the default backoff: 1 s doubling, ±10 % jitter fixed by the job id, capped at 1 h', async () => {
    const { queue, clock } = setup();
    const [{ job: j }] = await queue.enqueue([job('a', { maxAttempts: 30 })]);
    for (let attempt = 1; attempt <= 4; attempt++) {
      const [c] = await queue.claim(['q'], lease('w'));
      assert.equal(c.id, j.id);
      const failed = await queue.fail(j.id, 'w', `boom ${attempt}`);
      const delay = defaultBackoff(attempt, j.id);
      const base = 1000 * 2 ** (attempt - 1);
      assert.ok(delay >= base * 0.9 && delay <= base * 1.1, `attempt ${attempt}: ${delay}`);
      assert.deepEqual([failed.state, failed.attempts, failed.runAt, failed.lastError], ['pending', attempt, clock.t + delay, `boom ${attempt}`]);
      clock.t = failed.runAt - 1;
      assert.deepEqual(await queue.claim(['q'], lease('w')), []);
      clock.t = failed.runAt;
    }
    assert.equal(defaultBackoff(3, 42), defaultBackoff(3, 42));
    const jitters = new Set(Array.from({ length: 50 }, (_, id) => defaultBackoff(1, id + 1)));
    assert.ok(jitters.size > 25, 'jitter differs between jobs');
    for (const id of [1, 2, 3, 1000, 123456]) {
      const capped = defaultBackoff(40, id);
      assert.ok(capped >= 3_240_000 && capped <= 3_960_000, String(capped));
    }
  });

  it('uses an injected backoff, or an explicit retryAt', async () => {
    const { queue, clock } = setup({ backoff: (attempt) => attempt * 100 });
    const [{ job: j }] = await queue.enqueue([job('a')]);
    await queue.claim(['q'], lease('w'));
    assert.equal((await queue.fail(j.id, 'w', 'x')).runAt, T0 + 100);
    clock.t += 100;
    await queue.claim(['q'], lease('w'));
    assert.equal((await queue.fail(j.id, 'w', 'x')).runAt, T0 + 100 + 200);
    clock.t += 200;
    await queue.claim(['q'], lease('w'));
    assert.equal((await queue.fail(j.id, 'w', 'x', { retryAt: T0 + 99_999 })).runAt, T0 + 99_999);
  });

  it('re-claims a job whose lease expired (counted as an attempt); the stale worker cannot complete or fail it', async () => {
    const { queue, clock } = setup();
    const [{ job: j }] = await queue.enqueue([job('a')]);
    await queue.claim(['q'], lease('dead-worker', 10, 1000));
    clock.t = T0 + 999;
    assert.deepEqual(await queue.claim(['q'], lease('w2')), []);
    assert.equal(await queue.nextDueAt(['q']), T0 + 1000);
    clock.t = T0 + 1000;
    const [again] = await queue.claim(['q'], lease('w2', 10, 5000));
    assert.equal(again.id, j.id);
    assert.equal(again.attempts, 1);
    assert.match(again.lastError ?? '', /lease expired \(worker dead-worker/);
    assert.equal(again.leaseUntil, T0 + 6000);
    await rejectsWith(queue.complete(j.id, 'dead-worker'), 'VIGIL_ERR_CONFLICT', /not leased by dead-worker.*leased by w2/);
    await rejectsWith(queue.fail(j.id, 'dead-worker', 'late'), 'VIGIL_ERR_CONFLICT');
    assert.equal((await queue.get(j.id))?.state, 'running');
    await queue.complete(j.id, 'w2');
    const done = await queue.get(j.id);
    assert.deepEqual([done?.state, done?.finishedAt, done?.leaseUntil], ['done', T0 + 1000, null]);
    await rejectsWith(queue.complete(j.id, 'w2'), 'VIGIL_ERR_CONFLICT', /state done/);
    await rejectsWith(queue.complete(999, 'w2'), 'VIGIL_ERR_NOT_FOUND');
  });

  it('lets a worker whose lease ran out still complete while nobody has re-claimed the job', async () => {
    const { queue, clock } = setup();
    const [{ job: j }] = await queue.enqueue([job('a')]);
    await queue.claim(['q'], lease('slow', 10, 1000));
    clock.t = T0 + 50_000;
    await queue.complete(j.id, 'slow');
    assert.equal((await queue.get(j.id))?.state, 'done');
  });

  it('dead-letters after maxAttempts, at once when permanent, and when leases keep expiring', async () => {
    const { queue, clock } = setup({ backoff: () => 10 });
    const [{ job: a }, { job: b }, { job: c }] = (await queue.enqueue([
      job('a', { maxAttempts: 3 }), job('b'), job('c', { maxAttempts: 2 }),
    ]));
    for (let i = 1; i <= 3; i++) {
      await queue.claim(['q'], lease('w', 10, 5));
      const failed = await queue.fail(a.id, 'w', `e${i}`);
      if (i === 1) await queue.fail(b.id, 'w', 'not retryable', { permanent: true });
      assert.equal(failed.state, i < 3 ? 'pending' : 'dead');
      if (i === 3) assert.deepEqual([failed.attempts, failed.lastError, failed.finishedAt], [3, 'e3', clock.t]);
      clock.t += 10;
    }
    const deadB = await queue.get(b.id);
    assert.deepEqual([deadB?.state, deadB?.attempts], ['dead', 1]);
    // c: leased at every round above and never settled; its second expiry reaches maxAttempts.
    const cNow = await queue.get(c.id);
    assert.deepEqual([cNow?.state, cNow?.attempts], ['dead', 2]);
    assert.match(cNow?.lastError ?? '', /lease expired/);
    assert.deepEqual((await queue.list({ state: 'dead' })).map((j) => j.idempotencyKey), ['a', 'b', 'c']);
    assert.deepEqual(await queue.claim(['q'], lease('w')), []);
    await rejectsWith(queue.fail(a.id, 'w', 'again'), 'VIGIL_ERR_CONFLICT');
  });

  it('lets an operator retry a dead job (attempts reset, claimable now)', async () => {
    const { queue, clock } = setup();
    const [{ job: j }, { job: other }] = await queue.enqueue([job('a', { maxAttempts: 1 }), job('b', { runAt: T0 + 10_000 })]);
    await queue.claim(['q'], lease('w'));
    assert.equal((await queue.fail(j.id, 'w', 'boom')).state, 'dead');
    clock.t = T0 + 5;
    const retried = await queue.retry(j.id);
    assert.deepEqual([retried.state, retried.attempts, retried.runAt, retried.finishedAt, retried.lastError], ['pending', 0, T0 + 5, null, 'boom']);
    assert.deepEqual((await queue.claim(['q'], lease('w'))).map((x) => x.id), [j.id]);
    await rejectsWith(queue.retry(j.id), 'VIGIL_ERR_CONFLICT', /running/);
    await rejectsWith(queue.retry(other.id), 'VIGIL_ERR_CONFLICT', /pending/);
    await rejectsWith(queue.retry(12345), 'VIGIL_ERR_NOT_FOUND');
  });

  it('enqueueSync commits or rolls back with the caller\'s own transaction (transactional outbox)', async () => {
    const { db, queue } = setup();
    db.exec('CREATE TABLE decisions (id TEXT PRIMARY KEY)');
    const count = () => (db.prepare('SELECT COUNT(*) AS n FROM decisions').get() as { n: number }).n;
    const decide = db.transaction((id: string, fail: boolean) => {
      db.prepare('INSERT INTO decisions (id) VALUES (?)').run(id);
      queue.enqueueSync([job(`action:${id}:1`), job(`action:${id}:2`)]);
      if (fail) throw new Error('decision failed after enqueue');
    });
    assert.throws(() => decide('d1', true), /decision failed/);
    assert.equal(count(), 0);
    assert.deepEqual(await queue.list(), []);
    decide('d2', false);
    assert.equal(count(), 1);
    assert.deepEqual((await queue.list()).map((j) => j.idempotencyKey), ['action:d2:1', 'action:d2:2']);
  });

  it('reports stats per queue and state, lists with filters and pages, and finds the next due time', async () => {
    const { queue, clock } = setup();
    await queue.enqueue([job('a'), job('b'), job('c', { runAt: T0 + 700 }), job('d', { queue: 'r', maxAttempts: 1 })]);
    await queue.claim(['r'], lease('w', 10, 300));
    const [d] = await queue.list({ queue: 'r' });
    await queue.fail(d.id, 'w', 'x');
    const [a] = await queue.claim(['q'], lease('w', 1, 300));
    await queue.complete(a.id, 'w');
    await queue.claim(['q'], lease('w', 1, 300));
    assert.deepEqual(await queue.stats(), {
      q: { pending: 1, running: 1, done: 1, dead: 0 },
      r: { pending: 0, running: 0, done: 0, dead: 1 },
    });
    assert.equal(await queue.nextDueAt(['q']), T0 + 300);
    assert.equal(await queue.nextDueAt(['r']), null);
    assert.equal(await queue.nextDueAt(['nothing']), null);
    const page1 = await queue.list({ limit: 2 });
    const page2 = await queue.list({ limit: 2, afterId: page1[1].id });
    assert.deepEqual([...page1, ...page2].map((j) => j.idempotencyKey), ['a', 'b', 'c', 'd']);
    assert.deepEqual((await queue.list({ queue: 'q', state: 'pending' })).map((j) => j.idempotencyKey), ['c']);
    await rejectsWith(queue.list({ limit: 0 }), 'VIGIL_ERR_INVALID_ARGUMENT');
    await rejectsWith(queue.list({ state: 'bogus' as never }), 'VIGIL_ERR_INVALID_ARGUMENT');
    clock.t = T0 + 10_000;
    assert.equal(queue.purgeDone(10_001), 0);
    assert.equal(queue.purgeDone(5_000), 1);
    assert.equal(await queue.getByKey('a'), undefined);
    assert.equal((await queue.getByKey('d'))?.state, 'dead', 'dead jobs are not purged');
  });

  it('purges in batches larger than one delete', async () => {
    const { queue, clock } = setup();
    const n = 5003;
    await queue.enqueue(Array.from({ length: n }, (_, i) => job(`p${i}`)));
    for (const j of await queue.claim(['q'], lease('w', n))) await queue.complete(j.id, 'w');
    clock.t += 1;
    assert.equal(queue.purgeDone(0), n);
    assert.deepEqual(await queue.stats(), {});
  });

  it('never reuses the id of a purged job, and keeps jobs across a reopen', async () => {
    const path = join(tempDir('queue'), 'state.db');
    let db = openStateDb(path);
    let queue = new SqliteJobQueue(db, { now: () => T0 });
    const [{ job: a }] = await queue.enqueue([job('a')]);
    await queue.claim(['q'], lease('w'));
    await queue.complete(a.id, 'w');
    assert.equal(queue.purgeDone(0), 0, 'finished this very millisecond');
    queue = new SqliteJobQueue(db, { now: () => T0 + 1 });
    assert.equal(queue.purgeDone(0), 1);
    db.close();
    db = openStateDb(path);
    queue = new SqliteJobQueue(db, { now: () => T0 + 2 });
    const [{ job: b }] = await queue.enqueue([job('b')]);
    assert.ok(b.id > a.id);
    await queue.enqueue([job('c')]);
    db.close();
    db = openStateDb(path);
    queue = new SqliteJobQueue(db);
    assert.deepEqual((await queue.list()).map((j) => j.idempotencyKey), ['b', 'c']);
    db.close();
  });
});
