/**
 * `npm run fleet -- --api 2 --workers 2`: a local fleet on this machine against PostgreSQL and Redis —
 * N `vigil serve` processes (ports 8080, 8081, … or from --port) and M `vigil worker` processes, each a child
 * with its output prefixed. Ctrl-C stops them all gracefully (workers drain). Engines from VIGIL_DATABASE_URL
 * and VIGIL_REDIS_URL, else the local servers (postgres://postgres@127.0.0.1:5432/test, redis://127.0.0.1:6379).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({ options: { api: { type: 'string', default: '1' }, workers: { type: 'string', default: '1' }, port: { type: 'string', default: '8080' } } });
const apis = Number(values.api);
const workers = Number(values.workers);
const basePort = Number(values.port);
if (![apis, workers, basePort].every((n) => Number.isSafeInteger(n) && n >= 0) || apis + workers === 0) {
  console.error('usage: npm run fleet -- --api N --workers M [--port 8080]');
  process.exit(2);
}
const state = resolve(REPO, 'vigil-fleet');
mkdirSync(state, { recursive: true, mode: 0o700 });
const env = {
  ...process.env,
  VIGIL_DATABASE_URL: process.env.VIGIL_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  VIGIL_REDIS_URL: process.env.VIGIL_REDIS_URL ?? 'redis://127.0.0.1:6379',
  VIGIL_EVIDENCE_DIR: process.env.VIGIL_EVIDENCE_DIR ?? resolve(state, 'evidence'),
};

const children: ChildProcess[] = [];
function start(name: string, args: string[]): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const prefix = (d: Buffer) => d.toString().split('\n').filter(Boolean).map((l) => `[${name}] ${l}`).join('\n') + '\n';
  child.stdout!.on('data', (d: Buffer) => process.stdout.write(prefix(d)));
  return new Promise((ready, fail) => {
    child.stderr!.on('data', (d: Buffer) => {
      process.stderr.write(prefix(d));
      if (/listening on|ready on/.test(d.toString())) ready();
    });
    child.once('exit', (code, signal) => {
      console.error(`[${name}] exited (${signal ?? code})`);
      fail(new Error(`${name} exited`));
    });
  });
}

try {
  // The first API process migrates the database; the others start together after it.
  if (apis > 0) await start('api-1', ['serve', '--port', String(basePort), '--no-log']);
  await Promise.all([
    ...Array.from({ length: Math.max(0, apis - 1) }, (_, i) => start(`api-${i + 2}`, ['serve', '--port', String(basePort + i + 1), '--no-log'])),
    ...Array.from({ length: workers }, (_, i) => start(`worker-${i + 1}`, ['worker'])),
  ]);
  console.error(`Fleet up: ${apis} API process(es) from port ${basePort}, ${workers} worker(s). \`npm run vigil -- fleet status\` shows them; Ctrl-C stops all.`);
} catch (err) {
  console.error((err as Error).message);
  for (const c of children) c.kill('SIGTERM');
  process.exitCode = 1;
}
const stop = () => {
  for (const c of children) c.kill('SIGTERM');
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
