/**
 * The review UI's reports page (/review/reports): every report that failed, is failing or stopped moving, with
 * its failure class in words for the person who must act and a retry button where a retry can help; then the
 * latest reports. Server-rendered like the rest of /review (session + CSRF); people with the review scope.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorOfUser } from '../../app/review.js';
import { userHasScope } from '../../auth/users.js';
import { VigilError } from '../../core/errors.js';
import type { FailureClass } from '../../reports/ncmec-client.js';
import type { ReportView } from '../../reports/service.js';
import type { ServiceContext } from '../context.js';
import { html, layout, type PageContext } from './html.js';
import { checkCsrf, HIDDEN, personOf } from './session.js';

/** What each failure class asks of a person. */
export const FAILURE_ADVICE: Record<FailureClass, string> = {
  credentials: 'NCMEC refused the credentials: check reporting.ncmec.username/password (test and production credentials differ), then retry.',
  rate_limit: 'NCMEC asked us to slow down; Vigil retries by itself.',
  timeout: 'NCMEC did not answer in time; Vigil retries by itself.',
  ncmec_server: 'NCMEC had a server error or could not be reached; Vigil retries by itself.',
  rejected: 'NCMEC rejected the request (see its response): correct the cause, then retry or retract.',
  invalid_report: 'NCMEC found the report invalid (schema or required fields): a software or data problem; report it, then retry.',
  configuration: 'Reporting is not configured (credentials, reporter): fix the configuration, restart, then retry.',
  media: 'The preserved file failed its integrity check or is gone: it was not sent. Investigate the evidence store; retract or report without it.',
};

function rows(list: ReportView[], csrf: string) {
  return list.map((r) => html`<tr>
    <td>#${r.id}</td><td>${r.incidentId}</td><td>${r.state}${r.stuck ? html` <strong>STUCK</strong>` : html``}</td><td>${r.ncmecReportId ?? '—'}</td>
    <td>${r.files.map((f) => `${f.fileName} (viewed by a person: ${f.viewedByPerson ? 'yes' : 'no'})`).join(', ') || 'text only'}</td>
    <td>${r.failure ? html`<strong>${r.failure.class}</strong>: ${FAILURE_ADVICE[r.failure.class]} <small>${r.failure.message ?? ''}</small>` : html``}</td>
    <td>${r.state === 'failed' ? html`<form method="post" action="/review/reports/${r.id}/retry"><input type="hidden" name="csrf" value="${csrf}"><button type="submit">Retry</button></form>` : html``}</td>
  </tr>`);
}

export function registerReportPages(app: FastifyInstance, ctx: ServiceContext, o: { page: (request: FastifyRequest, title: string) => Promise<PageContext>; send: (reply: FastifyReply, body: string) => FastifyReply }): void {
  const allowed = (request: FastifyRequest) => {
    if (!userHasScope(personOf(request).user, 'review')) throw new VigilError('VIGIL_ERR_FORBIDDEN', 'Reports are for people with the review role');
  };

  app.get('/review/reports', HIDDEN, async (request, reply) => {
    allowed(request);
    const pageCtx = await o.page(request, 'Reports');
    const [stuck, latest] = await Promise.all([ctx.vigil.reports.list({ stuck: true, limit: 200 }), ctx.vigil.reports.list({ limit: 50 })]);
    const head = html`<tr><th>Report</th><th>Incident</th><th>State</th><th>NCMEC id</th><th>Files</th><th>Failure</th><th></th></tr>`;
    return o.send(reply, layout(pageCtx, html`
      <h1>CyberTipline reports</h1>
      <h2>Needing attention (${stuck.length})</h2>
      ${stuck.length === 0 ? html`<p>None: every report is finished or moving.</p>` : html`<table>${head}${rows(stuck, pageCtx.csrf ?? '')}</table>`}
      <h2>Latest</h2>
      <table>${head}${rows(latest, pageCtx.csrf ?? '')}</table>`));
  });

  app.post('/review/reports/:id/retry', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    allowed(request);
    const id = Number((request.params as { id: string }).id);
    if (!Number.isSafeInteger(id) || id < 1) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a report id');
    await ctx.vigil.reports.retry(id, { actor: actorOfUser(personOf(request).user), requestId: String(request.id) });
    return reply.redirect('/review/reports', 303);
  });
}
