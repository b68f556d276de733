import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { join } from 'node:path';
import { VigilError } from '../core/errors.js';
import { openDatabase } from '../state/database.js';
import { ENGINES, type TestEngine } from '../state/test-engines.js';
import { QUEUE_COMPONENT } from './schema.js';
import { defaultBackoff, SqlJobQueue } from './sql-queue.js';
import type { NewJob } from './types.js';
import { tempDir } from '../../test/helpers/temp.js';

const T0 = 1_700_000_000_000;

/** A fresh database on the engine (dropped after the test) and a queue on it with a test clock. */
async function setupOn(engine: TestEngine, t: TestContext, options: { backoff?: (attempt: number) => number } = {}) {
  const test = await engine.open();
  t.after(() => test.drop());
  const clock = { t: T0 };
  const queue = await SqlJobQueue.open(test.db, { now: () => clock.t, ...options });
  return { db: test.db, test, clock, queue };
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

for (const engine of ENGINES) {
  describe(`SqlJobQueue (${engine.name})`, () => {
    const setup = (t: TestContext, options: { backoff?: (attempt: number) => number } = {}) => setupOn(engine, t, options);

    it('enqueues idempotently on the key: a repeat returns the existing job, created=false', async (t) => {
      const { queue } = await setup(t);
      const first = await queue.enqueueAlone([job('a'), job('b', { priority: 5, maxAttempts: 3 }), job('a', { payload: 'other' })]);
      assert.deepEqual(first.map((r) => r.created), [true, true, false]);
      assert.equal(first[2].job.id, first[0].job.id);
      assert.deepEqual(first[0].job, {
        id: first[0].job.id, queue: 'q', idempotencyKey: 'a', payload: { key: 'a' }, priority: 0, state: 'pending',
        attempts: 0, maxAttempts: 10, runAt: T0, leaseUntil: null, lastError: null, createdAt: T0, updatedAt: T0, finishedAt: null,
      });
      assert.equal(first[1].job.priority, 5);
      assert.equal(first[1].job.maxAttempts, 3);
      const again = await queue.enqueueAlone([job('b', { payload: 'changed' })]);
      assert.equal(again[0].created, false);
      assert.deepEqual(again[0].job, first[1].job);
      assert.deepEqual(await queue.getByKey('b'), first[1].job);
      assert.deepEqual(await queue.get(first[0].job.id), first[0].job);
      assert.equal(await queue.get(999), undefined);
      assert.equal(await queue.getByKey('nope'), undefined);
    });

    it('rejects an invalid batch as a whole, before writing anything', async (t) => {
      const { queue } = await setup(t);
      const bad: unknown[] = [
        job(''), { ...job('x'), queue: '' }, job('x', { priority: 1.5 }), job('x', { maxAttempts: 0 }),
        job('x', { runAt: Number.NaN }), job('x', { payload: undefined }), job('x', { payload: 10n }),
      ];
      for (const b of bad) {
        await rejectsWith(queue.enqueueAlone([job('ok'), b as NewJob]), 'VIGIL_ERR_INVALID_ARGUMENT');
      }
      assert.deepEqual(await queue.list(), []);
    });

    it('claims due jobs by priority desc, then runAt, then id; future jobs wait', async (t) => {
      const { queue, clock } = await setup(t);
      await queue.enqueueAlone([
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

    it('retries with the default backoff: 1 s doubling, ±10 % jitter fixed by the job id, capped at 1 h', async (t) => {
      const { queue, clock } = await setup(t);
      const [{ job: j }] = await queue.enqueueAlone([job('a', { maxAttempts: 30 })]);
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

    it('uses an injected backoff, or an explicit retryAt', async (t) => {
      const { queue, clock } = await setup(t, { backoff: (attempt) => attempt * 100 });
      const [{ job: j }] = await queue.enqueueAlone([job('a')]);
      await queue.claim(['q'], lease('w'));
      assert.equal((await queue.fail(j.id, 'w', 'x')).runAt, T0 + 100);
      clock.t += 100;
      await queue.claim(['q'], lease('w'));
      assert.equal((await queue.fail(j.id, 'w', 'x')).runAt, T0 + 100 + 200);
      clock.t += 200;
      await queue.claim(['q'], lease('w'));
      assert.equal((await queue.fail(j.id, 'w', 'x', { retryAt: T0 + 99_999 })).runAt, T0 + 99_999);
    });

    it('re-claims a job whose lease expired (counted as an attempt); the stale worker cannot complete or fail it', async (t) => {
      const { queue, clock } = await setup(t);
      const [{ job: j }] = await queue.enqueueAlone([job('a')]);
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

    it('lets a worker whose lease ran out still complete while nobody has re-claimed the job', async (t) => {
      const { queue, clock } = await setup(t);
      const [{ job: j }] = await queue.enqueueAlone([job('a')]);
      await queue.claim(['q'], lease('slow', 10, 1000));
      clock.t = T0 + 50_000;
      await queue.complete(j.id, 'slow');
      assert.equal((await queue.get(j.id))?.state, 'done');
    });

    it('dead-letters after maxAttempts, at once when permanent, and when leases keep expiring', async (t) => {
      const { queue, clock } = await setup(t, { backoff: () => 10 });
      const [{ job: a }, { job: b }, { job: c }] = (await queue.enqueueAlone([
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

    it('lets an operator retry a dead job (attempts reset, claimable now)', async (t) => {
      const { queue, clock } = await setup(t);
      const [{ job: j }, { job: other }] = await queue.enqueueAlone([job('a', { maxAttempts: 1 }), job('b', { runAt: T0 + 10_000 })]);
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

    it('enqueue(tx) commits or rolls back with the caller\'s unit of work (transactional outbox)', async (t) => {
      const { db, queue } = await setup(t);
      await sql`CREATE TABLE outbox_decisions (id TEXT PRIMARY KEY)`.execute(db.k);
      const count = async () => Number((await sql<{ n: number }>`SELECT COUNT(*) AS n FROM outbox_decisions`.execute(db.k)).rows[0]!.n);
      const decide = (id: string, fail: boolean) => db.transaction(async (tx) => {
        await sql`INSERT INTO outbox_decisions (id) VALUES (${id})`.execute(tx.k);
        await queue.enqueue(tx, [job(`action:${id}:1`), job(`action:${id}:2`)]);
        if (fail) throw new Error('decision failed after enqueue');
      });
      await assert.rejects(decide('d1', true), /decision failed/);
      assert.equal(await count(), 0);
      assert.deepEqual(await queue.list(), []);
      await decide('d2', false);
      assert.equal(await count(), 1);
      assert.deepEqual((await queue.list()).map((j) => j.idempotencyKey), ['action:d2:1', 'action:d2:2']);
      // An invalid job rolls back the whole unit of work, decision included.
      await rejectsWith(db.transaction(async (tx) => {
        await sql`INSERT INTO outbox_decisions (id) VALUES (${'d3'})`.execute(tx.k);
        await queue.enqueue(tx, [job('action:d3:1', { priority: 0.5 })]);
      }), 'VIGIL_ERR_INVALID_ARGUMENT');
      assert.equal(await count(), 1);
    });

    it('never leases a job twice to concurrent claimers (separate connections on PostgreSQL)', async (t) => {
      const { db, test, queue } = await setup(t);
      const n = 120;
      await queue.enqueueAlone(Array.from({ length: n }, (_, i) => job(`c${i}`, { priority: i % 3 })));
      // PostgreSQL: a second pool is a second process as far as row locks go. SQLite: one connection per process.
      const other = engine.name === 'postgres' ? await openDatabase(test.url, { schema: test.schema }) : db;
      t.after(() => (other === db ? undefined : other.close()));
      const queues = [queue, new SqlJobQueue(other, { now: () => T0 })];
      const seen = new Map<number, string>();
      await Promise.all(Array.from({ length: 6 }, async (_, w) => {
        const workerId = `w${w}`;
        for (;;) {
          const claimed = await queues[w % 2]!.claim(['q'], lease(workerId, 7, 60_000));
          if (claimed.length === 0) return;
          for (const j of claimed) {
            assert.equal(seen.get(j.id), undefined, `job ${j.id} leased to ${seen.get(j.id)} and ${workerId}`);
            seen.set(j.id, workerId);
          }
        }
      }));
      assert.equal(seen.size, n);
      assert.ok(new Set(seen.values()).size > 1, 'the work was shared');
    });

    it('reports health per queue: due backlog and its oldest wait, retries waiting, running, dead', async (t) => {
      const { queue, clock } = await setup(t, { backoff: () => 500 });
      await queue.enqueueAlone([job('a', { runAt: T0 - 2000 }), job('b'), job('c', { runAt: T0 + 9000 }), job('x', { queue: 'r' }), job('y', { queue: 'r', maxAttempts: 1 })]);
      assert.deepEqual(await queue.health(), {
        q: { due: 2, oldestDueAgeMs: 2000, retrying: 0, running: 0, dead: 0 },
        r: { due: 2, oldestDueAgeMs: 0, retrying: 0, running: 0, dead: 0 },
      });
      const [x, y] = await queue.claim(['r'], lease('w'));
      await queue.fail(x!.id, 'w', 'down');
      await queue.fail(y!.id, 'w', 'down');
      await queue.claim(['q'], lease('w', 1));
      clock.t = T0 + 100;
      assert.deepEqual(await queue.health(), {
        q: { due: 1, oldestDueAgeMs: 100, retrying: 0, running: 1, dead: 0 },
        r: { due: 0, oldestDueAgeMs: 0, retrying: 1, running: 0, dead: 1 },
      });
    });

    it('reports stats per queue and state, lists with filters and pages, and finds the next due time', async (t) => {
      const { queue, clock } = await setup(t);
      await queue.enqueueAlone([job('a'), job('b'), job('c', { runAt: T0 + 700 }), job('d', { queue: 'r', maxAttempts: 1 })]);
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
      assert.equal(await queue.purgeDone(10_001), 0);
      assert.equal(await queue.purgeDone(5_000), 1);
      assert.equal(await queue.getByKey('a'), undefined);
      assert.equal((await queue.getByKey('d'))?.state, 'dead', 'dead jobs are not purged');
    });

    it('purges in batches larger than one delete', async (t) => {
      const { db, queue, clock } = await setup(t);
      const n = 5003;
      await queue.enqueueAlone(Array.from({ length: n }, (_, i) => job(`p${i}`)));
      assert.equal((await queue.claim(['q'], lease('w', n))).length, n);
      // Completed in one statement: 5,003 separate commits would only time the disk.
      await db.k.updateTable('queue_jobs').set({ state: 'done', lease_owner: null, lease_until: null, finished_at: clock.t }).execute();
      clock.t += 1;
      assert.equal(await queue.purgeDone(0), n);
      assert.deepEqual(await queue.stats(), {});
    });

    it('never reuses the id of a purged job, and keeps jobs for another connection', async (t) => {
      const { test, clock, queue } = await setup(t);
      const [{ job: a }] = await queue.enqueueAlone([job('a')]);
      await queue.claim(['q'], lease('w'));
      await queue.complete(a.id, 'w');
      assert.equal(await queue.purgeDone(0), 0, 'finished this very millisecond');
      clock.t = T0 + 1;
      assert.equal(await queue.purgeDone(0), 1);
      const [{ job: b }] = await queue.enqueueAlone([job('b')]);
      assert.ok(b.id > a.id);
      await queue.enqueueAlone([job('c')]);
      const again = await openDatabase(test.url, test.schema ? { schema: test.schema } : {});
      try {
        assert.deepEqual((await (await SqlJobQueue.open(again)).list()).map((j) => j.idempotencyKey), ['b', 'c']);
      } finally {
        await again.close();
      }
    });
  });
}

describe('SqlJobQueue on a SQLite file of the first release', () => {
  it('carries over its queue_jobs table and version (component_versions) unchanged', async () => {
    const path = join(tempDir('queue'), 'state.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE component_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at TEXT NOT NULL);
      INSERT INTO component_versions VALUES ('queue', 1, '2024-01-01T00:00:00.000Z');`);
    old.exec(QUEUE_COMPONENT.migrations[0].sqlite);
    old.prepare(`INSERT INTO queue_jobs (queue, idempotency_key, payload, priority, state, attempts, max_attempts, run_at, created_at, updated_at)
      VALUES ('q', 'old', '{"n":1}', 0, 'pending', 0, 10, ?, ?, ?)`).run(T0, T0, T0);
    old.close();
    const db = await openDatabase(path);
    try {
      const queue = await SqlJobQueue.open(db, { now: () => T0 });
      const [{ job: fresh, created }] = await queue.enqueueAlone([job('new')]);
      assert.equal(created, true);
      assert.deepEqual((await queue.claim(['q'], lease('w'))).map((j) => [j.idempotencyKey, j.payload]), [['old', { n: 1 }], ['new', { key: 'new' }]]);
      assert.ok(fresh.id > 1);
    } finally {
      await db.close();
    }
  });
});
