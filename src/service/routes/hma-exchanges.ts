/**
 * HMA's exchange configuration endpoints (/c/exchanges*, /c/exchange/NAME*): the exchange APIs, their field
 * schemas, per-API credentials (stored encrypted, never returned), and exchanges, each with the bank it fills.
 * The scheduler in the service fetches them (exchanges/fetcher.ts); the status is the fetcher's.
 */
import type { FastifyInstance } from 'fastify';
import { VigilError } from '../../core/errors.js';
import { EXCHANGE_APIS, ExchangeConfigs, exchangeApi, type Exchange } from '../../exchanges/config.js';
import { removeExchange } from '../../exchanges/service.js';
import { auditActorOf } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { sendHmaForbidden } from './hma.js';

/** The APIs HMA itself knows; Vigil's own (file, vigil) are on /v1/exchange-apis. */
const HMA_APIS = new Set(['fb_threatexchange', 'ncmec', 'stop_ncii']);

export function hmaExchangeRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const tags = ['hma'];
  const apiParams = { type: 'object', properties: { api: { type: 'string' } } } as const;
  const nameParams = { type: 'object', properties: { name: { type: 'string' } } } as const;
  const apiInfo = async (api: string) => ({ supports_authentification: exchangeApi(api).credentials !== null, has_set_authentification: await ctx.exchanges.hasCredentials(api) });
  const exchangeJson = (e: Exchange) => ({ ...e.config, name: e.name, api: e.api, enabled: e.enabled });
  const requireExchange = async (name: string) => {
    const e = await ctx.exchanges.get(name);
    if (!e) throw new VigilError('VIGIL_ERR_NOT_FOUND', `Exchange '${name}' not found`);
    return e;
  };

  app.get('/c/exchanges/apis', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: the exchange APIs this server knows' } }, async () => Object.keys(EXCHANGE_APIS).filter((a) => HMA_APIS.has(a)));

  app.get('/c/exchanges/api/:api', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: whether an exchange API takes credentials and has them', params: apiParams } }, async (request) =>
    apiInfo((request.params as { api: string }).api));

  app.post('/c/exchanges/api/:api', {
    config: { scope: 'curate' },
    schema: { tags, summary: 'HMA: set (or, with {} or null, clear) an exchange API\'s credentials; stored encrypted, never returned', params: apiParams, body: { type: 'object', properties: { credential_json: { type: ['object', 'null'], additionalProperties: true } } } },
  }, async (request) => {
    const { api } = request.params as { api: string };
    const { credential_json } = request.body as { credential_json?: Record<string, unknown> | null };
    exchangeApi(api);
    if (credential_json !== undefined) await ctx.exchanges.setCredentials(auditActorOf(request), api, credential_json);
    return apiInfo(api);
  });

  app.get('/c/exchanges/api/:api/schema', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: the config and credential fields of an exchange API', params: apiParams } }, async (request) => {
    const api = exchangeApi((request.params as { api: string }).api);
    return { config_schema: { fields: api.config }, credentials_schema: api.credentials ? { fields: api.credentials } : null };
  });

  app.get('/c/exchanges', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: exchange names' } }, async () => ctx.exchanges.list());

  app.post('/c/exchanges', {
    config: { scope: 'curate' },
    schema: { tags, summary: 'HMA: create an exchange and the bank it fills', body: { type: 'object', required: ['bank'], properties: { bank: { type: 'string' }, api: { type: 'string' }, api_json: { type: 'object', additionalProperties: true } } } },
  }, async (request, reply) => {
    const body = request.body as { bank: string; api?: string; api_json?: Record<string, unknown> };
    if (!/^[A-Z0-9_]+$/.test(body.bank)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Field `bank` must match /^[A-Z0-9_]+$/');
    if (!body.api) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Field `api` is required');
    const config = ExchangeConfigs.checkConfig(body.api, body.api_json ?? {});
    if ((await ctx.exchanges.get(body.bank)) || (await ctx.store.getBank(body.bank))) return sendHmaForbidden(reply, `bank '${body.bank}' already exists`);
    const actor = auditActorOf(request);
    const bank = await ctx.banks.createBank(actor, { name: body.bank, source: `exchange:${body.api}` }, { via: 'hma', exchange: body.api });
    await ctx.exchanges.create(actor, { name: body.bank, api: body.api, bankId: bank.id, enabled: body.api_json?.enabled !== false, config });
    return reply.code(201).send({ message: 'Created successfully' });
  });

  app.get('/c/exchange/:name', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: an exchange\'s configuration (credentials never included)', params: nameParams } }, async (request) =>
    exchangeJson(await requireExchange((request.params as { name: string }).name)));

  app.put('/c/exchange/:name', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: enable or disable an exchange', params: nameParams, body: { type: 'object', properties: { enabled: { type: 'boolean' } } } } }, async (request) => {
    const { name } = request.params as { name: string };
    const { enabled } = request.body as { enabled?: boolean };
    const e = await requireExchange(name);
    return exchangeJson(enabled === undefined ? e : await ctx.exchanges.setEnabled(auditActorOf(request), name, enabled));
  });

  app.delete('/c/exchange/:name', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: delete an exchange (its bank stays)', params: nameParams } }, async (request) => {
    const { name } = request.params as { name: string };
    // Its fetch state goes with it (a new exchange of that name starts from the beginning); the bank stays.
    if (await ctx.exchanges.get(name)) await removeExchange(ctx.vigil, auditActorOf(request), name);
    return { message: 'Exchange deleted' };
  });

  app.get('/c/exchange/:name/status', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: the exchange\'s fetch status', params: nameParams } }, async (request) => {
    const { name } = request.params as { name: string };
    await requireExchange(name);
    return ctx.exchanges.fetchStatus(name);
  });
}
