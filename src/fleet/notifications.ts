/**
 * PostgreSQL LISTEN on one held connection (pg's pool cannot hold a LISTEN). Each channel's handler runs on a
 * notification for this process's schema; after a (re)connection every handler runs once, because notifications
 * sent while disconnected are lost: handlers read from their own position (the change feed's seq, the outbox's
 * pending rows), so "run once more" is always a complete catch-up. Hand-written because pg-listen and
 * friends add little over these 80 lines and none follows a search_path schema.
 */
import pg from 'pg';

export interface NotificationsOptions {
  client: pg.ClientConfig;
  /** Channel → handler (called without arguments; it must not throw). */
  channels: Record<string, () => void>;
  /** Reconnect delay, doubling to 5 s (default 100 ms). */
  retryMs?: number;
  onError?: (err: unknown) => void;
}

export class PgNotifications {
  private client: pg.Client | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  /** Connections made (the first plus reconnections). */
  connections = 0;

  constructor(private readonly o: NotificationsOptions) {
    this.delay = o.retryMs ?? 100;
  }

  /** Resolves once listening (the first connection's failure rejects: a misconfiguration shows at start). */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.o.client);
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    await client.connect();
    try {
      const { rows } = await client.query<{ s: string }>('SELECT current_schema() AS s');
      const schema = rows[0]?.s;
      client.on('notification', (n) => {
        if (n.payload === schema) this.o.channels[n.channel]?.();
      });
      for (const channel of Object.keys(this.o.channels)) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.connections++;
    this.delay = this.o.retryMs ?? 100;
    // Whatever was committed while no one listened.
    for (const handler of Object.values(this.o.channels)) handler();
  }

  private lost(client: pg.Client, err?: unknown): void {
    if (this.client !== client || this.stopped) return;
    this.client = undefined;
    if (err) this.o.onError?.(err);
    this.retry();
  }

  private retry(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect().catch((err: unknown) => {
        this.o.onError?.(err);
        this.delay = Math.min(this.delay * 2, 5000);
        this.retry();
      });
    }, this.delay);
    this.timer.unref();
  }

  get listening(): boolean {
    return this.client !== undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

/**
 * Runs `fn` on each trigger, never twice at once; a trigger during a run schedules exactly one more run after
 * it (the running one may have read before the change that triggered).
 */
export function coalescing(fn: () => Promise<unknown>, onError: (err: unknown) => void): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    again = false;
    void fn().catch(onError).finally(() => {
      running = false;
      if (again) run();
    });
  };
  return run;
}
