/**
 * POST /v1/content/queue/upload: a file upload hashed, matched and decided by the fleet's workers, not in the
 * request (docs/fleet.md). multipart: fields contentId, accountId, context (JSON), priority, then one file.
 * Answers 202 with the job; the decision appears under GET /v1/content/:contentId once made. The file is kept
 * only sealed (encrypted) until a worker decides, and only as evidence after (fleet/upload-jobs.ts).
 */
import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { VigilError } from '../../core/errors.js';
import { CONTENT_PRIORITY, type ContentPriority } from '../../fleet/content-jobs.js';
import { queueUpload } from '../../fleet/upload-jobs.js';
import { isDeviceOnly } from '../../auth/keys.js';
import { actorOf } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES, jsonDeeperThan, MAX_JSON_DEPTH, parseFieldJson } from '../schemas.js';
import { receiveUpload } from '../uploads.js';

const field = (fields: Record<string, unknown>, name: string, snake: string) => fields[name] ?? fields[snake];
const idOf = (v: unknown, name: string, required: boolean): string | undefined => {
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a ${name} of 1–256 characters`);
  return v;
};

export function queuedUploadRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.post('/v1/content/queue/upload', {
    config: { scope: 'submit' },
    schema: {
      tags: ['content'],
      summary: 'Queue a file upload for the fleet\'s workers; the decision follows',
      description: 'multipart/form-data with fields contentId, accountId, context (JSON), priority (live, the default, or backfill) and one file.',
      consumes: ['multipart/form-data'],
      response: {
        202: { type: 'object', properties: { contentId: { type: 'string' }, jobId: { type: 'integer' }, created: { type: 'boolean' } } },
        ...ERROR_RESPONSES, 413: { $ref: 'Error#' },
      },
    },
  }, async (request, reply) => {
    if (!request.isMultipart()) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a multipart upload (fields, then one file)');
    if (request.apiKey && isDeviceOnly(request.apiKey)) throw new VigilError('VIGIL_ERR_FORBIDDEN', 'A device key submits hashes (JSON), not files');
    const { fields, upload } = await receiveUpload(request, ctx.tempDir, ctx.limits.maxUploadBytes);
    try {
      if (!upload) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a file part');
      const contentId = idOf(field(fields, 'contentId', 'content_id'), 'contentId', true)!;
      const accountId = idOf(field(fields, 'accountId', 'account_id'), 'accountId', false);
      let context = fields.context;
      if (typeof context === 'string') context = parseFieldJson(context, 'context');
      if (context !== undefined && (context === null || typeof context !== 'object' || Array.isArray(context))) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected the context field to be a JSON object');
      if (jsonDeeperThan(context, MAX_JSON_DEPTH)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `The context field is nested deeper than ${MAX_JSON_DEPTH} levels`);
      const priority = fields.priority ?? 'live';
      if (typeof priority !== 'string' || !Object.hasOwn(CONTENT_PRIORITY, priority)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a priority of ${Object.keys(CONTENT_PRIORITY).join(' or ')}`);
      const meta = { contentId, ...(accountId ? { accountId } : {}), ...(context ? { context: context as Record<string, unknown> } : {}), actor: actorOf(request), requestId: String(request.id) };
      const evidence = await ctx.vigil.evidence();
      const queued = await queueUpload({
        db: ctx.vigil.db, queue: ctx.queue, audit: ctx.audit,
        evidence: { sealFile: (path) => evidence.put(createReadStream(path)), discard: (id) => evidence.delete(id) },
      }, meta, upload.path, priority as ContentPriority);
      ctx.notifyWorker();
      return await reply.code(202).send(queued);
    } finally {
      await upload?.remove();
    }
  });
}
