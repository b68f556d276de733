/**
 * Single sign-on for people through OpenID Connect (openid-client): authorization code flow with PKCE (S256),
 * `state` and `nonce`; the ID token is validated by openid-client (issuer, audience, signature, nonce), the
 * userinfo claims are fetched for the subject. A person is identified by (issuer, subject), never by a name
 * or e-mail the provider lets users change; on first sign-in they are linked to the Vigil account of the same
 * sign-in name, or one is created. Their role and child-safety grant follow the configured claim at every
 * sign-in (the provider is the source of truth); someone whose claim maps to no role is refused.
 * Every sign-in, creation, link and role change is audited in the same unit of work.
 */
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import type { AuditLog } from '../audit/log.js';
import type { VigilConfig } from '../app/config.js';
import { VigilError } from '../core/errors.js';
import type { VigilDatabase } from '../state/database.js';
import type { Component } from '../state/migrate.js';
import { ROLES, type Role, type User, type UserStore } from './users.js';

export type OidcConfig = NonNullable<VigilConfig['oidc']>;

export interface OidcIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: number;
  created_at: string;
  last_login_at: string;
}

export interface OidcTables {
  oidc_identities: OidcIdentitiesTable;
}

const TABLES = `
  CREATE TABLE oidc_identities (
    issuer TEXT NOT NULL, subject TEXT NOT NULL, user_id INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL, last_login_at TEXT NOT NULL, PRIMARY KEY (issuer, subject));
  CREATE INDEX oidc_identities_user ON oidc_identities (user_id);
`;

export const OIDC_COMPONENT: Component = {
  name: 'oidc',
  migrations: [{ version: 1, description: 'people signed in through OpenID Connect: (issuer, subject) → user', sqlite: TABLES, postgres: TABLES }],
};

/** What the browser carries between the redirect to the provider and the callback (an HttpOnly cookie). */
export interface OidcPending {
  state: string;
  nonce: string;
  verifier: string;
}

const RANK: Record<Role, number> = { reviewer: 1, investigator: 2, senior_reviewer: 3, admin: 4 };

/** The claim's values (a string, an array of strings, or a space- or comma-separated string). */
function values(claim: unknown): string[] {
  if (Array.isArray(claim)) return claim.filter((v): v is string => typeof v === 'string');
  return typeof claim === 'string' ? claim.split(/[\s,]+/).filter(Boolean) : [];
}

/** The highest role the claim's values map to, and whether they carry the child-safety grant. */
export function rolesFromClaims(cfg: Pick<OidcConfig, 'roleClaim' | 'roles' | 'childSafety'>, claims: Record<string, unknown>): { role: Role | undefined; childSafety: boolean } {
  const vals = values(claims[cfg.roleClaim]);
  const roles = vals.map((v) => cfg.roles[v]).filter((r): r is Role => r !== undefined && (ROLES as readonly string[]).includes(r));
  const role = roles.sort((a, b) => RANK[b] - RANK[a])[0];
  return { role, childSafety: vals.some((v) => cfg.childSafety.includes(v)) };
}

/** A sign-in name from the claims: preferred_username, else e-mail, else one derived from the subject. */
function nameOf(claims: Record<string, unknown>, subject: string): string {
  for (const c of [claims.preferred_username, claims.email]) {
    if (typeof c === 'string' && /^[a-z0-9][a-z0-9._@+-]{0,99}$/.test(c.trim().toLowerCase())) return c.trim().toLowerCase();
  }
  return subjectName(subject);
}

function subjectName(subject: string): string {
  return `sso-${subject.toLowerCase().replace(/[^a-z0-9._@+-]/g, '-')}`.slice(0, 100);
}

export class OidcSignIn {
  private discovered?: Promise<client.Configuration>;

  constructor(private readonly o: { config: OidcConfig; db: VigilDatabase; users: UserStore; audit: AuditLog; now?: () => Date }) {}

  get label(): string {
    return this.o.config.label;
  }

  private configuration(): Promise<client.Configuration> {
    const c = this.o.config;
    this.discovered ??= client.discovery(new URL(c.issuer), c.clientId, c.clientSecret, c.clientSecret ? undefined : client.None(), c.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined)
      .catch((err: unknown) => {
        this.discovered = undefined;
        throw new VigilError('VIGIL_ERR_UNAVAILABLE', `The single sign-on provider could not be reached: ${(err as Error).message}`);
      });
    return this.discovered;
  }

  /** Where to send the browser, and what it must bring back. */
  async start(): Promise<{ url: string; pending: OidcPending }> {
    const config = await this.configuration();
    const pending: OidcPending = { state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier() };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.o.config.redirectUri, scope: this.o.config.scopes, state: pending.state, nonce: pending.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(pending.verifier), code_challenge_method: 'S256',
    });
    return { url: url.href, pending };
  }

  /**
   * The callback: the code exchanged (PKCE verifier, state and nonce checked), the person found, linked or
   * created, their role brought in line with the claim; audited. Refuses (FORBIDDEN) anyone whose claim maps
   * to no Vigil role, and disabled accounts.
   */
  async finish(query: string, pending: OidcPending, requestId: string | null): Promise<User> {
    const config = await this.configuration();
    const current = new URL(this.o.config.redirectUri);
    current.search = query;
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true });
    } catch (err) {
      throw new VigilError('VIGIL_ERR_FORBIDDEN', `Single sign-on failed: ${(err as Error).message}`);
    }
    const idClaims = tokens.claims()!;
    const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
    const claims: Record<string, unknown> = { ...info, ...idClaims };
    const issuer = String(idClaims.iss);
    const subject = idClaims.sub;
    const { role, childSafety } = rolesFromClaims(this.o.config, claims);
    const actor = `oidc:${subject}`;
    // Created accounts get a random password nobody knows: they sign in through the provider only.
    const unusable = await this.o.users.hashPassword(randomBytes(24).toString('base64url'));
    return this.o.db.transaction(async (tx) => {
      const at = (this.o.now?.() ?? new Date()).toISOString();
      const by = { actor, requestId };
      const link = await tx.k.selectFrom('oidc_identities').select('user_id').where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
      if (!role) {
        await this.o.audit.append(tx, { ...by, action: 'user.sso_refused', subject: `oidc:${issuer}#${subject}`, details: { reason: 'no Vigil role for the claim', claim: this.o.config.roleClaim } });
        // The organisation took the role away: the linked account stops too (its password and its open sessions).
        const linked = link ? await this.o.users.get(Number(link.user_id), tx) : undefined;
        if (linked && !linked.disabled) await this.o.users.disable(tx, linked.id, by);
        return null;
      }
      let user: User | undefined;
      if (link) {
        user = await this.o.users.get(Number(link.user_id), tx);
        await tx.k.updateTable('oidc_identities').set({ last_login_at: at }).where('issuer', '=', issuer).where('subject', '=', subject).execute();
      } else {
        // Never linked to an existing account by its name or e-mail: both are claims a person may choose at
        // many providers, so that would hand over whoever already holds the name (an admin). A taken name gets
        // the subject's; linking an existing account to an identity is an administrator's explicit act.
        let name = nameOf(claims, subject);
        if (await this.o.users.getByName(name, tx)) name = subjectName(subject);
        for (let n = 2; await this.o.users.getByName(name, tx); n++) name = `${subjectName(subject).slice(0, 90)}-${n}`;
        user = await this.o.users.create(tx, { name, displayName: typeof claims.name === 'string' && claims.name.trim() ? claims.name.slice(0, 200) : name, role, childSafety, password: unusable }, by);
        await tx.k.insertInto('oidc_identities').values({ issuer, subject, user_id: user.id, created_at: at, last_login_at: at }).execute();
        await this.o.audit.append(tx, { ...by, action: 'user.sso_linked', subject: `user:${user.id}`, details: { issuer, subject } });
      }
      if (!user) throw new VigilError('VIGIL_ERR_NOT_FOUND', 'The linked account no longer exists');
      if (user.disabled) {
        await this.o.audit.append(tx, { ...by, action: 'user.sso_refused', subject: `user:${user.id}`, details: { reason: 'disabled' } });
        return null;
      }
      if (user.role !== role || user.childSafety !== childSafety) user = await this.o.users.update(tx, user.id, { role, childSafety }, by);
      await this.o.audit.append(tx, { ...by, action: 'user.sso_signed_in', subject: `user:${user.id}`, details: { issuer, subject, role, childSafety } });
      return user;
    }).then((user) => {
      if (!user) throw new VigilError('VIGIL_ERR_FORBIDDEN', 'Your organisation has not given you a Vigil role (or your account is disabled)');
      return user;
    });
  }
}
