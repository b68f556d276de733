/**
 * Banks, signals and hash-list imports over HTTP (streamed uploads, any format the CLI reads), and the
 * hash-reputation endpoints: opinions (confirmed / false positive / disputed) on signals.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ImportJobs } from '../../banks/import-jobs.js';
import { bankRecords, countDegenerate, listWriter, resolveFormat } from '../../banks/list-io.js';
import type { NewSignal } from '../../app/banks.js';
import { VigilError } from '../../core/errors.js';
import { LIST_FORMAT_NAMES, type ListFormatName } from '../../lists/registry.js';
import { SIGNAL_TYPES } from '../../signals/registry.js';
import { BANK_KINDS, FALSE_POSITIVE_POLICIES, OPINION_KINDS, type BankPatch, type NewBank, type OpinionKind } from '../../store/types.js';
import { auditActorOf } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES, finiteInteger } from '../schemas.js';
import { saveUpload } from '../uploads.js';

const NAME = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;
const ID = { type: 'object', required: ['id'], properties: { id: finiteInteger(1, Number.MAX_SAFE_INTEGER) } } as const;

const bankFields = {
  description: { type: 'string', maxLength: 2000 },
  kind: { type: 'string', enum: [...BANK_KINDS] },
  enabled: { type: 'boolean' },
  source: { type: 'string', maxLength: 500 },
  provenance: { type: 'object', additionalProperties: true },
  thresholds: { type: 'object', additionalProperties: false, properties: { pdq: { type: 'integer', minimum: 0, maximum: 256 }, vpdq: { type: 'integer', minimum: 0, maximum: 256 } } },
  falsePositivePolicy: { type: 'string', enum: [...FALSE_POSITIVE_POLICIES] },
  spikeThreshold: { type: 'integer', minimum: 0 },
  degeneratePolicy: { type: 'string', enum: ['exact', 'none'] },
} as const;

const labelsBody = { $ref: 'Labels#' } as const;

async function requireBank(ctx: ServiceContext, name: string) {
  const bank = await ctx.store.getBank(name);
  if (!bank) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${name}`);
  return bank;
}

const IMPORT_JOB = {
  type: 'object',
  description: 'An import job. Kept in memory: a restart forgets it (the import itself is one transaction, and its record stays with the bank).',
  properties: {
    id: { type: 'string' },
    bank: { type: 'string' },
    state: { type: 'string', enum: ['running', 'done', 'failed'] },
    fileName: { type: ['string', 'null'] },
    progress: { type: 'object', properties: { bytesRead: { type: 'integer' }, totalBytes: { type: 'integer' }, rows: { type: 'integer' } } },
    result: { type: 'object', additionalProperties: true },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
    createdAt: { type: 'string' },
    finishedAt: { type: 'string' },
  },
} as const;

export function bankRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const imports = (ctx.imports ??= new ImportJobs());
  const audit = (request: FastifyRequest, action: string, subject: string, details: Record<string, unknown> = {}) =>
    ctx.audit.appendNow({ ...auditActorOf(request), action, subject, details });

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
    return reply.code(201).send(await ctx.banks.createBank(auditActorOf(request), request.body as NewBank));
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
    return ctx.banks.updateBank(auditActorOf(request), name, request.body as BankPatch);
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
        response: { 202: IMPORT_JOB, ...ERROR_RESPONSES, 404: { $ref: 'Error#' }, 413: { $ref: 'Error#' } },
      },
    }, async (request, reply) => {
      const { name } = request.params as { name: string };
      const query = request.query as { format?: ListFormatName | 'auto'; create?: boolean; fileName?: string };
      const body = request.body as Readable | undefined;
      if (!body) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected the list as the request body');
      const upload = await saveUpload(ctx.tempDir, body, ctx.limits.maxImportBytes);
      // Errors name what the client sent, never the server's temp path.
      const displayName = query.fileName ? JSON.stringify(query.fileName) : 'the uploaded list';
      let format: ListFormatName;
      try {
        format = (await resolveFormat(upload.path, query.format, displayName, 'pass ?format=')).name;
        if (!query.create && !(await ctx.store.getBank(name))) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${name} (create it first, or pass ?create=true)`);
      } catch (err) {
        await upload.remove();
        throw err;
      }
      const actor = auditActorOf(request);
      const job = imports.start(name, query.fileName ?? null, upload.bytes, async (onProgress) => {
        try {
          // The audit entry commits with the import's merge (and a bank created for it is audited); the index syncs after.
          const result = await ctx.banks.importFile(actor, name, upload.path, {
            format, displayName, fileName: query.fileName ?? displayName, offThread: true, onProgress, ...(query.create ? { create: true } : {}),
          });
          void ctx.retro?.run().catch((err: unknown) => request.log.error({ err }, 'retroactive matching failed'));
          return result;
        } finally {
          await upload.remove();
        }
      });
      return reply.code(202).header('location', `/v1/banks/${encodeURIComponent(name)}/imports/${job.id}`).send(job);
    });
  });

  app.get('/v1/banks/:name/imports/:id', {
    config: { scope: 'curate' },
    schema: {
      tags: ['banks'],
      summary: 'An import job: its state, progress and, once done, its result',
      params: { type: 'object', required: ['name', 'id'], properties: { name: NAME.properties.name, id: { type: 'string', maxLength: 64 } } },
      response: { 200: IMPORT_JOB, ...ERROR_RESPONSES, 404: { $ref: 'Error#' } },
    },
  }, async (request) => {
    const { name, id } = request.params as { name: string; id: string };
    const job = imports.get(id);
    if (!job || job.bank !== name) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No import job ${id} for bank ${name} (jobs are kept in memory: a restart forgets them; the bank's import records remain)`);
    return job;
  });

  app.get('/v1/banks/:name/export', {
    config: { scope: 'curate' },
    schema: { tags: ['banks'], summary: 'Export a bank as a hash list', params: NAME, querystring: { type: 'object', properties: { format: { type: 'string', enum: [...LIST_FORMAT_NAMES], default: 'threatexchange' } } } },
  }, async (request, reply) => {
    const { name } = request.params as { name: string };
    const { format } = request.query as { format: ListFormatName };
    await requireBank(ctx, name);
    const write = listWriter(format);
    await audit(request, 'data.accessed', `bank:${name}`, { route: 'GET /v1/banks/:name/export', format });
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
    return reply.code(201).send(await ctx.banks.addSignal(auditActorOf(request), name, request.body as NewSignal));
  });

  // A signal's value is a bank's hash: reading it needs curate (as export does) and is audited.
  app.get('/v1/signals/:id', {
    config: { scope: 'curate' },
    schema: { tags: ['signals'], summary: 'A signal with its value, status and match statistics (audited as data.accessed)', params: ID, response: { 200: { $ref: 'Signal#' }, ...ERROR_RESPONSES, 404: { $ref: 'Error#' } } },
  }, async (request) => {
    const signal = await ctx.store.getSignal((request.params as { id: number }).id);
    if (!signal) throw new VigilError('VIGIL_ERR_NOT_FOUND', 'No such signal');
    await audit(request, 'data.accessed', `signal:${signal.id}`, { route: 'GET /v1/signals/:id', bankId: signal.bankId, signalType: signal.type });
    return signal;
  });

  app.delete('/v1/signals/:id', {
    config: { scope: 'curate' },
    schema: { tags: ['signals'], summary: 'Withdraw a signal from its bank (stops matching within seconds)', params: ID, response: { 200: { $ref: 'Signal#' }, ...ERROR_RESPONSES, 404: { $ref: 'Error#' } } },
  }, async (request) => {
    const signal = await ctx.store.getSignal((request.params as { id: number }).id);
    if (!signal || signal.deletedAt) throw new VigilError('VIGIL_ERR_NOT_FOUND', 'No such signal');
    return ctx.banks.withdrawSignal(auditActorOf(request), signal);
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
      body: { type: 'object', required: ['kind'], additionalProperties: false, properties: { kind: { type: 'string', enum: [...OPINION_KINDS] }, reason: { type: 'string', maxLength: 2000 } } },
      response: { 200: { $ref: 'Signal#' }, ...ERROR_RESPONSES, 404: { $ref: 'Error#' } },
    },
  }, async (request) => {
    const { id } = request.params as { id: number };
    const { kind, reason } = request.body as { kind: OpinionKind; reason?: string };
    return ctx.banks.addOpinion(auditActorOf(request), id, { kind, ...(reason ? { reason } : {}) });
  });
}
