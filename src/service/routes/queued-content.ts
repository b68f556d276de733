/**
 * POST /v1/content/queue: client hashes checked later by the fleet's workers (docs/fleet.md) — for bursts,
 * backfills and imports that should not hold a request open. Answers 202 with a job per item; the decisions
 * appear under GET /v1/content/:contentId once made. Idempotent per (contentId, hashes): re-sending an item
 * returns its existing job. `priority: "backfill"` queues behind live uploads.
 */
import type { FastifyInstance } from 'fastify';
import { CONTENT_PRIORITY, MAX_QUEUED_PER_CALL, queueContent, type ContentPriority } from '../../fleet/content-jobs.js';
import type { ClientHashes } from '../../pipeline/query.js';
import { actorOf } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES } from '../schemas.js';

const ID = { type: 'string', minLength: 1, maxLength: 256 } as const;

interface Body {
  priority?: ContentPriority;
  items: { contentId: string; accountId?: string; context?: Record<string, unknown>; hashes: ClientHashes }[];
}

export function queuedContentRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.post('/v1/content/queue', {
    config: { scope: 'submit' },
    schema: {
      tags: ['content'],
      summary: 'Queue client-side hashes for the fleet\'s workers; the decisions follow',
      body: {
        type: 'object', required: ['items'], additionalProperties: false,
        properties: {
          priority: { type: 'string', enum: Object.keys(CONTENT_PRIORITY), description: 'live (default) goes ahead of backfill' },
          items: {
            type: 'array', minItems: 1, maxItems: MAX_QUEUED_PER_CALL,
            items: {
              type: 'object', required: ['contentId', 'hashes'], additionalProperties: false,
              properties: { contentId: ID, accountId: ID, context: { type: 'object', additionalProperties: true }, hashes: { $ref: 'ClientHashes#' } },
            },
          },
        },
      },
      response: {
        202: { type: 'object', properties: { jobs: { type: 'array', items: { type: 'object', properties: { contentId: { type: 'string' }, jobId: { type: 'integer' }, created: { type: 'boolean' } } } } } },
        ...ERROR_RESPONSES,
      },
    },
  }, async (request, reply) => {
    const body = request.body as Body;
    const actor = actorOf(request);
    const items = body.items.map((i) => ({
      meta: { contentId: i.contentId, ...(i.accountId ? { accountId: i.accountId } : {}), ...(i.context ? { context: i.context } : {}), actor, requestId: String(request.id) },
      hashes: i.hashes,
    }));
    const jobs = await queueContent({ db: ctx.vigil.db, queue: ctx.queue, audit: ctx.audit }, items, body.priority ?? 'live');
    ctx.notifyWorker();
    return reply.code(202).send({ jobs });
  });
}
