/**
 * Server-side sessions for people signed in to the web UI (component `web_sessions`). The cookie carries a
 * random 256-bit token; the table keeps only its SHA-256, so a copy of the database opens no session. Each
 * session has its own CSRF token (synchronizer pattern: every state-changing request must echo it) and its
 * own media key (signed media URLs are bound to the session that asked for them).
 *
 * A session is valid while not ended, within its idle and absolute limits, and while the user's session
 * epoch is the one it was issued under (UserStore bumps it on disable, password reset, sign-out everywhere).
 * It also counts the reveals made in it: the exposure counter the UI shows.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Tx, VigilDatabase } from '../state/database.js';
import type { Component } from '../state/migrate.js';
import type { User, UserStore } from './users.js';

export interface WebSessionsTable {
  id: string;
  user_id: number;
  epoch: number;
  csrf: string;
  media_key: string;
  reveals: number;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ended_at: string | null;
}

export interface SessionTables {
  web_sessions: WebSessionsTable;
}

function table(): string {
  return `
    CREATE TABLE web_sessions (
      id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), epoch INTEGER NOT NULL,
      csrf TEXT NOT NULL, media_key TEXT NOT NULL, reveals INTEGER NOT NULL DEFAULT 0,
      created_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, expires_at TEXT NOT NULL, ended_at TEXT);
    CREATE INDEX web_sessions_user ON web_sessions (user_id);
  `;
}

export const SESSIONS_COMPONENT: Component = {
  name: 'web_sessions',
  migrations: [{ version: 1, description: 'web sessions of people: hashed token, CSRF token, media key, epoch, exposure counter', sqlite: table(), postgres: table() }],
};

/** Absolute lifetime of a session, and how long it survives without a request. */
export const SESSION_MAX_MS = 12 * 3600_000;
export const SESSION_IDLE_MS = 30 * 60_000;
/** last_seen_at is written at most this often (not on every request). */
const TOUCH_MS = 60_000;

export interface WebSession {
  id: string;
  userId: number;
  csrf: string;
  mediaKey: Buffer;
  reveals: number;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

export interface SignedIn {
  session: WebSession;
  user: User;
}

export function tokenId(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function toSession(r: WebSessionsTable): WebSession {
  return {
    id: r.id, userId: Number(r.user_id), csrf: r.csrf, mediaKey: Buffer.from(r.media_key, 'base64url'), reveals: Number(r.reveals),
    createdAt: r.created_at, lastSeenAt: r.last_seen_at, expiresAt: r.expires_at,
  };
}

/** Constant-time comparison of two strings (different lengths compare unequal). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionStore {
  private readonly now: () => Date;

  constructor(private readonly db: VigilDatabase, private readonly users: UserStore, options: { now?: () => Date } = {}) {
    this.now = options.now ?? (() => new Date());
  }

  /** A new session for a user who just signed in; returns the cookie's token (shown once, stored hashed). */
  async start(tx: Tx, user: User): Promise<{ token: string; session: WebSession }> {
    const token = randomBytes(32).toString('base64url');
    const at = this.now();
    const row: WebSessionsTable = {
      id: tokenId(token), user_id: user.id, epoch: user.sessionEpoch, csrf: randomBytes(32).toString('base64url'),
      media_key: randomBytes(32).toString('base64url'), reveals: 0, created_at: at.toISOString(), last_seen_at: at.toISOString(),
      expires_at: new Date(at.getTime() + SESSION_MAX_MS).toISOString(), ended_at: null,
    };
    await tx.k.insertInto('web_sessions').values(row).execute();
    return { token, session: toSession(row) };
  }

  /** The session and its user for a cookie token, or undefined when it is unknown, ended, expired or revoked. */
  async resolve(token: string | undefined): Promise<SignedIn | undefined> {
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
    const row = await this.db.k.selectFrom('web_sessions').selectAll().where('id', '=', tokenId(token)).executeTakeFirst();
    if (!row || row.ended_at !== null) return undefined;
    const now = this.now().getTime();
    if (Date.parse(row.expires_at) <= now || Date.parse(row.last_seen_at) + SESSION_IDLE_MS <= now) return undefined;
    const user = await this.users.sessionUser(Number(row.user_id), Number(row.epoch));
    if (!user) return undefined;
    if (Date.parse(row.last_seen_at) + TOUCH_MS <= now) {
      row.last_seen_at = new Date(now).toISOString();
      await this.db.k.updateTable('web_sessions').set({ last_seen_at: row.last_seen_at }).where('id', '=', row.id).execute();
    }
    return { session: toSession(row), user };
  }

  async end(tx: Tx, id: string): Promise<void> {
    await tx.k.updateTable('web_sessions').set({ ended_at: this.now().toISOString() }).where('id', '=', id).where('ended_at', 'is', null).execute();
  }

  /** Ends every session of a user (the epoch bump does too; this also marks the rows). */
  async endAll(tx: Tx, userId: number): Promise<number> {
    const r = await tx.k.updateTable('web_sessions').set({ ended_at: this.now().toISOString() }).where('user_id', '=', userId).where('ended_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Counts one reveal in the session (the exposure counter); returns the new count. */
  async countReveal(tx: Tx, id: string): Promise<number> {
    const r = await tx.k.updateTable('web_sessions').set((eb) => ({ reveals: eb('reveals', '+', 1) })).where('id', '=', id).returning('reveals').executeTakeFirst();
    return Number(r?.reveals ?? 0);
  }
}
