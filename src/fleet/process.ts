/**
 * The fleet's processes over one `Vigil`: `startFleetWorker` (what `vigil worker` runs: the relay, the BullMQ
 * workers with Vigil's handlers, a heartbeat, and /healthz /readyz /metrics on its own port) and
 * `startApiHeartbeat` (what each `vigil serve` process adds when Redis is configured).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import type { Vigil } from '../app/vigil.js';
import { VigilError } from '../core/errors.js';
import { pgClientConfig } from '../state/database.js';
import { FleetQueues, FleetWorkers, RelayLoop, type QueueMetrics } from './bull.js';
import { Heartbeat } from './heartbeat.js';
import { coalescing, PgNotifications } from './notifications.js';
import { connectRedis } from './redis.js';
import { backgroundQueue, OutboxRelay } from './relay.js';
import { OUTBOX_CHANNEL } from './schema.js';

/** Every queue a worker serves (the outbox's queue names). */
/** The queues a fleet runs: every queue the core has a handler for (content, webhooks, reports …). */
export function fleetQueues(vigil: Pick<Vigil, 'jobHandlers'>): string[] {
  return Object.keys(vigil.jobHandlers);
}

/** The BullMQ queues of a fleet: each queue and its background queue (relay.ts backgroundQueue). */
export function fleetBullQueues(vigil: Pick<Vigil, 'jobHandlers'>): string[] {
  const names = fleetQueues(vigil);
  return [...names, ...names.map(backgroundQueue)];
}

export interface FleetWorkerProcess {
  url: string;
  heartbeat: Heartbeat;
  workers: FleetWorkers;
  queues: FleetQueues;
  metrics(): Promise<Record<string, QueueMetrics>>;
  /** Graceful: stops relaying and taking jobs, waits for the running ones, leaves the fleet. */
  close(): Promise<void>;
}

/** Readiness of any fleet process: warm, within maxLagMs, and how many feed changes it has not applied. */
export async function readiness(vigil: Vigil): Promise<{ ready: boolean; position: number; behind: number; lagMs: number | null }> {
  const head = await vigil.store.latestSeq().catch(() => vigil.matcher.position);
  const lag = vigil.matcher.lagMs();
  return { ready: vigil.isReady(), position: vigil.matcher.position, behind: Math.max(0, head - vigil.matcher.position), lagMs: Number.isFinite(lag) ? lag : null };
}

export async function startFleetWorker(vigil: Vigil, options: { host?: string; port?: number } = {}): Promise<FleetWorkerProcess> {
  const { config, log } = vigil;
  const redisUrl = config.redis.url;
  if (!redisUrl) throw new VigilError('VIGIL_ERR_INVALID_CONFIG', 'vigil worker needs Redis: set VIGIL_REDIS_URL (docs/fleet.md)');
  const f = config.fleet;
  const prefix = config.redis.prefix;
  await vigil.warm();
  const producer = await connectRedis(redisUrl, 'producer');
  const blocking = await connectRedis(redisUrl, 'worker');
  const names = fleetQueues(vigil);
  // Each queue's background work (backfills, imports) has a BullMQ queue of its own: its own slots and rate limit.
  const queues = new FleetQueues({ redis: producer, prefix, names: fleetBullQueues(vigil) });
  const relay = new OutboxRelay({
    db: vigil.db, batch: f.relayBatch, leaseMs: f.relayLeaseMs, backgroundWindow: f.backgroundWindow,
    queues: Object.fromEntries(names.map((n) => [n, queues.queues[n]!])),
    background: Object.fromEntries(names.map((n) => [n, queues.queues[backgroundQueue(n)]!])),
  });
  const loop = new RelayLoop(relay, f.relayIntervalMs, (err) => log.warn({ err }, 'outbox relay round failed'));
  const workers = new FleetWorkers({
    db: vigil.db, queue: vigil.queue, redis: blocking, prefix,
    handlers: { ...vigil.jobHandlers, ...Object.fromEntries(names.map((n) => [backgroundQueue(n), vigil.jobHandlers[n]!])) },
    concurrency: f.concurrency,
    concurrencyOf: (queue) => (names.includes(queue) ? undefined : f.backgroundConcurrency), lockMs: f.lockMs, rateLimits: f.rateLimits,
    onError: (job, err) => log.warn({ err, job: job?.id, queue: job?.queue }, 'fleet job failed'),
    onDead: (job) => void vigil.audit.appendNow({ actor: 'system', action: 'job.dead', subject: `job:${job.id}`, details: { queue: job.queue, idempotencyKey: job.idempotencyKey, lastError: job.lastError } })
      .catch((err: unknown) => log.error({ err }, 'audit of a dead job failed')),
  });
  let outbox: PgNotifications | undefined;
  if (vigil.db.engine === 'postgres') {
    outbox = new PgNotifications({
      client: pgClientConfig(config.database.url, { ...(config.database.schema ? { schema: config.database.schema } : {}), ...(config.database.pgUser ? { pgUser: config.database.pgUser } : {}) }),
      channels: { [OUTBOX_CHANNEL]: coalescing(async () => loop.wake(), () => undefined) },
      onError: (err) => log.warn({ err }, 'outbox notifications'),
    });
    await outbox.start();
  }

  const registry = new Registry();
  let last: Record<string, QueueMetrics> = {};
  const gauge = (name: string, help: string, pick: (m: QueueMetrics) => number) => new Gauge({
    name, help, labelNames: ['queue'], registers: [registry],
    collect() {
      for (const [queue, m] of Object.entries(last)) this.set({ queue }, pick(m));
    },
  });
  gauge('vigil_fleet_queue_depth', 'Jobs waiting (BullMQ wait/prioritized/delayed plus outbox rows not yet relayed)', (m) => m.depth);
  gauge('vigil_fleet_queue_active', 'Jobs running across the fleet', (m) => m.active);
  gauge('vigil_fleet_queue_oldest_age_seconds', 'Age of the oldest unfinished job', (m) => m.oldestAgeMs / 1000);
  gauge('vigil_fleet_queue_failed', 'Jobs given up on (BullMQ failed set plus dead outbox rows)', (m) => m.failed);
  new Gauge({ name: 'vigil_index_lag_seconds', help: 'Time since the index last held the whole change feed', registers: [registry], collect() { this.set(vigil.matcher.lagMs() / 1000); } });
  const metrics = async () => (last = await queues.metrics(vigil.db));

  const server: Server = createServer((req, res) => {
    const send = (status: number, body: string, type = 'application/json') => res.writeHead(status, { 'content-type': type }).end(body);
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return send(200, JSON.stringify({ status: 'ok', role: 'worker' }));
    if (path === '/readyz') {
      void readiness(vigil).then((r) => send(r.ready ? 200 : 503, JSON.stringify(r)), () => send(503, JSON.stringify({ ready: false })));
      return;
    }
    // Bound to loopback by default (server.host): the metrics name queues, nothing sensitive.
    if (path === '/metrics') {
      void metrics().then(() => registry.metrics()).then((text) => send(200, text, registry.contentType), (err: unknown) => send(500, JSON.stringify({ error: String(err) })));
      return;
    }
    send(404, JSON.stringify({ error: 'not found' }));
  });
  const host = options.host ?? config.server.host;
  server.listen(options.port ?? 0, host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;

  const heartbeat = new Heartbeat(producer, prefix, 'worker', f.heartbeatMs, () => {
    const lag = vigil.matcher.lagMs();
    return { url, ready: vigil.isReady(), position: vigil.matcher.position, lagMs: Number.isFinite(lag) ? lag : null, active: workers.active, processed: workers.processed, failures: workers.failures };
  }, (err) => log.warn({ err }, 'heartbeat'));
  workers.start();
  loop.start();
  heartbeat.start();
  await vigil.audit.appendNow({ actor: 'system', action: 'worker.started', subject: `process:${heartbeat.id}`, details: { queues: fleetQueues(vigil) } });

  let closing: Promise<void> | undefined;
  return {
    url, heartbeat, workers, queues, metrics,
    close: () => (closing ??= (async () => {
      await loop.stop();
      await outbox?.stop();
      await workers.close();
      await heartbeat.stop();
      await vigil.audit.appendNow({ actor: 'system', action: 'worker.stopped', subject: `process:${heartbeat.id}`, details: { processed: workers.processed } }).catch(() => undefined);
      await queues.close();
      await new Promise((resolve) => server.close(resolve));
      producer.disconnect();
      blocking.disconnect();
      await vigil.close();
    })()),
  };
}

/** An API process's place in `vigil fleet status` (only with Redis configured). */
export async function startApiHeartbeat(vigil: Vigil, url: string): Promise<{ stop(): Promise<void> } | undefined> {
  const redisUrl = vigil.config.redis.url;
  if (!redisUrl) return undefined;
  const redis = await connectRedis(redisUrl, 'producer');
  const heartbeat = new Heartbeat(redis, vigil.config.redis.prefix, 'api', vigil.config.fleet.heartbeatMs, () => {
    const lag = vigil.matcher.lagMs();
    return { url, ready: vigil.isReady(), position: vigil.matcher.position, lagMs: Number.isFinite(lag) ? lag : null };
  }, (err) => vigil.log.warn({ err }, 'heartbeat'));
  heartbeat.start();
  return {
    async stop() {
      await heartbeat.stop();
      redis.disconnect();
    },
  };
}
