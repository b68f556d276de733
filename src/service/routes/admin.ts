/**
 * Operations on the service's own state: the rules (read, replace, dry-run), the job queue and its dead
 * letters, the audit log and its verification, decisions and the review queue (the review UI builds on these).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VigilError } from '../../core/errors.js';
import { parseAuditAnchor } from '../../audit/log.js';
import { matchQueryOfClientHashes } from '../../pipeline/query.js';
import { parseRulesConfig, rulesConfigJsonSchema } from '../../rules/config.js';
import { RuleEngine } from '../../rules/engine.js';
import { JOB_STATES, type JobState } from '../../queue/types.js';
import { VERDICTS } from '../../rules/types.js';
import { auditActorOf } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES, finiteInteger, PAGINATION } from '../schemas.js';

const page = PAGINATION;

const verdict = { type: 'string', enum: [...VERDICTS] } as const;
const plannedAction = {
  type: 'object',
  required: ['type', 'ruleId'],
  properties: { type: { type: 'string' }, ruleId: { type: 'string' }, priority: { type: 'integer' }, webhook: { type: 'string' } },
} as const;

export function adminRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const audit = (request: FastifyRequest, action: string, subject: string, details: Record<string, unknown> = {}) =>
    ctx.audit.appendNow({ ...auditActorOf(request), action, subject, details });

  app.get('/v1/rules', {
    config: { scope: 'admin' },
    schema: {
      tags: ['rules'],
      summary: 'The rules in force, their version and where they came from',
      response: {
        200: {
          type: 'object',
          required: ['version', 'source', 'config', 'missingWebhookSecrets'],
          properties: {
            version: { type: 'string' },
            source: { type: 'string', enum: ['default', 'file', 'api'] },
            config: { type: 'object', additionalProperties: true, description: 'The rules config in force (docs/rules.md), with defaults filled in.' },
            missingWebhookSecrets: { type: 'array', items: { type: 'string' }, description: 'Webhooks whose secret variable is not set: their deliveries would dead-letter.' },
          },
        },
        ...ERROR_RESPONSES,
      },
    },
  }, async () => {
    const engine = await ctx.rules.fresh();
    return { version: engine.version, source: ctx.rules.source, config: engine.config, missingWebhookSecrets: ctx.rules.missingSecrets() };
  });

  app.put('/v1/rules', {
    config: { scope: 'admin' },
    schema: {
      tags: ['rules'],
      summary: 'Replace the rules (validated; every problem listed; the old rules stay on error). Audited.',
      body: { type: 'object', additionalProperties: true, description: 'A rules config (docs/rules.md).' },
      response: { 200: { type: 'object', required: ['version', 'previous'], properties: { version: { type: 'string' }, previous: { type: 'string' } } }, ...ERROR_RESPONSES },
    },
  }, async (request) => {
    const previous = (await ctx.rules.fresh()).version;
    const engine = await ctx.rules.replace(request.body, auditActorOf(request));
    return { version: engine.version, previous };
  });

  app.get('/v1/rules/schema', { config: { scope: 'admin' }, schema: { tags: ['rules'], summary: 'JSON Schema of the rules config', response: { 200: { type: 'object', additionalProperties: true }, ...ERROR_RESPONSES } } }, async () => rulesConfigJsonSchema());

  app.post('/v1/rules/test', {
    config: { scope: 'admin' },
    schema: {
      tags: ['rules'],
      summary: 'Dry run: what the rules in force (or the given ones) decide for these hashes; nothing is recorded',
      body: {
        type: 'object',
        required: ['hashes'],
        additionalProperties: false,
        properties: {
          hashes: { $ref: 'ClientHashes#' },
          account: { type: 'object', properties: { priorMatchedDecisions: { type: 'integer', minimum: 0 }, priorBlocks: { type: 'integer', minimum: 0 } } },
          context: { type: 'object', additionalProperties: true },
          rules: { type: 'object', additionalProperties: true },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['matches', 'decision'],
          properties: {
            matches: { type: 'array', items: { $ref: 'BankMatch#' } },
            decision: {
              type: 'object',
              required: ['verdict', 'actions', 'fired', 'rulesVersion'],
              properties: { verdict, actions: { type: 'array', items: plannedAction }, fired: { type: 'array', items: { $ref: 'FiredRule#' } }, rulesVersion: { type: 'string' } },
            },
          },
        },
        ...ERROR_RESPONSES,
      },
    },
  }, async (request) => {
    const body = request.body as { hashes: Parameters<typeof ctx.pipeline.submitHashes>[1]; account?: { priorMatchedDecisions?: number; priorBlocks?: number }; context?: Record<string, unknown>; rules?: unknown };
    const engine = body.rules ? new RuleEngine(parseRulesConfig(body.rules)) : ctx.rules.engine;
    const matches = await ctx.matcher.match(matchQueryOfClientHashes(body.hashes));
    const account = body.account ? { priorMatchedDecisions: body.account.priorMatchedDecisions ?? 0, priorBlocks: body.account.priorBlocks ?? 0 } : undefined;
    return { matches, decision: engine.evaluate({ matches, ...(account ? { account } : {}), context: body.context ?? {} }) };
  });

  app.get('/v1/jobs', {
    config: { scope: 'admin' },
    schema: {
      tags: ['jobs'],
      summary: 'Jobs of the durable queue (state=dead: the dead letters)',
      querystring: { type: 'object', properties: { queue: { type: 'string' }, state: { type: 'string', enum: [...JOB_STATES] }, ...page } },
      response: {
        200: {
          type: 'object',
          required: ['jobs', 'stats'],
          properties: {
            jobs: { type: 'array', items: { $ref: 'Job#' } },
            stats: { type: 'object', description: 'Jobs per queue and state.', additionalProperties: { type: 'object', additionalProperties: { type: 'integer' } } },
          },
        },
        ...ERROR_RESPONSES,
      },
    },
  }, async (request) => {
    const q = request.query as { queue?: string; state?: JobState; afterId?: number; limit: number };
    return { jobs: await ctx.queue.list(q), stats: await ctx.queue.stats() };
  });

  app.post('/v1/jobs/:id/retry', {
    config: { scope: 'admin' },
    schema: {
      tags: ['jobs'],
      summary: 'Re-queue a dead job (attempts reset). Audited.',
      params: { type: 'object', properties: { id: finiteInteger(1, Number.MAX_SAFE_INTEGER) } },
      response: { 200: { $ref: 'Job#' }, ...ERROR_RESPONSES, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' } },
    },
  }, async (request) => {
    const { id } = request.params as { id: number };
    const job = await ctx.queue.retry(id, async (tx, j) => void (await ctx.audit.append(tx, { ...auditActorOf(request), action: 'job.retried', subject: `job:${id}`, details: { queue: j.queue, idempotencyKey: j.idempotencyKey } })));
    ctx.notifyWorker();
    return job;
  });

  app.get('/v1/audit', {
    config: { scope: 'admin' },
    schema: {
      tags: ['audit'],
      summary: 'Audit log entries (reading them is itself audited)',
      querystring: { type: 'object', properties: { afterSeq: finiteInteger(0, Number.MAX_SAFE_INTEGER), limit: PAGINATION.limit, action: { type: 'string' }, subject: { type: 'string' } } },
      response: { 200: { type: 'object', required: ['entries'], properties: { entries: { type: 'array', items: { $ref: 'AuditEntry#' } } } }, ...ERROR_RESPONSES },
    },
  }, async (request) => {
    const q = request.query as { afterSeq?: number; limit: number; action?: string; subject?: string };
    const entries = await ctx.audit.list(q);
    await audit(request, 'data.accessed', 'audit', { route: 'GET /v1/audit', afterSeq: q.afterSeq ?? 0, count: entries.length });
    return { entries };
  });

  app.get('/v1/audit/verify', {
    config: { scope: 'admin' },
    schema: {
      tags: ['audit'],
      summary: 'Verify the hash chain; returns the head to keep as the next anchor',
      querystring: { type: 'object', properties: { anchor: { type: 'string', pattern: '^[0-9]+:[0-9a-f]{64}$' } } },
      response: {
        200: {
          type: 'object',
          required: ['ok', 'entries', 'headSeq', 'headHash'],
          properties: {
            ok: { type: 'boolean' },
            entries: { type: 'integer', description: 'Entries checked and found sound.' },
            headSeq: { type: 'integer' },
            headHash: { type: 'string', description: 'With headSeq, the anchor to pass to the next verify ("<seq>:<hash>").' },
            firstBadSeq: { type: 'integer' },
            problem: { type: 'string' },
          },
        },
        ...ERROR_RESPONSES,
      },
    },
  }, async (request) => {
    const { anchor } = request.query as { anchor?: string };
    // Paged and yielding: a long chain must not stall every other request.
    return ctx.audit.verify(anchor ? { anchor: parseAuditAnchor(anchor) } : {});
  });

  app.get('/v1/decisions', {
    config: { scope: 'review' },
    schema: {
      tags: ['content'],
      summary: 'Recorded decisions (matched content only), oldest first',
      querystring: { type: 'object', properties: { verdict: { type: 'string', enum: [...VERDICTS] }, accountId: { type: 'string' }, ...page } },
      response: { 200: { type: 'object', required: ['decisions'], properties: { decisions: { type: 'array', items: { $ref: 'Decision#' } } } }, ...ERROR_RESPONSES },
    },
  }, async (request) => {
    const q = request.query as { verdict?: string; accountId?: string; afterId?: number; limit: number };
    const decisions = await ctx.records.listDecisions(q);
    await audit(request, 'data.accessed', 'decisions', { route: 'GET /v1/decisions', ids: decisions.map((d) => d.id) });
    return { decisions };
  });

  app.get('/v1/review', {
    config: { scope: 'review' },
    schema: {
      tags: ['content'],
      summary: 'Open review items, most urgent first',
      querystring: { type: 'object', properties: { limit: PAGINATION.limit } },
      response: {
        200: {
          type: 'object',
          required: ['items'],
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'decisionId', 'priority', 'state', 'createdAt'],
                properties: {
                  id: { type: 'integer' },
                  decisionId: { type: 'integer' },
                  priority: { type: 'integer' },
                  state: { type: 'string', enum: ['open', 'claimed', 'closed'] },
                  createdAt: { type: 'string' },
                  decision: { $ref: 'Decision#' },
                },
              },
            },
          },
        },
        ...ERROR_RESPONSES,
      },
    },
  }, async (request) => {
    const { limit } = request.query as { limit: number };
    const items = await ctx.records.listReviewItems({ limit });
    return { items: await Promise.all(items.map(async (item) => ({ ...item, decision: await ctx.records.getDecision(item.decisionId) }))) };
  });

  app.post('/v1/retro/run', {
    config: { scope: 'admin' },
    schema: {
      tags: ['content'],
      summary: 'Run retroactive matching now (it also runs after each import and periodically)',
      response: {
        200: {
          type: 'object',
          required: ['checked', 'purged', 'late'],
          properties: {
            checked: { type: 'integer' },
            purged: { type: 'integer' },
            late: { type: 'array', items: { type: 'object', required: ['contentId', 'decisionId', 'verdict'], properties: { contentId: { type: 'string' }, decisionId: { type: 'integer' }, verdict } } },
          },
        },
        ...ERROR_RESPONSES,
      },
    },
  }, async () => {
    if (!ctx.retro) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Retroactive matching is off (start the service with --retain-days N)');
    const result = await ctx.retro.run();
    return { checked: result.checked, purged: result.purged, late: result.late.map((r) => ({ contentId: r.contentId, decisionId: r.decisionId, verdict: r.verdict })) };
  });
}
