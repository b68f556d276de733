/**
 * Crash safety, end to end, on each engine: a child process (this same file, in child mode) enqueues jobs and
 * works them; the parent kill -9s it while jobs are in flight, restarts a worker on the same DB with a clock past the leases, and
 * checks the at-least-once contract: every acknowledged job ends done, a job runs at most twice, and only jobs
 * that were in flight at the kill run twice. The kill point is deterministic: jobs from HANG_FROM on never return
 * in the child, so once the child reports CONCURRENCY of them running, exactly those are in flight, and every job
 * acknowledged after them is still pending.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../state/database.js';
import { ENGINES } from '../state/test-engines.js';
import { SqlJobQueue } from './sql-queue.js';
import { QueueWorker } from './worker.js';

const N = 200;
const HANG_FROM = 50;
/** Acknowledged before the kill: the later ones wait unclaimed behind the hung jobs, so the restart must run them. */
const KILL_AFTER_ACKS = 100;
const CONCURRENCY = 4;
const CHILD_LEASE_MS = 60_000;
const QUEUE = 'crash';

async function runChild(url: string, schema: string | undefined, outFile: string): Promise<void> {
  const queue = new SqlJobQueue(await openDatabase(url, schema ? { schema } : {}));
  const worker = new QueueWorker({
    queue, concurrency: CONCURRENCY, leaseMs: CHILD_LEASE_MS, workerId: 'child',
    handlers: {
      [QUEUE]: async (job) => {
        appendFileSync(outFile, `${job.id}\n`);
        const { i } = job.payload as { i: number };
        process.stdout.write(`ran ${job.id} ${i}\n`);
        if (i >= HANG_FROM) await new Promise(() => undefined); // in flight until the kill
      },
    },
  });
  worker.start();
  for (let i = 0; i < N; i++) {
    const [{ job }] = await queue.enqueueAlone([{ queue: QUEUE, idempotencyKey: `crash-${i}`, payload: { i } }]);
    // Written only after the enqueue committed: an acknowledged job must survive the kill.
    process.stdout.write(`ack ${job.idempotencyKey} ${job.id}\n`);
    worker.notify();
    await new Promise((r) => setImmediate(r));
  }
  // Wait for the kill, but never outlive the parent: its end of stdin closes when it goes away.
  await new Promise((resolve) => { process.stdin.on('end', resolve).resume(); });
  process.exit(3);
}

if (process.env.VIGIL_QUEUE_CRASH_CHILD) {
  await runChild(process.env.VIGIL_QUEUE_CRASH_DB as string, process.env.VIGIL_QUEUE_CRASH_SCHEMA || undefined, process.env.VIGIL_QUEUE_CRASH_OUT as string);
} else {
  for (const engine of ENGINES) describe(`queue crash safety (${engine.name})`, () => {
    it('kill -9 mid-way: acknowledged jobs complete exactly once; only in-flight jobs run twice', { timeout: 120_000 }, async (t) => {
      const test = await engine.open();
      t.after(() => test.drop());
      const { db } = test;
      await SqlJobQueue.open(db);
      const dir = mkdtempSync(join(tmpdir(), 'vigil-queue-crash-'));
      const outFile = join(dir, 'ran.txt');
      appendFileSync(outFile, '');
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
        env: { ...process.env, VIGIL_QUEUE_CRASH_CHILD: '1', VIGIL_QUEUE_CRASH_DB: test.url, VIGIL_QUEUE_CRASH_SCHEMA: test.schema ?? '', VIGIL_QUEUE_CRASH_OUT: outFile },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const acked = new Map<string, number>();
      const hung = new Set<number>();
      let stderr = '';
      let buffered = '';
      let killed = false;
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.stdout.on('data', (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const [kind, a, b] = line.split(' ');
          if (kind === 'ack') acked.set(a, Number(b));
          if (kind === 'ran' && Number(b) >= HANG_FROM) hung.add(Number(a));
        }
        if (!killed && hung.size === CONCURRENCY && acked.size >= KILL_AFTER_ACKS) {
          killed = true;
          child.kill('SIGKILL');
        }
      });
      const closed = new Promise<[number | null, string | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
      t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const [code, signal] = await closed;
      assert.equal(signal, 'SIGKILL', `child ended on its own (code ${code}): ${stderr}`);
      assert.ok(acked.size >= KILL_AFTER_ACKS, `acknowledged ${acked.size}`);

      const inFlight = new Set((await db.k.selectFrom('queue_jobs').select('id').where('state', '=', 'running').execute()).map((r) => r.id));
      assert.deepEqual([...inFlight].sort((x, y) => x - y), [...hung].sort((x, y) => x - y));
      const pendingAtKill = (await db.k.selectFrom('queue_jobs').select('id').where('state', '=', 'pending').execute()).length;
      assert.ok(pendingAtKill >= KILL_AFTER_ACKS - HANG_FROM - CONCURRENCY, `pending at the kill: ${pendingAtKill}`);

      // A new process: its clock is past every lease the dead child held.
      const later = Date.now() + 2 * CHILD_LEASE_MS;
      const queue = new SqlJobQueue(db, { now: () => later });
      const worker = new QueueWorker({
        queue, now: () => later, concurrency: CONCURRENCY, leaseMs: 1000, workerId: 'restarted',
        handlers: { [QUEUE]: async (job) => { appendFileSync(outFile, `${job.id}\n`); } },
      });
      while ((await worker.runOnce()) > 0);

      const all = await queue.list({ limit: 1000 });
      assert.ok(all.every((j) => j.state === 'done'), 'every enqueued job is done');
      for (const [key, id] of acked) {
        const job = await queue.getByKey(key);
        assert.equal(job?.id, id);
        assert.equal(job?.state, 'done', key);
      }
      const runs = new Map<number, number>();
      for (const line of readFileSync(outFile, 'utf8').split('\n').filter(Boolean)) runs.set(Number(line), (runs.get(Number(line)) ?? 0) + 1);
      for (const job of all) {
        const n = runs.get(job.id) ?? 0;
        assert.equal(n, inFlight.has(job.id) ? 2 : 1, `job ${job.id} ran ${n} times`);
        assert.equal(job.attempts, inFlight.has(job.id) ? 1 : 0, 'a lapsed lease counts as an attempt');
      }
      assert.equal(runs.size, all.length);
    });
  });
}
