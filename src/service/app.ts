/**
 * The HTTP API (Fastify): routes validate with JSON Schema and the OpenAPI 3.1 document at /openapi.json
 * (docs page at /docs) is generated from those schemas. Auth, per-key rate limits, metrics and one error
 * shape are hooks shared by every route.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { VigilError } from '../core/errors.js';
import { VIGIL_VERSION } from '../core/version.js';
import { registerAuth } from './auth.js';
import type { ServiceContext } from './context.js';
import { sendError } from './http-errors.js';
import { redactingChild, redactingLogger } from './request-log.js';
import { jsonDeeperThan, MAX_JSON_DEPTH, registerSchemas } from './schemas.js';
import { adminRoutes } from './routes/admin.js';
import { bankRoutes } from './routes/banks.js';
import { contentRoutes } from './routes/content.js';
import { queuedContentRoutes } from './routes/queued-content.js';
import { queuedUploadRoutes } from './routes/queued-upload.js';
import { exchangeRoutes } from './routes/exchanges.js';
import { hmaRoutes } from './routes/hma.js';
import { lookupRoutes } from './routes/lookup.js';
import { opsRoutes } from './routes/ops.js';
import { rangeRoutes } from './routes/range.js';
import { reportRoutes } from './routes/reports.js';
import { reviewRoutes } from './web/routes.js';
import { clientDemoRoutes } from './web/client-demo.js';

/** The OpenAPI document's version: the package's. */
export const API_VERSION = VIGIL_VERSION;

/**
 * `loggerInstance`: the core's pino logger (`vigil.log`), so requests and background work share one logger and
 * one format; `logger`: Fastify's own (tests and embedders); neither: no request logs.
 */
export async function buildApp(ctx: ServiceContext, options: { logger?: FastifyServerOptions['logger']; loggerInstance?: FastifyBaseLogger } = {}): Promise<FastifyInstance> {
  // request.ip (failed-key throttle, rate limits, audit) is the client's only through proxies the operator names.
  const trusted = ctx.vigil.config.server.trustProxy;
  const trustProxy: FastifyServerOptions['trustProxy'] = typeof trusted === 'number' ? (_address: string, hop: number) => hop < trusted : trusted;
  const app = Fastify({
    // Secrets in query strings and credential headers never reach the request log (the shared logger too).
    ...(options.loggerInstance ? { loggerInstance: redactingChild(options.loggerInstance) } : { logger: redactingLogger(options.logger) }),
    bodyLimit: ctx.limits.maxJsonBytes,
    // JSON bombs: a deep or huge body is refused before it reaches a route.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // HMA clients (Coop) join a base URL ending in "/" with paths starting with one: "//c/bank/NAME".
    routerOptions: { ignoreDuplicateSlashes: true },
    trustProxy,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler((request, reply) => sendError(new VigilError('VIGIL_ERR_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`), request, reply));

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Vigil API', version: API_VERSION, description: 'Known-material detection by hash matching: submit content or hashes, get a decision; manage banks, rules, jobs and the audit log. HMA 2.0-compatible endpoints are tagged "hma".' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (`vigil key create`), as "Authorization: Bearer <key>" or "X-Api-Key: <key>".' } } },
    },
    // Shared schemas become components named after their $id (ContentResult, BankMatch…), not def-0, def-1…
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // Routes with a scope need a key: the spec says so per operation.
    transform: ({ schema, url, route }) => {
      const scope = (route.config as { scope?: string } | undefined)?.scope;
      const device = (route.config as { device?: boolean } | undefined)?.device === true;
      const out = { ...(schema as Record<string, unknown>) };
      if (scope && out.security === undefined) out.security = [{ apiKey: [] }];
      if (scope) out.description = `${out.description ? `${String(out.description)}\n\n` : ''}Scope: \`${scope}\`${device ? ' (or a `device` key)' : ''}.`;
      return { schema: out, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(multipart, { limits: { fileSize: ctx.limits.maxUploadBytes, files: 1, fields: 20, fieldSize: 1024 * 1024, parts: 32 } });
  registerSchemas(app);
  registerAuth(app, ctx.keys, ctx.usage, { ...(ctx.anonymousScopes ? { anonymousScopes: ctx.anonymousScopes } : {}), ...(ctx.authThrottle ? { throttle: ctx.authThrottle } : {}) });
  // After auth (preHandler), so the limit is the key's own.
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: (request) => {
      const perMinute = request.apiKey?.rateLimitPerMinute;
      return perMinute === undefined ? 600 : perMinute === 0 ? Number.MAX_SAFE_INTEGER : perMinute;
    },
    timeWindow: 60_000,
    keyGenerator: (request) => (request.apiKey ? `key:${request.apiKey.id}` : `ip:${request.ip}`),
    allowList: (request) => !request.routeOptions.config?.scope,
    errorResponseBuilder: (_request, context) => Object.assign(new VigilError('VIGIL_ERR_RATE_LIMITED', `Rate limit of ${context.max} requests per minute exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`), { statusCode: 429 }),
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    ctx.metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    ctx.metrics.latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  // A JSON bomb (thousands of nested levels) parses fine but would overflow the stack when stored or audited.
  app.addHook('preValidation', async (request) => {
    if (jsonDeeperThan(request.body, MAX_JSON_DEPTH)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  });

  // Ajv coerces "-1e309" or "Infinity" to ±Infinity and lets it through `integer` and even `minimum`
  // (the schemas also say multipleOf: 1, see finiteInteger); no route may see a non-finite number.
  app.addHook('preHandler', async (request) => {
    for (const [where, values] of [['querystring', request.query], ['params', request.params]] as const) {
      if (values === null || typeof values !== 'object') continue;
      for (const [name, value] of Object.entries(values)) {
        if (typeof value === 'number' && !Number.isFinite(value)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Invalid request: ${where}/${name} must be a finite number`);
      }
    }
  });

  opsRoutes(app, ctx);
  contentRoutes(app, ctx);
  queuedContentRoutes(app, ctx);
  queuedUploadRoutes(app, ctx);
  lookupRoutes(app, ctx);
  bankRoutes(app, ctx);
  adminRoutes(app, ctx);
  hmaRoutes(app, ctx);
  rangeRoutes(app, ctx);
  reportRoutes(app, ctx);
  exchangeRoutes(app, ctx);
  // The review UI in its own scope (cookies, forms, HTML errors, CSP stay out of the JSON API).
  await app.register(async (scope) => reviewRoutes(scope, ctx, ctx.reviewWeb ?? {}));
  const clientDemo = ctx.clientDemo;
  if (clientDemo) await app.register(async (scope) => clientDemoRoutes(scope, clientDemo));
  await app.ready();
  return app;
}
