/**
 * `vigil serve --workers N`: N processes serve the same port (node:cluster), each with its own in-memory
 * indexes, all on the one state DB (SQLite WAL; queue claims, audit appends and decisions are safe across
 * processes). The primary prepares the database once, forks, restarts a worker that dies, and stops them all
 * on SIGINT/SIGTERM. One worker runs the background work (queue deliveries, retroactive matching).
 *
 * Per-key rate limits are counted per process: with N workers a key can make up to N times its limit.
 */
import cluster, { type Worker } from 'node:cluster';
import { missingAllocatorEnv, onGlibc } from './allocator.js';
import { availableParallelism } from 'node:os';
import { VigilError } from '../core/errors.js';
import { prepareService, startService, type RunningService, type ServeOptions } from './serve.js';

export interface ClusterReady {
  url: string;
  workers: number;
  demo: RunningService['demo'];
  warnings: string[];
}

type Message = { type: 'ready'; url: string } | { type: 'failed'; message: string };

/** In the primary: prepares, forks, resolves once every worker listens; `stopped` settles when all exited. */
export async function startClusterPrimary(options: ServeOptions, workers: number, log: (line: string) => void): Promise<ClusterReady & { stopped: Promise<void> }> {
  const { demo, warnings } = await prepareService(options);
  let stopping = false;
  let background: Worker | undefined;
  const listening = new WeakSet<Worker>();
  const fork = (runsBackground: boolean): Worker => {
    const worker = cluster.fork({ ...(onGlibc() ? missingAllocatorEnv() : {}), VIGIL_CLUSTER_BACKGROUND: runsBackground ? '1' : '0', VIGIL_CLUSTER_WORKERS: String(workers) });
    if (runsBackground) background = worker;
    worker.on('message', (m: Message) => {
      if (m.type === 'ready') listening.add(worker);
    });
    worker.on('exit', (code, signal) => {
      // A worker that never listened has a configuration problem: restarting it would loop.
      if (stopping || !listening.has(worker)) return;
      log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
      fork(worker === background);
    });
    return worker;
  };
  const started = Array.from({ length: workers }, (_, i) => fork(i === 0));
  let url: string;
  try {
    url = await Promise.all(
      started.map(
        (worker) =>
          new Promise<string>((resolveReady, reject) => {
            worker.on('message', (m: Message) => (m.type === 'ready' ? resolveReady(m.url) : reject(new VigilError('VIGIL_ERR_INTERNAL', `A worker failed to start: ${m.message}`))));
            worker.once('exit', (code, signal) => reject(new VigilError('VIGIL_ERR_INTERNAL', `A worker exited (${signal ?? code}) before listening`)));
          }),
      ),
    ).then((urls) => urls[0]);
  } catch (err) {
    // One worker that cannot start stops the whole service, with its reason: never half a cluster.
    stopping = true;
    const all = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(all.map((w) => (w.isDead() ? undefined : new Promise<void>((done) => { w.once('exit', () => done()); w.process.kill('SIGKILL'); }))));
    throw err;
  }
  const stopped = new Promise<void>((resolveStopped) => {
    const stop = () => {
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    cluster.on('exit', () => {
      if (stopping && Object.keys(cluster.workers ?? {}).length === 0) resolveStopped();
    });
  });
  return { url, workers, demo, warnings, stopped };
}

/** In a worker: serve, report readiness, stop cleanly on SIGTERM/SIGINT. */
export async function runClusterWorker(options: ServeOptions): Promise<void> {
  let service: RunningService;
  try {
    // The cores are shared: each worker's hashing pool gets its share of them.
    const hashThreads = options.hashThreads ?? options.config?.hashing.threads ?? Math.max(1, Math.floor(availableParallelism() / Number(process.env.VIGIL_CLUSTER_WORKERS ?? 1)));
    // The primary set up the demo; a whole configuration (the CLI's) carries the worker's share of the cores too.
    const config = options.config ? { ...options.config, hashing: { ...options.config.hashing, threads: hashThreads }, demo: { ...options.config.demo, enabled: false } } : undefined;
    service = await startService({ ...options, ...(config ? { config } : {}), hashThreads, demo: false, background: process.env.VIGIL_CLUSTER_BACKGROUND === '1' });
  } catch (err) {
    process.send?.({ type: 'failed', message: (err as Error).message } satisfies Message);
    throw err;
  }
  process.send?.({ type: 'ready', url: service.url } satisfies Message);
  await new Promise<void>((resolveStop) => {
    const stop = () => void service.close().then(resolveStop, resolveStop);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  // The IPC channel to the primary would keep this process alive.
  process.disconnect?.();
}
