/**
 * Triage cases in the review UI (/review/cases): a case's series and items, a page at a time, with forms that
 * set Project VIC (0–4) and UK (A–C) categories on an item or a series. For investigators (and admins); every
 * change goes through CaseService, which writes the audit entry (the person, the request id) in the store's
 * transaction. No pictures are shown here: paths, types, statuses and hashes only.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { stateDirOf } from '../../app/vigil.js';
import { actorOfUser } from '../../app/review.js';
import { VigilError } from '../../core/errors.js';
import { CaseDb, checkCaseName, type CaseLocation } from '../../triage/case-db.js';
import { CaseService, type Category } from '../../triage/case-service.js';
import type { ServiceContext } from '../context.js';
import { html, layout, type PageContext } from './html.js';
import { checkCsrf, HIDDEN, personOf } from './session.js';

const PAGE = 200;

function location(ctx: ServiceContext): CaseLocation {
  const { config } = ctx.vigil;
  return { storeUrl: config.database.url, casesDir: join(stateDirOf(config), 'vigil-cases'), ...(config.database.schema ? { schema: config.database.schema } : {}) };
}

function categoryOf(body: Record<string, unknown>): Category {
  const vic = typeof body.vic === 'string' && body.vic !== '' ? Number(body.vic) : undefined;
  const uk = typeof body.uk === 'string' && body.uk !== '' ? body.uk.toUpperCase() : undefined;
  return { ...(vic !== undefined ? { projectVic: vic } : {}), ...(uk !== undefined ? { uk: uk as Category['uk'] } : {}) };
}

function categoryForm(name: string, target: 'item' | 'series', id: string, csrf: string) {
  return html`<form method="post" action="/review/cases/${name}/categorise"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="target" value="${target}"><input type="hidden" name="id" value="${id}">
    <select name="vic" aria-label="Project VIC category"><option value="">VIC —</option>${[0, 1, 2, 3, 4].map((n) => html`<option value="${n}">VIC ${n}</option>`)}</select>
    <select name="uk" aria-label="UK category"><option value="">UK —</option>${['A', 'B', 'C'].map((c) => html`<option value="${c}">UK ${c}</option>`)}</select>
    <button type="submit">Set</button></form>`;
}

const shown = (vic: unknown, uk: unknown) => [vic !== null && vic !== undefined ? `VIC ${String(vic)}` : '', uk ? `UK ${String(uk)}` : ''].filter(Boolean).join(' · ') || '—';

export function registerCasePages(app: FastifyInstance, ctx: ServiceContext, o: { page: (request: FastifyRequest, title: string) => Promise<PageContext>; send: (reply: FastifyReply, body: string) => FastifyReply }): void {
  const { vigil } = ctx;
  const service = new CaseService({ db: vigil.db, audit: vigil.audit, banks: vigil.banks });
  const allowed = (request: FastifyRequest) => {
    const { role, disabled } = personOf(request).user;
    if (disabled || (role !== 'investigator' && role !== 'admin')) throw new VigilError('VIGIL_ERR_FORBIDDEN', 'Cases are for investigators');
  };
  const withCase = async <T>(raw: string, fn: (caseDb: CaseDb) => Promise<T>): Promise<T> => {
    const caseDb = await CaseDb.open(location(ctx), checkCaseName(raw));
    try {
      return await fn(caseDb);
    } finally {
      await caseDb.close();
    }
  };

  app.get('/review/cases', HIDDEN, async (request, reply) => {
    allowed(request);
    const pageCtx = await o.page(request, 'Cases');
    const names = await CaseDb.names(location(ctx));
    return o.send(reply, layout(pageCtx, html`<h1>Triage cases</h1>${names.length === 0 ? html`<p>No cases yet (vigil triage).</p>` : html`<ul>${names.map((n) => html`<li><a href="/review/cases/${n}">${n}</a></li>`)}</ul>`}`));
  });

  app.get('/review/cases/:name', HIDDEN, async (request, reply) => {
    allowed(request);
    const name = (request.params as { name: string }).name;
    const after = Math.max(0, Number((request.query as { after?: string }).after ?? 0) || 0);
    const pageCtx = await o.page(request, `Case ${name}`);
    const csrf = pageCtx.csrf ?? '';
    const body = await withCase(name, async (caseDb) => {
      const series = (await sql<{ series: string; n: number; vic: number | null; uk: string | null }>`SELECT i.series, COUNT(*) AS n, s.vic_category AS vic, s.uk_category AS uk
        FROM triage_items i LEFT JOIN triage_series s ON s.case_name = i.case_name AND s.series = i.series
        WHERE i.case_name = ${caseDb.name} AND i.series IS NOT NULL GROUP BY i.series, s.vic_category, s.uk_category ORDER BY i.series LIMIT ${PAGE}`.execute(caseDb.db.k)).rows;
      const items = (await sql<{ seq: number; path: string; type: string | null; status: string; series: string | null; vic_category: number | null; uk_category: string | null }>`SELECT seq, path, type, status, series, vic_category, uk_category
        FROM triage_items WHERE case_name = ${caseDb.name} AND seq > ${after} ORDER BY seq LIMIT ${PAGE}`.execute(caseDb.db.k)).rows;
      const next = items.length === PAGE ? Number(items.at(-1)!.seq) : undefined;
      return html`<h1>Case ${name}</h1>
        <h2>Series</h2>
        ${series.length === 0 ? html`<p>No series.</p>` : html`<table><tr><th>Series</th><th>Items</th><th>Categories</th><th></th></tr>${series.map((s) => html`<tr><td>${s.series}</td><td>${Number(s.n)}</td><td>${shown(s.vic, s.uk)}</td><td>${categoryForm(name, 'series', s.series, csrf)}</td></tr>`)}</table>`}
        <h2>Items</h2>
        <table><tr><th>Path</th><th>Type</th><th>Status</th><th>Series</th><th>Categories</th><th></th></tr>${items.map((i) => html`<tr><td>${i.path}</td><td>${i.type ?? ''}</td><td>${i.status}</td><td>${i.series ?? ''}</td><td>${shown(i.vic_category, i.uk_category)}</td><td>${categoryForm(name, 'item', i.path, csrf)}</td></tr>`)}</table>
        ${next !== undefined ? html`<p><a href="/review/cases/${name}?after=${next}">Next items</a></p>` : html``}`;
    });
    return o.send(reply, layout(pageCtx, body));
  });

  app.post('/review/cases/:name/categorise', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    allowed(request);
    const name = (request.params as { name: string }).name;
    const b = (request.body ?? {}) as Record<string, unknown>;
    const id = typeof b.id === 'string' ? b.id : '';
    const actor = { actor: actorOfUser(personOf(request).user), requestId: String(request.id ?? randomUUID()) };
    await withCase(name, (caseDb) => (b.target === 'series' ? service.categoriseSeries(actor, caseDb, id, categoryOf(b)) : service.categoriseItem(actor, caseDb, id, categoryOf(b))));
    return reply.redirect(`/review/cases/${encodeURIComponent(name)}`, 303);
  });
}
