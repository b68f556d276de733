/**
 * The review UI on the API's origin (`/review/…`), in its own Fastify scope: cookies, form bodies, HTML errors
 * and strict security headers stay out of the JSON API. Media is only served through signed URLs that are
 * short-lived, bound to the session that asked (HMAC with the session's media key) and re-checked against the
 * item on every fetch; the file is decrypted from the evidence store as a stream and re-encoded (never the
 * uploaded bytes as-is), with Cache-Control: no-store.
 */
import { createHmac } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import sharp from 'sharp';
import type { ReviewDecisionInput, Reviewer } from '../../app/review.js';
import { actorOfUser } from '../../app/review.js';
import type { WebSession } from '../../auth/sessions.js';
import { sameSecret } from '../../auth/sessions.js';
import { VigilError, type VigilErrorCode } from '../../core/errors.js';
import type { ServiceContext } from '../context.js';
import { sendError, statusOf } from '../http-errors.js';
import { REVIEW_CSS, REVIEW_JS } from './assets.js';
import type { PageContext } from './html.js';
import { jobKey, parseJobKey } from '../../app/review-jobs.js';
import { contactSheet } from './contact-sheet.js';
import { registerOidcRoutes } from './oidc-routes.js';
import { jobPage, jobsPage } from './job-pages.js';
import { errorPage, itemPage, prefsPage } from './pages.js';
import { checkCsrf, HIDDEN, personOf, registerSessionRoutes, type WebOptions } from './session.js';
import { registerReportPages } from './reports-page.js';
import { registerCasePages } from './case-pages.js';

export interface ReviewWebOptions extends WebOptions {
  /** How long a signed media URL works (default 60 s). */
  mediaTtlMs?: number;
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const VIDEO = new Set(['mp4', 'mov', 'webm', 'mkv', 'avi', 'mpeg', 'gif-video']);
type Variant = 'preview' | 'full';

export function signMedia(key: Buffer, id: number, variant: Variant, exp: number): string {
  return createHmac('sha256', key).update(`${id}.${variant}.${exp}`).digest('base64url');
}

function mediaUrl(session: WebSession, id: number, variant: Variant, ttlMs: number, now = Date.now()): string {
  const exp = now + ttlMs;
  return `/review/media/${id}?v=${variant}&exp=${exp}&sig=${signMedia(session.mediaKey, id, variant, exp)}`;
}

function idParam(request: FastifyRequest): number {
  const raw = (request.params as { id?: string }).id ?? '';
  const id = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No review item ${JSON.stringify(raw)}`);
  return id;
}

function safeKey(key: string): boolean {
  try {
    parseJobKey(key);
    return true;
  } catch {
    return false;
  }
}

function keyParam(request: FastifyRequest): string {
  const key = (request.params as { key?: string }).key ?? '';
  parseJobKey(key);
  return key;
}

function decisionOf(request: FastifyRequest): ReviewDecisionInput {
  const b = (request.body ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { outcome: str(b.outcome), classification: str(b.classification), reason: str(b.reason), note: str(b.note) } as ReviewDecisionInput;
}

function wantsJson(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('application/json') && !(request.headers.accept ?? '').includes('text/html');
}

export async function reviewRoutes(app: FastifyInstance, ctx: ServiceContext, o: ReviewWebOptions = {}): Promise<void> {
  const { vigil } = ctx;
  const review = vigil.review;
  const ttl = o.mediaTtlMs ?? 60_000;

  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 64 * 1024 });

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-frame-options', 'DENY');
    // same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on form posts, which the CSRF check refuses.
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-content-type-options', 'nosniff');
    if (!request.url.startsWith('/review/assets/')) reply.header('cache-control', 'no-store');
    return payload;
  });

  const page = async (request: FastifyRequest, title: string): Promise<PageContext> => {
    const person = personOf(request);
    return { title, person: { ...person, prefs: await review.prefs(person.user.id) }, csrf: person.session.csrf };
  };
  const reviewer = (request: FastifyRequest): Reviewer => {
    const { user, session } = personOf(request);
    return { user, sessionId: session.id, requestId: String(request.id) };
  };
  const send = (reply: FastifyReply, body: string, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(body);

  app.setErrorHandler(async (err, request, reply) => {
    const code = (err instanceof VigilError ? err.code : undefined) as VigilErrorCode | undefined;
    if (code === 'VIGIL_ERR_UNAUTHENTICATED' && request.method === 'GET' && !request.url.startsWith('/review/media/')) return reply.redirect('/review/login', 303);
    if (wantsJson(request) || request.url.startsWith('/review/media/') || !code) return sendError(err, request, reply);
    const status = statusOf(code);
    const ctxPage: PageContext = request.person ? await page(request, 'Error').catch(() => ({ title: 'Error' })) : { title: 'Error' };
    return send(reply, errorPage(ctxPage, status, code, (err as Error).message), status);
  });

  registerSessionRoutes(app, ctx, o);
  registerOidcRoutes(app, ctx, o);
  registerReportPages(app, ctx, { page, send });
  registerCasePages(app, ctx, { page, send });

  app.get('/review/assets/review.css', HIDDEN, async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300').send(REVIEW_CSS));
  app.get('/review/assets/review.js', HIDDEN, async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').send(REVIEW_JS));

  app.get('/review', HIDDEN, async (request, reply) => reply.redirect(request.person ? '/review/queue' : '/review/login', 303));

  app.get('/review/queue', HIDDEN, async (request, reply) => {
    const ctxPage = await page(request, 'Queue');
    const { user } = personOf(request);
    const q = request.query as { done?: string; outcome?: string };
    if (q.done && /^\d+$/.test(q.done)) ctxPage.flash = `Item #${q.done}: ${String(q.outcome ?? 'done').replace(/[^a-z_0-9 ,-]/gi, '')}`;
    const jobs = await review.jobs.list(user, { limit: 50 });
    return send(reply, jobsPage(ctxPage, jobs, { queues: review.queuesOf(user), now: Date.now() }));
  });

  app.get('/review/jobs/:key', HIDDEN, async (request, reply) => {
    const key = keyParam(request);
    const ctxPage = await page(request, 'Job');
    const { user, session } = personOf(request);
    const q = request.query as { done?: string; outcome?: string };
    if (q.done) ctxPage.flash = `${/^\d+$/.test(q.done) ? `Item #${q.done}` : 'Job'}: ${String(q.outcome ?? 'done').replace(/[^a-z_0-9 ,-]/gi, '')}`;
    const view = await review.jobs.view(user, key);
    const previews = Object.fromEntries(view.items.filter((i) => i.heldByMe && !i.hashOnly).slice(0, 200).map((i) => [i.item.id, mediaUrl(session, i.item.id, 'preview', ttl)]));
    return send(reply, jobPage(ctxPage, { view, classifications: review.classifications(), previews, now: Date.now(), actor: actorOfUser(user) }));
  });

  app.post('/review/jobs/:key/claim', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    const key = keyParam(request);
    const r = await review.jobs.claim(reviewer(request), key);
    if (wantsJson(request)) return reply.send(r);
    return reply.redirect(`/review/jobs/${key}`, 303);
  });

  app.post('/review/jobs/:key/release', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    await review.jobs.release(reviewer(request), keyParam(request));
    return reply.redirect('/review/queue', 303);
  });

  app.post('/review/jobs/:key/decide', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    const key = keyParam(request);
    const r = await review.jobs.decide(reviewer(request), key, decisionOf(request));
    if (wantsJson(request)) return reply.send(r);
    const outcome = (request.body as Record<string, unknown>).outcome;
    return reply.redirect(`/review/jobs/${key}?done=job&outcome=${encodeURIComponent(`${String(outcome)}, ${r.decided.length} items`)}`, 303);
  });

  app.get('/review/items/:id', HIDDEN, async (request, reply) => {
    const id = idParam(request);
    const ctxPage = await page(request, `Item #${id}`);
    const { user, session } = personOf(request);
    const view = await review.item(user, id);
    const isVideo = view.mediaType !== null && VIDEO.has(view.mediaType);
    const previewUrl = view.heldByMe && !view.hashOnly ? mediaUrl(session, id, 'preview', ttl) : undefined;
    return send(reply, itemPage(ctxPage, { view, jobKey: jobKey(view.decision.accountId, id), classifications: review.classifications(), isVideo, ...(previewUrl ? { previewUrl } : {}) }));
  });

  app.post('/review/items/:id/claim', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    const id = idParam(request);
    await review.claim(reviewer(request), id);
    return reply.redirect(`/review/items/${id}`, 303);
  });

  app.post('/review/items/:id/release', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    await review.release(reviewer(request), idParam(request));
    return reply.redirect('/review/queue', 303);
  });

  app.post('/review/items/:id/decide', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    const id = idParam(request);
    const b = (request.body ?? {}) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const d = decisionOf(request);
    const bulk = str(b.bulk);
    // Back to the item's job (its key re-checked: a redirect target is never taken from a form as-is).
    const job = str(b.job);
    const back = job && safeKey(job) ? `/review/jobs/${job}` : '/review/queue';
    if (bulk === 'account' || bulk === 'signal') {
      const r = await review.bulk(reviewer(request), id, bulk, d);
      if (wantsJson(request)) return reply.send(r);
      return reply.redirect(`${back}?done=${id}&outcome=${encodeURIComponent(`${d.outcome}, ${r.decided.length} items by ${bulk}${r.skipped.length ? `, ${r.skipped.length} held by others` : ''}`)}`, 303);
    }
    const item = await review.decide(reviewer(request), id, d);
    if (wantsJson(request)) return reply.send(item);
    return reply.redirect(`${back}?done=${id}&outcome=${encodeURIComponent(`${item.outcome}${item.classification ? ` ${item.classification}` : ''}`)}`, 303);
  });

  app.post('/review/items/:id/reveal', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    const id = idParam(request);
    const { session } = personOf(request);
    const r = await review.reveal(reviewer(request), id);
    return reply.send({ url: mediaUrl(session, id, 'full', ttl), reveals: r.reveals });
  });

  app.get('/review/prefs', HIDDEN, async (request, reply) => {
    const ctxPage = await page(request, 'Wellness settings');
    return send(reply, prefsPage(ctxPage, ctxPage.person!.prefs, review.wellness));
  });

  app.post('/review/prefs', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    const b = (request.body ?? {}) as Record<string, unknown>;
    const num = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : undefined);
    const p = { blurPx: num(b.blurPx), greyscalePct: num(b.greyscalePct), sessionReminderMin: num(b.sessionReminderMin) };
    await review.setPrefs(reviewer(request), Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)));
    return reply.redirect('/review/prefs', 303);
  });

  app.get('/review/media/:id', HIDDEN, async (request, reply) => {
    const { user, session } = personOf(request);
    const id = idParam(request);
    const q = request.query as { v?: string; exp?: string; sig?: string };
    const variant = q.v === 'full' ? 'full' : q.v === 'preview' ? 'preview' : undefined;
    const exp = Number(q.exp);
    const now = Date.now();
    if (!variant || !Number.isSafeInteger(exp) || typeof q.sig !== 'string' || !sameSecret(q.sig, signMedia(session.mediaKey, id, variant, exp))) {
      throw new VigilError('VIGIL_ERR_FORBIDDEN', 'This media link is not valid for your session');
    }
    if (exp <= now || exp > now + ttl + 5_000) throw new VigilError('VIGIL_ERR_FORBIDDEN', 'This media link has expired: reload the item');
    // Checked again now: the claim may have ended, the person lost the grant, the item been decided.
    const media = await review.media(user, id);
    const source = await (await vigil.evidence()).open(media.evidenceId, media.sha256);
    const transform = variant === 'preview'
      ? sharp({ limitInputPixels: 100_000_000 }).rotate().resize(24, 24, { fit: 'inside' }).greyscale().png()
      : sharp({ limitInputPixels: 100_000_000 }).rotate().resize(1600, 1600, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 85 });
    if (media.mediaType !== null && VIDEO.has(media.mediaType)) {
      // A video is never played: frames sampled across it, as one still that is blurred and revealed like a picture.
      const sheet = await contactSheet(source, { tempDir: ctx.tempDir });
      transform.end(sheet.image);
    } else {
      source.on('error', (err) => transform.destroy(err));
      source.pipe(transform);
    }
    reply.header('content-disposition', 'inline').header('cache-control', 'no-store');
    return reply.type(variant === 'preview' ? 'image/png' : 'image/jpeg').send(transform);
  });

}
