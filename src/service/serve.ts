/**
 * Starts the service: store + state DB, match indexes following the change feed, rules, the durable queue
 * worker (webhooks), retroactive matching, the HTTP API. `close()` stops in the reverse order, letting
 * in-flight requests and jobs finish.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { AuditLog } from '../audit/log.js';
import { VigilError } from '../core/errors.js';
import { ApiKeyStore, type Scope } from '../auth/keys.js';
import { createDigestIndex } from '../banks/digest-index.js';
import { BankMatcher } from '../banks/matcher.js';
import { HashPool } from '../hashing/pool.js';
import type { ItemBudget } from '../core/budget.js';
import { EvidenceVault } from '../pipeline/evidence.js';
import { ContentPipeline } from '../pipeline/pipeline.js';
import { PipelineRecords } from '../pipeline/records.js';
import { RetroMatcher } from '../pipeline/retro.js';
import { SqliteJobQueue } from '../queue/sqlite-queue.js';
import { QueueWorker } from '../queue/worker.js';
import { loadRulesFile } from '../rules/load.js';
import { openStateDb, stateDbPathFor } from '../state/sqlite.js';
import { openStore } from '../store/store.js';
import type { Store } from '../store/types.js';
import type { FileHashRecord } from '../hashing/hash-file.js';
import { WEBHOOK_QUEUE, webhookHandler } from '../webhooks/deliver.js';
import { buildApp } from './app.js';
import { KeyUsage } from './auth.js';
import { DEFAULT_LIMITS, type ServiceContext, type ServiceLimits } from './context.js';
import { ensureDemoBank, ensureDemoKey, writeDemoPictures, DEMO_BANK } from './demo.js';
import { ServiceMetrics } from './metrics.js';
import { RulesState } from './rules-state.js';

export interface ServeOptions {
  storeUrl: string;
  statePath?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  rulesFile?: string;
  /** Demo pictures, bank and key for a first run (default on). */
  demo?: boolean;
  demoDir?: string;
  /** Keep hashes of unmatched content this many days and re-match them when banks change (0: off). */
  retainDays?: number;
  retroIntervalMs?: number;
  evidenceDir?: string;
  hashThreads?: number;
  limits?: Partial<ServiceLimits>;
  anonymousScopes?: Scope[];
  metricsPublic?: boolean;
  logger?: FastifyServerOptions['logger'];
  /** Matcher poll interval (ms). */
  pollMs?: number;
  queueConcurrency?: number;
  /**
   * Run the background work (queue worker, retroactive matching) in this process (default true). In a
   * cluster (`vigil serve --workers N`) one process does; all of them serve requests.
   */
  background?: boolean;
  /**
   * How long a claimed job is leased before another worker may take it over (default 60 s). A job that was
   * running in a process that died is re-delivered once its lease ends; tests shorten it. Keep it above the
   * webhook timeout (10 s): a delivery still running when its lease ends counts as a lost attempt.
   */
  queueLeaseMs?: number;
}

export interface RunningService {
  app: FastifyInstance;
  ctx: ServiceContext;
  url: string;
  demo?: { bank: string; dir: string; apiKey?: string; created: boolean };
  close(): Promise<void>;
}

type Demo = NonNullable<RunningService['demo']>;

/** Demo files sit beside the state DB (./vigil-demo for the default ./vigil.db). */
function demoDirOf(options: ServeOptions): string {
  return resolve(options.demoDir ?? join(dirname(resolve(stateDbPathFor(options.storeUrl, options.statePath))), 'vigil-demo'));
}

async function setUpDemo(store: Store, keys: ApiKeyStore, hashFile: (path: string) => Promise<FileHashRecord>, dir: string): Promise<Demo> {
  const created = await ensureDemoBank(store, await writeDemoPictures(dir), hashFile);
  const apiKey = ensureDemoKey(keys, dir);
  return { bank: DEMO_BANK, dir, created, ...(apiKey ? { apiKey } : {}) };
}

/**
 * One-time set-up before a cluster forks: migrations of every state component, the rules file checked, the
 * demo bank and key. Workers then start on a ready database and never race each other to create them.
 */
export async function prepareService(options: ServeOptions): Promise<Demo | undefined> {
  const store = await openStore(options.storeUrl);
  const db = openStateDb(stateDbPathFor(options.storeUrl, options.statePath));
  const pool = new HashPool({ threads: 1 });
  try {
    const records = new PipelineRecords(db);
    const audit = new AuditLog(db);
    const keys = new ApiKeyStore(db);
    new SqliteJobQueue(db);
    new RulesState(records, audit, options.rulesFile ? await loadRulesFile(options.rulesFile) : undefined);
    return options.demo ?? true ? await setUpDemo(store, keys, (path) => pool.hash(path), demoDirOf(options)) : undefined;
  } finally {
    await pool.close();
    db.close();
    await store.close();
  }
}

export async function startService(options: ServeOptions): Promise<RunningService> {
  const store = await openStore(options.storeUrl);
  const statePath = stateDbPathFor(options.storeUrl, options.statePath);
  const db = openStateDb(statePath);
  const stateDir = dirname(resolve(statePath));
  const records = new PipelineRecords(db);
  const audit = new AuditLog(db);
  const keys = new ApiKeyStore(db);
  const queue = new SqliteJobQueue(db);
  const rules = new RulesState(records, audit, options.rulesFile ? await loadRulesFile(options.rulesFile) : undefined);
  const matcher = new BankMatcher(store, { digestIndex: createDigestIndex, ...(options.pollMs ? { pollMs: options.pollMs } : {}) });
  const pool = new HashPool({ dihedral: true, views: true, ...(options.hashThreads ? { threads: options.hashThreads } : {}) });
  const hashFile = (path: string, budget?: ItemBudget) => pool.hash(path, budget);
  const tempDir = mkdtempSync(join(tmpdir(), 'vigil-uploads-'));
  const evidenceDir = options.evidenceDir ?? join(stateDir, 'vigil-evidence');
  const evidence = new EvidenceVault(evidenceDir, EvidenceVault.masterKeyFrom(process.env.VIGIL_EVIDENCE_KEY, `${evidenceDir}.key`).key);
  const usage = new KeyUsage(audit, keys);
  // Declared before the pipeline (which wakes it) and created after it.
  // eslint-disable-next-line prefer-const
  let worker: QueueWorker | undefined;
  let ready = false;
  const log = (msg: string, err?: unknown) => process.stderr.write(`vigil: ${msg}${err ? `: ${(err as Error)?.message ?? String(err)}` : ''}\n`);

  const metrics = new ServiceMetrics({ queue, indexSize: () => matcher.sizes, retained: () => records.countRetained() });
  const pipeline = new ContentPipeline({
    store, matcher, records, queue, audit, evidence, hashFile,
    rules: () => rules.engine,
    lateMatchWebhooks: () => rules.webhookNames(),
    retainDays: options.retainDays ?? 0,
    onDecision: (r) => metrics.decided(r),
    onJobsQueued: () => worker?.notify(),
    log,
  });
  const retro = (options.retainDays ?? 0) > 0 ? new RetroMatcher({ store, matcher, records, pipeline, log }) : undefined;
  worker = new QueueWorker({
    queue,
    handlers: { [WEBHOOK_QUEUE]: webhookHandler((name) => rules.endpoint(name)) },
    concurrency: options.queueConcurrency ?? 4,
    ...(options.queueLeaseMs !== undefined ? { leaseMs: options.queueLeaseMs } : {}),
    onDead: (job) => audit.append({ actor: 'system', action: 'job.dead', subject: `job:${job.id}`, details: { queue: job.queue, idempotencyKey: job.idempotencyKey, attempts: job.attempts, lastError: job.lastError } }),
    onLoopError: (err) => log('queue worker', err),
  });

  const ctx: ServiceContext = {
    store, matcher, records, pipeline, queue, audit, keys, rules, metrics, usage, hashFile, tempDir,
    ...(retro ? { retro } : {}),
    isReady: () => ready,
    notifyWorker: () => worker?.notify(),
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    ...(options.anonymousScopes ? { anonymousScopes: options.anonymousScopes } : {}),
    ...(options.metricsPublic ? { metricsPublic: true } : {}),
  };

  const demo = options.demo ?? true ? await setUpDemo(store, keys, hashFile, demoDirOf(options)) : undefined;

  await matcher.warm();
  ready = true;
  matcher.start();
  usage.start();
  if (options.background ?? true) {
    worker.start();
    retro?.start(options.retroIntervalMs);
  }
  audit.append({ actor: 'system', action: 'service.started', subject: 'service', details: { rulesVersion: rules.engine.version, rulesSource: rules.source, signals: matcher.sizes } });

  const app = await buildApp(ctx, { ...(options.logger !== undefined ? { logger: options.logger } : {}) });
  const host = options.host ?? '127.0.0.1';
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      await retro?.stop();
      await worker?.stop();
      usage.stop();
      matcher.stop();
      audit.append({ actor: 'system', action: 'service.stopped', subject: 'service', details: {} });
      await pool.close();
      await store.close();
      db.close();
      rmSync(tempDir, { recursive: true, force: true });
    })());
  try {
    await app.listen({ host, port: options.port ?? 8080 });
  } catch (err) {
    await close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Cannot listen on ${host}:${options.port ?? 8080} (${code}); pick another with --port (0 = any free port)`);
    }
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { app, ctx, url, ...(demo ? { demo } : {}), close };
}
