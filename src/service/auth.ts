/**
 * API keys on every route that declares a scope (`config.scope`): `Authorization: Bearer <secret>` or
 * `X-Api-Key: <secret>`. 401 without a valid key, 403 without the scope. Key use is counted per key and
 * written to the audit log once a minute (one row per key and minute, not one per request: lookups run at
 * thousands per second).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VigilError } from '../core/errors.js';
import type { AuditLog } from '../audit/log.js';
import { hasScope, type ApiKey, type ApiKeyStore, type Scope } from '../auth/keys.js';
import type { VigilDatabase } from '../state/database.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKey;
    /** Set when the request passed on the operator's anonymous grant (`--anonymous`) instead of a key. */
    anonymousGrant?: { scopes: Scope[] };
  }
  interface FastifyContextConfig {
    /** The scope a route needs; routes without one are public (health, docs). */
    scope?: Scope;
    /** Device keys (scope 'device') may call this route too (hash submissions, range lookups). */
    device?: boolean;
  }
}

export function secretOf(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim();
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

export function actorOf(request: FastifyRequest): string {
  return request.apiKey ? `key:${request.apiKey.id}` : 'anonymous';
}

/** Who made the request and which request it was: what every audit entry written for it names. */
export function auditActorOf(request: FastifyRequest): { actor: string; requestId: string } {
  return { actor: actorOf(request), requestId: String(request.id) };
}

interface KeyUse {
  requests: number;
  denied: number;
  routes: Record<string, number>;
}

/** Counts requests per key and route; flushes 'key.used' audit entries and last-used times in one transaction. */
export class KeyUsage {
  private counts = new Map<string, KeyUse>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: VigilDatabase,
    private readonly audit: AuditLog,
    private readonly keys: ApiKeyStore,
    private readonly options: { onError?: (err: unknown) => void } = {},
  ) {}

  count(keyId: string, route: string, denied: boolean): void {
    let c = this.counts.get(keyId);
    if (!c) this.counts.set(keyId, (c = { requests: 0, denied: 0, routes: {} }));
    c.requests++;
    if (denied) c.denied++;
    c.routes[route] = (c.routes[route] ?? 0) + 1;
  }

  /** Writes the counts so far. A failed write keeps them for the next flush, and rejects. */
  flush(): Promise<void> {
    const run = async () => {
      if (this.counts.size === 0) return;
      const batch = this.counts;
      this.counts = new Map();
      try {
        await this.db.transaction(async (tx) => {
          await this.audit.appendMany(tx, [...batch].map(([keyId, c]) => ({ actor: `key:${keyId}`, action: 'key.used', subject: `key:${keyId}`, details: { ...c } })));
          for (const keyId of batch.keys()) await this.keys.markUsed(keyId, tx);
        });
      } catch (err) {
        for (const [keyId, c] of batch) this.merge(keyId, c);
        throw err;
      }
    };
    // One flush at a time: a timer tick during a slow flush must not write the same counts twice.
    const result = this.flushing.then(run);
    // The chain only orders flushes: a failure reaches this flush's caller through `result`.
    this.flushing = result.catch(() => undefined);
    return result;
  }

  start(intervalMs = 60_000): void {
    this.timer ??= setInterval(() => {
      this.flush().catch((err: unknown) => (this.options.onError ?? defaultOnError)(err));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private merge(keyId: string, c: KeyUse): void {
    const into = this.counts.get(keyId);
    if (!into) {
      this.counts.set(keyId, c);
      return;
    }
    into.requests += c.requests;
    into.denied += c.denied;
    for (const [route, n] of Object.entries(c.routes)) into.routes[route] = (into.routes[route] ?? 0) + n;
  }
}

function defaultOnError(err: unknown): void {
  process.stderr.write(`vigil: key-use audit flush failed (kept for the next one): ${(err as Error)?.message ?? String(err)}\n`);
}

/**
 * Failed key attempts per client address: after `maxFailures` in a sliding window (default 20 a minute) the
 * address gets 429 on every keyed request, a valid key included (or the check would stay an oracle), until
 * its oldest failure leaves the window. Memory is bounded: at most `maxFailures` times per address and
 * `maxClients` addresses (the longest idle is dropped first). The clock is injectable for tests.
 */
export class FailedKeyThrottle {
  private readonly failures = new Map<string, number[]>();
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly maxClients: number;
  private readonly now: () => number;

  constructor(options: { maxFailures?: number; windowMs?: number; maxClients?: number; now?: () => number } = {}) {
    this.maxFailures = options.maxFailures ?? 20;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxClients = options.maxClients ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /** Milliseconds until `client` may try a key again; 0 when it may now. */
  blockedFor(client: string): number {
    const times = this.recent(client);
    if (times.length < this.maxFailures) return 0;
    return times[0]! + this.windowMs - this.now();
  }

  fail(client: string): void {
    const times = this.recent(client);
    times.push(this.now());
    if (times.length > this.maxFailures) times.shift();
    // Re-insert so Map order is least recently failed first: the eviction below drops the stalest.
    this.failures.delete(client);
    this.failures.set(client, times);
    if (this.failures.size > this.maxClients) this.failures.delete(this.failures.keys().next().value!);
  }

  private recent(client: string): number[] {
    const times = this.failures.get(client);
    if (!times) return [];
    const since = this.now() - this.windowMs;
    while (times.length > 0 && times[0]! <= since) times.shift();
    if (times.length === 0) this.failures.delete(client);
    return times;
  }
}

/** What authentication needs of a key store (sync or async). */
export interface KeyAuthenticator {
  authenticate(secret: string): ApiKey | undefined | Promise<ApiKey | undefined>;
}

export interface AuthOptions {
  /**
   * Scopes granted without a key, as if held by a key: 'admin' implies every scope (the serve command
   * warns loudly about it).
   */
  anonymousScopes?: readonly Scope[];
  /** Failed-key throttling per client address (default: 20 failures a minute). */
  throttle?: FailedKeyThrottle;
}

/** Whether the caller — its key, or the anonymous grant it passed on — holds `scope`. */
export function callerHolds(request: FastifyRequest, scope: Scope): boolean {
  const grant = request.apiKey ?? request.anonymousGrant;
  return grant !== undefined && hasScope(grant, scope);
}

export function registerAuth(app: FastifyInstance, keys: KeyAuthenticator, usage: Pick<KeyUsage, 'count'>, options: AuthOptions = {}): void {
  const anonymous = { scopes: [...(options.anonymousScopes ?? [])] };
  const throttle = options.throttle ?? new FailedKeyThrottle();
  app.addHook('onRequest', async (request, reply) => {
    const scope = request.routeOptions.config?.scope;
    if (!scope) return;
    const secret = secretOf(request);
    if (secret) {
      const wait = throttle.blockedFor(request.ip);
      if (wait > 0) {
        reply.header('retry-after', String(Math.max(1, Math.ceil(wait / 1000))));
        throw new VigilError('VIGIL_ERR_RATE_LIMITED', `Too many failed API key attempts from this address (${throttle.maxFailures} in ${throttle.windowMs / 1000} s); retry in ${Math.ceil(wait / 1000)} s`);
      }
    }
    const key = secret ? await keys.authenticate(secret) : undefined;
    if (key) request.apiKey = key;
    if (!key) {
      if (secret) throttle.fail(request.ip);
      // Operators may open read-only HMA-style lookups to a trusted network (HMA itself has no auth).
      if (hasScope(anonymous, scope)) {
        request.anonymousGrant = anonymous;
        return;
      }
      throw new VigilError('VIGIL_ERR_UNAUTHENTICATED', secret ? 'The API key is unknown, revoked or expired' : 'Send an API key: "Authorization: Bearer <key>" or "X-Api-Key: <key>"');
    }
    const allowed = hasScope(key, scope) || (request.routeOptions.config?.device === true && key.scopes.includes('device'));
    usage.count(key.id, request.routeOptions.url ?? request.url, !allowed);
    if (!allowed) throw new VigilError('VIGIL_ERR_FORBIDDEN', `This API key lacks the "${scope}" scope`);
  });
}
