/** Everything a route may use: the application core (`vigil`) and the HTTP adapter's own parts. */
import type { Vigil } from '../app/vigil.js';
import type { Scope } from '../auth/keys.js';
import type { BudgetLimits, ItemBudget } from '../core/budget.js';
import type { ImportJobs } from '../banks/import-jobs.js';
import type { FailedKeyThrottle, KeyUsage } from './auth.js';
import type { ServiceMetrics } from './metrics.js';
import type { ReviewWebOptions } from './web/routes.js';
import type { ClientDemoOptions } from './web/client-demo.js';

export interface ServiceLimits {
  /** Largest upload (POST /v1/content, HMA hashing), bytes. */
  maxUploadBytes: number;
  /** Largest hash-list upload, bytes. */
  maxImportBytes: number;
  /** Largest JSON body, bytes. */
  maxJsonBytes: number;
  /** Hashes per /v1/lookup request. */
  maxLookupBatch: number;
  /** Per-item hashing budget of uploads (pixels across frames, frames, wall time); default DEFAULT_BUDGET. */
  budget?: Partial<BudgetLimits>;
}

export const DEFAULT_LIMITS: ServiceLimits = {
  maxUploadBytes: 256 * 1024 * 1024,
  maxImportBytes: 8 * 1024 * 1024 * 1024,
  maxJsonBytes: 16 * 1024 * 1024,
  maxLookupBatch: 1000,
};

export interface ServiceContext {
  vigil: Vigil;
  /** Shorthands for the core's parts the routes use most. */
  store: Vigil['store'];
  matcher: Vigil['matcher'];
  records: Vigil['records'];
  pipeline: Vigil['pipeline'];
  retro?: NonNullable<Vigil['retro']>;
  queue: Vigil['queue'];
  audit: Vigil['audit'];
  keys: Vigil['keys'];
  rules: Vigil['rules'];
  banks: Vigil['banks'];
  /** Exchange APIs, credentials and exchanges (HMA's /c/exchange* routes). */
  exchanges: Vigil['exchanges'];
  metrics: ServiceMetrics;
  usage: KeyUsage;
  /** Hashes a file with digests, PDQ (+ views, dihedrals) and vPDQ, off the event loop. */
  hashFile: (path: string, budget?: ItemBudget) => Promise<FileHashRecordLike>;
  /** True once the indexes hold the store's signals and while they keep up with the change feed. */
  isReady: () => boolean;
  /** Wakes the queue worker after jobs were queued outside the pipeline. */
  notifyWorker: () => void;
  /** Private folder for uploads in flight (removed after hashing). */
  tempDir: string;
  limits: ServiceLimits;
  /** List imports running or recently finished (in memory; created by the bank routes when absent). */
  imports?: ImportJobs;
  /** Scopes granted without a key (e.g. HMA-style lookups from a trusted network); none by default. */
  anonymousScopes?: readonly Scope[];
  /** Failed API-key attempts per client address (default: 20 a minute, then 429). */
  authThrottle?: FailedKeyThrottle;
  /** /metrics without a key (for a scraper on a private network); off by default. */
  metricsPublic?: boolean;
  /** The HMA-compatible surface's options (routes/hma.ts). */
  hma?: HmaOptions;
  /** The review UI's options (web/routes.ts). */
  reviewWeb?: ReviewWebOptions;
  /** The client-side hashing demo page (/demo/client), in demo mode: its device key. */
  clientDemo?: ClientDemoOptions;
}

export interface HmaOptions {
  /** `?url=` may fetch from private, loopback and link-local addresses (off: public hosts only). */
  allowPrivateNetworks?: boolean;
  /** Signal types HMA answers with beyond its defaults (pdq for photos, video_md5 for videos): vpdq, md5, sha256, sha1. */
  extraSignalTypes?: readonly string[];
}

type FileHashRecordLike = Awaited<ReturnType<Vigil['hashFile']>>;
