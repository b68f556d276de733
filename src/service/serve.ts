/**
 * `vigil serve`'s adapter: the application core from `createVigil(config)`, then the HTTP API over it, the
 * key-usage counter, metrics, the demo for a fresh clone, and listening. `close()` stops in the reverse order,
 * letting in-flight requests and jobs finish.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { parseConfig, type ConfigInput, type VigilConfig } from '../app/config.js';
import { createVigil, stateDirOf, type Vigil } from '../app/vigil.js';
import { VigilError } from '../core/errors.js';
import { isPostgresUrl } from '../state/database.js';
import type { Scope } from '../auth/keys.js';
import { buildApp } from './app.js';
import { defaultUploadBase, openUploadDir } from './uploads.js';
import { KeyUsage } from './auth.js';
import { DEFAULT_LIMITS, type HmaOptions, type ServiceContext, type ServiceLimits } from './context.js';
import { ensureDemoBank, ensureDemoDeviceKey, ensureDemoKey, ensureDemoReview, writeDemoPictures, DEMO_BANK, type DemoKey } from './demo.js';
import { startupWarnings } from './startup-notes.js';
import { AuditCheckpointer, loadSigningKey } from '../audit/checkpoint.js';
import { ServiceMetrics } from './metrics.js';
import type { ReviewWebOptions } from './web/routes.js';

export interface ServeOptions {
  /** The whole configuration (the CLI's); the options below are shorthands for tests and embedders. */
  config?: VigilConfig;
  storeUrl: string;
  /** PostgreSQL: a schema to create and use. */
  schema?: string;
  /** Evidence master keys ("id:base64,…"). */
  evidenceKeys?: string;
  /** Where evidence goes (a folder or postgres:// URL), its schema and keys; overrides evidenceDir/evidenceKeys. */
  evidence?: { location: string; schema?: string; keys?: string; keyFile?: string };
  /** Base folder for in-flight uploads (default the OS temp folder); each process uses its own sub-folder. */
  uploadDir?: string;
  /** The HMA-compatible surface's options. */
  hma?: HmaOptions;
  /** The review UI's options (secure cookies, media link lifetime). */
  reviewWeb?: ReviewWebOptions;
  /** CyberTipline reporting (NCMEC endpoint and credentials, reporter, retention): docs/reporting.md. */
  reporting?: ConfigInput['reporting'];
  /** Matchers run by someone else (docs/exchanges.md, "Remote matchers"). */
  remoteMatchers?: ConfigInput['remoteMatchers'];
  /** Webhook secrets (default: the process environment). */
  secrets?: Record<string, string | undefined>;
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
  /**
   * Request logs: false for none; true or `{ level }` to log requests through the core's pino logger (one
   * logger and format for requests and background work) at that level. Default: `server.log` of the config.
   */
  logger?: boolean | { level?: string };
  /** Matcher poll interval (ms). */
  pollMs?: number;
  queueConcurrency?: number;
  /** How often the background process fetches each enabled exchange (0: never); default 300,000 ms. */
  exchangeFetchIntervalMs?: number;
  /** Let exchanges fetch from private addresses (tests' local servers; an operator's own network). */
  exchangeAllowPrivateNetworks?: boolean;
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
  /** Signed audit checkpoints outside the database (config `audit`). */
  audit?: { checkpointFile: string; checkpointKeyFile: string; checkpointWebhook?: string; checkpointIntervalMs?: number };
  /** The core's logger (default: pino to stderr at the config's level); requests log through it too. */
  log?: Logger;
  /** The clock (tests: readiness and lag without waiting). */
  now?: () => Date;
}

export interface RunningService {
  app: FastifyInstance;
  ctx: ServiceContext;
  url: string;
  demo?: { bank: string; dir: string; key?: DemoKey; created: boolean; reviewer?: { name: string; password: string }; clientPage?: boolean };
  /** Said loudly at start-up (startup-notes.ts): anonymous admin, an ignored rules file. */
  warnings: string[];
  /** Writes signed audit checkpoints (when configured): periodically, and on demand with checkpoint(). */
  checkpoints?: AuditCheckpointer;
  close(): Promise<void>;
}

type Demo = NonNullable<RunningService['demo']>;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function logLevelOf(logger: ServeOptions['logger']): (typeof LEVELS)[number] {
  if (logger === undefined || logger === false) return 'warn';
  const level = typeof logger === 'object' ? logger.level : undefined;
  return LEVELS.find((l) => l === level) ?? 'info';
}

/** The core's configuration for these options (a full `config` wins; the options fill what it leaves out). */
export function configOf(options: ServeOptions): VigilConfig {
  if (options.config) {
    // A cluster worker gets the primary's configuration with its own thread count and no demo of its own.
    const c = options.config;
    return { ...c, demo: { ...c.demo, enabled: options.demo ?? c.demo.enabled }, hashing: options.hashThreads ? { threads: options.hashThreads } : c.hashing };
  }
  const input: ConfigInput = {
    database: { url: options.storeUrl, ...(options.schema ? { schema: options.schema } : {}) },
    hashing: options.hashThreads ? { threads: options.hashThreads } : {},
    matching: { pollMs: options.pollMs ?? 1000, maxLagMs: 30_000 },
    retention: { retainDays: options.retainDays ?? 0, ...(options.retroIntervalMs ? { retroIntervalMs: options.retroIntervalMs } : {}) },
    queue: { concurrency: options.queueConcurrency ?? 4, leaseMs: options.queueLeaseMs ?? 60_000 },
    exchanges: { fetchIntervalMs: options.exchangeFetchIntervalMs ?? 300_000, allowPrivateNetworks: options.exchangeAllowPrivateNetworks ?? options.hma?.allowPrivateNetworks ?? false },
    rules: options.rulesFile ? { file: options.rulesFile } : {},
    demo: { enabled: options.demo ?? true, ...(options.demoDir ? { dir: options.demoDir } : {}) },
    evidence: options.evidence
      ? { dir: options.evidence.location, ...(options.evidence.schema ? { schema: options.evidence.schema } : {}), ...(options.evidence.keys ? { keys: options.evidence.keys } : {}), ...(options.evidence.keyFile ? { keyFile: options.evidence.keyFile } : {}) }
      : { ...(options.evidenceDir ? { dir: options.evidenceDir } : {}), ...(options.evidenceKeys ? { keys: options.evidenceKeys } : {}) },
    server: {
      host: options.host ?? '127.0.0.1', port: options.port ?? 8080, anonymousScopes: [...(options.anonymousScopes ?? [])],
      metricsPublic: options.metricsPublic ?? false, log: options.logger !== undefined && options.logger !== false,
    },
    // Without request logs only warnings and errors (of background work) are worth a line.
    log: { level: logLevelOf(options.logger) },
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.reporting ? { reporting: options.reporting } : {}),
    ...(options.remoteMatchers ? { remoteMatchers: options.remoteMatchers } : {}),
  };
  return parseConfig(input);
}

/** Demo files sit beside the SQLite file (./vigil-demo for the default ./vigil.db), or in the folder configured. */
function demoDirOf(config: VigilConfig): string {
  return resolve(config.demo.dir ?? join(stateDirOf(config), 'vigil-demo'));
}

/**
 * The demo runs on an embedded (SQLite) store. On PostgreSQL it would write pictures and a key file into the
 * working folder of whichever machine starts first, so there it runs only where a demo folder is configured
 * (`demo.dir`): `vigil serve --db postgres://…` writes nothing local.
 */
export function demoEnabled(config: VigilConfig): boolean {
  return config.demo.enabled && (!isPostgresUrl(config.database.url) || config.demo.dir !== undefined);
}

async function setUpDemo(vigil: Vigil): Promise<Demo> {
  const dir = demoDirOf(vigil.config);
  const created = await ensureDemoBank(vigil.store, await writeDemoPictures(dir), (path) => vigil.hashFile(path));
  const key = await ensureDemoKey(vigil.keys, dir);
  return { bank: DEMO_BANK, dir, created, ...(key ? { key } : {}) };
}

function warningsOf(vigil: Vigil): string[] {
  return startupWarnings({ anonymousScopes: vigil.config.server.anonymousScopes, rulesFile: vigil.config.rules.file, rulesFileOverridden: vigil.rules.overriddenFile });
}

/**
 * One-time set-up before a cluster forks: every migration, the rules file checked, the demo bank and key.
 * Workers then start on a ready database and never race each other to create them.
 */
export async function prepareService(options: ServeOptions): Promise<{ demo?: Demo; warnings: string[] }> {
  const config = configOf(options);
  const vigil = await createVigil(config, { secrets: options.secrets ?? process.env, hashing: { views: false, dihedral: false } });
  try {
    // Evidence configuration checked, and a demo key file generated, once before the workers start.
    await vigil.evidence();
    const demo = demoEnabled(config) ? await setUpDemo(vigil) : undefined;
    return { ...(demo ? { demo } : {}), warnings: warningsOf(vigil) };
  } finally {
    await vigil.close();
  }
}

export async function startService(options: ServeOptions): Promise<RunningService> {
  const config = configOf(options);
  const vigil = await createVigil(config, { secrets: options.secrets ?? process.env, ...(options.now ? { now: options.now } : {}), ...(options.log ? { logger: options.log } : {}) });
  const { matcher, queue, records, worker } = vigil;
  const tempDir = await openUploadDir(options.uploadDir ?? defaultUploadBase());
  const usage = new KeyUsage(vigil.db, vigil.audit, vigil.keys, { onError: (err) => vigil.log.error({ err }, 'key usage flush failed') });
  const metrics = new ServiceMetrics({ queue, indexSize: () => matcher.sizes, retained: () => 0, lagSeconds: () => matcher.lagMs() / 1000, syncErrors: () => matcher.health.syncErrors, reports: () => vigil.reports.counts() });
  vigil.pipeline.onDecision = (r) => metrics.decided(r);
  void records;

  const ctx: ServiceContext = {
    vigil,
    store: vigil.store, matcher, records: vigil.records, pipeline: vigil.pipeline, queue, audit: vigil.audit, keys: vigil.keys, rules: vigil.rules, banks: vigil.banks, exchanges: vigil.exchanges,
    metrics, usage, hashFile: (path, budget) => vigil.hashFile(path, budget), tempDir,
    ...(vigil.retro ? { retro: vigil.retro } : {}),
    isReady: () => vigil.isReady(),
    notifyWorker: () => worker.notify(),
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    ...(config.server.anonymousScopes.length > 0 ? { anonymousScopes: config.server.anonymousScopes } : {}),
    ...(config.server.metricsPublic ? { metricsPublic: true } : {}),
    ...(options.hma ? { hma: options.hma } : {}),
    ...(options.reviewWeb ? { reviewWeb: options.reviewWeb } : {}),
  };

  let app: FastifyInstance | undefined;
  const host = config.server.host;
  let closing: Promise<void> | undefined;
  let checkpoints: AuditCheckpointer | undefined;
  let fleetBeat: { stop(): Promise<void> } | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app?.close();
      await fleetBeat?.stop().catch((err: unknown) => vigil.log.error({ err }, 'fleet heartbeat stop failed'));
      await usage.stop().catch((err: unknown) => vigil.log.error({ err }, 'key usage flush failed'));
      await vigil.audit.appendNow({ actor: 'system', action: 'service.stopped', subject: 'service', details: {} }).catch((err: unknown) => vigil.log.error({ err }, 'audit of the service stop failed'));
      await checkpoints?.stop().catch((err: unknown) => vigil.log.error({ err }, 'audit checkpoint failed'));
      await vigil.close();
      rmSync(tempDir, { recursive: true, force: true });
    })());
  let demo: Demo | undefined;
  let warnings: string[];
  try {
    // Evidence configuration checked at start (on PostgreSQL its master keys must be configured), not at the first preserve.
    await vigil.evidence();
    demo = demoEnabled(config) ? await setUpDemo(vigil) : undefined;
    const deviceKey = demo ? await ensureDemoDeviceKey(vigil.keys, demo.dir, demo.key) : undefined;
    if (deviceKey) {
      ctx.clientDemo = { deviceKey };
      demo!.clientPage = true;
    }
    await vigil.warm();
    // Review demo items go through the pipeline, so after the index is warm; one process of a cluster does it.
    if (demo && (options.background ?? true)) {
      const reviewer = await ensureDemoReview(vigil, demo.dir, await writeDemoPictures(demo.dir));
      if (reviewer) demo.reviewer = reviewer;
    }
    usage.start();
    if (options.background ?? true) vigil.startBackground();
    const rules = await vigil.rules.fresh();
    warnings = warningsOf(vigil);
    for (const line of warnings) vigil.log.warn(line);
    await vigil.audit.appendNow({
      actor: 'system', action: 'service.started', subject: 'service',
      details: { rulesVersion: rules.version, rulesSource: vigil.rules.source, ...(vigil.rules.overriddenFile ? { rulesFileIgnored: config.rules.file } : {}), anonymousScopes: config.server.anonymousScopes, signals: matcher.sizes },
    });
    // One process checkpoints (the one doing background work): the key is read now, so a bad one stops the start.
    const audit = config.audit;
    if (audit.checkpointFile && audit.checkpointKeyFile && (options.background ?? true)) {
      checkpoints = new AuditCheckpointer({
        audit: vigil.audit, file: audit.checkpointFile, key: loadSigningKey(audit.checkpointKeyFile), intervalMs: audit.checkpointIntervalMs,
        ...(audit.checkpointWebhook ? { webhookUrl: audit.checkpointWebhook } : {}),
        onError: (err) => vigil.log.error({ err }, 'audit checkpoint failed'),
      });
      await checkpoints.checkpoint();
      checkpoints.start();
    }
    app = await buildApp(ctx, config.server.log ? { loggerInstance: vigil.log } : {});
    await app.listen({ host, port: config.server.port });
  } catch (err) {
    await close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Cannot listen on ${host}:${config.server.port} (${code}); pick another with --port (0 = any free port)`);
    }
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  // With Redis configured this process appears in `vigil fleet status` (docs/fleet.md).
  if (config.redis.url) fleetBeat = await (await import('../fleet/process.js')).startApiHeartbeat(vigil, url);
  return { app, ctx, url, ...(demo ? { demo } : {}), warnings, ...(checkpoints ? { checkpoints } : {}), close };
}
