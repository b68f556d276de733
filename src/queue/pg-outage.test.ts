/**
 * PostgreSQL going away mid-run: every connection of the queue's pool is terminated (`pg_terminate_backend`)
 * while a producer enqueues and a worker works. Each operation caught by it fails with VIGIL_ERR_UNAVAILABLE
 * naming what failed; the pool reconnects on the next call, the worker loop keeps going, and every job whose
 * enqueue was acknowledged ends done (a job whose completion was cut off runs again after its lease: at least once).
 *
 * Only connections carrying this run's application_name are terminated, so other suites sharing the server
 * are left alone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { VigilError } from '../core/errors.js';
import { openDatabase, type VigilDatabase } from '../state/database.js';
import { ENGINES, TEST_POSTGRES_URL, type TestDatabase } from '../state/test-engines.js';
import { SqlJobQueue } from './sql-queue.js';
import type { NewJob } from './types.js';
import { QueueWorker } from './worker.js';

const T0 = 1_700_000_000_000;
const APP = `vigil_outage_${randomBytes(4).toString('hex')}`;
const job = (key: string, queue = 'q'): NewJob => ({ queue, idempotencyKey: key, payload: { key } });

function isUnavailable(err: unknown): boolean {
  return err instanceof VigilError && err.code === 'VIGIL_ERR_UNAVAILABLE' && /^Job queue \w+ failed: the database connection was lost/.test(err.message);
}

describe('queue on PostgreSQL: connections terminated mid-run', () => {
  let test: TestDatabase;
  let db: VigilDatabase;
  let admin: pg.Client;

  before(async () => {
    test = await ENGINES.find((e) => e.name === 'postgres')!.open();
    const url = new URL(TEST_POSTGRES_URL);
    url.searchParams.set('application_name', APP);
    db = await openDatabase(url.toString(), { schema: test.schema!, poolSize: 4 });
    admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
  });
  after(async () => {
    await admin.end();
    await db.close();
    await test.drop();
  });

  /** Terminates every backend of the queue's pool; resolves to how many. */
  async function terminate(): Promise<number> {
    const { rows } = await admin.query<{ n: number }>(
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [APP]);
    return rows[0]!.n;
  }

  it('a unit of work cut off mid-way fails clearly and keeps nothing; reads reconnect; writes fail clearly, then succeed', async () => {
    const queue = await SqlJobQueue.open(db, { now: () => T0 });
    await assert.rejects(db.transaction(async (tx) => {
      await queue.enqueue(tx, [job('cut-1')]);
      assert.ok(await terminate() >= 1);
      await queue.enqueue(tx, [job('cut-2')]);
    }), isUnavailable);
    // Reads retry a lost connection at once, so the dead idle clients the pool still holds are not noticed here.
    assert.deepEqual(await queue.list(), [], 'nothing of the failed unit of work was kept');
    await queue.enqueueAlone([job('warm-1'), job('warm-2')]);
    assert.ok(await terminate() >= 1);
    // A write is not retried behind the caller's back: it fails clearly until the pool has reconnected.
    let failures = 0;
    for (;;) {
      try {
        const [{ created }] = await queue.enqueueAlone([job('cut-1')]);
        assert.equal(created, true);
        break;
      } catch (err) {
        assert.ok(isUnavailable(err), String(err));
        assert.ok(++failures <= 4, 'recovers within the pool size');
      }
    }
    assert.deepEqual((await queue.list()).map((j) => j.idempotencyKey), ['warm-1', 'warm-2', 'cut-1']);
  });

  it('a running worker and producer see clear errors, recover, and lose no acknowledged job', { timeout: 120_000 }, async (t) => {
    const clock = { t: T0 };
    const queue = new SqlJobQueue(db, { now: () => clock.t });
    const N = 200;
    const KILL_AT = new Set([20, 70, 120]);
    const errors: unknown[] = [];
    const ran = new Map<string, number>();
    let firstRuns = 0;
    let allRan!: () => void;
    const allRanOnce = new Promise<void>((resolve) => { allRan = resolve; });
    const worker = new QueueWorker({
      queue, now: () => clock.t, concurrency: 4, leaseMs: 60_000, pollMs: 50, workerId: 'live',
      handlers: {
        live: async (j) => {
          const { key } = j.payload as { key: string };
          const n = (ran.get(key) ?? 0) + 1;
          ran.set(key, n);
          if (n === 1 && ++firstRuns === N) allRan();
          if (n === 1 && KILL_AT.has(firstRuns)) await terminate();
        },
      },
      onError: (_j, err) => errors.push(err),
      onLoopError: (err) => errors.push(err),
    });
    worker.start();
    const acked: string[] = [];
    for (let b = 0; b < N / 5; b++) {
      const batch = Array.from({ length: 5 }, (_, i) => job(`live-${b * 5 + i}`, 'live'));
      for (let attempt = 1; ; attempt++) {
        try {
          await queue.enqueueAlone(batch);
          acked.push(...batch.map((j) => j.idempotencyKey));
          break;
        } catch (err) {
          // Not acknowledged: the producer sends the same keys again (created=false if it had committed after all).
          errors.push(err);
          assert.ok(attempt < 10, `enqueue still failing after ${attempt} tries: ${String(err)}`);
        }
      }
      worker.notify();
    }
    await allRanOnce;
    await worker.stop();
    const unexplained = errors.filter((e) => !isUnavailable(e));
    assert.deepEqual(unexplained.map(String), [], 'every error names the queue operation and the lost connection');
    t.diagnostic(`${errors.length} clear errors during 3 terminations`);

    // Completions that were cut off left their jobs leased: a restarted worker takes them once the leases end.
    clock.t = T0 + 120_000;
    const rerun = new QueueWorker({ queue, now: () => clock.t, handlers: { live: async (j) => { const { key } = j.payload as { key: string }; ran.set(key, ran.get(key)! + 1); } } });
    while ((await rerun.runOnce()) > 0);

    assert.equal(acked.length, N);
    for (const key of acked) assert.equal((await queue.getByKey(key))?.state, 'done', key);
    assert.deepEqual((await queue.stats()).live, { pending: 0, running: 0, done: N, dead: 0 });
    const twice = [...ran.values()].filter((n) => n > 1).length;
    assert.ok([...ran.values()].every((n) => n <= 2), 'no job ran more than twice');
    assert.ok(twice <= errors.length, `${twice} jobs ran twice, each after a cut-off completion`);
  });
});
