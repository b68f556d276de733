/** Liveness, readiness (indexes loaded), Prometheus metrics, and the OpenAPI document. */
import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from '../context.js';

export function opsRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'Liveness: the process answers', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: {
      tags: ['operations'],
      summary: 'Readiness: the match indexes hold the store\'s signals',
      response: { '2xx': { type: 'object', properties: { ready: { type: 'boolean' }, position: { type: 'integer' }, behind: { type: 'integer', description: 'Change-feed entries not yet in this process\'s index' }, lagMs: { type: ['integer', 'null'], description: 'Milliseconds since the index last held the whole feed' }, signals: { type: 'object', additionalProperties: { type: 'integer' } } } } },
    },
  }, async (_request, reply) => {
    const ready = ctx.isReady();
    // How far behind: feed entries not applied yet, and time since the index last held the whole feed.
    const head = await ctx.store.latestSeq().catch(() => ctx.matcher.position);
    const lag = ctx.matcher.lagMs();
    return reply.code(ready ? 200 : 503).send({ ready, position: ctx.matcher.position, behind: Math.max(0, head - ctx.matcher.position), lagMs: Number.isFinite(lag) ? Math.round(lag) : null, signals: ctx.matcher.sizes });
  });

  app.get('/metrics', { config: ctx.metricsPublic ? {} : { scope: 'admin' }, schema: { tags: ['operations'], summary: 'Prometheus metrics', security: ctx.metricsPublic ? [] : [{ apiKey: [] }] } }, async (_request, reply) => {
    reply.type(ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
