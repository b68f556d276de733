/**
 * npm run bench:api-cpu -- --trees /path/to/worktree-a,/path/to/worktree-b [--db bank.db] [--requests 3000] [--rounds 2]
 *
 * Server CPU per request (user + system time of the `vigil serve` process, /proc/PID/stat, divided by the
 * requests it answered), for the same scenarios as bench:api (healthz, lookup1, hma), for each checkout in
 * turn, alternately. Throughput on a machine shared with other work measures the other work; CPU time per
 * request mostly does not, so this is how two versions are compared there (issue #10: the code before and
 * after the application core). Each tree runs its own `src/cli/main.ts` on its own copy of the bank (made by
 * bench:api, .bench-cache/); the load comes from this process. Linux only (/proc).
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { ensureBenchBank, nearPdq } from './_api-bank.js';
import { environment, fmt } from './_common.js';

const { values: opts } = parseArgs({
  options: {
    trees: { type: 'string' },
    signals: { type: 'string', default: '100000' },
    requests: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '8' },
  },
});
if (!opts.trees) throw new Error('--trees: comma-separated checkouts to compare');
const TREES = opts.trees.split(',').map((t) => t.trim()).filter(Boolean);
const REQUESTS = Number(opts.requests);
const ROUNDS = Number(opts.rounds);
const CONNECTIONS = Number(opts.connections);
const SIGNALS = Number(opts.signals);
const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const log = (line = '') => process.stdout.write(line + '\n');
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

function cpuUs(pid: number): number {
  // Fields after the ')' of the command: state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_US;
}

const randomHex = (bytes: number) => Array.from({ length: bytes * 2 }, () => ((Math.random() * 16) | 0).toString(16)).join('');

async function run(tree: string, bankDb: string, samples: string[]): Promise<Record<string, { cpuUs: number; rps: number }>> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-api-cpu-'));
  const db = join(dir, 'bank.db');
  copyFileSync(bankDb, db);
  const cli = (...args: string[]) => execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--db', db, ...args], { cwd: tree, encoding: 'utf8' });
  const secret = /vigil_k_[a-z2-7]{12}_[A-Za-z0-9_-]+/.exec(cli('key', 'create', '--name', 'bench', '--scope', 'lookup,admin', '--rate-limit', '0'))?.[0];
  if (!secret) throw new Error(`${tree}: no key secret printed`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--db', db, 'serve', '--port', '0', '--no-demo', '--no-log', '--threads', '1'], { cwd: tree, stdio: ['ignore', 'ignore', 'pipe'] });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  try {
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      void closed.then(() => reject(new Error(`${tree}: serve exited:\n${stderr}`)));
    });
    const query = (i: number) => (i % 20 === 0 ? nearPdq(samples[(i / 20) % samples.length]!, i % 17) : randomHex(32));
    const bodies = Array.from({ length: 4096 }, (_, i) => JSON.stringify({ hashes: [{ type: 'pdq', value: query(i) }] }));
    const paths = Array.from({ length: 4096 }, (_, i) => `/m/lookup?signal_type=pdq&signal=${query(i)}`);
    const auth = { authorization: `Bearer ${secret}` };
    const scenarios = {
      healthz: { method: 'GET' as const, path: '/healthz', headers: {} },
      lookup1: { method: 'POST' as const, path: '/v1/lookup', headers: { ...auth, 'content-type': 'application/json' }, bodies },
      hma: { method: 'GET' as const, path: '/m/lookup', headers: auth, paths },
    };
    const out: Record<string, { cpuUs: number; rps: number }> = {};
    for (const [name, s] of Object.entries(scenarios)) {
      const fire = async (amount: number) => {
        let n = 0;
        const r = await autocannon({
          url, connections: CONNECTIONS, amount, headers: s.headers,
          requests: [{ method: s.method, path: s.path, setupRequest: (req) => {
            const i = n++;
            if ('paths' in s) return { ...req, path: s.paths[i % s.paths.length] };
            if ('bodies' in s) return { ...req, body: s.bodies[i % s.bodies.length] };
            return req;
          } }],
        });
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${tree} ${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        return r;
      };
      await fire(Math.ceil(REQUESTS / 5));
      const before = cpuUs(child.pid!);
      const t = performance.now();
      const r = await fire(REQUESTS);
      out[name] = { cpuUs: (cpuUs(child.pid!) - before) / r.requests.total, rps: r.requests.total / ((performance.now() - t) / 1000) };
    }
    return out;
  } finally {
    child.kill('SIGTERM');
    await closed;
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  log(`bench:api-cpu · ${environment()}`);
  const bank = await ensureBenchBank(SIGNALS, Math.round(SIGNALS / 10), log);
  log(`bank: ${SIGNALS.toLocaleString('en-US')} random PDQ (${bank.dbPath}); ${REQUESTS} measured requests per scenario after ${Math.ceil(REQUESTS / 5)} warm-up, ${CONNECTIONS} connections`);
  const all = new Map<string, Record<string, number[]>>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const tree of TREES) {
      const head = execFileSync('git', ['log', '--oneline', '-1', '--format=%h'], { cwd: tree, encoding: 'utf8' }).trim();
      const loadBefore = load();
      const r = await run(tree, bank.dbPath, bank.samplePdq);
      const cells = Object.entries(r).map(([n, v]) => `${n} ${fmt(v.cpuUs, 0)} µs (${fmt(v.rps, 0)}/s)`).join(' · ');
      log(`round ${round} ${tree} (${head}), load ${loadBefore}: ${cells}`);
      const acc = all.get(tree) ?? {};
      for (const [n, v] of Object.entries(r)) (acc[n] ??= []).push(v.cpuUs);
      all.set(tree, acc);
    }
  }
  log();
  log('server CPU per request, median of rounds (ratio to the first tree):');
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const first = all.get(TREES[0]!)!;
  for (const tree of TREES) {
    const acc = all.get(tree)!;
    log(`  ${tree}: ${Object.entries(acc).map(([n, xs]) => `${n} ${fmt(median(xs), 0)} µs (×${fmt(median(xs) / median(first[n]!), 2)})`).join(' · ')}`);
  }
  log(`load average after: ${load()}`);
}

await main();
