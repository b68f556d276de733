/**
 * Vigil's configuration: one schema, validated once, from three sources merged in order — a JSON file
 * (`--config FILE` or VIGIL_CONFIG), the environment (VIGIL_* variables), then command-line flags. Nothing
 * below `createVigil` reads `process.env`: what it needs comes from here. An invalid value is reported with its
 * key and the reason (`VIGIL_ERR_INVALID_CONFIG`), every problem at once.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { VigilError } from '../core/errors.js';

const SCOPES = ['submit', 'lookup', 'curate', 'review', 'admin'] as const;

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
  }).default({ host: '127.0.0.1', port: 8080, anonymousScopes: [], metricsPublic: false, workers: 1, log: true }),
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
  exchanges: z.strictObject({ fetchIntervalMs: nonNegative.default(300_000) }).default({ fetchIntervalMs: 300_000 }),
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
  VIGIL_HASH_THREADS: 'hashing.threads',
  VIGIL_RETAIN_DAYS: 'retention.retainDays',
  VIGIL_RULES: 'rules.file',
  VIGIL_INDEX_SNAPSHOT_DIR: 'matching.snapshotDir',
  VIGIL_DEMO_DIR: 'demo.dir',
  VIGIL_LOG_LEVEL: 'log.level',
  VIGIL_AUDIT_CHECKPOINTS: 'audit.checkpointFile',
  VIGIL_AUDIT_CHECKPOINT_KEY: 'audit.checkpointKeyFile',
  VIGIL_AUDIT_CHECKPOINT_WEBHOOK: 'audit.checkpointWebhook',
  VIGIL_EXCHANGE_FETCH_INTERVAL_MS: 'exchanges.fetchIntervalMs',
};

const NUMERIC = new Set(['server.port', 'server.workers', 'hashing.threads', 'retention.retainDays', 'exchanges.fetchIntervalMs']);

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
    setPath(out, key, NUMERIC.has(key) && /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : raw);
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
