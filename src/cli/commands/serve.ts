/**
 * `vigil serve`: the HTTP API with the pipeline, rules, queue worker and audit log. On a fresh clone it also
 * writes demo pictures, a demo bank of their hashes and a demo admin key, and prints how to try it.
 */
import { Command, InvalidArgumentError } from 'commander';
import { parseScopes, type Scope } from '../../auth/keys.js';
import cluster from 'node:cluster';
import { runClusterWorker, startClusterPrimary } from '../../service/cluster.js';
import { missingAllocatorEnv, onGlibc } from '../../service/allocator.js';
import { startService, type RunningService, type ServeOptions } from '../../service/serve.js';
import { loadConfig } from '../../app/config.js';
import { DEMO_KEY_DAYS } from '../../service/demo.js';
import { hmaExtraSignalTypes } from '../../service/hma-signals.js';
import type { Cli } from '../context.js';
import { nonNegativeNumber } from './hash.js';

interface ServeCliOptions {
  host?: string;
  port?: number;
  rules?: string;
  demo: boolean;
  retainDays?: number;
  threads?: number;
  anonymous?: Scope[];
  metricsPublic?: boolean;
  trustProxy?: string;
  allowPrivateFetch?: boolean;
  hmaSignalTypes?: string[];
  queueLeaseMs?: number;
  log: boolean;
  workers: number;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`Expected a port 0–65535 but received ${JSON.stringify(value)}`);
  return n;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`Expected a positive whole number but received ${JSON.stringify(value)}`);
  return n;
}

function hmaSignalTypes(value: string): string[] {
  const types = value.split(',').map((t) => t.trim()).filter(Boolean);
  const extra = hmaExtraSignalTypes();
  const unknown = types.filter((t) => !extra.includes(t));
  if (unknown.length) throw new InvalidArgumentError(`Unknown signal type ${unknown.join(', ')} (expected some of ${extra.join(', ')})`);
  return types;
}

export function registerServe(program: Command, cli: Cli): void {
  program
    .command('serve')
    .description('Run the HTTP API (decisions, lookups, banks, rules, webhooks, audit); demo bank and key on a fresh store')
    .option('--host <host>', 'interface to listen on (default 127.0.0.1, or $VIGIL_HOST)')
    .option('-p, --port <port>', 'port, 0 = any free port (default 8080, or $PORT / $VIGIL_PORT)', port)
    .option('--rules <file>', 'rules config (JSON, docs/rules.md); rules set over the API later take precedence (said at start-up)')
    .option('--no-demo', 'no demo pictures, bank or key (on PostgreSQL the demo runs only with a demo folder configured: VIGIL_DEMO_DIR)')
    .option('--retain-days <days>', 'keep hashes of unmatched content this many days for retroactive matching (default 0 = off, or $VIGIL_RETAIN_DAYS)', nonNegativeNumber)
    .option('-j, --threads <n>', 'hashing threads (default: one per core)', (v) => Math.max(1, Number(v)))
    .option('--anonymous <scopes>', 'scopes granted without an API key, e.g. "lookup" for HMA clients on a trusted network ("admin" grants every scope: warned about at start-up)', parseScopes)
    .option('--metrics-public', 'serve /metrics without an API key')
    .option('--trust-proxy <proxies>', 'behind a reverse proxy: "true", a hop count, or the proxies\' addresses/CIDRs ("127.0.0.1,10.0.0.0/8"); client addresses (failed-key throttle, rate limits) then come from X-Forwarded-For (or $VIGIL_TRUST_PROXY)')
    .option('--allow-private-fetch', 'HMA ?url= and exchanges may fetch from private, loopback and link-local addresses (default: public hosts only)')
    .option('--hma-signal-types <types>', 'signal types the HMA endpoints answer with besides pdq (photos) and video_md5 (videos), e.g. "vpdq,md5"', hmaSignalTypes)
    .option('--queue-lease-ms <ms>', 'lease of a running job (webhook delivery): after a crash its job is delivered again once this has passed (default 60000; keep it above the 10 s webhook timeout, or a slow delivery is counted as a lost attempt)', positiveInteger)
    .option('-w, --workers <n>', 'serving processes on the same port (default 1; e.g. one per core for lookup throughput)', positiveInteger, 1)
    .option('--no-log', 'no request log on stdout')
    .action(async (opts: ServeCliOptions, cmd: Command) => {
      // One configuration: the --config file (or VIGIL_CONFIG), environment (VIGIL_*), then these flags, validated once.
      const globals = cmd.optsWithGlobals() as { config?: string; db?: string };
      const db = globals.db;
      const config = loadConfig({
        ...(globals.config ? { file: globals.config } : {}),
        env: cli.env,
        flags: {
          ...(db ? { database: { url: db } } : {}),
          server: {
            ...(opts.host !== undefined ? { host: opts.host } : {}),
            ...(opts.port !== undefined ? { port: opts.port } : {}),
            ...(opts.anonymous ? { anonymousScopes: opts.anonymous } : {}),
            ...(opts.metricsPublic ? { metricsPublic: true } : {}),
            ...(opts.trustProxy !== undefined ? { trustProxy: opts.trustProxy } : {}),
            ...(cmd.getOptionValueSource('workers') === 'cli' ? { workers: opts.workers } : {}),
            // Without it the request logger stayed on (a pino child per request) whatever --no-log said.
            ...(opts.log === false ? { log: false } : {}),
          },
          ...(opts.threads ? { hashing: { threads: opts.threads } } : {}),
          ...(opts.retainDays !== undefined ? { retention: { retainDays: opts.retainDays } } : {}),
          ...(opts.queueLeaseMs !== undefined ? { queue: { leaseMs: opts.queueLeaseMs } } : {}),
          ...(opts.rules ? { rules: { file: opts.rules } } : {}),
          ...(opts.demo === false ? { demo: { enabled: false } } : {}),
          ...(cli.env.VIGIL_LOG_LEVEL ? {} : { log: { level: 'warn' as const } }),
        },
      });
      const options: ServeOptions = {
        config,
        storeUrl: config.database.url,
        secrets: cli.env,
        ...(opts.allowPrivateFetch || opts.hmaSignalTypes ? { hma: { ...(opts.allowPrivateFetch ? { allowPrivateNetworks: true } : {}), ...(opts.hmaSignalTypes ? { extraSignalTypes: opts.hmaSignalTypes } : {}) } } : {}),
        logger: opts.log ? { level: 'info' } : false,
      };
      const out = (line = '') => cli.stderr.write(line + '\n');
      if (config.server.workers > 1) {
        if (cluster.isWorker) return runClusterWorker(options);
        const running = await startClusterPrimary(options, config.server.workers, out);
        out(`Vigil is listening on ${running.url} with ${running.workers} worker processes  (API docs: ${running.url}/docs)`);
        printWarnings(out, running.warnings);
        printDemo(out, running.demo, running.url);
        out('Ctrl-C stops the service.');
        return running.stopped;
      }
      const service = await startService(options);
      out(`Vigil is listening on ${service.url}  (API docs: ${service.url}/docs, OpenAPI: ${service.url}/openapi.json)`);
      out(`Signals loaded: ${Object.entries(service.ctx.matcher.sizes).map(([t, n]) => `${t} ${n}`).join(', ')}; rules: ${service.ctx.rules.source} (${service.ctx.rules.engine.version.slice(0, 12)})`);
      const missing = service.ctx.rules.missingSecrets();
      if (missing.length > 0) out(`Warning: webhook secrets not set, their deliveries will dead-letter: ${missing.join(', ')}`);
      printWarnings(out, service.warnings);
      const allocator = Object.entries(missingAllocatorEnv());
      if (allocator.length > 0 && onGlibc()) out(`Note: start with ${allocator.map(([k, v]) => `${k}=${v}`).join(' ')} so memory used for hostile uploads goes back to the system (docs/security.md)`);
      printDemo(out, service.demo, service.url);
      out('Ctrl-C stops the service.');
      await new Promise<void>((resolveStop) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          out('Stopping…');
          void service.close().then(resolveStop, resolveStop);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}

function printDemo(out: (line: string) => void, demo: RunningService['demo'], url: string): void {
  if (!demo) return;
  out(`Demo bank ${demo.bank}: hashes of the benign pictures in ${demo.dir}${demo.created ? ' (created now)' : ''}`);
  if (demo.reviewer) {
    out(`Review queue: ${url}/review  (sign in as ${demo.reviewer.name}, password ${demo.reviewer.password}; kept in ${demo.dir}/demo-reviewer-password)`);
  }
  if (demo.clientPage) out(`Client-side hashing: ${url}/demo/client  (a picture hashed in the page, only hashes sent; docs/client.md)`);
  const key = demo.key;
  if (!key) return;
  if (key.expired) {
    out(`The demo API key kept in ${key.file} has expired (or was revoked); create a key with: vigil key create --name me --scopes admin`);
    return;
  }
  const expires = key.expiresAt ? `, expires ${key.expiresAt.slice(0, 10)}` : '';
  if (!key.secret) {
    // Printed once, when created: later starts say where it is kept, not the secret.
    out(`Demo API key (admin${expires}): kept in ${key.file}`);
    return;
  }
  out(`Demo API key (admin, expires in ${DEMO_KEY_DAYS} days${expires}; shown once, kept in ${key.file}):`);
  out(`  ${key.secret}`);
  out('Try:');
  out(`  curl -s -H "Authorization: Bearer $(cat ${key.file})" -F contentId=demo-1 -F file=@${demo.dir}/sunset.png ${url}/v1/content`);
}

function printWarnings(out: (line: string) => void, warnings: readonly string[]): void {
  for (const line of warnings) out(line.startsWith('WARNING') ? `\n${'!'.repeat(78)}\n${line}\n${'!'.repeat(78)}\n` : line);
}
