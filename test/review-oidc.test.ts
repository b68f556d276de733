/**
 * Single sign-on against a local OpenID provider (oidc-provider, in this process on 127.0.0.1): the whole
 * authorization-code flow with PKCE, state and nonce, driven request by request (no browser, no sleeps). The
 * provider's login step is answered by the test (who signs in is `nextLogin`).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Provider from 'oidc-provider';
import { parseConfig } from '../src/app/config.js';
import { rolesFromClaims } from '../src/auth/oidc.js';
import { startService, type RunningService } from '../src/service/serve.js';
import { tempDir } from './helpers/temp.js';

const CALLBACK = 'http://vigil.test/review/login/oidc/callback';
const ACCOUNTS: Record<string, { name: string; preferred_username: string; groups: string[] }> = {
  alice: { name: 'Alice Example', preferred_username: 'alice', groups: ['vigil-reviewers', 'csam-review', 'staff'] },
  mallory: { name: 'Mallory', preferred_username: 'mallory', groups: ['staff'] },
  bob: { name: 'Bob', preferred_username: 'bob', groups: ['vigil-seniors'] },
};
let nextLogin = 'alice';
let idp: Server;
let issuer: string;
let service: RunningService;

before(async () => {
  const idpOf: { provider?: Provider } = {};
  idp = createServer((req, res) => {
    void (async () => {
      if (req.url?.startsWith('/interaction/')) {
        // The provider asks who this is: the test's account, consent to the requested scopes given.
        await idpOf.provider!.interactionDetails(req, res);
        const grant = new idpOf.provider!.Grant({ accountId: nextLogin, clientId: 'vigil' });
        grant.addOIDCScope('openid profile groups');
        const grantId = await grant.save();
        await idpOf.provider!.interactionFinished(req, res, { login: { accountId: nextLogin }, consent: { grantId } }, { mergeWithLastSubmission: false });
        return;
      }
      idpOf.provider!.callback()(req, res);
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  idpOf.provider = new Provider(issuer, {
    clients: [{ client_id: 'vigil', client_secret: 'a test secret of enough length', redirect_uris: [CALLBACK], grant_types: ['authorization_code'], response_types: ['code'] }],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'groups'],
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, ...ACCOUNTS[id] }) }),
    features: { devInteractions: { enabled: false } },
    cookies: { keys: ['a test cookie key'] },
  });
  const dir = tempDir('vigil-oidc-');
  service = await startService({
    storeUrl: join(dir, 'vigil.db'), port: 0, background: false,
    config: parseConfig({
      database: { url: join(dir, 'vigil.db') }, evidence: { dir: join(dir, 'evidence') }, demo: { enabled: false }, server: { port: 0, log: false }, log: { level: 'silent' },
      oidc: {
        issuer, clientId: 'vigil', clientSecret: 'a test secret of enough length', redirectUri: CALLBACK, scopes: 'openid profile groups',
        roles: { 'vigil-reviewers': 'reviewer', 'vigil-seniors': 'senior_reviewer' }, childSafety: ['csam-review'], label: 'Sign in with Example SSO', allowHttp: true,
      },
    }),
  });
});

after(async () => {
  await service?.close();
  await new Promise((resolve) => idp?.close(resolve));
});

/** Cookies of one response, name → value. */
function cookiesOf(setCookie: string | string[] | undefined): Record<string, string> {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  return Object.fromEntries(list.map((c) => c.split(';')[0]!.split('=')).map(([k, ...v]) => [k!, v.join('=')]));
}

/** From /review/login/oidc through the provider to our callback; returns the callback's response. */
async function signInAs(who: string, o: { swapPending?: string } = {}) {
  nextLogin = who;
  const start = await service.app.inject({ method: 'GET', url: '/review/login/oidc' });
  assert.equal(start.statusCode, 303);
  const authorize = new URL(start.headers.location as string);
  const pending = o.swapPending ?? cookiesOf(start.headers['set-cookie']).vigil_oidc!;
  const jar: Record<string, string> = {};
  let url = authorize.href;
  for (let hop = 0; hop < 10 && !url.startsWith(CALLBACK); hop++) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: Object.entries(jar).map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const c of res.headers.getSetCookie()) {
      const [k, ...v] = c.split(';')[0]!.split('=');
      jar[k!] = v.join('=');
    }
    assert.ok(res.status >= 300 && res.status < 400, `${url}: ${res.status} ${await res.text()}`);
    url = new URL(res.headers.get('location')!, url).href;
  }
  const back = new URL(url);
  const callback = await service.app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, headers: { cookie: `vigil_oidc=${pending}` } });
  return { authorize, pending, callback };
}

test('claims map to roles: the highest role wins; the child-safety grant from its own values', () => {
  const cfg = { roleClaim: 'groups', roles: { a: 'reviewer', b: 'admin', c: 'senior_reviewer' } as const, childSafety: ['cs'] };
  assert.deepEqual(rolesFromClaims(cfg, { groups: ['a', 'c'] }), { role: 'senior_reviewer', childSafety: false });
  assert.deepEqual(rolesFromClaims(cfg, { groups: 'a cs' }), { role: 'reviewer', childSafety: true });
  assert.deepEqual(rolesFromClaims(cfg, { groups: ['x'] }), { role: undefined, childSafety: false });
  assert.deepEqual(rolesFromClaims(cfg, {}), { role: undefined, childSafety: false });
});

test('the sign-in page offers single sign-on; the flow uses PKCE (S256), state and nonce', async () => {
  const login = await service.app.inject({ method: 'GET', url: '/review/login' });
  assert.match(login.body, /href="\/review\/login\/oidc"[^>]*>Sign in with Example SSO</);
  const { authorize, callback } = await signInAs('alice');
  assert.equal(authorize.origin, issuer);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  assert.ok((authorize.searchParams.get('code_challenge') ?? '').length >= 43);
  assert.ok(authorize.searchParams.get('state'));
  assert.ok(authorize.searchParams.get('nonce'));
  assert.equal(callback.statusCode, 303, callback.body);
  assert.equal(callback.headers.location, '/review/queue');
  const session = cookiesOf(callback.headers['set-cookie']).vigil_session!;
  const queue = await service.app.inject({ method: 'GET', url: '/review/queue', headers: { cookie: `vigil_session=${session}` } });
  assert.equal(queue.statusCode, 200);
  assert.match(queue.body, /Alice Example \(reviewer\)/);
  assert.match(queue.body, /Nothing to review/, 'the child-safety grant came with the claim');
  const alice = (await service.ctx.vigil.users.getByName('alice'))!;
  assert.equal(alice.role, 'reviewer');
  assert.equal(alice.childSafety, true);
  const actions = (await service.ctx.audit.list({ subject: `user:${alice.id}` })).map((e) => e.action);
  for (const a of ['user.sso_linked', 'user.sso_signed_in']) assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
  const signedIn = (await service.ctx.audit.list({ subject: `user:${alice.id}`, action: 'user.sso_signed_in' }))[0];
  assert.equal(signedIn.actor, 'oidc:alice');
  assert.equal(signedIn.details.issuer, issuer);
});

test('a second sign-in is the same person; a changed claim changes the role', async () => {
  ACCOUNTS.alice.groups = ['vigil-seniors'];
  const { callback } = await signInAs('alice');
  assert.equal(callback.statusCode, 303);
  const alice = (await service.ctx.vigil.users.getByName('alice'))!;
  assert.equal(alice.role, 'senior_reviewer');
  assert.equal(alice.childSafety, false, 'the grant went with the claim');
  const links = await service.ctx.vigil.db.k.selectFrom('oidc_identities').selectAll().where('user_id', '=', alice.id).execute();
  assert.equal(links.length, 1);
});

test('an existing account of the same sign-in name is never taken over: the identity gets an account of its own', async () => {
  const bob = await service.ctx.vigil.users.createNow({ name: 'bob', role: 'reviewer', password: 'correct horse battery' }, { actor: 'test' });
  const { callback } = await signInAs('bob');
  assert.equal(callback.statusCode, 303);
  const local = (await service.ctx.vigil.users.get(bob.id))!;
  assert.equal(local.role, 'reviewer', 'the local account is untouched');
  const link = await service.ctx.vigil.db.k.selectFrom('oidc_identities').select('user_id').where('subject', '=', 'bob').executeTakeFirstOrThrow();
  assert.notEqual(Number(link.user_id), bob.id);
  const sso = (await service.ctx.vigil.users.get(Number(link.user_id)))!;
  assert.equal(sso.name, 'sso-bob');
  assert.equal(sso.role, 'senior_reviewer');
});

test('refused: no mapped role (audited, no account made); a callback without our pending sign-in or with another one', async () => {
  const { callback } = await signInAs('mallory');
  assert.equal(callback.statusCode, 403);
  assert.equal(await service.ctx.vigil.users.getByName('mallory'), undefined);
  assert.ok((await service.ctx.audit.list({ action: 'user.sso_refused' })).some((e) => e.actor === 'oidc:mallory'));
  assert.equal(cookiesOf(callback.headers['set-cookie']).vigil_session, undefined);

  // Someone else's (or a stale) pending sign-in: its state and PKCE verifier do not match this code.
  const other = await service.app.inject({ method: 'GET', url: '/review/login/oidc' });
  const foreign = cookiesOf(other.headers['set-cookie']).vigil_oidc!;
  const swapped = await signInAs('alice', { swapPending: foreign });
  assert.equal(swapped.callback.statusCode, 403);
  const none = await service.app.inject({ method: 'GET', url: '/review/login/oidc/callback?code=x&state=y' });
  assert.equal(none.statusCode, 403);
});

test('a linked person whose role the organisation took away is refused, and the account is disabled (password and sessions too)', async () => {
  ACCOUNTS.alice.groups = ['vigil-seniors'];
  assert.equal((await signInAs('alice')).callback.statusCode, 303);
  const alice = (await service.ctx.vigil.users.getByName('alice'))!;
  assert.equal(alice.disabled, false);
  ACCOUNTS.alice.groups = ['no-vigil-group'];
  const { callback } = await signInAs('alice');
  assert.equal(callback.statusCode, 403);
  assert.equal((await service.ctx.vigil.users.get(alice.id))!.disabled, true);
});
