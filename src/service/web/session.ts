/**
 * People's sign-in for the web UI: server-side sessions (auth/sessions.ts) in a `__Host-`-style cookie that is
 * Secure, HttpOnly, SameSite=Strict; a CSRF token checked on every state-changing request (the session's own
 * token; before sign-in a double-submit cookie guards the sign-in form); the Origin header, when sent, must be
 * this origin. Lock-out after repeated failures and the session epoch live in UserStore.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { auditBy } from '../../audit/log.js';
import { sameSecret, SESSION_MAX_MS, type SignedIn } from '../../auth/sessions.js';
import { VigilError } from '../../core/errors.js';
import type { ServiceContext } from '../context.js';
import { loginPage } from './html.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in person of a web request (review UI). */
    person?: SignedIn;
  }
}

/** The UI's routes are not part of the API: kept out of the OpenAPI document. */
export const HIDDEN = { schema: { hide: true } };

export const SESSION_COOKIE = 'vigil_session';
const LOGIN_CSRF_COOKIE = 'vigil_login_csrf';

export interface WebOptions {
  /** Secure cookies (default true; browsers accept them on http://localhost for development). */
  secureCookies?: boolean;
}

function cookieOptions(o: WebOptions, path = '/') {
  return { httpOnly: true, secure: o.secureCookies ?? true, sameSite: 'strict' as const, path };
}

/** The signed-in person, or UNAUTHENTICATED (pages turn that into a redirect to the sign-in form). */
export function personOf(request: FastifyRequest): SignedIn {
  if (!request.person) throw new VigilError('VIGIL_ERR_UNAUTHENTICATED', 'Sign in first');
  return request.person;
}

/** Cross-site requests are refused whatever they carry: the Origin, when present, must be ours. */
function checkOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  const host = request.headers.host;
  if (origin === 'null' || !host || new URL(origin).host !== host) throw new VigilError('VIGIL_ERR_FORBIDDEN', 'Cross-origin request refused');
}

/** The session's CSRF token from the form field or the X-CSRF-Token header, compared in constant time. */
export function checkCsrf(request: FastifyRequest): void {
  checkOrigin(request);
  const person = personOf(request);
  const body = request.body as Record<string, unknown> | undefined;
  const sent = (typeof body?.csrf === 'string' ? body.csrf : undefined) ?? (typeof request.headers['x-csrf-token'] === 'string' ? request.headers['x-csrf-token'] : '');
  if (!sameSecret(sent, person.session.csrf)) throw new VigilError('VIGIL_ERR_FORBIDDEN', 'Missing or wrong CSRF token: reload the page and try again');
}

export function registerSessionRoutes(app: FastifyInstance, ctx: ServiceContext, o: WebOptions): void {
  const { vigil } = ctx;

  // Every /review request: who is signed in (if anyone).
  app.addHook('onRequest', async (request) => {
    const token = request.cookies[SESSION_COOKIE];
    if (token) request.person = await vigil.sessions.resolve(token);
  });

  const renderLogin = (reply: FastifyReply, status: number, error?: string, name?: string) => {
    const csrf = randomBytes(24).toString('base64url');
    reply.setCookie(LOGIN_CSRF_COOKIE, csrf, { ...cookieOptions(o, '/review/login'), maxAge: 3600 });
    return reply.code(status).type('text/html; charset=utf-8').send(loginPage({ csrf, ...(vigil.config.oidc ? { sso: vigil.config.oidc.label } : {}), ...(error ? { error } : {}), ...(name ? { name } : {}) }));
  };

  app.get('/review/login', HIDDEN, async (request, reply) => {
    if (request.person) return reply.redirect('/review/queue', 303);
    return renderLogin(reply, 200);
  });

  app.post('/review/login', HIDDEN, async (request, reply) => {
    checkOrigin(request);
    const body = (request.body ?? {}) as Record<string, unknown>;
    const cookie = request.cookies[LOGIN_CSRF_COOKIE];
    if (!cookie || typeof body.csrf !== 'string' || !sameSecret(body.csrf, cookie)) throw new VigilError('VIGIL_ERR_FORBIDDEN', 'Missing or wrong CSRF token: reload the sign-in page');
    const name = typeof body.name === 'string' ? body.name : '';
    const result = await vigil.users.signIn(name, typeof body.password === 'string' ? body.password : '', { requestId: String(request.id) });
    if (!result.ok) {
      const message = result.reason === 'locked' ? 'This account is locked after repeated failed sign-ins. Try again later, or ask an administrator to reset it.'
        : result.reason === 'disabled' ? 'This account is disabled.' : 'Wrong sign-in name or password.';
      return renderLogin(reply, result.reason === 'locked' ? 423 : 401, message, name);
    }
    const { token } = await vigil.db.transaction((tx) => vigil.sessions.start(tx, result.user));
    reply.clearCookie(LOGIN_CSRF_COOKIE, cookieOptions(o, '/review/login'));
    reply.setCookie(SESSION_COOKIE, token, { ...cookieOptions(o), maxAge: SESSION_MAX_MS / 1000 });
    return reply.redirect('/review/queue', 303);
  });

  app.post('/review/logout', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    const { user, session } = personOf(request);
    await vigil.db.transaction(async (tx) => {
      await vigil.sessions.end(tx, session.id);
      await vigil.audit.append(tx, auditBy({ actor: `user:${user.id}`, requestId: String(request.id) }, 'user.signed_out', `user:${user.id}`, { everywhere: false }));
    });
    reply.clearCookie(SESSION_COOKIE, cookieOptions(o));
    return reply.redirect('/review/login', 303);
  });

  app.post('/review/logout-everywhere', HIDDEN, async (request, reply) => {
    checkCsrf(request);
    const { user } = personOf(request);
    await vigil.db.transaction(async (tx) => {
      await vigil.users.signOutEverywhere(tx, user.id, { actor: `user:${user.id}`, requestId: String(request.id) });
      await vigil.sessions.endAll(tx, user.id);
    });
    reply.clearCookie(SESSION_COOKIE, cookieOptions(o));
    return reply.redirect('/review/login', 303);
  });
}
