/**
 * A private fleet's ground for the fleet benches (bench:scale, bench:backfill): a redis-server of its own, a
 * fresh PostgreSQL schema, a temp folder (evidence, rules, TMPDIR), one blocking rule, and the teardown that
 * kills the children and removes all of it. Undefined when redis-server is not installed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropTestSchema, TEST_POSTGRES_URL } from '../src/state/test-engines.js';
import { freePort, hasRedisServer, PrivateRedis, type VigilChild } from '../test/helpers/fleet.js';

export interface BenchFleet {
  dir: string;
  /** The environment every process of the fleet gets. */
  env: Record<string, string>;
  /** Killed (SIGKILL) by close() if still running. */
  children: VigilChild[];
  close(): Promise<void>;
}

export async function openBenchFleet(name: string, extraEnv: (dir: string) => Record<string, string>, actions: readonly { type: string }[]): Promise<BenchFleet | undefined> {
  if (!hasRedisServer()) return undefined;
  const dir = mkdtempSync(join(tmpdir(), `vigil-${name}-`));
  const schema = `bench_${name}_${randomBytes(4).toString('hex')}`;
  const redis = new PrivateRedis(await freePort());
  await redis.start();
  const env: Record<string, string> = {
    VIGIL_DATABASE_URL: TEST_POSTGRES_URL, VIGIL_DATABASE_SCHEMA: schema, VIGIL_REDIS_URL: redis.url, VIGIL_EVIDENCE_DIR: join(dir, 'evidence'),
    VIGIL_RULES: join(dir, 'rules.json'), TMPDIR: dir, ...extraEnv(dir),
  };
  writeFileSync(env.VIGIL_RULES!, JSON.stringify({ version: 1, rules: [{ id: 'block', description: 'block a block-bank match', when: { bankKind: 'block' }, then: actions }] }));
  const children: VigilChild[] = [];
  return {
    dir, env, children,
    close: async () => {
      for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      await redis.kill();
      await dropTestSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
