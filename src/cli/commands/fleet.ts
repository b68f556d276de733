/** `vigil fleet status`: every process of the fleet (from their heartbeats) and every queue (docs/fleet.md). */
import { Command } from 'commander';
import { VigilError } from '../../core/errors.js';
import { printJson, printTable, withVigil, type Cli } from '../context.js';

export function registerFleet(program: Command, cli: Cli): void {
  const fleet = program.command('fleet').description('The fleet on PostgreSQL + Redis (docs/fleet.md)');
  fleet
    .command('status')
    .description('Every API and worker process (heartbeats) and every queue (depth, oldest job, failures)')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const url = vigil.config.redis.url;
        if (!url) throw new VigilError('VIGIL_ERR_INVALID_CONFIG', 'No fleet here: set VIGIL_REDIS_URL (docs/fleet.md)');
        const [{ connectRedis }, { listProcesses }, { FleetQueues }, { fleetBullQueues }] = await Promise.all([
          import('../../fleet/redis.js'), import('../../fleet/heartbeat.js'), import('../../fleet/bull.js'), import('../../fleet/process.js'),
        ]);
        const redis = await connectRedis(url, 'producer').catch((err: unknown) => {
          throw new VigilError('VIGIL_ERR_UNAVAILABLE', `Redis at ${url} cannot be reached (${(err as Error).message})`);
        });
        const queues = new FleetQueues({ redis, prefix: vigil.config.redis.prefix, names: fleetBullQueues(vigil) });
        try {
          const processes = await listProcesses(redis, vigil.config.redis.prefix);
          const metrics = await queues.metrics(vigil.db);
          const head = await vigil.store.latestSeq();
          if (opts.json) return printJson(cli.stdout, { feedPosition: head, processes, queues: metrics });
          const now = Date.now();
          cli.stdout.write(`Processes (${processes.length}; change feed at ${head}):\n`);
          printTable(cli.stdout, processes.map((p) => ({
            id: p.id, role: p.role, url: p.url ?? '', ready: p.ready ? 'yes' : 'NO', behind: head - p.position,
            lag: p.lagMs === null ? '-' : `${Math.round(p.lagMs / 1000)}s`, seen: `${Math.round((now - p.at) / 1000)}s ago`,
            jobs: p.role === 'worker' ? `${p.active ?? 0} running, ${p.processed ?? 0} done, ${p.failures ?? 0} failed` : '',
          })), ['id', 'role', 'url', 'ready', 'behind', 'lag', 'seen', 'jobs']);
          cli.stdout.write('Queues:\n');
          printTable(cli.stdout, Object.entries(metrics).map(([name, m]) => ({ queue: name, depth: m.depth, unrelayed: m.unrelayed, active: m.active, oldest: `${Math.round(m.oldestAgeMs / 1000)}s`, failed: m.failed })),
            ['queue', 'depth', 'unrelayed', 'active', 'oldest', 'failed']);
        } finally {
          await queues.close();
          redis.disconnect();
        }
      });
    });
}
