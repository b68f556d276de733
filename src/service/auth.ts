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
  }
  interface FastifyContextConfig {
    /** The scope a route needs; routes without one are public (health, docs). */
    scope?: Scope;
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

/** What authentication needs of a key store (sync or async). */
export interface KeyAuthenticator {
  authenticate(secret: string): ApiKey | undefined | Promise<ApiKey | undefined>;
}

export function registerAuth(app: FastifyInstance, keys: KeyAuthenticator, usage: Pick<KeyUsage, 'count'>, options: { anonymousScopes?: readonly Scope[] } = {}): void {
  const anonymous = new Set(options.anonymousScopes ?? []);
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config?.scope;
    if (!scope) return;
    const secret = secretOf(request);
    const key = secret ? await keys.authenticate(secret) : undefined;
    if (key) request.apiKey = key;
    if (!key) {
      // Operators may open read-only HMA-style lookups to a trusted network (HMA itself has no auth).
      if (anonymous.has(scope)) return;
      throw new VigilError('VIGIL_ERR_UNAUTHENTICATED', secret ? 'The API key is unknown, revoked or expired' : 'Send an API key: "Authorization: Bearer <key>" or "X-Api-Key: <key>"');
    }
    const allowed = hasScope(key, scope);
    usage.count(key.id, request.routeOptions.url ?? request.url, !allowed);
    if (!allowed) throw new VigilError('VIGIL_ERR_FORBIDDEN', `This API key lacks the "${scope}" scope`);
  });
}
