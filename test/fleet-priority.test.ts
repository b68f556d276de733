/**
 * Live ahead of backfill, end to end through the fleet's queue (outbox → relay → BullMQ → a worker): live
 * content that arrives while a backfill is queued overtakes every backfill job not yet started. Real Redis
 * (skipped with a message when none answers), both engines; one worker slot, so the order is deterministic.
 * Background rows (backfills) have their own BullMQ queue and slots, and at most a window of them sits in Redis.
 * The latency figure (live p99 during a 1M backfill vs idle) is bench/backfill.ts's.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { CONTENT_PRIORITY, CONTENT_QUEUE } from '../src/fleet/content-jobs.js';
import { FleetWorkers } from '../src/fleet/bull.js';
import { connectRedis, redisReachable } from '../src/fleet/redis.js';
import { backgroundQueue, markDone, OutboxRelay } from '../src/fleet/relay.js';
import { SqlJobQueue } from '../src/queue/sql-queue.js';
import type { Job } from '../src/queue/types.js';
import { ENGINES } from '../src/state/test-engines.js';

const REDIS = process.env.VIGIL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const reachable = await redisReachable(REDIS);
if (!reachable) console.log(`# fleet priority tests skipped: no Redis at ${REDIS}`);

describe('fleet priorities', { skip: !reachable }, () => {
  for (const engine of ENGINES) {
    it(`${engine.name}: live uploads arriving mid-backfill run before the backfill's remaining jobs`, async (t) => {
      const test = await engine.open();
      const queue = await SqlJobQueue.open(test.db);
      const prefix = `prio${randomBytes(4).toString('hex')}`;
      const producer = await connectRedis(REDIS, 'producer');
      const blocking = await connectRedis(REDIS, 'worker');
      const bull = new Queue(CONTENT_QUEUE, { connection: producer, prefix });
      const relay = new OutboxRelay({ db: test.db, queues: { [CONTENT_QUEUE]: bull }, batch: 500, leaseMs: 60_000 });
      const enqueue = (keys: string[], priority: number) => queue.enqueueAlone(keys.map((k) => ({ queue: CONTENT_QUEUE, idempotencyKey: k, payload: {}, priority })));

      const BACKFILL = 40;
      await enqueue(Array.from({ length: BACKFILL }, (_, i) => `backfill-${i}`), CONTENT_PRIORITY.backfill);
      assert.equal(await relay.round(), BACKFILL);
      const order: string[] = [];
      let allDone: () => void;
      const finished = new Promise<void>((resolve) => (allDone = resolve));
      const handler = async (job: Job) => {
        // Live uploads arrive while the backfill's first job runs.
        if (order.length === 0) {
          await enqueue(['live-0', 'live-1', 'live-2'], CONTENT_PRIORITY.live);
          assert.equal(await relay.round(), 3);
        }
        order.push(job.idempotencyKey);
        if (order.length === BACKFILL + 3) allDone();
      };
      const workers = new FleetWorkers({ db: test.db, queue, redis: blocking, prefix, handlers: { [CONTENT_QUEUE]: handler }, concurrency: 1, lockMs: 30_000, rateLimits: {} });
      t.after(async () => {
        await workers.close();
        await bull.obliterate({ force: true });
        await bull.close();
        producer.disconnect();
        blocking.disconnect();
        await test.drop();
      });
      workers.start();
      await finished;
      assert.deepEqual(order.slice(0, 4), ['backfill-0', 'live-0', 'live-1', 'live-2'], order.slice(0, 6).join(' '));
      assert.deepEqual(order.slice(4), Array.from({ length: BACKFILL - 1 }, (_, i) => `backfill-${i + 1}`));
    });

    it(`${engine.name}: background rows go to their own BullMQ queue, at most the window of them at once; live ones never wait for it`, async (t) => {
      const test = await engine.open();
      const queue = await SqlJobQueue.open(test.db);
      const prefix = `prio${randomBytes(4).toString('hex')}`;
      const producer = await connectRedis(REDIS, 'producer');
      const live = new Queue(CONTENT_QUEUE, { connection: producer, prefix });
      const background = new Queue(backgroundQueue(CONTENT_QUEUE), { connection: producer, prefix });
      t.after(async () => {
        for (const q of [live, background]) {
          await q.obliterate({ force: true });
          await q.close();
        }
        producer.disconnect();
        await test.drop();
      });
      const relay = new OutboxRelay({ db: test.db, queues: { [CONTENT_QUEUE]: live }, background: { [CONTENT_QUEUE]: background }, backgroundWindow: 25, batch: 500, leaseMs: 60_000 });
      const enqueue = (keys: string[], priority: number) => queue.enqueueAlone(keys.map((k) => ({ queue: CONTENT_QUEUE, idempotencyKey: k, payload: {}, priority })));
      const backfill = await enqueue(Array.from({ length: 100 }, (_, i) => `backfill-${i}`), CONTENT_PRIORITY.backfill);
      const count = async (q: Queue) => Object.values(await q.getJobCounts()).reduce((a, b) => a + b, 0);
      assert.equal(await relay.round(), 25, 'the window');
      assert.equal(await relay.round(), 0, 'full: the rest waits in the outbox');
      await enqueue(['live-0', 'live-1'], CONTENT_PRIORITY.live);
      assert.equal(await relay.round(), 2, 'live rows pass a full window');
      assert.deepEqual([await count(live), await count(background)], [2, 25]);
      for (const b of backfill.slice(0, 10)) await markDone(test.db, b.job.id);
      assert.equal(await relay.round(), 10, 'finished background jobs make room');
      assert.equal(await count(background), 35);
    });
  }
});
