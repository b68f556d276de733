/**
 * POST /v1/content: an upload (multipart: fields contentId, accountId, context as JSON, then the file) or
 * JSON of hashes computed on the client → the decision and its matches, synchronously. Idempotent on
 * (contentId, SHA-256): a retry returns the same decision and never repeats an action.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VigilError } from '../../core/errors.js';
import type { SubmissionMeta } from '../../pipeline/pipeline.js';
import type { ClientHashes } from '../../pipeline/query.js';
import { isDeviceOnly } from '../../auth/keys.js';
import type { ContentResult } from '../../pipeline/pipeline.js';
import { actorOf, auditActorOf } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES, jsonDeeperThan, MAX_JSON_DEPTH, parseFieldJson } from '../schemas.js';
import { requestBudget } from '../request-budget.js';
import { receiveUpload } from '../uploads.js';
import { withVisibleMatches } from '../match-values.js';

const ID = { type: 'string', minLength: 1, maxLength: 256 } as const;

const jsonBody = {
  type: 'object',
  required: ['contentId', 'hashes'],
  additionalProperties: false,
  properties: {
    contentId: { ...ID, description: "The platform's id for the content." },
    accountId: { ...ID, description: 'The uploading account (account history conditions, disable_account).' },
    context: { type: 'object', additionalProperties: true, description: 'Uploader IP, time, surface…: kept only with matched content.' },
    hashes: { $ref: 'ClientHashes#' },
  },
} as const;

function metaFrom(fields: Record<string, unknown>, request: FastifyRequest): SubmissionMeta {
  const contentId = fields.contentId ?? fields.content_id;
  if (typeof contentId !== 'string' || contentId.length === 0 || contentId.length > 256) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a contentId of 1–256 characters');
  const accountId = fields.accountId ?? fields.account_id;
  if (accountId !== undefined && (typeof accountId !== 'string' || accountId.length === 0 || accountId.length > 256)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected an accountId of 1–256 characters');
  let context = fields.context;
  // Refused like a JSON body's __proto__ (the body parser never sees a multipart field).
  if (typeof context === 'string') context = parseFieldJson(context, 'context');
  if (context !== undefined && (context === null || typeof context !== 'object' || Array.isArray(context))) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected the context field to be a JSON object');
  if (jsonDeeperThan(context, MAX_JSON_DEPTH)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `The context field is nested deeper than ${MAX_JSON_DEPTH} levels`);
  return { contentId, ...(typeof accountId === 'string' ? { accountId } : {}), ...(context ? { context: context as Record<string, unknown> } : {}), actor: actorOf(request), requestId: String(request.id) };
}

/**
 * What a device is told: the verdict and the actions, not which list matched, the list's hash or why rules fired
 * (a device key is in its user's hands; docs/client.md, threat model).
 */
export function forDevice(result: ContentResult): ContentResult {
  return { ...result, matches: [], fired: [], actions: result.actions.map((a) => ({ type: a.type, ruleId: a.ruleId, status: a.status })) };
}

export function contentRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.post('/v1/content', {
    config: { scope: 'submit', device: true },
    schema: {
      tags: ['content'],
      summary: 'Submit content (upload) or its client-side hashes; get the decision',
      description: 'multipart/form-data with fields contentId, accountId, context (JSON) and one file; or application/json with contentId, accountId, context and hashes. Idempotent on (contentId, SHA-256).',
      consumes: ['multipart/form-data', 'application/json'],
      body: { content: { 'application/json': { schema: jsonBody }, 'multipart/form-data': { schema: { description: 'Fields contentId, accountId, context (JSON), and one file.' } } } },
      response: { 200: { $ref: 'ContentResult#' }, ...ERROR_RESPONSES, 413: { $ref: 'Error#' }, 422: { $ref: 'Error#' } },
    },
  }, async (request, reply) => {
    if (!request.isMultipart()) {
      // No body at all (no content type) skips the JSON schema: refuse it here, not with a TypeError.
      if (request.body === undefined || request.body === null) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a multipart upload or a JSON body with contentId and hashes');
      const body = request.body as { hashes: ClientHashes } & Record<string, unknown>;
      const result = await ctx.pipeline.submitHashes(metaFrom(body, request), body.hashes);
      return request.apiKey && isDeviceOnly(request.apiKey) ? forDevice(result) : withVisibleMatches(request, result);
    }
    // A device key submits hashes, never a file (docs/client.md).
    if (request.apiKey && isDeviceOnly(request.apiKey)) throw new VigilError('VIGIL_ERR_FORBIDDEN', 'A device key submits hashes (JSON), not files');
    const { fields, upload } = await receiveUpload(request, ctx.tempDir, ctx.limits.maxUploadBytes);
    try {
      if (!upload) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a file part (or send JSON hashes)');
      return withVisibleMatches(request, await ctx.pipeline.submitFile(metaFrom(fields, request), upload.path, requestBudget(reply, ctx.limits.budget)));
    } finally {
      await upload?.remove();
    }
  });

  app.get('/v1/content/:contentId', {
    config: { scope: 'review' },
    schema: {
      tags: ['content'],
      summary: 'Recorded decisions for a content id (only matched content is recorded)',
      params: { type: 'object', properties: { contentId: ID } },
      response: { 200: { type: 'object', properties: { decisions: { type: 'array', items: { $ref: 'ContentResult#' } } } }, ...ERROR_RESPONSES },
    },
  }, async (request) => {
    const { contentId } = request.params as { contentId: string };
    const decisions = await ctx.records.decisionsForContent(contentId);
    await ctx.audit.appendNow({ ...auditActorOf(request), action: 'data.accessed', subject: `content:${contentId}`, details: { route: 'GET /v1/content/:contentId', decisions: decisions.map((d) => d.id) } });
    return { decisions: decisions.map((d) => ({ ...d, decisionId: d.id, replayed: false })) };
  });
}
