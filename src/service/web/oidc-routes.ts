/**
 * Single sign-on routes (when `oidc` is configured): /review/login/oidc sends the browser to the provider with
 * PKCE, state and nonce kept in a short-lived HttpOnly cookie; /review/login/oidc/callback finishes the flow
 * (auth/oidc.ts) and starts the same session a password sign-in does.
 */
import type { FastifyInstance } from 'fastify';
import { OidcSignIn, type OidcPending } from '../../auth/oidc.js';
import { SESSION_MAX_MS } from '../../auth/sessions.js';
import { VigilError } from '../../core/errors.js';
import type { ServiceContext } from '../context.js';
import { HIDDEN, SESSION_COOKIE, type WebOptions } from './session.js';

const PENDING_COOKIE = 'vigil_oidc';
const PENDING_PATH = '/review/login/oidc';

function readPending(raw: string | undefined): OidcPending {
  try {
    const p = JSON.parse(Buffer.from(raw ?? '', 'base64url').toString('utf8')) as Partial<OidcPending>;
    if (typeof p.state === 'string' && typeof p.nonce === 'string' && typeof p.verifier === 'string') return { state: p.state, nonce: p.nonce, verifier: p.verifier };
  } catch {
    // falls through to the refusal
  }
  throw new VigilError('VIGIL_ERR_FORBIDDEN', 'This sign-in was not started here, or took too long: start again');
}

export function registerOidcRoutes(app: FastifyInstance, ctx: ServiceContext, o: WebOptions): void {
  const { vigil } = ctx;
  const config = vigil.config.oidc;
  if (!config) return;
  const sso = new OidcSignIn({ config, db: vigil.db, users: vigil.users, audit: vigil.audit });
  const secure = o.secureCookies ?? true;

  app.get('/review/login/oidc', HIDDEN, async (_request, reply) => {
    const { url, pending } = await sso.start();
    // SameSite=Lax, not Strict: the provider's redirect back is a cross-site navigation.
    reply.setCookie(PENDING_COOKIE, Buffer.from(JSON.stringify(pending)).toString('base64url'), { httpOnly: true, secure, sameSite: 'lax', path: PENDING_PATH, maxAge: 600 });
    return reply.redirect(url, 303);
  });

  app.get('/review/login/oidc/callback', HIDDEN, async (request, reply) => {
    const pending = readPending(request.cookies[PENDING_COOKIE]);
    reply.clearCookie(PENDING_COOKIE, { httpOnly: true, secure, sameSite: 'lax', path: PENDING_PATH });
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    const user = await sso.finish(query, pending, String(request.id));
    const { token } = await vigil.db.transaction((tx) => vigil.sessions.start(tx, user));
    reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, secure, sameSite: 'strict', path: '/', maxAge: SESSION_MAX_MS / 1000 });
    return reply.redirect('/review/queue', 303);
  });
}
