/**
 * The outbox relay against a real Redis (skipped, with a message, when none answers at VIGIL_TEST_REDIS_URL or
 * 127.0.0.1:6379) on both engines: deterministic job ids make a crashed relay's re-run a no-op, a relayed job
 * whose lease ran out is added again (restored after Redis lost it, a no-op otherwise), live ahead of backfill.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { SqlJobQueue } from '../queue/sql-queue.js';
import { ENGINES, type TestEngine } from '../state/test-engines.js';
import { connectRedis, redisReachable } from './redis.js';
import { bullJobId, bullPriority, markDone, OutboxRelay, RELAY_OWNER } from './relay.js';

const REDIS = process.env.VIGIL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const reachable = await redisReachable(REDIS);
if (!reachable) console.log(`# relay tests skipped: no Redis at ${REDIS}`);

async function setUp(engine: TestEngine, t: TestContext) {
  const test = await engine.open();
  const clock = { t: 1_700_000_000_000 };
  const queue = await SqlJobQueue.open(test.db, { now: () => clock.t });
  const redis = await connectRedis(REDIS, 'producer');
  const prefix = `relaytest${randomBytes(4).toString('hex')}`;
  const bull = new Queue('content', { connection: redis, prefix });
  t.after(async () => {
    await bull.obliterate({ force: true });
    await bull.close();
    redis.disconnect();
    await test.drop();
  });
  const relay = new OutboxRelay({ db: test.db, queues: { content: bull }, batch: 100, leaseMs: 60_000, now: () => clock.t });
  const enqueue = (keys: string[], priority = 0) => queue.enqueueAlone(keys.map((k) => ({ queue: 'content', idempotencyKey: k, payload: { k }, priority, runAt: clock.t })));
  const total = async () => Object.values(await bull.getJobCounts()).reduce((a, b) => a + b, 0);
  return { db: test.db, queue, bull, relay, clock, enqueue, total };
}

describe('outbox relay', { skip: !reachable }, () => {
  it('BullMQ priorities: live (10) ahead of backfill (0)', () => {
    assert.ok(bullPriority(10) < bullPriority(0));
    assert.ok(bullPriority(0) >= 1);
  });

  for (const engine of ENGINES) {
    it(`${engine.name}: a relay that crashed after adding re-adds under the same ids: no duplicate`, async (t) => {
      const s = await setUp(engine, t);
      const made = await s.enqueue(['a', 'b', 'c']);
      // The crashed relay's add (its transaction never committed: the rows are still pending).
      await s.bull.add('content', { id: made[0]!.job.id }, { jobId: bullJobId(made[0]!.job.id) });
      assert.equal(await s.relay.round(), 3);
      assert.equal(await s.total(), 3);
      for (const m of made) assert.equal((await s.queue.get(m.job.id))?.state, 'running');
      assert.equal((await s.queue.get(made[0]!.job.id))?.leaseUntil, s.clock.t + 60_000);
      assert.equal(await s.relay.round(), 0, 'relayed rows are not taken again while leased');
    });

    it(`${engine.name}: a relayed job past its lease is added again — restored when Redis lost it, attempts untouched`, async (t) => {
      const s = await setUp(engine, t);
      const made = await s.enqueue(['x', 'y']);
      await s.relay.round();
      await markDone(s.db, made[1]!.job.id);
      await s.bull.obliterate({ force: true }); // Redis lost everything
      s.clock.t += 60_001;
      assert.equal(await s.relay.round(), 1, 'only the unfinished one');
      assert.equal(s.relay.readded, 1);
      const job = await s.bull.getJob(bullJobId(made[0]!.job.id));
      assert.deepEqual(job?.data, { id: made[0]!.job.id });
      const row = await s.queue.get(made[0]!.job.id);
      assert.equal(row?.attempts, 0);
      assert.equal(row?.state, 'running');
      const owner = await sql<{ o: string }>`SELECT lease_owner AS o FROM queue_jobs WHERE id = ${made[0]!.job.id}`.execute(s.db.k);
      assert.equal(owner.rows[0]!.o, RELAY_OWNER);
    });

    it(`${engine.name}: the batch bound and priority order of the claim`, async (t) => {
      const s = await setUp(engine, t);
      await s.enqueue(Array.from({ length: 150 }, (_, i) => `backfill-${i}`), 0);
      const live = await s.enqueue(['live-1'], 10);
      assert.equal(await s.relay.round(), 100);
      assert.equal((await s.queue.get(live[0]!.job.id))?.state, 'running', 'the live job went first');
      assert.equal(await s.relay.round(), 51);
      assert.equal(await s.total(), 151);
    });
  }
});
