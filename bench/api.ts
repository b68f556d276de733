/**
 * npm run bench:api [-- --workers 2 --signals 1000000 --md5 100000 --duration 10 --warmup 2 --connections 32
 *                      --only lookup1,hma --cpu-prof --threads 2 --rate auto|N|0 --images 16]
 *
 * The HTTP API under load from a second process: `vigil serve` runs as a child process over a bank of random
 * PDQ and MD5 values (benign stand-ins; cached in .bench-cache/), and autocannon drives it from this process.
 * Scenarios:
 *   healthz   GET /healthz: the HTTP floor of this stack (Fastify, same hooks), the baseline for lookups;
 *   lookup1   POST /v1/lookup, 1 PDQ per request (random: ~95 % miss, ~5 % near a bank value, hit);
 *   paced     the same at a fixed offered rate (--rate; default half the saturated rate): latency below saturation;
 *   lookup100 POST /v1/lookup, 100 PDQ per request (hashes/s);
 *   hma       GET /m/lookup?signal_type=pdq&signal=… (the HMA 2.0 route);
 *   upload    POST /v1/content, multipart, ~1 MP synthetic JPEGs end to end (hash → match → decide), against
 *             hashing the same files with the hash pool directly in this process (the baseline).
 *   match     baseline for lookups, after the service stopped: BankMatcher.match over the same bank and queries
 *             in this process, one thread, no HTTP (what one event loop can match at most).
 * Targets: ≥ 10,000 lookups/s on 2 cores with p99 < 20 ms; HMA: 4,000/s across several instances.
 * --cpu-prof writes a V8 profile of the service (node --cpu-prof) and prints where its time went.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { createDigestIndex } from '../src/banks/digest-index.js';
import { BankMatcher } from '../src/banks/matcher.js';
import { lookupQuery } from '../src/service/routes/lookup.js';
import { openStore } from '../src/store/store.js';
import { HashPool } from '../src/hashing/pool.js';
import { createVigil } from '../src/app/vigil.js';
import { parseConfig } from '../src/app/config.js';
import { ensureBenchBank, nearPdq } from './_api-bank.js';
import { summariseProfile } from './_api-profile.js';
import { CACHE_DIR, environment, fmt } from './_common.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SCENARIOS = ['healthz', 'lookup1', 'paced', 'lookup100', 'hma', 'upload', 'match'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values: opts } = parseArgs({
  options: {
    signals: { type: 'string', default: '1000000' },
    md5: { type: 'string' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
    'upload-connections': { type: 'string', default: '4' },
    rate: { type: 'string', default: 'auto' },
    threads: { type: 'string' },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    images: { type: 'string', default: '16' },
    workers: { type: 'string', default: '1' },
  },
});
const num = (name: string, v: string | undefined, min = 0): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: expected a number ≥ ${min}, got ${v}`);
  return n;
};
const PDQ_SIGNALS = num('signals', opts.signals, 1);
const MD5_SIGNALS = opts.md5 !== undefined ? num('md5', opts.md5) : Math.round(PDQ_SIGNALS / 10);
const DURATION = num('duration', opts.duration, 1);
const WARMUP = num('warmup', opts.warmup);
const CONNECTIONS = num('connections', opts.connections, 1);
const UPLOAD_CONNECTIONS = num('upload-connections', opts['upload-connections'], 1);
/** Offered rate of the paced run; 'auto': half the saturated lookup1 rate (4,000/s when lookup1 is not run). */
const RATE = opts.rate === 'auto' ? undefined : num('rate', opts.rate);
const WORKERS = num('workers', opts.workers, 1);
// Hashing threads per serving process: the cores are shared between the workers.
const HASH_THREADS = opts.threads !== undefined ? num('threads', opts.threads, 1) : Math.max(1, Math.floor(availableParallelism() / WORKERS));
const IMAGES = num('images', opts.images, 1);
const ONLY = new Set<Scenario>(opts.only ? (opts.only.split(',').map((s) => s.trim()) as Scenario[]) : SCENARIOS);
for (const s of ONLY) if (!SCENARIOS.includes(s)) throw new Error(`--only: unknown scenario ${s} (${SCENARIOS.join(', ')})`);

const log = (line = '') => process.stdout.write(line + '\n');
const ms = (v: number) => `${fmt(v, v < 10 ? 2 : 1)} ms`;

/** What else is using this machine: the figures are only comparable with that in mind. */
function machineLoad(): string {
  const [one, five] = loadavg();
  let top: string;
  try {
    top = execFileSync('ps', ['-eo', 'pcpu,comm', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' })
      .split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 5).map((l) => l.replace(/\s+/, '% ')).join(', ');
  } catch {
    top = 'ps unavailable';
  }
  return `load average ${one.toFixed(2)} (1 min) ${five.toFixed(2)} (5 min); busiest: ${top}`;
}

interface Serve {
  child: ChildProcess;
  url: string;
  startSeconds: number;
  stderr: () => string;
  closed: Promise<number | null>;
}

async function startServe(dbPath: string, profileDir?: string): Promise<Serve> {
  const t = performance.now();
  const child = spawn(process.execPath, [
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    '--import', 'tsx', 'src/cli/main.ts', '--db', dbPath,
    'serve', '--port', '0', '--no-demo', '--no-log', '--threads', String(HASH_THREADS), '--workers', String(WORKERS),
  ], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    void closed.then((code) => reject(new Error(`vigil serve exited (${code}) before listening:\n${stderr}`)));
  });
  return { child, url, startSeconds: (performance.now() - t) / 1000, stderr: () => stderr, closed };
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  total: number;
  errors: number;
  non2xx: number;
}

/** Cycles through prepared bodies or paths, one per request. */
async function load(url: string, o: { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; bodies?: (string | Buffer)[]; paths?: string[]; body?: () => Buffer; connections: number; seconds: number; overallRate?: number }): Promise<Run> {
  let n = 0;
  const result = await autocannon({
    url,
    connections: o.connections,
    duration: o.seconds,
    ...(o.overallRate ? { overallRate: o.overallRate } : {}),
    headers: o.headers ?? {},
    requests: [{
      method: o.method,
      path: o.path,
      setupRequest: (req) => {
        const i = n++;
        if (o.paths) return { ...req, path: o.paths[i % o.paths.length] };
        if (o.body) return { ...req, body: o.body() };
        if (o.bodies) return { ...req, body: o.bodies[i % o.bodies.length] };
        return req;
      },
    }],
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total, errors: result.errors, non2xx: result.non2xx };
}

async function measure(name: string, url: string, o: Parameters<typeof load>[1]): Promise<Run> {
  if (WARMUP > 0) await load(url, { ...o, seconds: WARMUP });
  const r = await load(url, { ...o, seconds: DURATION });
  if (r.errors > 0 || r.non2xx > 0) log(`  ! ${name}: ${r.errors} connection errors, ${r.non2xx} non-2xx responses`);
  return r;
}

function line(name: string, r: Run, extra = '', unit = 'req/s'): void {
  log(`${name.padEnd(34)} ${fmt(r.rps, 0).padStart(9)} ${unit}   p50 ${ms(r.p50).padStart(9)}   p99 ${ms(r.p99).padStart(9)}${extra}`);
}

/** ~1 MP benign synthetic JPEGs (gradients, noise, shapes), made once into the bench cache. */
async function benchImages(count: number): Promise<Buffer[]> {
  const dir = join(CACHE_DIR, 'api-jpeg');
  mkdirSync(dir, { recursive: true });
  const out: Buffer[] = [];
  const w = 1152;
  const h = 864;
  for (let i = 0; i < count; i++) {
    const path = join(dir, `synthetic-${w}x${h}-${i}.jpg`);
    if (!existsSync(path)) {
      const raw = Buffer.alloc(w * h * 3);
      let x = 0x9e3779b9 ^ (i * 0x85ebca6b);
      for (let y = 0; y < h; y++) {
        for (let c = 0; c < w; c++) {
          x = (Math.imul(x ^ (x >>> 13), 0x5bd1e995) + 0x6b43a9b5) >>> 0;
          const noise = (x & 31) - 16;
          const o = (y * w + c) * 3;
          const disc = (c - w / 2 - i * 20) ** 2 + (y - h / 2) ** 2 < (120 + i * 7) ** 2;
          raw[o] = Math.max(0, Math.min(255, ((c * 255) / w + i * 37 + noise) % 256));
          raw[o + 1] = Math.max(0, Math.min(255, disc ? 220 + (noise >> 2) : (y * 255) / h + noise));
          raw[o + 2] = Math.max(0, Math.min(255, (((c + y) * 128) / (w + h) + i * 11 + noise) % 256));
        }
      }
      await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 85 }).toFile(path);
    }
    out.push(readFileSync(path));
  }
  return out;
}

async function main(): Promise<void> {
  log(`bench:api · ${environment()}`);
  log(`machine: ${machineLoad()}`);
  const bank = await ensureBenchBank(PDQ_SIGNALS, MD5_SIGNALS, log);
  log(`bank: ${bank.pdq.toLocaleString('en-US')} PDQ + ${bank.md5.toLocaleString('en-US')} MD5 random values${bank.buildSeconds ? ` (built in ${fmt(bank.buildSeconds, 1)} s)` : ' (cached)'}`);

  const runDir = mkdtempSync(join(tmpdir(), 'vigil-bench-api-'));
  // The key lives in the bank's database (store and state are one database).
  const core = await createVigil(parseConfig({ database: { url: bank.dbPath }, log: { level: 'warn' } }));
  const secret = (await core.keys.createNow({ name: 'bench', scopes: ['submit', 'lookup', 'admin'], rateLimitPerMinute: 0 }, { actor: 'bench' })).secret;
  await core.close();
  const profileDir = opts['cpu-prof'] ? join(runDir, 'profile') : undefined;
  const serve = await startServe(bank.dbPath, profileDir);
  log(`service: ${serve.url}, ${WORKERS} serving process${WORKERS > 1 ? "es" : ""}, listening ${fmt(serve.startSeconds, 1)} s after spawn (signals loaded into the indexes); ${HASH_THREADS} hashing threads each`);
  const auth = { authorization: `Bearer ${secret}` };
  const json = { ...auth, 'content-type': 'application/json' };

  // Queries: 1 in 20 near a bank value (0–16 bits flipped: a hit at the default threshold 31), the rest random.
  const query = (i: number) => (i % 20 === 0 ? nearPdq(bank.samplePdq[(i / 20) % bank.samplePdq.length], i % 17) : randomHex(32));
  const singles = Array.from({ length: 8192 }, (_, i) => JSON.stringify({ hashes: [{ type: 'pdq', value: query(i) }] }));
  const batches = Array.from({ length: 256 }, (_, b) => JSON.stringify({ hashes: Array.from({ length: 100 }, (_, k) => ({ type: 'pdq', value: query(b * 100 + k) })) }));
  const hmaPaths = Array.from({ length: 8192 }, (_, i) => `/m/lookup?signal_type=pdq&signal=${query(i)}`);

  // Sanity: a near query hits, a random one (almost surely) does not.
  const check = async (body: string) => ((await (await fetch(`${serve.url}/v1/lookup`, { method: 'POST', headers: json, body })).json()) as { results: { matches: unknown[] }[] }).results[0].matches.length;
  const hits = await check(singles[0]);
  const misses = await check(singles[1]);
  if (hits < 1 || misses !== 0) throw new Error(`lookup sanity check failed: near query ${hits} matches, random query ${misses}`);

  const loadStartUs = Number(process.hrtime.bigint() / 1000n);
  log();
  log(`load: autocannon in this process (pid ${process.pid}), ${CONNECTIONS} connections (uploads ${UPLOAD_CONNECTIONS}), ${WARMUP} s warm-up + ${DURATION} s per scenario`);
  const results: Partial<Record<Scenario, Run>> = {};
  let direct: number | undefined;
  let paceRate = 0;
  try {
    if (ONLY.has('healthz')) {
      line('GET /healthz (HTTP floor)', (results.healthz = await measure('healthz', serve.url, { method: 'GET', path: '/healthz', connections: CONNECTIONS, seconds: DURATION })));
    }
    if (ONLY.has('lookup1')) {
      const r = (results.lookup1 = await measure('lookup1', serve.url, { method: 'POST', path: '/v1/lookup', headers: json, bodies: singles, connections: CONNECTIONS, seconds: DURATION }));
      line('POST /v1/lookup, 1 PDQ', r, results.healthz ? `   ${fmt((100 * r.rps) / results.healthz.rps, 0)} % of healthz` : '');
    }
    if (ONLY.has('paced') && RATE !== 0) {
      paceRate = Math.max(1, Math.round(RATE ?? (results.lookup1 ? results.lookup1.rps / 2 : 4000)));
      const r = (results.paced = await measure('paced', serve.url, { method: 'POST', path: '/v1/lookup', headers: json, bodies: singles, connections: CONNECTIONS, seconds: DURATION, overallRate: paceRate }));
      line(`POST /v1/lookup, 1 PDQ @ ${paceRate}/s offered`, r, r.rps < 0.95 * paceRate ? '   (above capacity: latency is queueing)' : '');
    }
    if (ONLY.has('lookup100')) {
      const r = (results.lookup100 = await measure('lookup100', serve.url, { method: 'POST', path: '/v1/lookup', headers: json, bodies: batches, connections: Math.min(CONNECTIONS, 8), seconds: DURATION }));
      line('POST /v1/lookup, 100 PDQ', r, `   ${fmt(r.rps * 100, 0)} hashes/s`);
    }
    if (ONLY.has('hma')) {
      const r = (results.hma = await measure('hma', serve.url, { method: 'GET', path: '/m/lookup', headers: auth, paths: hmaPaths, connections: CONNECTIONS, seconds: DURATION }));
      line('GET /m/lookup?signal_type=pdq (HMA)', r, results.healthz ? `   ${fmt((100 * r.rps) / results.healthz.rps, 0)} % of healthz` : '');
    }
    if (ONLY.has('upload')) {
      const images = await benchImages(IMAGES);
      const boundary = 'vigil-bench-boundary';
      let n = 0;
      const body = () => {
        const i = n++;
        return Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="contentId"\r\n\r\nbench-${process.pid}-${i}\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
          images[i % images.length],
          Buffer.from(`\r\n--${boundary}--\r\n`),
        ]);
      };
      const r = (results.upload = await measure('upload', serve.url, { method: 'POST', path: '/v1/content', headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` }, body, connections: UPLOAD_CONNECTIONS, seconds: DURATION }));
      const kb = images.reduce((s, b) => s + b.length, 0) / images.length / 1024;
      line(`POST /v1/content, ~1 MP JPEG (${fmt(kb, 0)} KB)`, r, '   images/s');
      // Baseline: the same files through a hash pool with the same options and threads, no HTTP, while the service idles.
      const paths = readdirSync(join(CACHE_DIR, 'api-jpeg')).filter((f) => f.endsWith('.jpg')).slice(0, IMAGES).map((f) => join(CACHE_DIR, 'api-jpeg', f));
      const pool = new HashPool({ dihedral: true, views: true, threads: HASH_THREADS });
      try {
        await Promise.all(paths.slice(0, HASH_THREADS).map((p) => pool.hash(p)));
        let done = 0;
        const until = performance.now() + DURATION * 1000;
        const t = performance.now();
        await Promise.all(Array.from({ length: UPLOAD_CONNECTIONS }, async (_, c) => {
          for (let i = c; performance.now() < until; i += UPLOAD_CONNECTIONS) {
            const rec = await pool.hash(paths[i % paths.length]);
            if (rec.error) throw new Error(`hashing ${rec.path}: ${rec.error.message}`);
            done++;
          }
        }));
        direct = done / ((performance.now() - t) / 1000);
      } finally {
        await pool.close();
      }
      log(`${'hash pool directly (same files)'.padEnd(34)} ${fmt(direct, 0).padStart(9)} images/s   uploads reach ${fmt((100 * r.rps) / direct, 0)} % of it`);
    }
  } finally {
    serve.child.kill('SIGTERM');
    const code = await serve.closed;
    if (code !== 0) log(`vigil serve exited with ${code}:\n${serve.stderr()}`);
  }
  let matchOnly: Run | undefined;
  if (ONLY.has('match')) {
    matchOnly = await matchBaseline(bank.dbPath, singles.map((b) => (JSON.parse(b) as { hashes: [{ value: string }] }).hashes[0].value));
    line('BankMatcher.match alone, 1 thread', matchOnly, `   lookups reach ${results.lookup1 ? fmt((100 * results.lookup1.rps) / matchOnly.rps, 0) : '–'} % of it`, 'queries/s');
  }
  log(`machine after: ${machineLoad()}`);

  log();
  log('targets:');
  const { lookup1, paced, lookup100, hma, healthz, upload } = results;
  if (lookup1) {
    const met = lookup1.rps >= 10_000 && lookup1.p99 < 20;
    log(`  ≥ 10,000 lookups/s on 2 cores, p99 < 20 ms: ${met ? 'MET' : 'MISSED'} — ${fmt(lookup1.rps, 0)}/s (1 PDQ per request), p99 ${ms(lookup1.p99)} at ${CONNECTIONS} connections${paced ? `; p99 ${ms(paced.p99)} at ${paceRate}/s offered` : ''}`);
  }
  if (lookup100) log(`  batched: ${fmt(lookup100.rps * 100, 0)} hashes/s with 100 per request (${lookup100.rps * 100 >= 10_000 ? 'meets' : 'misses'} 10,000 hashes/s)`);
  if (hma) log(`  HMA /m/lookup: ${fmt(hma.rps, 0)}/s from one instance against HMA's 4,000/s across several (${fmt(hma.rps / 4000, 2)}×)`);
  if (matchOnly) log(`  matching alone: ${fmt(matchOnly.rps, 0)} PDQ queries/s on one thread (p50 ${ms(matchOnly.p50)}, p99 ${ms(matchOnly.p99)} per query): the ceiling of a service that matches on its event loop`);
  if (healthz && lookup1) log(`  lookup / healthz: ${fmt(lookup1.rps / healthz.rps, 2)} (the rest of the floor is matching, auth, validation, serialisation)`);
  if (upload && direct) log(`  uploads: ${fmt(upload.rps, 1)} images/s = ${fmt(upload.rps / direct, 2)}× hashing alone (${fmt(direct, 1)} images/s)`);

  if (profileDir) {
    // One profile per thread; thread 0 is the main thread (HTTP, matching), the others hash uploads.
    const files = existsSync(profileDir) ? readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort() : [];
    const file = files.find((f) => /\.0\.\d+\.cpuprofile$/.test(f)) ?? files[0];
    if (!file) log('no CPU profile was written');
    else {
      const s = summariseProfile(join(profileDir, file), { top: 25, fromUs: loadStartUs });
      log();
      log(`service CPU profile (main thread, from the first scenario on): ${fmt(s.totalMs / 1000, 1)} s sampled — ${join(profileDir, file)}`);
      log('  by module:');
      for (const m of s.modules.slice(0, 15)) log(`    ${fmt(100 * m.share, 1).padStart(5)} %  ${m.module}`);
      log('  by function (self time):');
      for (const f of s.functions) log(`    ${fmt(100 * f.share, 1).padStart(5)} %  ${f.name}  ${f.where}`);
      log(`(profile kept in ${runDir})`);
    }
  }
  if (!profileDir) rmSync(runDir, { recursive: true, force: true });
}

/** The matcher alone over the same store, in this process (index loaded, compacted as the service's is). */
async function matchBaseline(dbPath: string, values: string[]): Promise<Run> {
  const store = await openStore(dbPath);
  try {
    const matcher = new BankMatcher(store, { digestIndex: createDigestIndex });
    await matcher.sync();
    // The service compacts its PDQ index on its first poll after start.
    await matcher.compact();
    const queries = values.map((value) => lookupQuery({ type: 'pdq', value }));
    for (const q of queries.slice(0, 500)) await matcher.match(q);
    const times: number[] = [];
    const until = performance.now() + DURATION * 1000;
    const t0 = performance.now();
    for (let i = 0; performance.now() < until; i++) {
      const t = performance.now();
      await matcher.match(queries[i % queries.length]);
      times.push(performance.now() - t);
    }
    const seconds = (performance.now() - t0) / 1000;
    times.sort((a, b) => a - b);
    const at = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
    return { rps: times.length / seconds, p50: at(0.5), p99: at(0.99), total: times.length, errors: 0, non2xx: 0 };
  } finally {
    await store.close();
  }
}

function randomHex(bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes * 2; i++) s += ((Math.random() * 16) | 0).toString(16);
  return s;
}

await main();
