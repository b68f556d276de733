/**
 * npm run bench:backfill [-- --backfill 1000000 --rate 20 --seconds 15]
 *
 * Issue 16's fault figure: live uploads' latency while a backfill of `--backfill` retained hashes runs through
 * the same fleet, against the same live load on an idle fleet (the same-run baseline). A private redis-server,
 * a fresh PostgreSQL schema, one `vigil worker` (8 slots). Live: `--rate` content items a second for
 * `--seconds`, queued through queueContent (the API's path: outbox row + audit entry, priority live), each
 * matching nothing in a 1,000-signal bank. Latency = the outbox row's finished_at − created_at (queued →
 * decided), so nothing polls per item. The backfill is written straight into the outbox (one INSERT … SELECT
 * generate_series: what an import's rows look like, without 1M audit entries) at priority backfill; the live
 * phase starts once the relay is feeding it to BullMQ and the worker is busy with it. Target: live p99 ≤ 2× idle.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { loadConfig } from '../src/app/config.js';
import { createVigil } from '../src/app/vigil.js';
import { CONTENT_PRIORITY, queueContent } from '../src/fleet/content-jobs.js';
import { spawnVigil, WORKER_READY } from '../test/helpers/fleet.js';
import { environment, fmt } from './_common.js';
import { openBenchFleet } from './_fleet.js';

const { values } = parseArgs({ options: { backfill: { type: 'string', default: '1000000' }, rate: { type: 'string', default: '20' }, seconds: { type: 'string', default: '15' } } });
const BACKFILL = Number(values.backfill);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);

const fleet = await openBenchFleet('backfill', () => ({ VIGIL_RETAIN_DAYS: '30' }), [{ type: 'block' }]);
if (!fleet) {
  console.log('bench:backfill skipped: redis-server is not installed');
  process.exit(0);
}
const { env, children } = fleet;
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
try {
  console.log(`bench:backfill — ${environment()}`);
  console.log(`load average at start: ${loadavg().map((l) => fmt(l, 2)).join(' ')}`);
  const vigil = await createVigil(loadConfig({ env: { ...env, VIGIL_LOG_LEVEL: 'silent' } }));
  await vigil.banks.createBank('bench', { name: 'known', kind: 'block', source: 'bench:backfill (random benign hashes)' });
  await vigil.banks.importList('bench', 'known', Array.from({ length: 1000 }, (_, line) => ({ kind: 'record' as const, line, record: { signals: [{ type: 'md5' as const, value: randomBytes(16).toString('hex') }], labels: {} } })));
  await vigil.warm();
  const worker = await spawnVigil(['worker', '--concurrency', '8'], env, WORKER_READY);
  children.push(worker);

  let phase = 0;
  const live = async (): Promise<number[]> => {
    phase++;
    const ids: number[] = [];
    const start = Date.now();
    for (let i = 0; i < RATE * SECONDS; i++) {
      const due = start + (i * 1000) / RATE;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const [q] = await queueContent(vigil, [{ meta: { contentId: `live-${phase}-${i}`, actor: 'bench' }, hashes: { md5: randomBytes(16).toString('hex') } }], 'live');
      ids.push(q!.jobId);
    }
    for (;;) {
      const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM queue_jobs WHERE id IN (${sql.join(ids)}) AND state <> 'done'`.execute(vigil.db.k);
      if (Number(rows[0]!.n) === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const { rows } = await sql<{ ms: number }>`SELECT finished_at - created_at AS ms FROM queue_jobs WHERE id IN (${sql.join(ids)})`.execute(vigil.db.k);
    return rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
  };
  await live(); // warm-up: JIT, connections
  const idle = await live();

  const t0 = Date.now();
  const payload = (n: string) => sql`'{"meta":{"contentId":"backfill-' || ${sql.raw(n)} || '","actor":"bench"},"hashes":{"md5":"' || md5(${sql.raw(n)}::text) || '"}}'`;
  await sql`INSERT INTO queue_jobs (queue, idempotency_key, payload, priority, state, attempts, max_attempts, run_at, created_at, updated_at)
    SELECT 'content', 'content:backfill-' || g, ${payload('g')}, ${CONTENT_PRIORITY.backfill}, 'pending', 0, 10, ${Date.now()}, ${Date.now()}, ${Date.now()}
    FROM generate_series(1, ${BACKFILL}) AS g`.execute(vigil.db.k);
  await sql`NOTIFY vigil_outbox`.execute(vigil.db.k);
  const queuedS = (Date.now() - t0) / 1000;
  // Running: the relay has handed some of it to BullMQ and the worker has decided some.
  for (;;) {
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM queue_jobs WHERE queue = 'content' AND priority = ${CONTENT_PRIORITY.backfill} AND state = 'done'`.execute(vigil.db.k);
    if (Number(rows[0]!.n) >= 50) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const busy = await live();
  const { rows: [b] } = await sql<{ done: number; running: number }>`SELECT SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END) AS done, SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running
    FROM queue_jobs WHERE priority = ${CONTENT_PRIORITY.backfill}`.execute(vigil.db.k);
  worker.child.kill('SIGKILL');
  await worker.exited;
  await vigil.close();

  const p99Idle = pct(idle, 99);
  const p99Busy = pct(busy, 99);
  console.log('');
  console.log(`backfill: ${BACKFILL.toLocaleString()} retained hashes queued (priority backfill) in ${fmt(queuedS)} s; during the live phase ${Number(b!.done).toLocaleString()} decided, ${Number(b!.running).toLocaleString()} relayed to BullMQ and waiting`);
  console.log(`live (${RATE}/s for ${SECONDS} s, queued → decided):`);
  console.log(`  idle fleet       p50 ${fmt(pct(idle, 50), 0)} ms   p99 ${fmt(p99Idle, 0)} ms`);
  console.log(`  during backfill  p50 ${fmt(pct(busy, 50), 0)} ms   p99 ${fmt(p99Busy, 0)} ms`);
  console.log(`  p99 ratio ×${fmt(p99Busy / p99Idle, 2)} (target ≤ ×2: ${p99Busy <= 2 * p99Idle ? 'met' : 'MISSED'})`);
  console.log(`load average at end: ${loadavg().map((l) => fmt(l, 2)).join(' ')}`);
} finally {
  await fleet.close();
}
