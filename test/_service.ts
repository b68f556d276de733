/**
 * Test harness: a real service (port 0) on SQLite in a temp folder or on PostgreSQL in a fresh schema (dropped
 * on close), and keys with chosen scopes. Evidence goes to a folder in the temp folder on both engines.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Scope } from '../src/auth/keys.js';
import { startService, type RunningService, type ServeOptions } from '../src/service/serve.js';
import { dropTestSchema, TEST_POSTGRES_URL } from '../src/state/test-engines.js';
import { tempDir } from './helpers/temp.js';

export type EngineName = 'sqlite' | 'postgres';
export const ENGINE_NAMES: readonly EngineName[] = ['sqlite', 'postgres'];

export interface TestService {
  service: RunningService;
  url: string;
  dir: string;
  engine: EngineName;
  /** What `--db` names for this database (a SQLite file, or the PostgreSQL URL with `schema`). */
  dbUrl: string;
  schema?: string;
  /** The environment a CLI or child process needs to open the same database (the PostgreSQL schema). */
  env: Record<string, string>;
  /** A new key with these scopes; returns its secret. */
  key(scopes: Scope[], rateLimitPerMinute?: number): Promise<string>;
  close(): Promise<void>;
}

export interface TestServiceOptions extends Partial<ServeOptions> {
  /** SQLite or PostgreSQL (a fresh schema, dropped on close); default $VIGIL_TEST_ENGINE, else SQLite. */
  engine?: EngineName;
}

/**
 * The engine a suite runs on when it does not choose: test/postgres/*.test.ts set VIGIL_TEST_ENGINE=postgres
 * and import a suite, so the same tests run on both engines without a copy.
 */
export function defaultEngine(): EngineName {
  return process.env.VIGIL_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite';
}

/** A fresh PostgreSQL schema name for a test. */
export function freshSchema(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

export const dropSchema = dropTestSchema;

export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const { engine = defaultEngine(), ...serveOptions } = options;
  const dir = tempDir('service');
  const schema = engine === 'postgres' ? freshSchema() : undefined;
  const dbUrl = schema ? TEST_POSTGRES_URL : join(dir, 'vigil.db');
  let service: RunningService;
  try {
    service = await startService({
      storeUrl: dbUrl,
      ...(schema ? { schema } : {}),
      port: 0,
      demo: false,
      demoDir: join(dir, 'demo'),
      evidenceDir: join(dir, 'evidence'),
      hashThreads: 1,
      logger: false,
      // No scheduled exchange fetches: a test's exchanges point at test servers, or at real programs never reached.
      exchangeFetchIntervalMs: 0,
      // Test exchanges point at local servers (the public-address policy has its own test).
      exchangeAllowPrivateNetworks: true,
      ...serveOptions,
    });
  } catch (err) {
    if (schema) await dropSchema(schema);
    throw err;
  }
  let n = 0;
  return {
    service,
    url: service.url,
    dir,
    engine,
    dbUrl,
    ...(schema ? { schema } : {}),
    // What a CLI run against this service needs to see the same state: its schema and its evidence folder (and key).
    env: { ...(schema ? { VIGIL_DATABASE_SCHEMA: schema } : {}), VIGIL_EVIDENCE_DIR: join(dir, 'evidence'), VIGIL_EXCHANGE_ALLOW_PRIVATE_NETWORKS: 'true' },
    key: async (scopes, rateLimitPerMinute = 0) => (await service.ctx.keys.createNow({ name: `test-${++n}`, scopes, rateLimitPerMinute }, { actor: 'test' })).secret,
    close: async () => {
      try {
        await service.close();
      } finally {
        if (schema) await dropSchema(schema);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
