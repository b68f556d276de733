/**
 * Fetches every enabled exchange on a schedule. In a fleet each exchange is fetched by one process at a time: a
 * lease row in the database (exchange_sync.lease_owner/lease_until), renewed before each fetch and checked inside
 * each page's transaction, so a process that lost its lease cannot apply a page.
 */
import { randomUUID } from 'node:crypto';
import type { ExchangeConfigs } from './config.js';
import type { ExchangeFetcher, FetchResult } from './fetcher.js';

export interface SchedulerOptions {
  fetcher: ExchangeFetcher;
  configs: ExchangeConfigs;
  /** Time between fetches of one exchange. */
  intervalMs: number;
  /** How long a lease holds without renewal (longer than one fetch). */
  leaseMs?: number;
  owner?: string;
  now?: () => number;
  log?: { error: (obj: object, msg: string) => void };
}

export class ExchangeScheduler {
  readonly owner: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<FetchResult[]> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly o: SchedulerOptions) {
    this.owner = o.owner ?? `vigil-${randomUUID()}`;
  }

  /** One pass: every enabled exchange that is due and whose lease this process gets. */
  tick(): Promise<FetchResult[]> {
    return (this.running ??= this.pass().finally(() => (this.running = undefined)));
  }

  private async pass(): Promise<FetchResult[]> {
    const now = this.o.now ?? Date.now;
    const results: FetchResult[] = [];
    for (const name of await this.o.configs.list()) {
      if (this.abort.signal.aborted) break;
      const exchange = await this.o.configs.get(name);
      if (!exchange?.enabled) continue;
      if (!(await this.o.fetcher.acquireLease(name, this.owner, this.o.leaseMs ?? 30 * 60_000))) continue;
      try {
        // Due-ness is read under the lease, from the database: another process may have just fetched it.
        const last = (await this.o.fetcher.status(name)).lastAttemptAt;
        if (last !== null && now() - Date.parse(last) < this.o.intervalMs) continue;
        results.push(await this.o.fetcher.fetch(name, { actor: 'system:exchange-scheduler' }, { signal: this.abort.signal, leaseOwner: this.owner }));
      } finally {
        await this.o.fetcher.releaseLease(name, this.owner);
      }
    }
    return results;
  }

  start(pollMs = 30_000): void {
    if (this.timer) return;
    const run = () => void this.tick().catch((err: unknown) => this.o.log?.error({ err }, 'exchange scheduler pass failed'));
    this.timer = setInterval(run, pollMs);
    this.timer.unref();
    run();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }
}
