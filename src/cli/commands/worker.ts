/**
 * `vigil worker`: one worker process of a fleet (docs/fleet.md). It relays the jobs outbox into BullMQ and runs
 * the handlers (content checks, webhooks) with its own index kept in step by change notifications. SIGTERM or
 * Ctrl-C drains: no new jobs, the running ones finish, then it leaves the fleet.
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../app/config.js';
import type { Cli } from '../context.js';

function whole(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`Expected a whole number but received ${JSON.stringify(value)}`);
  return n;
}

interface WorkerCliOptions {
  host?: string;
  port?: number;
  concurrency?: number;
  lockMs?: number;
  relayLeaseMs?: number;
}

export function registerWorker(program: Command, cli: Cli): void {
  program
    .command('worker')
    .description('Run a fleet worker: relay the jobs outbox into BullMQ and run its jobs (needs VIGIL_REDIS_URL; docs/fleet.md)')
    .option('--host <host>', 'interface for /healthz, /readyz and /metrics (default 127.0.0.1)')
    .option('-p, --port <port>', 'port for /healthz, /readyz and /metrics (default 0: any free port, shown in vigil fleet status)', whole)
    .option('-c, --concurrency <n>', 'jobs per queue at once in this process (default 8)', whole)
    .option('--lock-ms <ms>', 'BullMQ job lock: a killed worker\'s jobs run elsewhere after about this long (default 30000)', whole)
    .option('--relay-lease-ms <ms>', 'a relayed job not finished after this is added to BullMQ again (same id; default 300000)', whole)
    .action(async (opts: WorkerCliOptions, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as { config?: string; db?: string };
      const config = loadConfig({
        ...(globals.config ? { file: globals.config } : {}),
        env: cli.env,
        flags: {
          ...(globals.db ? { database: { url: globals.db } } : {}),
          ...(opts.host ? { server: { host: opts.host } } : {}),
          fleet: {
            ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
            ...(opts.lockMs ? { lockMs: opts.lockMs } : {}),
            ...(opts.relayLeaseMs ? { relayLeaseMs: opts.relayLeaseMs } : {}),
          },
          ...(cli.env.VIGIL_LOG_LEVEL ? {} : { log: { level: 'warn' as const } }),
        },
      });
      const [{ createVigil }, { startFleetWorker }] = await Promise.all([import('../../app/vigil.js'), import('../../fleet/process.js')]);
      const vigil = await createVigil(config, { secrets: cli.env, hashing: { views: false, dihedral: false } });
      let worker;
      try {
        worker = await startFleetWorker(vigil, { ...(opts.port !== undefined ? { port: opts.port } : {}) });
      } catch (err) {
        await vigil.close();
        throw err;
      }
      const out = (line: string) => cli.stderr.write(line + '\n');
      out(`Vigil worker ${worker.heartbeat.id} ready on ${worker.url} (queues ${Object.keys(worker.queues.queues).join(', ')}; index at ${vigil.matcher.position})`);
      await new Promise<void>((resolveStop) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          out('Draining…');
          void worker.close().then(resolveStop, resolveStop);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      out('Stopped.');
    });
}
