/**
 * /v1/reports: CyberTipline reports over the API — list (with `stuck`), one report with its NCMEC responses,
 * open for an incident, retry a failed one (scope `review`); retract and legal holds (scope `admin`). Changes
 * are audited by the report service in their unit of work, naming the key and the request id.
 */
import type { FastifyInstance } from 'fastify';
import { VigilError } from '../../core/errors.js';
import { INCIDENT_TYPES, type IncidentType } from '../../reports/documents.js';
import { REPORT_STATES, type ReportState } from '../../reports/schema.js';
import { addReportedToBank } from '../../reports/to-bank.js';
import { auditActorOf } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES, finiteInteger } from '../schemas.js';

const id = finiteInteger(1, Number.MAX_SAFE_INTEGER);
const report = { type: 'object', additionalProperties: true, description: 'A report: state, NCMEC report id, files (viewedByPerson), failure {class, retryable, message}, stuck.' } as const;
const idParams = { type: 'object', required: ['id'], properties: { id } } as const;

export function reportRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const reports = ctx.vigil.reports;

  app.get('/v1/reports', {
    config: { scope: 'review' },
    schema: {
      tags: ['reports'], summary: 'CyberTipline reports, newest first; `stuck=true`: failed, failing or not moving',
      querystring: { type: 'object', additionalProperties: false, properties: { state: { type: 'string', enum: [...REPORT_STATES] }, stuck: { type: 'boolean' }, incidentId: id, limit: finiteInteger(1, 1000, { default: 100 }) } },
      response: { 200: { type: 'object', required: ['reports'], properties: { reports: { type: 'array', items: report } } }, ...ERROR_RESPONSES },
    },
  }, async (request) => {
    const q = request.query as { state?: ReportState; stuck?: boolean; incidentId?: number; limit: number };
    return { reports: await reports.list({ ...(q.state ? { state: q.state } : {}), ...(q.stuck ? { stuck: true } : {}), ...(q.incidentId ? { incidentId: q.incidentId } : {}), limit: q.limit }) };
  });

  app.get('/v1/reports/:id', {
    config: { scope: 'review' },
    schema: {
      tags: ['reports'], summary: 'One report with every response NCMEC sent', params: idParams,
      response: { 200: { type: 'object', required: ['report', 'responses'], properties: { report, responses: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...ERROR_RESPONSES },
    },
  }, async (request) => {
    const { id: reportId } = request.params as { id: number };
    const r = await reports.get(reportId);
    if (!r) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No report ${reportId}`);
    const responses = await reports.responses(reportId);
    // A report names an account and its addresses: every read is audited, as content reads are.
    await ctx.audit.appendNow({ ...auditActorOf(request), action: 'data.accessed', subject: `report:${reportId}`, details: { route: 'GET /v1/reports/:id' } });
    return { report: r, responses };
  });

  app.post('/v1/incidents/:id/reports', {
    config: { scope: 'review' },
    schema: {
      tags: ['reports'], summary: 'Open a report for an incident (idempotent: its first report is returned); `supplements` opens a supplemental one', params: idParams,
      body: {
        type: 'object', additionalProperties: false,
        properties: { incidentType: { type: 'string', enum: [...INCIDENT_TYPES] }, text: { type: 'string', maxLength: 100_000 }, url: { type: 'string', maxLength: 4096 }, supplements: id, jurisdiction: { type: 'string', pattern: '^[A-Z]{2}$' } },
      },
      response: { 200: { type: 'object', required: ['id', 'created'], properties: { id: { type: 'integer' }, created: { type: 'boolean' } } }, ...ERROR_RESPONSES },
    },
  }, async (request) => {
    const { id: incidentId } = request.params as { id: number };
    const b = (request.body ?? {}) as { incidentType?: IncidentType; text?: string; url?: string; supplements?: number; jurisdiction?: string };
    return reports.open(incidentId, auditActorOf(request), b);
  });

  app.post('/v1/reports/:id/retry', {
    config: { scope: 'review' },
    schema: { tags: ['reports'], summary: 'Re-queue a failed report at the step it failed in, or a stuck one (unfinished, no pending or running job)', params: idParams, response: { 200: report, ...ERROR_RESPONSES } },
  }, async (request) => reports.retry((request.params as { id: number }).id, auditActorOf(request)));

  app.post('/v1/reports/:id/retract', {
    config: { scope: 'admin' },
    schema: {
      tags: ['reports'], summary: 'Cancel an unfinished report (NCMEC retract)', params: idParams,
      body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 2000 } } },
      response: { 200: report, ...ERROR_RESPONSES },
    },
  }, async (request) => reports.retract((request.params as { id: number }).id, auditActorOf(request), (request.body as { reason: string }).reason));

  app.post('/v1/reports/:id/add-to-bank', {
    config: { scope: 'curate' },
    schema: {
      tags: ['reports'], summary: 'Add a filed report\'s media hashes to a bank, the report as provenance', params: idParams,
      body: { type: 'object', required: ['bank'], additionalProperties: false, properties: { bank: { type: 'string', minLength: 1, maxLength: 200 } } },
      response: { 200: { type: 'object', required: ['added'], properties: { added: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...ERROR_RESPONSES },
    },
  }, async (request) => ({ added: await addReportedToBank(ctx.vigil, (request.params as { id: number }).id, (request.body as { bank: string }).bank, auditActorOf(request), { tempDir: ctx.tempDir }) }));

  app.post('/v1/reports/:id/account-info', {
    config: { scope: 'submit' },
    schema: {
      tags: ['reports'], summary: 'The platform\'s answer to report.account_info_requested: the account\'s information and whether its data is preserved', params: idParams,
      body: {
        type: 'object', required: ['info', 'preserved'], additionalProperties: false,
        properties: { info: { type: 'object', additionalProperties: true, maxProperties: 100 }, preserved: { type: 'boolean' }, preservedUntil: { type: 'string', format: 'date-time' } },
      },
      response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }, ...ERROR_RESPONSES },
    },
  }, async (request) => {
    const b = request.body as { info: Record<string, unknown>; preserved: boolean; preservedUntil?: string };
    await reports.recordAccountInfo((request.params as { id: number }).id, b, auditActorOf(request));
    return { ok: true };
  });

  app.get('/v1/reports/:id/account-info', {
    config: { scope: 'review' },
    schema: { tags: ['reports'], summary: 'What the platform answered about the account (tracked with the report)', params: idParams, response: { 200: { type: 'object', required: ['answers'], properties: { answers: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...ERROR_RESPONSES } },
  }, async (request) => {
    const { id: reportId } = request.params as { id: number };
    const answers = await reports.accountInfo(reportId);
    // The platform's personal data about the account: every read audited.
    await ctx.audit.appendNow({ ...auditActorOf(request), action: 'data.accessed', subject: `report:${reportId}`, details: { route: 'GET /v1/reports/:id/account-info' } });
    return { answers };
  });

  app.put('/v1/evidence/:id/legal-hold', {
    config: { scope: 'admin' },
    schema: {
      tags: ['reports'], summary: 'Place or lift a legal hold on an evidence item (not purged while held)',
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,80}$' } } },
      body: { type: 'object', required: ['hold', 'reason'], additionalProperties: false, properties: { hold: { type: 'boolean' }, reason: { type: 'string', minLength: 1, maxLength: 2000 } } },
      response: { 200: { type: 'object', required: ['id', 'legalHold'], properties: { id: { type: 'string' }, legalHold: { type: 'boolean' } } }, ...ERROR_RESPONSES },
    },
  }, async (request) => {
    const { id: evidenceId } = request.params as { id: string };
    const b = request.body as { hold: boolean; reason: string };
    await ctx.vigil.retention.setLegalHold(evidenceId, b.hold, b.reason, auditActorOf(request));
    return { id: evidenceId, legalHold: b.hold };
  });
}
