/** Everything a route may use: the application core (`vigil`) and the HTTP adapter's own parts. */
import type { Vigil } from '../app/vigil.js';
import type { Scope } from '../auth/keys.js';
import type { KeyUsage } from './auth.js';
import type { ServiceMetrics } from './metrics.js';

export interface ServiceLimits {
  /** Largest upload (POST /v1/content, HMA hashing), bytes. */
  maxUploadBytes: number;
  /** Largest hash-list upload, bytes. */
  maxImportBytes: number;
  /** Largest JSON body, bytes. */
  maxJsonBytes: number;
  /** Hashes per /v1/lookup request. */
  maxLookupBatch: number;
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
  hashFile: (path: string) => Promise<FileHashRecordLike>;
  /** True once the indexes hold the store's signals and while they keep up with the change feed. */
  isReady: () => boolean;
  /** Wakes the queue worker after jobs were queued outside the pipeline. */
  notifyWorker: () => void;
  /** Private folder for uploads in flight (removed after hashing). */
  tempDir: string;
  limits: ServiceLimits;
  /** Scopes granted without a key (e.g. HMA-style lookups from a trusted network); none by default. */
  anonymousScopes?: readonly Scope[];
  /** /metrics without a key (for a scraper on a private network); off by default. */
  metricsPublic?: boolean;
  /** The HMA-compatible surface's options (routes/hma.ts). */
  hma?: HmaOptions;
}

export interface HmaOptions {
  /** `?url=` may fetch from private, loopback and link-local addresses (off: public hosts only). */
  allowPrivateNetworks?: boolean;
  /** Signal types HMA answers with beyond its defaults (pdq for photos, video_md5 for videos): vpdq, md5, sha256, sha1. */
  extraSignalTypes?: readonly string[];
}

type FileHashRecordLike = Awaited<ReturnType<Vigil['hashFile']>>;
