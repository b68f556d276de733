/**
 * Every fleet process writes a heartbeat to Redis (a key per process that expires after three missed beats), so
 * `vigil fleet status` lists what is running without a registry to clean up: a killed process simply ages out.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';

export interface ProcessBeat {
  id: string;
  role: 'api' | 'worker';
  pid: number;
  host: string;
  startedAt: number;
  at: number;
  /** Its HTTP address (/healthz, /readyz, /metrics). */
  url?: string;
  ready: boolean;
  /** Change-feed position of its index and how far behind the feed it is. */
  position: number;
  lagMs: number | null;
  /** Workers: jobs running now, finished, failed attempts since start. */
  active?: number;
  processed?: number;
  failures?: number;
}

const keyOf = (prefix: string, id: string) => `${prefix}:fleet:proc:${id}`;

export class Heartbeat {
  readonly id: string;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly role: ProcessBeat['role'],
    private readonly intervalMs: number,
    private readonly state: () => Omit<ProcessBeat, 'id' | 'role' | 'pid' | 'host' | 'startedAt' | 'at'>,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.id = `${role}-${hostname()}-${process.pid}`;
  }

  async beat(): Promise<void> {
    const value: ProcessBeat = { id: this.id, role: this.role, pid: process.pid, host: hostname(), startedAt: this.startedAt, at: Date.now(), ...this.state() };
    await this.redis.set(keyOf(this.prefix, this.id), JSON.stringify(value), 'PX', this.intervalMs * 3);
  }

  start(): void {
    void this.beat().catch(this.onError);
    this.timer = setInterval(() => void this.beat().catch(this.onError), this.intervalMs);
    this.timer.unref();
  }

  /** Leaves the fleet (a clean stop; a killed process ages out instead). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.redis.del(keyOf(this.prefix, this.id)).catch(this.onError);
  }
}

export async function listProcesses(redis: Redis, prefix: string): Promise<ProcessBeat[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:fleet:proc:*`, 'COUNT', 200);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as ProcessBeat).sort((a, b) => a.role.localeCompare(b.role) || a.id.localeCompare(b.id));
}
