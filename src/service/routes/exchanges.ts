/**
 * Vigil's exchange routes (docs/exchanges.md): subscriptions to hash-sharing programs, their fetch status, a fetch
 * now, and per-API credentials (stored encrypted, never returned). HMA's own routes are in hma-exchanges.ts.
 */
import type { FastifyInstance } from 'fastify';
import { VigilError } from '../../core/errors.js';
import { EXCHANGE_APIS } from '../../exchanges/config.js';
import { addExchange, exchangeStatuses, removeExchange } from '../../exchanges/service.js';
import { auditActorOf } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES } from '../schemas.js';

const tags = ['exchanges'];
const NAME = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;
const STATUS = { type: 'object', additionalProperties: true, description: 'Fetch status: last success, lag, counts added and deleted, the last error, consecutive failures' } as const;
const OBJECT = { type: 'object', additionalProperties: true } as const;
const ok = (schema: object, status = 200) => ({ [status]: schema, ...ERROR_RESPONSES });

export function exchangeRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const v = ctx.vigil;

  app.get('/v1/exchanges', { config: { scope: 'curate' }, schema: { tags, summary: 'Exchanges with their fetch status', response: { 200: { type: 'array', items: STATUS }, ...ERROR_RESPONSES } } }, async () => exchangeStatuses(v));

  app.get('/v1/exchange-apis', { config: { scope: 'curate' }, schema: { tags, summary: 'Exchange APIs with their config and credential fields', response: ok({ type: 'array', items: OBJECT }) } }, async () =>
    Promise.all(Object.values(EXCHANGE_APIS).map(async (a) => ({ ...a, hasCredentials: await v.exchanges.hasCredentials(a.name) }))));

  app.put('/v1/exchange-apis/:api/credentials', {
    config: { scope: 'admin' },
    schema: { tags, summary: 'Set (or with {} clear) an exchange API\'s credentials; stored encrypted, never returned', params: { type: 'object', properties: { api: { type: 'string' } } }, body: { type: 'object', additionalProperties: true }, response: ok({ type: 'object', properties: { api: { type: 'string' }, hasCredentials: { type: 'boolean' } } }) },
  }, async (request) => {
    const { api } = request.params as { api: string };
    await v.exchanges.setCredentials(auditActorOf(request), api, request.body as Record<string, unknown>);
    return { api, hasCredentials: await v.exchanges.hasCredentials(api) };
  });

  app.post('/v1/exchanges', {
    config: { scope: 'curate' },
    schema: {
      tags, summary: 'Add an exchange and the bank it fills (the name is the bank\'s)',
      body: { type: 'object', required: ['name', 'api'], additionalProperties: false, properties: { name: { type: 'string', maxLength: 64 }, api: { type: 'string', enum: Object.keys(EXCHANGE_APIS) }, config: { type: 'object', additionalProperties: true }, enabled: { type: 'boolean' } } },
      response: ok(STATUS, 201),
    },
  }, async (request, reply) => {
    const body = request.body as { name: string; api: string; config?: Record<string, unknown>; enabled?: boolean };
    await addExchange(v, auditActorOf(request), { name: body.name, api: body.api, config: body.config ?? {}, ...(body.enabled !== undefined ? { enabled: body.enabled } : {}) });
    return reply.code(201).send(await v.exchangeFetcher.status(body.name));
  });

  app.get('/v1/exchanges/:name', { config: { scope: 'curate' }, schema: { tags, summary: 'An exchange: its config (never credentials) and fetch status', params: NAME, response: ok({ type: 'object', properties: { config: OBJECT, status: STATUS } }) } }, async (request) => {
    const { name } = request.params as { name: string };
    const e = await v.exchanges.get(name);
    if (!e) throw new VigilError('VIGIL_ERR_NOT_FOUND', `Exchange '${name}' not found`);
    return { config: e.config, status: await v.exchangeFetcher.status(name) };
  });

  app.post('/v1/exchanges/:name/fetch', {
    config: { scope: 'curate' },
    schema: { tags, summary: 'Fetch now, from the checkpoint (waits for the fetch; 409 while another process holds the exchange)', params: NAME, body: { type: ['object', 'null'], properties: { maxPages: { type: 'integer', minimum: 1 } } }, response: ok({ ...OBJECT, description: 'The fetch: ok, pages, added, updated, deleted, errors, skipped, partial, error' }) },
  }, async (request) => {
    const { name } = request.params as { name: string };
    const maxPages = (request.body as { maxPages?: number } | null)?.maxPages;
    const owner = `request:${request.id}`;
    if (!(await v.exchangeFetcher.acquireLease(name, owner, 30 * 60_000))) throw new VigilError('VIGIL_ERR_CONFLICT', `Exchange '${name}' is being fetched by another process`);
    try {
      return await v.exchangeFetcher.fetch(name, auditActorOf(request), { leaseOwner: owner, ...(maxPages ? { maxPages } : {}) });
    } finally {
      await v.exchangeFetcher.releaseLease(name, owner);
    }
  });

  app.delete('/v1/exchanges/:name', {
    config: { scope: 'curate' },
    schema: { tags, summary: 'Remove an exchange (its bank stays unless ?deleteBank=true)', params: NAME, querystring: { type: 'object', properties: { deleteBank: { type: 'boolean' } } }, response: ok({ type: 'object', properties: { removed: { type: 'string' } } }) },
  }, async (request) => {
    const { name } = request.params as { name: string };
    await removeExchange(v, auditActorOf(request), name, { deleteBank: (request.query as { deleteBank?: boolean }).deleteBank === true });
    return { removed: name };
  });
}
