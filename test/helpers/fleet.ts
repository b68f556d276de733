/**
 * A fleet on this machine for tests and benches: a private `redis-server` (its own port, no persistence, so a
 * restart loses everything Redis held: the hardest case), `vigil serve` and `vigil worker` as child processes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { vigilNodeArgs } from './vigil-process.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class PrivateRedis {
  child: ChildProcess | undefined;
  constructor(readonly port: number) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  }

  /** SIGKILL: whatever Redis held is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}

export interface VigilChild {
  child: ChildProcess;
  /** The URL it printed (API: where it listens; worker: its health port). */
  url: string;
  output: () => string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

/** `vigil <args>` as a child process; resolves once a line matches `ready` (its first group is the URL). */
export async function spawnVigil(args: string[], env: Record<string, string>, ready: RegExp): Promise<VigilChild> {
  const child = spawn(process.execPath, vigilNodeArgs(args), { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, signal) => resolve([code, signal])));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
      const m = ready.exec(output);
      if (m) resolve(m[1] ?? '');
    });
    void exited.then(([code, signal]) => reject(new Error(`vigil ${args.join(' ')} ended before it was ready (code ${code}, signal ${signal}):\n${output}`)));
  });
  return { child, url, output: () => output, exited };
}

export const WORKER_READY = /ready on (http:\/\/\S+)/;
export const API_READY = /listening on (http:\/\/\S+)/;

/**
 * Re-checks `check` until it holds, every `everyMs` (a poll of state, not a wait for time to pass), failing
 * with `what` after `timeoutMs`.
 */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
