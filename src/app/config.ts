/**
 * Vigil's configuration: one schema, validated once, from three sources merged in order — a JSON file
 * (`--config FILE` or VIGIL_CONFIG), the environment (VIGIL_* variables), then command-line flags. Nothing
 * below `createVigil` reads `process.env`: what it needs comes from here. An invalid value is reported with its
 * key and the reason (`VIGIL_ERR_INVALID_CONFIG`), every problem at once.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { VigilError } from '../core/errors.js';

const SCOPES = ['submit', 'lookup', 'curate', 'review', 'admin', 'device'] as const;
const PERSON_ROLES = ['reviewer', 'senior_reviewer', 'investigator', 'admin'] as const;

const positiveInt = z.number().int().positive();
const nonNegative = z.number().nonnegative();

export const CONFIG_SCHEMA = z.strictObject({
  database: z.strictObject({
    /** A SQLite file (embedded default) or a postgres:// URL. */
    url: z.string().min(1).default('vigil.db'),
    /** PostgreSQL: connections per process. */
    poolSize: positiveInt.max(200).default(10),
    /** PostgreSQL: the user for a URL without one (libpq's PGUSER). */
    pgUser: z.string().min(1).optional(),
    /** PostgreSQL: a schema to create and use (tests, several deployments in one database). */
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).optional(),
  }).default({ url: 'vigil.db', poolSize: 10 }),
  evidence: z.strictObject({
    /** Where evidence goes: a folder (default: vigil-evidence beside the SQLite file) or a postgres:// URL (default for a PostgreSQL database). */
    dir: z.string().min(1).optional(),
    /** PostgreSQL evidence: the schema its tables live in. */
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).optional(),
    /** Master keys: "id:base64key[,id:base64key…]", the first one writes (VIGIL_EVIDENCE_KEYS). */
    keys: z.string().min(1).optional(),
    /** A key file (generated beside an embedded store for the demo when no keys are configured). */
    keyFile: z.string().min(1).optional(),
  }).default({}),
  server: z.strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    anonymousScopes: z.array(z.enum(SCOPES)).default([]),
    metricsPublic: z.boolean().default(false),
    workers: positiveInt.max(64).default(1),
    log: z.boolean().default(true),
    /**
     * Behind a reverse proxy: which X-Forwarded-For hops to believe, as Fastify's trustProxy — true (all),
     * a hop count, or addresses/CIDRs ("127.0.0.1,10.0.0.0/8"). Without it every client behind the proxy
     * shares the proxy's address, and so one failed-key budget and one rate limit.
     */
    trustProxy: z.preprocess(
      (v) => (v === 'true' ? true : v === 'false' ? false : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
      z.union([z.boolean(), z.number().int().min(0).max(32), z.string().min(1)]),
    ).default(false),
  }).default({ host: '127.0.0.1', port: 8080, anonymousScopes: [], metricsPublic: false, workers: 1, log: true, trustProxy: false }),
  hashing: z.strictObject({ threads: positiveInt.max(256).optional() }).default({}),
  matching: z.strictObject({
    /** How often the indexes poll the store's change feed (ms). */
    pollMs: positiveInt.max(3_600_000).default(1000),
    /** /readyz fails when the index is this far behind the change feed (ms). */
    maxLagMs: positiveInt.default(30_000),
    /** Start from an index snapshot plus the feed since it (false: always replay the whole feed). */
    snapshots: z.boolean().default(true),
    /** The snapshot folder (default: "<database file>.index" beside an embedded store; PostgreSQL: none unless set). */
    snapshotDir: z.string().min(1).optional(),
    /** How often the background process writes a snapshot when the feed has moved (ms). */
    snapshotIntervalMs: positiveInt.default(600_000),
  }).default({ pollMs: 1000, maxLagMs: 30_000, snapshots: true, snapshotIntervalMs: 600_000 }),
  retention: z.strictObject({
    /** Keep hashes of unmatched content this many days for retroactive matching (0: never). */
    retainDays: nonNegative.max(3650).default(0),
    retroIntervalMs: positiveInt.optional(),
  }).default({ retainDays: 0 }),
  queue: z.strictObject({
    concurrency: positiveInt.max(256).default(4),
    leaseMs: positiveInt.default(60_000),
  }).default({ concurrency: 4, leaseMs: 60_000 }),
  rules: z.strictObject({ file: z.string().min(1).optional() }).default({}),
  /** Exchange fetching in the background process (docs/exchanges.md); 0: no scheduled fetches. */
  exchanges: z.strictObject({
    fetchIntervalMs: nonNegative.default(300_000),
    /** Exchange URLs come from the API: fetched from public addresses only unless this is set (docs/exchanges.md). */
    allowPrivateNetworks: z.boolean().default(false),
  }).default({ fetchIntervalMs: 300_000, allowPrivateNetworks: false }),
  /** Matchers run by someone else, asked beside the local index (docs/exchanges.md, "Remote matchers"); off unless enabled. */
  remoteMatchers: z.strictObject({
    arachnid: z.strictObject({
      enabled: z.boolean().default(false),
      baseUrl: z.string().url().default('https://shield.projectarachnid.com'),
      /** HTTP Basic credentials C3P issued (VIGIL_ARACHNID_USERNAME / VIGIL_ARACHNID_PASSWORD); never logged. */
      username: z.string().min(1).optional(),
      password: z.string().min(1).optional(),
      /** Bound on one item's remote check, retries included; past it the check is recorded as failed. */
      timeoutMs: positiveInt.max(120_000).default(5000),
      /** Also send uploaded files (up to mediaMaxBytes) to /v1/media/; off: only PDQ hashes leave. */
      media: z.boolean().default(false),
      mediaMaxBytes: positiveInt.default(50 * 1024 * 1024),
    }).default({ enabled: false, baseUrl: 'https://shield.projectarachnid.com', timeoutMs: 5000, media: false, mediaMaxBytes: 50 * 1024 * 1024 })
      .refine((a) => !a.enabled || (a.username !== undefined && a.password !== undefined), { message: 'enabled needs username and password (VIGIL_ARACHNID_USERNAME, VIGIL_ARACHNID_PASSWORD)' }),
  }).default({ arachnid: { enabled: false, baseUrl: 'https://shield.projectarachnid.com', timeoutMs: 5000, media: false, mediaMaxBytes: 50 * 1024 * 1024 } }),
  demo: z.strictObject({ enabled: z.boolean().default(true), dir: z.string().min(1).optional() }).default({ enabled: true }),
  /**
   * Signed checkpoints of the audit chain's head outside the database (src/audit/checkpoint.ts): an
   * append-only file, signed with an Ed25519 key file the database never holds, optionally POSTed to a webhook.
   */
  audit: z.strictObject({
    checkpointFile: z.string().min(1).optional(),
    checkpointKeyFile: z.string().min(1).optional(),
    checkpointWebhook: z.string().url().optional(),
    checkpointIntervalMs: positiveInt.max(86_400_000).default(60_000),
  }).default({ checkpointIntervalMs: 60_000 }).refine((a) => (a.checkpointFile === undefined) === (a.checkpointKeyFile === undefined), {
    message: 'checkpointFile and checkpointKeyFile go together (the file of checkpoints and the key that signs them)',
  }),
  /**
   * The fleet (docs/fleet.md): with a Redis URL, work is shared through BullMQ queues fed from the jobs outbox
   * by a relay in each `vigil worker`; without one everything stays embedded (the SQL queue's own worker).
   */
  redis: z.strictObject({
    /** redis://… (VIGIL_REDIS_URL); absent: no Redis, nothing changes. */
    url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL').optional(),
    /** Key prefix of the BullMQ queues and heartbeats (several deployments on one Redis). */
    prefix: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default('vigil'),
  }).default({ prefix: 'vigil' }),
  fleet: z.strictObject({
    /** Outbox rows the relay moves to BullMQ per round. */
    relayBatch: positiveInt.max(10_000).default(500),
    /** The relay's fallback poll (it is woken by NOTIFY on PostgreSQL). */
    relayIntervalMs: positiveInt.max(60_000).default(1000),
    /** A relayed job not finished after this is added to BullMQ again (same job id: a no-op unless Redis lost it). */
    relayLeaseMs: positiveInt.default(300_000),
    /** BullMQ lock of an active job: a worker killed mid-job gives its jobs back after about this long. */
    lockMs: positiveInt.min(1000).default(30_000),
    /** Jobs per queue a worker process runs at once. */
    concurrency: positiveInt.max(256).default(8),
    /** Background jobs (backfills, imports) per queue a worker process runs at once, beside `concurrency` live ones. */
    backgroundConcurrency: positiveInt.max(256).default(2),
    /** Background jobs per queue held in BullMQ at once; the rest wait in the outbox. */
    backgroundWindow: positiveInt.max(1_000_000).default(1000),
    /** Per queue: at most `max` jobs per `durationMs` across the fleet (BullMQ's limiter). */
    rateLimits: z.record(z.string(), z.strictObject({ max: positiveInt, durationMs: positiveInt })).default({}),
    /** A process's heartbeat (vigil fleet status); it counts as gone after three missed beats. */
    heartbeatMs: positiveInt.max(60_000).default(5000),
  }).default({ relayBatch: 500, relayIntervalMs: 1000, relayLeaseMs: 300_000, lockMs: 30_000, concurrency: 8, backgroundConcurrency: 2, backgroundWindow: 1000, rateLimits: {}, heartbeatMs: 5000 }),
  /**
   * Single sign-on for people (the review UI) through an OpenID Connect provider: authorization code with
   * PKCE, state and nonce. A claim (default `groups`) maps to Vigil roles; docs/review.md.
   */
  oidc: z.strictObject({
    issuer: z.string().url(),
    clientId: z.string().min(1),
    /** VIGIL_OIDC_CLIENT_SECRET (a public client with PKCE alone when absent). */
    clientSecret: z.string().min(1).optional(),
    /** This service's callback: https://<host>/review/login/oidc/callback, registered at the provider. */
    redirectUri: z.string().url(),
    scopes: z.string().min(1).default('openid profile email groups'),
    /** The claim whose values map to roles (a string or an array of strings). */
    roleClaim: z.string().min(1).default('groups'),
    /** Claim value → role; a person whose values map to several gets the highest. */
    roles: z.record(z.string(), z.enum(PERSON_ROLES)),
    /** Claim values that carry the permission to see child-safety items. */
    childSafety: z.array(z.string()).default([]),
    /** The button's text on the sign-in page. */
    label: z.string().min(1).max(100).default('Sign in with single sign-on'),
    /** Accept an http:// issuer (a local provider in tests or development only). */
    allowHttp: z.boolean().default(false),
  }).optional(),
  /** CyberTipline reporting and evidence preservation (docs/reporting.md). */
  reporting: z.strictObject({
    ncmec: z.strictObject({
      /** https://exttest.cybertip.org/ispws (NCMEC's test environment, the default) or https://report.cybertip.org/ispws. */
      baseUrl: z.string().url().default('https://exttest.cybertip.org/ispws'),
      /** HTTP Basic credentials NCMEC issued (VIGIL_NCMEC_USERNAME / VIGIL_NCMEC_PASSWORD); never logged. */
      username: z.string().min(1).optional(),
      password: z.string().min(1).optional(),
      timeoutMs: positiveInt.max(600_000).default(30_000),
    }).default({ baseUrl: 'https://exttest.cybertip.org/ispws', timeoutMs: 30_000 }),
    reporter: z.strictObject({ email: z.string().email(), firstName: z.string().optional(), lastName: z.string().optional(), companyTemplate: z.string().optional() }).optional(),
    platform: z.string().min(1).optional(),
    /** Days evidence is preserved after a report's submission (18 U.S.C. §2258A(h) as amended: one year). */
    retentionDays: positiveInt.max(36_500).default(365),
    /** Per-jurisdiction preservation in days ("US": 365, "GB": …); a report's jurisdiction picks one. */
    jurisdictions: z.record(z.string().regex(/^[A-Z]{2}$/), positiveInt.max(36_500)).default({}),
    defaultJurisdiction: z.string().regex(/^[A-Z]{2}$/).default('US'),
    /** Banks whose exact matches may open a report without a person's confirmation (human-verified lists only). */
    autoOpenBanks: z.array(z.string().min(1)).default([]),
    /** A report not finished this long after its last change is "stuck" (listed, counted, audited). */
    stuckAfterMs: positiveInt.default(3_600_000),
    /** A webhook of the rules (signed, retried) asked, when a report opens, for the account's information and to preserve its data. */
    platformWebhook: z.string().min(1).optional(),
    /** Attempts per step before a retryable failure leaves the report failed (a person must retry it). */
    maxAttempts: positiveInt.max(1000).default(20),
    /** How often the background purge deletes evidence past its retention (ms). */
    purgeIntervalMs: positiveInt.default(3_600_000),
  }).default({ ncmec: { baseUrl: 'https://exttest.cybertip.org/ispws', timeoutMs: 30_000 }, retentionDays: 365, jurisdictions: {}, defaultJurisdiction: 'US', autoOpenBanks: [], stuckAfterMs: 3_600_000, maxAttempts: 20, purgeIntervalMs: 3_600_000 }),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).default({ level: 'info' }),
});

export type VigilConfig = z.infer<typeof CONFIG_SCHEMA>;
export type ConfigInput = z.input<typeof CONFIG_SCHEMA>;

type Env = Record<string, string | undefined>;

/** Environment variables and the key each one sets (values are parsed by the key's type). */
const ENV_KEYS: Record<string, string> = {
  VIGIL_DATABASE_URL: 'database.url',
  VIGIL_DB: 'database.url',
  PGUSER: 'database.pgUser',
  VIGIL_DATABASE_SCHEMA: 'database.schema',
  VIGIL_EVIDENCE_KEYS: 'evidence.keys',
  VIGIL_EVIDENCE_KEY: 'evidence.keys',
  VIGIL_EVIDENCE_DIR: 'evidence.dir',
  VIGIL_EVIDENCE_STORE: 'evidence.dir',
  VIGIL_EVIDENCE_KEY_FILE: 'evidence.keyFile',
  VIGIL_HOST: 'server.host',
  PORT: 'server.port',
  VIGIL_PORT: 'server.port',
  VIGIL_WORKERS: 'server.workers',
  VIGIL_TRUST_PROXY: 'server.trustProxy',
  VIGIL_HASH_THREADS: 'hashing.threads',
  VIGIL_RETAIN_DAYS: 'retention.retainDays',
  VIGIL_RULES: 'rules.file',
  VIGIL_INDEX_SNAPSHOT_DIR: 'matching.snapshotDir',
  VIGIL_DEMO_DIR: 'demo.dir',
  VIGIL_LOG_LEVEL: 'log.level',
  VIGIL_REDIS_URL: 'redis.url',
  VIGIL_REDIS_PREFIX: 'redis.prefix',
  VIGIL_AUDIT_CHECKPOINTS: 'audit.checkpointFile',
  VIGIL_AUDIT_CHECKPOINT_KEY: 'audit.checkpointKeyFile',
  VIGIL_AUDIT_CHECKPOINT_WEBHOOK: 'audit.checkpointWebhook',
  VIGIL_OIDC_ISSUER: 'oidc.issuer',
  VIGIL_OIDC_CLIENT_ID: 'oidc.clientId',
  VIGIL_OIDC_CLIENT_SECRET: 'oidc.clientSecret',
  VIGIL_OIDC_REDIRECT_URI: 'oidc.redirectUri',
  VIGIL_NCMEC_URL: 'reporting.ncmec.baseUrl',
  VIGIL_NCMEC_USERNAME: 'reporting.ncmec.username',
  VIGIL_NCMEC_PASSWORD: 'reporting.ncmec.password',
  VIGIL_REPORTER_EMAIL: 'reporting.reporter.email',
  VIGIL_EXCHANGE_FETCH_INTERVAL_MS: 'exchanges.fetchIntervalMs',
  VIGIL_EXCHANGE_ALLOW_PRIVATE_NETWORKS: 'exchanges.allowPrivateNetworks',
  VIGIL_ARACHNID_ENABLED: 'remoteMatchers.arachnid.enabled',
  VIGIL_ARACHNID_URL: 'remoteMatchers.arachnid.baseUrl',
  VIGIL_ARACHNID_USERNAME: 'remoteMatchers.arachnid.username',
  VIGIL_ARACHNID_PASSWORD: 'remoteMatchers.arachnid.password',
  VIGIL_ARACHNID_TIMEOUT_MS: 'remoteMatchers.arachnid.timeoutMs',
};

const NUMERIC = new Set(['server.port', 'server.workers', 'hashing.threads', 'retention.retainDays', 'exchanges.fetchIntervalMs', 'remoteMatchers.arachnid.timeoutMs']);
const BOOLEAN = new Set(['remoteMatchers.arachnid.enabled', 'exchanges.allowPrivateNetworks']);

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = out[k];
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof b === 'object' && b !== null && !Array.isArray(b)
      ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
      : v;
  }
  return out;
}

function fromEnv(env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(out, key, NUMERIC.has(key) && /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : BOOLEAN.has(key) && /^(true|false)$/.test(raw) ? raw === 'true' : raw);
  }
  return out;
}

function readFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new VigilError('VIGIL_ERR_INVALID_CONFIG', `config file ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new VigilError('VIGIL_ERR_INVALID_CONFIG', `config file ${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new VigilError('VIGIL_ERR_INVALID_CONFIG', `config file ${path}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

export interface ConfigSources {
  /** A JSON config file (else VIGIL_CONFIG from `env`). */
  file?: string;
  env?: Env;
  /** Values from command-line flags, shaped like the config (undefined values are ignored). */
  flags?: ConfigInput;
}

/** Merges file < environment < flags and validates once; every problem is named by its key. */
export function loadConfig(sources: ConfigSources = {}): VigilConfig {
  const env = sources.env ?? {};
  const file = sources.file ?? env.VIGIL_CONFIG;
  const merged = merge(merge(file ? readFile(file) : {}, fromEnv(env)), (sources.flags ?? {}) as Record<string, unknown>);
  return parseConfig(merged);
}

export function parseConfig(input: unknown): VigilConfig {
  const result = CONFIG_SCHEMA.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new VigilError('VIGIL_ERR_INVALID_CONFIG', `Invalid configuration — ${problems.join('; ')}`);
}
