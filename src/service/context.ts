/** Everything a route may use, built once by serve.ts (or by a test). */
import type { BudgetLimits, ItemBudget } from '../core/budget.js';
import type { ImportJobs } from '../banks/import-jobs.js';
import type { AuditLog } from '../audit/log.js';
import type { ApiKeyStore, Scope } from '../auth/keys.js';
import type { BankMatcher } from '../banks/matcher.js';
import type { FileHashRecord } from '../hashing/hash-file.js';
import type { ContentPipeline } from '../pipeline/pipeline.js';
import type { PipelineRecords } from '../pipeline/records.js';
import type { RetroMatcher } from '../pipeline/retro.js';
import type { SqliteJobQueue } from '../queue/sqlite-queue.js';
import type { Store } from '../store/types.js';
import type { KeyUsage } from './auth.js';
import type { ServiceMetrics } from './metrics.js';
import type { RulesState } from './rules-state.js';

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
  store: Store;
  matcher: BankMatcher;
  records: PipelineRecords;
  pipeline: ContentPipeline;
  retro?: RetroMatcher;
  queue: SqliteJobQueue;
  audit: AuditLog;
  keys: ApiKeyStore;
  rules: RulesState;
  metrics: ServiceMetrics;
  usage: KeyUsage;
  /** Hashes a file with digests, PDQ (+ views, dihedrals) and vPDQ, off the event loop. */
  hashFile: (path: string, budget?: ItemBudget) => Promise<FileHashRecord>;
  /** True once the indexes hold the store's signals. */
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
  /** /metrics without a key (for a scraper on a private network); off by default. */
  metricsPublic?: boolean;
}
