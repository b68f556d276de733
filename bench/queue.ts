/**
 * npm run bench:queue [-- --jobs 2000 --concurrency 4]
 *
 * The job queue on each engine (a fresh SQLite file; a fresh PostgreSQL schema at VIGIL_TEST_POSTGRES_URL or
 * 127.0.0.1:5432/test):
 *   outbox    a unit of work that writes one row and enqueues one job (what a decision with a webhook does),
 *             against the same unit of work writing the row alone (the baseline: the engine's commit floor);
 *   drain     a QueueWorker with a no-op handler working off that backlog (claim + complete per job).
 * Prints jobs/s, the outbox/baseline ratio and the load average (the machine is shared).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { SqlJobQueue } from '../src/queue/sql-queue.js';
import { QueueWorker } from '../src/queue/worker.js';
import { ENGINES } from '../src/state/test-engines.js';
import { environment, fmt } from './_common.js';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '4' } } });
const JOBS = Number(values.jobs);
const CONCURRENCY = Number(values.concurrency);
const WARMUP = 300;
const ROUNDS = 4;

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

console.log(`bench:queue · ${environment()} · load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`${JOBS} units of work, worker concurrency ${CONCURRENCY}`);
for (const engine of ENGINES) {
  const test = await engine.open();
  try {
    const { db } = test;
    const queue = await SqlJobQueue.open(db);
    await sql`CREATE TABLE bench_decisions (id TEXT PRIMARY KEY)`.execute(db.k);
    const row = (id: string) => db.transaction(async (tx) => { await sql`INSERT INTO bench_decisions (id) VALUES (${id})`.execute(tx.k); });
    const unit = (id: string, q: string) => db.transaction(async (tx) => {
      await sql`INSERT INTO bench_decisions (id) VALUES (${id})`.execute(tx.k);
      await queue.enqueue(tx, [{ queue: q, idempotencyKey: `${q}:${id}`, payload: { decision: id } }]);
    });
    // Warm-up (JIT, statement caches), then alternate rounds so both see the same machine load.
    for (let i = 0; i < WARMUP; i++) { await row(`wb${i}`); await unit(`wd${i}`, 'warm'); }
    let baseline = 0;
    let outbox = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const per = JOBS / ROUNDS;
      baseline += await timed(async () => { for (let i = 0; i < per; i++) await row(`b${r}-${i}`); });
      outbox += await timed(async () => { for (let i = 0; i < per; i++) await unit(`d${r}-${i}`, 'bench'); });
    }
    const warm = new QueueWorker({ queue, concurrency: CONCURRENCY, handlers: { warm: async () => undefined } });
    while ((await warm.runOnce()) > 0);
    const worker = new QueueWorker({ queue, concurrency: CONCURRENCY, handlers: { bench: async () => undefined } });
    let drained = 0;
    const drain = await timed(async () => {
      for (let n; (n = await worker.runOnce()) > 0;) drained += n;
    });
    console.log(`${engine.name.padEnd(8)} outbox ${fmt(JOBS / outbox, 0)} units/s (row alone ${fmt(JOBS / baseline, 0)}/s, ratio ${fmt(outbox / baseline, 2)}× the time)` +
      ` · drain ${fmt(drained / drain, 0)} jobs/s (claim + complete)`);
  } finally {
    await test.drop();
  }
}
console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
