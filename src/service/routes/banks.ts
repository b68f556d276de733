/**
 * Banks, signals and hash-list imports over HTTP (streamed uploads, any format the CLI reads), and the
 * hash-reputation endpoints: opinions (confirmed / false positive / disputed) on signals.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bankRecords, countDegenerate, importListFile, listWriter } from '../../banks/list-io.js';
import { VigilError } from '../../core/errors.js';
import { LIST_FORMAT_NAMES, type ListFormatName } from '../../lists/registry.js';
import type { ListItem, Labels } from '../../lists/types.js';
import { normalizeHexSignal, SIGNAL_TYPES, type SignalTypeName } from '../../signals/registry.js';
import type { BankPatch, NewBank, OpinionKind } from '../../store/types.js';
import { actorOf } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES } from '../schemas.js';
import { withUpload } from '../uploads.js';

const NAME = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;
const ID = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;

const bankFields = {
  description: { type: 'string', maxLength: 2000 },
  kind: { type: 'string', enum: ['block', 'allow'] },
  enabled: { type: 'boolean' },
  source: { type: 'string', maxLength: 500 },
  provenance: { type: 'object', additionalProperties: true },
  thresholds: { type: 'object', additionalProperties: false, properties: { pdq: { type: 'integer', minimum: 0, maximum: 256 }, vpdq: { type: 'integer', minimum: 0, maximum: 256 } } },
  falsePositivePolicy: { type: 'string', enum: ['suppress', 'downrank'] },
  spikeThreshold: { type: 'integer', minimum: 0 },
  degeneratePolicy: { type: 'string', enum: ['exact', 'none'] },
} as const;

const labelsBody = { $ref: 'Labels#' } as const;

async function requireBank(ctx: ServiceContext, name: string) {
  const bank = await ctx.store.getBank(name);
  if (!bank) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${name}`);
  return bank;
}

/** Adds (or, with deleted, withdraws) one signal through the store's idempotent import path. */
export async function putSignal(ctx: ServiceContext, bank: string, signal: { type: SignalTypeName; value: string; labels?: Labels; sourceId?: string; fileName?: string; metadata?: Record<string, unknown> }, deleted = false) {
  const value = signal.type === 'vpdq' || signal.type === 'photodna' ? signal.value : normalizeHexSignal(signal.type, signal.value);
  const item: ListItem = {
    kind: 'record',
    line: 1,
    record: {
      signals: [{ type: signal.type, value }],
      labels: signal.labels ?? {},
      ...(signal.sourceId ? { sourceId: signal.sourceId } : {}),
      ...(signal.fileName ? { fileName: signal.fileName } : {}),
      ...(signal.metadata ? { metadata: signal.metadata } : {}),
      ...(deleted ? { deleted: true } : {}),
    },
  };
  const result = await ctx.store.importList(bank, [item], { format: 'api' });
  if (result.errorCount > 0) throw new VigilError('VIGIL_ERR_INVALID_HASH', result.errors[0]?.message ?? 'Invalid signal');
  const [stored] = (await ctx.store.findSignals(signal.type, value)).filter((s) => s.bankName === bank);
  return { result, signal: stored };
}

export function bankRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const audit = (request: FastifyRequest, action: string, subject: string, details: Record<string, unknown> = {}) =>
    ctx.audit.append({ actor: actorOf(request), action, subject, details });

  app.get('/v1/banks', {
    config: { scope: 'lookup' },
    schema: { tags: ['banks'], summary: 'List banks', response: { 200: { type: 'object', properties: { banks: { type: 'array', items: { $ref: 'Bank#' } } } }, ...ERROR_RESPONSES } },
  }, async () => ({ banks: await ctx.store.listBanks() }));

  app.post('/v1/banks', {
    config: { scope: 'curate' },
    schema: {
      tags: ['banks'],
      summary: 'Create a bank',
      body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', maxLength: 64 }, ...bankFields } },
      response: { 201: { $ref: 'Bank#' }, ...ERROR_RESPONSES, 409: { $ref: 'Error#' } },
    },
  }, async (request, reply) => {
    const bank = await ctx.store.createBank(request.body as NewBank);
    audit(request, 'bank.created', `bank:${bank.name}`, { bank });
    return reply.code(201).send(bank);
  });

  app.get('/v1/banks/:name', {
    config: { scope: 'lookup' },
    schema: {
      tags: ['banks'],
      summary: 'A bank and its statistics',
      params: NAME,
      response: { 200: { type: 'object', properties: { bank: { $ref: 'Bank#' }, stats: { type: 'object', additionalProperties: true } } }, ...ERROR_RESPONSES, 404: { $ref: 'Error#' } },
    },
  }, async (request) => {
    const { name } = request.params as { name: string };
    const bank = await requireBank(ctx, name);
    return { bank, stats: { ...(await ctx.store.bankStats(name)), degeneratePdq: await countDegenerate(ctx.store, name) } };
  });

  app.patch('/v1/banks/:name', {
    config: { scope: 'curate' },
    schema: {
      tags: ['banks'],
      summary: 'Change a bank (rename, enable/disable, thresholds, policy)',
      params: NAME,
      body: { type: 'object', additionalProperties: false, properties: { name: { type: 'string', maxLength: 64 }, ...bankFields } },
      response: { 200: { $ref: 'Bank#' }, ...ERROR_RESPONSES, 404: { $ref: 'Error#' } },
    },
  }, async (request) => {
    const { name } = request.params as { name: string };
    const bank = await ctx.store.updateBank(name, request.body as BankPatch);
    audit(request, 'bank.changed', `bank:${name}`, { patch: request.body as Record<string, unknown> });
    await ctx.matcher.sync();
    return bank;
  });

  app.register(async (raw) => {
    // Hash lists arrive as the raw request body, whatever its type: streamed to disk, never buffered.
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    raw.post('/v1/banks/:name/import', {
      config: { scope: 'curate' },
      bodyLimit: ctx.limits.maxImportBytes,
      schema: {
        tags: ['banks'],
        summary: 'Import a hash list (raw body: plain, md5sum, CSV/TSV, VICS, NSRL, hashdeep, ThreatExchange, NCMEC XML)',
        params: NAME,
        querystring: { type: 'object', properties: { format: { type: 'string', enum: ['auto', ...LIST_FORMAT_NAMES] }, create: { type: 'boolean' }, fileName: { type: 'string', maxLength: 500 } } },
        response: { 200: { type: 'object', additionalProperties: true }, ...ERROR_RESPONSES, 404: { $ref: 'Error#' }, 413: { $ref: 'Error#' } },
      },
    }, async (request) => {
      const { name } = request.params as { name: string };
      const query = request.query as { format?: ListFormatName | 'auto'; create?: boolean; fileName?: string };
      const body = request.body as Readable | undefined;
      if (!body) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected the list as the request body');
      const result = await withUpload(ctx.tempDir, body, ctx.limits.maxImportBytes, (path) =>
        importListFile(ctx.store, name, path, { ...(query.format ? { format: query.format } : {}), ...(query.create ? { create: true } : {}) }),
      );
      audit(request, 'bank.imported', `bank:${name}`, { fileName: query.fileName ?? null, format: result.format, importId: result.importId, inserted: result.inserted, updated: result.updated, deleted: result.deleted, errors: result.errorCount });
      await ctx.matcher.sync();
      void ctx.retro?.run().catch((err: unknown) => request.log.error({ err }, 'retroactive matching failed'));
      return result;
    });
  });

  app.get('/v1/banks/:name/export', {
    config: { scope: 'curate' },
    schema: { tags: ['banks'], summary: 'Export a bank as a hash list', params: NAME, querystring: { type: 'object', properties: { format: { type: 'string', enum: [...LIST_FORMAT_NAMES], default: 'threatexchange' } } } },
  }, async (request, reply) => {
    const { name } = request.params as { name: string };
    const { format } = request.query as { format: ListFormatName };
    await requireBank(ctx, name);
    const write = listWriter(format);
    audit(request, 'data.accessed', `bank:${name}`, { route: 'export', format });
    reply.type(format === 'vics' ? 'application/json' : 'text/plain; charset=utf-8');
    return reply.send(Readable.from(write(bankRecords(ctx.store, name))));
  });

  app.post('/v1/banks/:name/signals', {
    config: { scope: 'curate' },
    schema: {
      tags: ['banks'],
      summary: 'Add one signal to a bank',
      params: NAME,
      body: {
        type: 'object',
        required: ['type', 'value'],
        additionalProperties: false,
        properties: { type: { type: 'string', enum: [...SIGNAL_TYPES] }, value: { type: 'string', maxLength: 2_000_000 }, labels: labelsBody, sourceId: { type: 'string', maxLength: 256 }, fileName: { type: 'string', maxLength: 1000 }, metadata: { type: 'object', additionalProperties: true } },
      },
      response: { 201: { $ref: 'Signal#' }, ...ERROR_RESPONSES, 404: { $ref: 'Error#' } },
    },
  }, async (request, reply) => {
    const { name } = request.params as { name: string };
    await requireBank(ctx, name);
    const { signal } = await putSignal(ctx, name, request.body as Parameters<typeof putSignal>[2]);
    audit(request, 'signal.added', `signal:${signal?.id}`, { bank: name });
    await ctx.matcher.sync();
    return reply.code(201).send(signal);
  });

  app.get('/v1/signals/:id', {
    config: { scope: 'lookup' },
    schema: { tags: ['signals'], summary: 'A signal with its status and match statistics', params: ID, response: { 200: { $ref: 'Signal#' }, ...ERROR_RESPONSES, 404: { $ref: 'Error#' } } },
  }, async (request) => {
    const signal = await ctx.store.getSignal((request.params as { id: number }).id);
    if (!signal) throw new VigilError('VIGIL_ERR_NOT_FOUND', 'No such signal');
    return signal;
  });

  app.delete('/v1/signals/:id', {
    config: { scope: 'curate' },
    schema: { tags: ['signals'], summary: 'Withdraw a signal from its bank (stops matching within seconds)', params: ID, response: { 200: { $ref: 'Signal#' }, ...ERROR_RESPONSES, 404: { $ref: 'Error#' } } },
  }, async (request) => {
    const signal = await ctx.store.getSignal((request.params as { id: number }).id);
    if (!signal || signal.deletedAt) throw new VigilError('VIGIL_ERR_NOT_FOUND', 'No such signal');
    await putSignal(ctx, signal.bankName, { type: signal.type, value: signal.value }, true);
    audit(request, 'signal.deleted', `signal:${signal.id}`, { bank: signal.bankName });
    await ctx.matcher.sync();
    return (await ctx.store.getSignal(signal.id))!;
  });

  app.get('/v1/signals/:id/opinions', {
    config: { scope: 'lookup' },
    schema: { tags: ['signals'], summary: 'Opinions on a signal (hash reputation)', params: ID, response: { 200: { type: 'object', required: ['opinions'], properties: { opinions: { type: 'array', items: { $ref: 'Opinion#' } } } }, ...ERROR_RESPONSES } },
  }, async (request) => ({ opinions: await ctx.store.listOpinions((request.params as { id: number }).id) }));

  app.post('/v1/signals/:id/opinions', {
    config: { scope: 'review' },
    schema: {
      tags: ['signals'],
      summary: 'Confirm a signal, mark it a false positive, or dispute it',
      description: 'A false positive stops matching (or is down-ranked, per bank policy) within seconds; confirmed restores it.',
      params: ID,
      body: { type: 'object', required: ['kind'], additionalProperties: false, properties: { kind: { type: 'string', enum: ['confirmed', 'false_positive', 'disputed'] }, reason: { type: 'string', maxLength: 2000 } } },
      response: { 200: { $ref: 'Signal#' }, ...ERROR_RESPONSES, 404: { $ref: 'Error#' } },
    },
  }, async (request) => {
    const { id } = request.params as { id: number };
    const { kind, reason } = request.body as { kind: OpinionKind; reason?: string };
    const signal = await ctx.store.addOpinion(id, { kind, actor: actorOf(request), ...(reason ? { reason } : {}) });
    audit(request, 'signal.opinion', `signal:${id}`, { kind, reason: reason ?? '' });
    await ctx.matcher.sync();
    return signal;
  });
}
