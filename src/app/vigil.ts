/**
 * The composition root: `createVigil(config)` builds, once, everything every entry point shares — the database
 * (SQLite or PostgreSQL) with its one migration system, the store, the state repositories, the matcher, the
 * pipeline, the application services and the background workers. HTTP (service/), the CLI (cli/) and
 * worker processes are thin adapters over the `Vigil` it returns; nothing below it reads `process.env`.
 */
import { mkdirSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { AuditLog } from '../audit/log.js';
import { AUDIT_COMPONENT } from '../audit/schema.js';
import { API_KEYS_CHANNEL, ApiKeyStore } from '../auth/keys.js';
import { AUTH_COMPONENT, USERS_COMPONENT } from '../auth/schema.js';
import { UserStore } from '../auth/users.js';
import { createDigestIndex, loadDigestIndex } from '../banks/digest-index.js';
import { BankMatcher } from '../banks/matcher.js';
import type { ItemBudget } from '../core/budget.js';
import type { FileHashRecord } from '../hashing/hash-file.js';
import type { HashPool } from '../hashing/pool.js';
import { ContentPipeline, type EvidenceSink } from '../pipeline/pipeline.js';
import { RetroMatcher } from '../pipeline/retro.js';
import { remoteMatcherOf } from '../pipeline/remote.js';
import { REMOTE_CHECKS_COMPONENT } from '../pipeline/remote-schema.js';
import { SqlJobQueue } from '../queue/sql-queue.js';
import { QUEUE_COMPONENT } from '../queue/schema.js';
import { QueueWorker, type JobHandler } from '../queue/worker.js';
import { DecisionRecords } from '../records/decisions.js';
import { RECORDS_COMPONENT } from '../records/schema.js';
import { loadRulesFile } from '../rules/load.js';
import { RulesState } from '../service/rules-state.js';
import { defaultUploadBase, openUploadDir } from '../service/uploads.js';
import { isPostgresUrl, openDatabase, type Tx, type VigilDatabase } from '../state/database.js';
import { migrate } from '../state/migrate.js';
import { storeOver } from '../store/store.js';
import type { Store } from '../store/types.js';
import { WEBHOOK_QUEUE, webhookHandler } from '../webhooks/deliver.js';
import { openEvidenceStore } from '../evidence/open.js';
import type { EvidenceStore } from '../evidence/store.js';
import { BankService } from './banks.js';
import { ReviewService } from './review.js';
import { REVIEW_COMPONENT } from './review-schema.js';
import { SESSIONS_COMPONENT, SessionStore } from '../auth/sessions.js';
import { EXCHANGES_COMPONENT, ExchangeConfigs } from '../exchanges/config.js';
import { createExchangeClient } from '../exchanges/clients.js';
import { publicOnlyFetch } from '../exchanges/public-fetch.js';
import { EXCHANGE_FEEDBACK_QUEUE, ExchangeFeedbackQueue } from '../exchanges/feedback.js';
import { EXCHANGE_SYNC_COMPONENT, ExchangeFetcher } from '../exchanges/fetcher.js';
import { ExchangeScheduler } from '../exchanges/scheduler.js';
import type { VigilConfig } from './config.js';
import { OIDC_COMPONENT } from '../auth/oidc.js';
import { IndexSnapshots, restoreIndex } from './index-snapshots.js';
import { FLEET_COMPONENT, SIGNALS_CHANNEL } from '../fleet/schema.js';
import { coalescing, PgNotifications } from '../fleet/notifications.js';
import { CONTENT_QUEUE, contentHandler } from '../fleet/content-jobs.js';
import { pgClientConfig } from '../state/database.js';
import { REPORTS_COMPONENT } from '../reports/schema.js';
import { REPORT_QUEUE, ReportService } from '../reports/service.js';
import { EvidenceRetention } from '../reports/retention.js';
import { autoOpenAllowed } from '../reports/auto-open.js';

export interface Vigil {
  readonly config: VigilConfig;
  readonly log: Logger;
  readonly db: VigilDatabase;
  readonly store: Store;
  readonly records: DecisionRecords;
  readonly audit: AuditLog;
  readonly keys: ApiKeyStore;
  readonly users: UserStore;
  readonly queue: SqlJobQueue;
  readonly rules: RulesState;
  readonly matcher: BankMatcher;
  readonly banks: BankService;
  /** Web sessions of people (the review UI). */
  readonly sessions: SessionStore;
  /** The review workflow: queue, claims, decisions, reveals. */
  readonly review: ReviewService;
  readonly exchanges: ExchangeConfigs;
  /** CyberTipline reports (reports/: state machine, NCMEC client). */
  readonly reports: ReportService;
  /** Preservation of reported evidence: legal holds, purge, audited reads. */
  readonly retention: EvidenceRetention;
  /** Fetches exchanges into their banks (scheduled by startBackground when exchanges.fetchIntervalMs > 0). */
  readonly exchangeFetcher: ExchangeFetcher;
  /** The evidence store (opened on first use: only a process that preserves or reads evidence needs keys). */
  evidence(): Promise<EvidenceStore>;
  /** Hashes a file with digests, PDQ (+ views, dihedrals) and vPDQ in worker threads (pool started on first use). */
  hashFile(path: string, budget?: ItemBudget): Promise<FileHashRecord>;
  readonly pipeline: ContentPipeline;
  readonly retro: RetroMatcher | undefined;
  readonly worker: QueueWorker;
  /** The handler of every job queue (the embedded worker's and a fleet worker's). */
  readonly jobHandlers: Readonly<Record<string, JobHandler>>;
  /** Loads the indexes (from the change feed) and starts following the feed; then the service is ready. */
  warm(): Promise<void>;
  /** Background work: the queue worker and retroactive matching (one process of a cluster runs it). */
  startBackground(): void;
  /** True once warm and while the index is no further behind the change feed than `matching.maxLagMs`. */
  isReady(now?: number): boolean;
  close(): Promise<void>;
}

export interface VigilOptions {
  /** Where webhook secrets are read (the environment, passed by the entry point). */
  secrets?: Record<string, string | undefined>;
  logger?: Logger;
  /** Hashing options for the pool (the service hashes views and dihedrals; a CLI may not need a pool). */
  hashing?: { views?: boolean; dihedral?: boolean };
  now?: () => Date;
}

/** Every component of the database, store first: one migration run creates or updates them all. */
export const COMPONENTS = [AUDIT_COMPONENT, AUTH_COMPONENT, USERS_COMPONENT, QUEUE_COMPONENT, RECORDS_COMPONENT, EXCHANGES_COMPONENT, SESSIONS_COMPONENT, REVIEW_COMPONENT, FLEET_COMPONENT, OIDC_COMPONENT, REPORTS_COMPONENT, EXCHANGE_SYNC_COMPONENT, REMOTE_CHECKS_COMPONENT];

/** Where index snapshots go: configured, or beside an embedded store's file; none for PostgreSQL or in memory. */
export function snapshotDirOf(config: VigilConfig): string | undefined {
  if (!config.matching.snapshots) return undefined;
  if (config.matching.snapshotDir) return resolve(config.matching.snapshotDir);
  const url = config.database.url;
  if (isPostgresUrl(url)) return undefined;
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  return file === ':memory:' || file === '' ? undefined : `${resolve(file)}.index`;
}

/** The folder an embedded store's files sit beside (evidence, demo pictures). */
export function stateDirOf(config: VigilConfig): string {
  const url = config.database.url;
  if (isPostgresUrl(url)) return resolve('.');
  return dirname(resolve(url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url));
}

export async function createVigil(config: VigilConfig, options: VigilOptions = {}): Promise<Vigil> {
  const log = options.logger ?? pino({ level: config.log.level, base: { service: 'vigil' } }, pino.destination(2));
  const db = await openDatabase(config.database.url, {
    poolSize: config.database.poolSize,
    ...(config.database.schema ? { schema: config.database.schema } : {}),
    ...(config.database.pgUser ? { pgUser: config.database.pgUser } : {}),
  });
  try {
    return await assemble(db, config, options, log);
  } catch (err) {
    await db.close();
    throw err;
  }
}

async function assemble(db: VigilDatabase, config: VigilConfig, options: VigilOptions, log: Logger): Promise<Vigil> {
  const store = await storeOver(db);
  await migrate(db, COMPONENTS);
  const now = options.now;
  const audit = new AuditLog(db, now ? { now } : {});
  const keys = new ApiKeyStore(db, audit, now ? { now } : {});
  const users = new UserStore(db, audit, now ? { now } : {});
  const queue = new SqlJobQueue(db);
  const records = new DecisionRecords(db);
  const rules = await RulesState.load({ db, records, audit, ...(config.rules.file ? { fromFile: await loadRulesFile(config.rules.file) } : {}), secrets: options.secrets ?? {} });
  const clock = () => (now?.() ?? new Date()).getTime();
  // The matcher counts its own failures (health.syncErrors, the lag metric); here they are logged.
  const snapshotDir = snapshotDirOf(config);
  let snapshots: IndexSnapshots | undefined;
  const matcher = new BankMatcher(store, {
    digestIndex: createDigestIndex,
    loadDigestIndex,
    pollMs: config.matching.pollMs,
    now: clock,
    onError: (what, err) => log.error({ err, what }, 'matcher background work failed'),
    onCompacted: () => snapshots?.compacted(),
  });
  let restoredPosition: number | undefined;
  const banks = new BankService({ db, store, audit, onChange: () => matcher.sync() });
  const sessions = new SessionStore(db, users, now ? { now } : {});
  // Declared before the review service and the pipeline (which open reports) and created after the evidence store.
  // eslint-disable-next-line prefer-const
  let reports: ReportService | undefined;
  const reporting = config.reporting;
  const review = new ReviewService({ db, records, audit, banks, store, sessions, ...(now ? { now } : {}),
    ...(reporting.reporter ? { onConfirmed: async (tx: Tx, item: { incidentId: number | null }, who: { actor: string; requestId?: string | null }) => void (await reports!.openIn(tx, item.incidentId!, who)) } : {}) });

  let pool: HashPool | undefined;
  // One pool however many uploads arrive before the module has loaded (its scheduler sees them all).
  let opening: Promise<HashPool> | undefined;
  const hashFile = async (path: string, budget?: ItemBudget) => {
    opening ??= import('../hashing/pool.js').then(({ HashPool: Pool }) => (pool = new Pool({ schedule: 'by-cost', dihedral: options.hashing?.dihedral ?? true, views: options.hashing?.views ?? true, ...(config.hashing.threads ? { threads: config.hashing.threads } : {}) })));
    return (await opening).hash(path, budget);
  };

  let evidence: Promise<EvidenceStore> | undefined;
  // Exchange credentials are sealed with a key derived from the evidence master key (one secret to manage).
  const exchangesKey = async () => (await openEvidence()).keys.active.key;
  const openEvidence = () =>
    (evidence ??= (async () => {
      const location = config.evidence.dir ?? (isPostgresUrl(config.database.url) ? config.database.url : join(stateDirOf(config), 'vigil-evidence'));
      const pg = isPostgresUrl(location);
      if (!pg) mkdirSync(dirname(resolve(location)), { recursive: true });
      const schema = config.evidence.schema ?? (pg && location === config.database.url ? config.database.schema : undefined);
      const opened = await openEvidenceStore({
        location,
        ...(schema ? { schema } : {}),
        ...(config.evidence.keys ? { keys: config.evidence.keys } : {}),
        ...(config.evidence.keyFile ? { keyFile: config.evidence.keyFile } : {}),
      });
      for (const w of opened.warnings) log.warn(w);
      return opened.store;
    })());
  const sink: EvidenceSink = {
    sealFile: async (path) => (await openEvidence()).put(createReadStream(path)),
    discard: async (id) => (await openEvidence()).delete(id),
  };

  // Declared before the pipeline (which wakes it) and created after it.
  // eslint-disable-next-line prefer-const
  let worker: QueueWorker | undefined;
  const pipeline = new ContentPipeline({
    db, store, matcher, records, queue, audit, hashFile, evidence: sink,
    rules: () => rules.fresh(),
    lateMatchWebhooks: () => rules.webhookNames(),
    retainDays: config.retention.retainDays,
    onJobsQueued: () => worker?.notify(),
    log: (msg, err) => log.error({ err }, msg),
    remote: remoteMatcherOf(config.remoteMatchers.arachnid),
    warn: (msg) => log.warn(msg),
    ...(reporting.reporter && reporting.autoOpenBanks.length > 0 ? {
      onReportDraft: async (tx: Tx, draft: { decisionId: number; incidentId: number }) => {
        const policy = await autoOpenAllowed(tx, draft.decisionId, reporting.autoOpenBanks);
        if (policy.allowed) await reports!.openIn(tx, draft.incidentId, { actor: `policy:auto-open:${policy.bank}` });
      },
    } : {}),
  });
  reports = new ReportService({
    db, audit, queue, evidence: openEvidence, ncmec: reporting.ncmec, reporter: reporting.reporter, retentionDays: reporting.retentionDays,
    jurisdictions: reporting.jurisdictions, defaultJurisdiction: reporting.defaultJurisdiction, stuckAfterMs: reporting.stuckAfterMs,
    maxAttempts: reporting.maxAttempts, log, onJobsQueued: () => worker?.notify(), ...(now ? { now } : {}), platformWebhook: reporting.platformWebhook,
  });
  const retention = new EvidenceRetention({ db, audit, evidence: openEvidence, log, ...(now ? { now } : {}) });
  const retro = config.retention.retainDays > 0 ? new RetroMatcher({ store, matcher, records, pipeline, log: (msg, err) => log.error({ err }, msg) }) : undefined;
  const exchanges = new ExchangeConfigs(db, exchangesKey, audit);
  const exchangeHttp = config.exchanges.allowPrivateNetworks ? {} : { fetch: publicOnlyFetch() };
  const exchangeClient = (e: Parameters<typeof createExchangeClient>[0], c: Parameters<typeof createExchangeClient>[1]) => createExchangeClient(e, c, exchangeHttp);
  const exchangeFetcher = new ExchangeFetcher({ db, store, audit, configs: exchanges, clientFor: exchangeClient, onChange: () => banks.onChange(), now: clock, log });
  const exchangeFeedback = new ExchangeFeedbackQueue({ configs: exchanges, queue, audit, clientFor: exchangeClient });
  banks.onOpinion = (tx, signal, kind, actor) => exchangeFeedback.onOpinion(tx, signal, kind, actor);
  let exchangeScheduler: ExchangeScheduler | undefined;
  // Every queue's handler, in one place: the embedded SQL worker and a fleet's BullMQ workers (fleet/process.ts) run the same map.
  let uploadJobsDir: Promise<string> | undefined;
  const jobHandlers: Record<string, JobHandler> = {
    [WEBHOOK_QUEUE]: webhookHandler((name) => rules.freshEndpoint(name)),
    [CONTENT_QUEUE]: contentHandler(pipeline, { db, records, evidence: openEvidence, tempDir: () => (uploadJobsDir ??= openUploadDir(`${defaultUploadBase()}-jobs`).catch((err: unknown) => { uploadJobsDir = undefined; throw err; })) }),
    [REPORT_QUEUE]: (job) => reports!.handle(job),
    [EXCHANGE_FEEDBACK_QUEUE]: exchangeFeedback.handler,
  };
  worker = new QueueWorker({
    queue,
    handlers: jobHandlers,
    concurrency: config.queue.concurrency,
    leaseMs: config.queue.leaseMs,
    onDead: (job) => void audit.appendNow({ actor: 'system', action: 'job.dead', subject: `job:${job.id}`, details: { queue: job.queue, idempotencyKey: job.idempotencyKey, attempts: job.attempts, lastError: job.lastError } })
      .catch((err: unknown) => log.error({ err }, 'audit of a dead job failed')),
    onLoopError: (err) => log.error({ err }, 'queue worker'),
  });

  let warmed = false;
  let background = false;
  // PostgreSQL: bank changes reach this process's index by NOTIFY (the poll stays as the fallback).
  let notifications: PgNotifications | undefined;
  let closing: Promise<void> | undefined;
  const vigil: Vigil = {
    config, log, db, store, records, audit, keys, users, queue, rules, matcher, banks, sessions, review, exchanges, exchangeFetcher, pipeline, retro, worker, jobHandlers, reports, retention,
    evidence: openEvidence,
    hashFile,
    async warm() {
      if (snapshotDir && matcher.position === 0) restoredPosition = await restoreIndex(matcher, snapshotDir, log);
      await matcher.warm();
      matcher.start();
      if (db.engine === 'postgres' && !notifications) {
        const onError = (err: unknown) => log.warn({ err }, 'change notifications');
        notifications = new PgNotifications({
          client: pgClientConfig(config.database.url, { ...(config.database.schema ? { schema: config.database.schema } : {}), ...(config.database.pgUser ? { pgUser: config.database.pgUser } : {}) }),
          // A key change (a revocation by `vigil key revoke` or another server) drops this process's cached keys now, not within the TTL.
          channels: { [SIGNALS_CHANNEL]: coalescing(() => matcher.sync(), onError), [API_KEYS_CHANNEL]: () => keys.invalidate() },
          onError,
        });
        await notifications.start();
      }
      warmed = true;
    },
    startBackground() {
      if (background) return;
      background = true;
      // With Redis, `vigil worker` processes run the jobs (the relay feeds BullMQ from this outbox): docs/fleet.md.
      if (!config.redis.url) worker!.start();
      retro?.start(config.retention.retroIntervalMs);
      retention.start(reporting.purgeIntervalMs);
      if (config.exchanges.fetchIntervalMs > 0) {
        exchangeScheduler = new ExchangeScheduler({ fetcher: exchangeFetcher, configs: exchanges, intervalMs: config.exchanges.fetchIntervalMs, now: clock, log });
        exchangeScheduler.start(Math.min(30_000, config.exchanges.fetchIntervalMs));
      }
      if (snapshotDir && warmed) {
        snapshots = new IndexSnapshots({ matcher, dir: snapshotDir, intervalMs: config.matching.snapshotIntervalMs, log, now: clock, ...(restoredPosition !== undefined ? { restoredPosition } : {}) });
        snapshots.start();
      }
    },
    isReady(at = clock()) {
      return warmed && matcher.lagMs(at) <= config.matching.maxLagMs;
    },
    close: () =>
      (closing ??= (async () => {
        snapshots?.stop();
        await notifications?.stop();
        await retro?.stop();
        await retention.stop();
        await exchangeScheduler?.stop();
        await worker?.stop();
        matcher.stop();
        await pool?.close();
        // An evidence store that failed to open reported it to whoever opened it; there is nothing to close.
        if (evidence) await (await evidence.catch(() => undefined))?.close?.();
        await db.close();
      })()),
  };
  return vigil;
}
