/**
 * npm run bench:review — the review UI's queue page and item page, server time (in-process `inject`, the
 * whole route: session, permission checks, queries, HTML) with 50 reviewers requesting at once, p50/p99.
 * Baseline in the same run: the same requests when the queue holds only the 50 items the reviewers have
 * claimed; then at 10,000 open items (1 in 10 accounts). SQLite and PostgreSQL (a fresh schema on the test
 * server, ANALYZEd after seeding). The queue page lists jobs (one per account).
 * Usage: npm run bench:review [-- ITEMS REVIEWERS ROUNDS]
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { seedReviewItem } from '../src/app/_review-seed.js';
import { startService, type RunningService } from '../src/service/serve.js';
import { TEST_POSTGRES_URL } from '../src/state/test-engines.js';
import type { Signal } from '../src/store/types.js';

const ITEMS = Number(process.argv[2] ?? 10_000);
const REVIEWERS = Number(process.argv[3] ?? 50);
const ROUNDS = Number(process.argv[4] ?? 10);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(s: RunningService, cookies: string[], path: (i: number) => string): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  const one = async (i: number) => {
    const t0 = performance.now();
    const r = await s.app.inject({ method: 'GET', url: path(i), headers: { cookie: cookies[i] } });
    times.push(performance.now() - t0);
    if (r.statusCode !== 200) throw new Error(`${path(i)}: ${r.statusCode} ${r.body.slice(0, 200)}`);
  };
  for (let i = 0; i < REVIEWERS; i++) await one(i); // warm-up
  times.length = 0;
  await Promise.all(cookies.map(async (_, i) => {
    for (let r = 0; r < ROUNDS; r++) await one(i);
  }));
  times.sort((a, b) => a - b);
  return { p50: pct(times, 50), p99: pct(times, 99) };
}

async function seed(s: RunningService, signals: Signal[], from: number, to: number): Promise<number[]> {
  const ids: number[] = [];
  const { db, records } = s.ctx.vigil;
  for (let start = from; start < to; start += 500) {
    await db.transaction(async (tx) => {
      for (let i = start; i < Math.min(to, start + 500); i++) {
        ids.push(await seedReviewItem(tx, records, { contentId: `bench-${i}`, accountId: `acct-${i % 997}`, priority: (i * 7) % 101, signals: [signals[i % signals.length]], at: new Date(Date.now() - i * 1000).toISOString() }));
      }
    });
  }
  return ids;
}

async function run(engine: 'sqlite' | 'postgres'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-review-'));
  const schema = engine === 'postgres' ? `bench_${randomBytes(5).toString('hex')}` : undefined;
  const s = await startService({ storeUrl: engine === 'sqlite' ? join(dir, 'vigil.db') : TEST_POSTGRES_URL, ...(schema ? { schema } : {}), port: 0, demo: false, background: false, evidenceDir: join(dir, 'evidence') });
  try {
    const v = s.ctx.vigil;
    await v.banks.createBank('bench', { name: 'BENCH', description: 'benign bench hashes', kind: 'block', source: 'bench' });
    const signals: Signal[] = [];
    for (let i = 0; i < 20; i++) signals.push(await v.banks.addSignal('bench', 'BENCH', { type: 'md5', value: i.toString(16).padStart(32, '0'), labels: { tags: ['bench'] } }));
    const password = await v.users.hashPassword('bench password 123');
    const cookies: string[] = [];
    const claimed = await seed(s, signals, 0, REVIEWERS);
    for (let i = 0; i < REVIEWERS; i++) {
      const user = await v.db.transaction((tx) => v.users.create(tx, { name: `r${i}`, role: 'reviewer', childSafety: true, password }, { actor: 'bench' }));
      const { token } = await v.db.transaction((tx) => v.sessions.start(tx, user));
      cookies.push(`vigil_session=${token}`);
      await v.review.claim({ user }, claimed[i]);
    }
    const queue = (i: number) => (i >= 0 ? '/review/queue' : '');
    const item = (i: number) => `/review/items/${claimed[i]}`;
    // Fresh statistics, as autovacuum would have them on a live system within a minute: without them
    // PostgreSQL plans a freshly seeded table as if it held 15 open items (and scans and sorts all 10,000).
    const analyze = () => (v.db.pool ? v.db.pool.query('ANALYZE').then(() => undefined) : Promise.resolve());
    await analyze();
    const baseQ = await measure(s, cookies, queue);
    const baseI = await measure(s, cookies, item);
    await seed(s, signals, REVIEWERS, REVIEWERS + ITEMS);
    await analyze();
    const fullQ = await measure(s, cookies, queue);
    const fullI = await measure(s, cookies, item);
    const f = (x: number) => x.toFixed(1);
    console.log(`${engine}: ${REVIEWERS} reviewers at once, ${REVIEWERS * ROUNDS} requests per figure (ms, server time in-process)`);
    console.log(`  queue page: ${ITEMS} open items p50 ${f(fullQ.p50)} p99 ${f(fullQ.p99)}; ${REVIEWERS} items (baseline) p50 ${f(baseQ.p50)} p99 ${f(baseQ.p99)}; ratio p50 ${(fullQ.p50 / baseQ.p50).toFixed(2)}`);
    console.log(`  item page:  ${ITEMS} open items p50 ${f(fullI.p50)} p99 ${f(fullI.p99)}; ${REVIEWERS} items (baseline) p50 ${f(baseI.p50)} p99 ${f(baseI.p99)}; ratio p50 ${(fullI.p50 / baseI.p50).toFixed(2)}`);
    console.log(`  load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
    if (schema) {
      const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => admin.end());
    }
  }
}

for (const engine of ['sqlite', 'postgres'] as const) await run(engine);
