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

/** Counts requests per key and route; flushes 'key.used' audit entries. */
export class KeyUsage {
  private counts = new Map<string, { requests: number; denied: number; routes: Record<string, number> }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly audit: AuditLog, private readonly keys: ApiKeyStore) {}

  count(keyId: string, route: string, denied: boolean): void {
    let c = this.counts.get(keyId);
    if (!c) this.counts.set(keyId, (c = { requests: 0, denied: 0, routes: {} }));
    c.requests++;
    if (denied) c.denied++;
    c.routes[route] = (c.routes[route] ?? 0) + 1;
  }

  flush(): void {
    if (this.counts.size === 0) return;
    const batch = this.counts;
    this.counts = new Map();
    this.audit.appendMany([...batch].map(([keyId, c]) => ({ actor: `key:${keyId}`, action: 'key.used', subject: `key:${keyId}`, details: c })));
    for (const keyId of batch.keys()) this.keys.markUsed(keyId);
  }

  start(intervalMs = 60_000): void {
    this.timer ??= setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}

export function registerAuth(app: FastifyInstance, keys: ApiKeyStore, usage: KeyUsage, options: { anonymousScopes?: readonly Scope[] } = {}): void {
  const anonymous = new Set(options.anonymousScopes ?? []);
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config?.scope;
    if (!scope) return;
    const secret = secretOf(request);
    const key = secret ? keys.authenticate(secret) : undefined;
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
