/**
 * npm run bench:scale [-- --signals 200000 --seconds 4 --items 300 --files 120 --memory 1000000,3000000]
 *
 * The fleet on this machine: a private redis-server, a fresh PostgreSQL schema, a block bank of `--signals`
 * random MD5s (benign stand-ins) shared with every process through an index snapshot.
 *   lookup   POST /v1/lookup (one md5, 8 clients) against 1 then 2 `vigil serve` processes, for --seconds each;
 *   upload   --items queued content jobs (POST /v1/content/queue's path: outbox → relay → BullMQ → pipeline →
 *            decision + webhook job) drained by 1 then 2 `vigil worker` processes;
 *   files    --files benign pictures through POST /v1/content/queue/upload (sealed by the API process, hashed
 *            and decided by a worker) with 1 API + 1 worker, then 2 API + 2 workers;
 *   memory   RSS of each process after its index loaded from the snapshot; and the index's own cost at
 *            --memory sizes (default 1M and 3M signals: a snapshot written by the production writer, loaded
 *            by a fresh process, bench/_scale-memory.ts), extrapolated to 10M (a 10M build does not fit this
 *            shared machine's time; pass --memory 10000000 on a quiet one).
 * The 1-process figure is the same-run baseline of the 2-process one (the scaling factor); the projection to
 * 10,000 uploads/s and 100,000 lookups/s divides by the per-process rate measured here. Prints the load
 * average: the 2 cores are shared, and the client, PostgreSQL and Redis run on them too.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { loadConfig } from '../src/app/config.js';
import { createVigil } from '../src/app/vigil.js';
import { queueContent } from '../src/fleet/content-jobs.js';
import { API_READY, spawnVigil, WORKER_READY } from '../test/helpers/fleet.js';
import { runVigil } from '../test/helpers/cli.js';
import { environment, fmt } from './_common.js';
import { openBenchFleet } from './_fleet.js';
import { snapshotMemory, type SnapshotMemory } from './_scale-memory.js';
import { syntheticPng } from '../test/helpers/images.js';

const { values } = parseArgs({ options: { signals: { type: 'string', default: '200000' }, seconds: { type: 'string', default: '4' }, items: { type: 'string', default: '300' }, files: { type: 'string', default: '120' }, memory: { type: 'string', default: '1000000,3000000' } } });
const FILES = Number(values.files);
const MEMORY = values.memory ? values.memory.split(',').map(Number) : [];
const SIGNALS = Number(values.signals);
const SECONDS = Number(values.seconds);
const ITEMS = Number(values.items);
const CLIENTS = 8;

const fleet = await openBenchFleet('scale', (dir) => ({ VIGIL_INDEX_SNAPSHOT_DIR: join(dir, 'index') }), [{ type: 'block' }, { type: 'report_draft' }]);
if (!fleet) {
  console.log('bench:scale skipped: redis-server is not installed');
  process.exit(0);
}
const { env, children } = fleet;
const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
try {
  console.log(`bench:scale — ${environment()}`);
  console.log(`load average at start: ${loadavg().map((l) => fmt(l, 2)).join(' ')}`);
  const indexMemory: SnapshotMemory[] = [];
  for (const n of MEMORY) {
    const m = snapshotMemory(n);
    indexMemory.push(m);
    console.log(`index memory: ${n.toLocaleString()} signals (half PDQ, half MD5): snapshot ${fmt(m.snapshotBytes / 2 ** 20, 0)} MB on disk, built in ${fmt(m.buildS)} s, loaded by a fresh process in ${fmt(m.loadS, 2)} s, RSS +${fmt(m.rssDelta / 2 ** 20, 0)} MB (${fmt(m.rssDelta / n, 1)} B/signal)`);
  }
  const vigil = await createVigil(loadConfig({ env: { ...env, VIGIL_LOG_LEVEL: 'silent' } }));
  const md5s = Array.from({ length: SIGNALS }, () => randomBytes(16).toString('hex'));
  await vigil.banks.createBank('bench', { name: 'scale', kind: 'block', source: 'bench:scale (random benign hashes)' });
  const t0 = Date.now();
  await vigil.banks.importList('bench', 'scale', md5s.map((value, line) => ({ kind: 'record' as const, line, record: { signals: [{ type: 'md5' as const, value }], labels: {} } })));
  await vigil.warm();
  mkdirSync(env.VIGIL_INDEX_SNAPSHOT_DIR!, { recursive: true, mode: 0o700 });
  vigil.matcher.saveSnapshot(env.VIGIL_INDEX_SNAPSHOT_DIR!);
  console.log(`index: ${SIGNALS.toLocaleString()} md5 signals imported and snapshotted in ${fmt((Date.now() - t0) / 1000)} s`);
  const key = JSON.parse((await runVigil(['key', 'create', '--name', 'bench', '--scope', 'admin', '--rate-limit', '0', '--json'], { ...process.env, ...env })).stdout) as { secret: string };
  const spawn = async (args: string[], ready: RegExp) => {
    const c = await spawnVigil(args, env, ready);
    children.push(c);
    return c;
  };

  // Lookups: CLIENTS concurrent clients, round-robin over the API processes.
  const lookups = async (urls: string[]) => {
    const until = Date.now() + SECONDS * 1000;
    let done = 0;
    await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = c; Date.now() < until; i++) {
        const res = await fetch(`${urls[i % urls.length]}/v1/lookup`, { method: 'POST', headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ hashes: [{ type: 'md5', value: md5s[i % md5s.length] }] }) });
        await res.arrayBuffer();
        if (res.status === 200) done++;
      }
    }));
    return done / SECONDS;
  };
  // Uploads through the queue: time from enqueue to the last decision.
  let batch = 0;
  const drained = async (since: number, n: number) => {
    for (;;) {
      const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM queue_jobs WHERE queue = 'content' AND state <> 'done'`.execute(vigil.db.k);
      if (Number(rows[0]!.n) === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return n / ((Date.now() - since) / 1000);
  };
  const drain = async () => {
    batch++;
    const items = Array.from({ length: ITEMS }, (_, i) => ({ meta: { contentId: `scale-${batch}-${i}`, actor: 'bench' }, hashes: { md5: md5s[(batch * ITEMS + i) % md5s.length]! } }));
    const start = Date.now();
    for (let i = 0; i < items.length; i += 500) await queueContent(vigil, items.slice(i, i + 500));
    return drained(start, ITEMS);
  };
  // File uploads: CLIENTS clients post benign pictures round-robin to the API processes; workers decide them.
  const pictures = await Promise.all(Array.from({ length: 16 }, (_, i) => syntheticPng(256, 256, 100 + i)));
  const files = async (urls: string[]) => {
    batch++;
    const start = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < FILES; i = next++) {
        const form = new FormData();
        form.set('contentId', `file-${batch}-${i}`);
        form.set('file', new Blob([pictures[i % pictures.length]!]), 'picture.png');
        const res = await fetch(`${urls[i % urls.length]}/v1/content/queue/upload`, { method: 'POST', headers: { authorization: `Bearer ${key.secret}` }, body: form });
        await res.arrayBuffer();
        if (res.status !== 202) throw new Error(`upload answered ${res.status}`);
      }
    }));
    return drained(start, FILES);
  };

  const api1 = await spawn(['serve', '--port', '0', '--no-demo', '--no-log'], API_READY);
  const memory = [{ what: 'api (index from snapshot)', mb: rss(api1.child.pid!) }];
  const l1 = await lookups([api1.url]);
  const w1 = await spawn(['worker', '--concurrency', '8'], WORKER_READY);
  memory.push({ what: 'worker (index from snapshot)', mb: rss(w1.child.pid!) });
  await drain(); // warm-up (JIT, connections)
  const u1 = await drain();
  await files([api1.url]); // warm-up (hashing threads)
  const f1 = await files([api1.url]);
  const api2 = await spawn(['serve', '--port', '0', '--no-demo', '--no-log'], API_READY);
  memory.push({ what: 'api 2', mb: rss(api2.child.pid!) });
  const l2 = await lookups([api1.url, api2.url]);
  const w2 = await spawn(['worker', '--concurrency', '8'], WORKER_READY);
  memory.push({ what: 'worker 2', mb: rss(w2.child.pid!) });
  const u2 = await drain();
  await files([api1.url, api2.url]); // warm-up of the second worker's hashing threads
  const f2 = await files([api1.url, api2.url]);
  memory.push({ what: 'api after the runs', mb: rss(api1.child.pid!) }, { what: 'worker after the runs', mb: rss(w1.child.pid!) });
  for (const c of [api1, api2, w1, w2]) c.child.kill('SIGTERM');
  await Promise.all([api1.exited, api2.exited, w1.exited, w2.exited]);
  await vigil.close();

  console.log('');
  console.log(`lookup   1 API: ${fmt(l1, 0)}/s   2 API: ${fmt(l2, 0)}/s   scaling ×${fmt(l2 / l1, 2)}`);
  console.log(`upload   1 worker: ${fmt(u1, 0)}/s   2 workers: ${fmt(u2, 0)}/s   scaling ×${fmt(u2 / u1, 2)}   (${ITEMS} queued items per run)`);
  console.log(`files    1 API + 1 worker: ${fmt(f1, 1)}/s   2 API + 2 workers: ${fmt(f2, 1)}/s   scaling ×${fmt(f2 / f1, 2)}   (${FILES} 256×256 PNGs per run, sealed → hashed → decided)`);
  for (const m of memory) console.log(`memory   ${m.what}: ${fmt(m.mb, 0)} MB RSS with ${SIGNALS.toLocaleString()} signals`);
  if (indexMemory.length >= 2) {
    // Linear in the signals (flat arrays and tables sized to them): the slope between the two largest sizes.
    const [a, b] = indexMemory.slice(-2) as [SnapshotMemory, SnapshotMemory];
    const perSignal = (b.rssDelta - a.rssDelta) / (b.signals - a.signals);
    const fixed = b.rssDelta - perSignal * b.signals;
    const at = (n: number) => fixed + perSignal * n;
    const base = Math.max(...memory.slice(0, 4).map((m) => m.mb)) - at(SIGNALS) / 2 ** 20;
    console.log(`memory   index: ${fmt(perSignal, 1)} B/signal between ${a.signals.toLocaleString()} and ${b.signals.toLocaleString()}; 10M extrapolated: ${fmt(at(10_000_000) / 2 ** 20, 0)} MB index`);
    console.log(`memory   per process at 10M ≈ ${fmt(base, 0)} MB (largest process here less its ${SIGNALS.toLocaleString()}-signal index) + ${fmt(at(10_000_000) / 2 ** 20, 0)} MB = ${fmt(base + at(10_000_000) / 2 ** 20, 0)} MB RSS (extrapolated, not measured)`);
  }
  const perApi = Math.max(l1, l2 / 2);
  const perWorker = Math.max(u1, u2 / 2);
  console.log('');
  console.log(`projection (per-process rates on this shared 2-core machine, linear scaling assumed, which 2 cores cannot show):`);
  console.log(`  100,000 lookups/s ÷ ${fmt(perApi, 0)}/s per API process = ${Math.ceil(100_000 / perApi)} API processes`);
  console.log(`  10,000 uploads/s ÷ ${fmt(perWorker, 0)}/s per worker = ${Math.ceil(10_000 / perWorker)} workers (client hashes)`);
  const perFilePair = Math.max(f1, f2 / 2);
  console.log(`  10,000 file uploads/s ÷ ${fmt(perFilePair, 1)}/s per API + worker pair = ${Math.ceil(10_000 / perFilePair)} pairs (256×256 PNGs; the worker's hashing dominates)`);
  console.log(`load average at end: ${loadavg().map((l) => fmt(l, 2)).join(' ')}`);
} finally {
  await fleet.close();
}
