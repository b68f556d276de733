/**
 * People — reviewers, senior reviewers, investigators, admins — distinct from API keys (which are for
 * systems). A role maps onto API scopes (ROLE_SCOPES) for authorisation; seeing child-safety review items
 * is a separate grant (`childSafety`), given person by person. Passwords are scrypt hashes (passwords.ts).
 *
 * Failed sign-ins are counted; MAX_FAILED_LOGINS in a row lock the account for LOCK_MS. Sessions carry
 * the user's session epoch; disabling a user, resetting the password or "sign out everywhere" bumps it,
 * which ends every session at its next check.
 *
 * Every change is audited in the caller's transaction. Hash passwords (`hashPassword`) before opening it:
 * scrypt takes a few hundred milliseconds, too long to hold a write lock for.
 */
import type { Selectable, Updateable } from 'kysely';
import { invalidArgument, VigilError } from '../core/errors.js';
import { auditBy, type AuditActor, type AuditLog } from '../audit/log.js';
import type { Tx, VigilDatabase } from '../state/database.js';
import { hasScope, type Scope } from './keys.js';
import { checkPasswordPolicy, DEFAULT_SCRYPT, hashPassword, paramsOf, verifyPassword, type ScryptParams } from './passwords.js';
import { ROLES, type Role, type UsersTable } from './schema.js';

export { ROLES, USERS_COMPONENT, type Role } from './schema.js';

/** What each role may do through the API; admin implies every scope (hasScope). */
export const ROLE_SCOPES: Readonly<Record<Role, readonly Scope[]>> = {
  reviewer: ['review', 'lookup'],
  // Also marks signals as false positives and curates banks after a review.
  senior_reviewer: ['review', 'lookup', 'curate'],
  investigator: ['lookup', 'curate'],
  admin: ['admin'],
};

export const MAX_FAILED_LOGINS = 5;
export const LOCK_MS = 15 * 60_000;

export interface User {
  id: number;
  /** Sign-in name, lower-case. */
  name: string;
  displayName: string;
  role: Role;
  childSafety: boolean;
  disabled: boolean;
  failedLogins: number;
  lockedUntil: string | null;
  sessionEpoch: number;
  passwordChangedAt: string;
  lastLoginAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A password already hashed (outside the transaction) by `UserStore.hashPassword`. */
export interface HashedPassword {
  readonly scrypt: string;
}

export type SignInResult =
  | { ok: true; user: User }
  | { ok: false; reason: 'invalid' | 'locked' | 'disabled' };

const NAME = /^[a-z0-9][a-z0-9._@+-]{0,99}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
type Row = Selectable<UsersTable>;

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function scopesOf(user: Pick<User, 'role' | 'disabled'>): Scope[] {
  return user.disabled ? [] : [...ROLE_SCOPES[user.role]];
}

export function userHasScope(user: Pick<User, 'role' | 'disabled'>, scope: Scope): boolean {
  return !user.disabled && hasScope({ scopes: scopesOf(user) }, scope);
}

export function canSeeChildSafety(user: Pick<User, 'childSafety' | 'disabled'>): boolean {
  return !user.disabled && user.childSafety;
}

function checkName(name: unknown): string {
  const lower = typeof name === 'string' ? name.trim().toLowerCase() : '';
  if (!NAME.test(lower)) throw invalidArgument('a sign-in name (1–100 of a-z 0-9 . _ @ + -, starting with a letter or digit)', 'name', name);
  return lower;
}

function checkDisplayName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200 || CONTROL.test(name)) throw invalidArgument('a display name (1–200 printable characters)', 'displayName', name);
  return name;
}

function checkRole(role: unknown): Role {
  if (!isRole(role)) throw invalidArgument(`a role (${ROLES.join(', ')})`, 'role', role);
  return role;
}

function toUser(row: Row): User {
  return {
    id: row.id,
    name: row.name,
    displayName: row.display_name,
    role: row.role as Role,
    childSafety: row.child_safety === 1,
    disabled: row.disabled === 1,
    failedLogins: row.failed_logins,
    lockedUntil: row.locked_until,
    sessionEpoch: row.session_epoch,
    passwordChangedAt: row.password_changed_at,
    lastLoginAt: row.last_login_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The tables must exist: run `migrate(db, [USERS_COMPONENT, AUDIT_COMPONENT, …])` first. */
export class UserStore {
  private readonly now: () => Date;
  private readonly scrypt: ScryptParams;
  private dummy: Promise<string> | undefined;

  constructor(private readonly db: VigilDatabase, private readonly audit: AuditLog, options: { now?: () => Date; scrypt?: ScryptParams } = {}) {
    this.now = options.now ?? (() => new Date());
    this.scrypt = options.scrypt ?? DEFAULT_SCRYPT;
  }

  /** Checks the password policy and hashes it: do this before opening the transaction that stores it. */
  async hashPassword(password: string): Promise<HashedPassword> {
    return { scrypt: await hashPassword(checkPasswordPolicy(password), this.scrypt) };
  }

  async create(tx: Tx, input: { name: string; displayName?: string; role: Role; childSafety?: boolean; password: HashedPassword }, by: AuditActor): Promise<User> {
    const name = checkName(input.name);
    const displayName = checkDisplayName(input.displayName ?? input.name);
    const role = checkRole(input.role);
    if (input.childSafety !== undefined && typeof input.childSafety !== 'boolean') throw invalidArgument('true or false', 'childSafety', input.childSafety);
    if (!paramsOf(input.password?.scrypt)) throw invalidArgument('a password hashed by UserStore.hashPassword', 'password', '(hidden)');
    const at = this.now().toISOString();
    const row = await tx.k.insertInto('users').values({
      name, display_name: displayName, role, child_safety: input.childSafety ? 1 : 0, password_hash: input.password.scrypt,
      disabled: 0, failed_logins: 0, locked_until: null, session_epoch: 0, password_changed_at: at, last_login_at: null, created_at: at, updated_at: at,
    }).onConflict((oc) => oc.column('name').doNothing()).returningAll().executeTakeFirst();
    if (!row) throw new VigilError('VIGIL_ERR_CONFLICT', `A user named ${JSON.stringify(name)} already exists`);
    const user = toUser(row);
    await this.audit.append(tx, auditBy(by, 'user.created', `user:${user.id}`, { name, role, childSafety: user.childSafety }));
    return user;
  }

  /** create with the password hashed first, in a transaction of its own. */
  async createNow(input: { name: string; displayName?: string; role: Role; childSafety?: boolean; password: string }, by: AuditActor): Promise<User> {
    checkName(input.name);
    checkRole(input.role);
    const password = await this.hashPassword(input.password);
    return this.db.transaction((tx) => this.create(tx, { ...input, password }, by));
  }

  /** Role, child-safety grant or display name; audited with what changed. */
  async update(tx: Tx, id: number, change: { role?: Role; childSafety?: boolean; displayName?: string }, by: AuditActor): Promise<User> {
    const before = await this.require(id, tx);
    const set: Omit<Updateable<UsersTable>, 'id'> = {};
    const changed: Record<string, unknown> = {};
    if (change.role !== undefined && checkRole(change.role) !== before.role) {
      set.role = change.role;
      changed.role = { from: before.role, to: change.role };
    }
    if (change.childSafety !== undefined) {
      if (typeof change.childSafety !== 'boolean') throw invalidArgument('true or false', 'childSafety', change.childSafety);
      if (change.childSafety !== before.childSafety) {
        set.child_safety = change.childSafety ? 1 : 0;
        changed.childSafety = { from: before.childSafety, to: change.childSafety };
      }
    }
    if (change.displayName !== undefined && checkDisplayName(change.displayName) !== before.displayName) {
      set.display_name = change.displayName;
      changed.displayName = { from: before.displayName, to: change.displayName };
    }
    if (Object.keys(changed).length === 0) return before;
    const after = await this.write(tx, id, set);
    await this.audit.append(tx, auditBy(by, 'user.updated', `user:${id}`, changed));
    return after;
  }

  /** Disables sign-in and ends every session. Idempotent (no entry when already disabled). */
  async disable(tx: Tx, id: number, by: AuditActor): Promise<User> {
    const before = await this.require(id, tx);
    if (before.disabled) return before;
    const after = await this.write(tx, id, { disabled: 1, session_epoch: before.sessionEpoch + 1 });
    await this.audit.append(tx, auditBy(by, 'user.disabled', `user:${id}`, { name: before.name }));
    return after;
  }

  async enable(tx: Tx, id: number, by: AuditActor): Promise<User> {
    const before = await this.require(id, tx);
    if (!before.disabled) return before;
    const after = await this.write(tx, id, { disabled: 0, failed_logins: 0, locked_until: null });
    await this.audit.append(tx, auditBy(by, 'user.enabled', `user:${id}`, { name: before.name }));
    return after;
  }

  /** Sets a new password, clears the lock and ends every session. */
  async resetPassword(tx: Tx, id: number, password: HashedPassword, by: AuditActor): Promise<User> {
    if (!paramsOf(password?.scrypt)) throw invalidArgument('a password hashed by UserStore.hashPassword', 'password', '(hidden)');
    const before = await this.require(id, tx);
    const after = await this.write(tx, id, {
      password_hash: password.scrypt, password_changed_at: this.now().toISOString(), failed_logins: 0, locked_until: null, session_epoch: before.sessionEpoch + 1,
    });
    await this.audit.append(tx, auditBy(by, 'user.password_reset', `user:${id}`, { name: before.name }));
    return after;
  }

  async signOutEverywhere(tx: Tx, id: number, by: AuditActor): Promise<User> {
    const before = await this.require(id, tx);
    const after = await this.write(tx, id, { session_epoch: before.sessionEpoch + 1 });
    await this.audit.append(tx, auditBy(by, 'user.signed_out', `user:${id}`, { name: before.name, everywhere: true }));
    return after;
  }

  /**
   * Checks a sign-in. Unknown names cost the same scrypt work as known ones (no user enumeration by timing);
   * a locked account is refused without checking the password. Success and lockouts are audited; a hash with
   * parameters below the current ones is replaced.
   */
  async signIn(name: string, password: string, context: { requestId?: string | null } = {}): Promise<SignInResult> {
    const lower = typeof name === 'string' ? name.trim().toLowerCase() : '';
    const row = NAME.test(lower) ? await this.db.k.selectFrom('users').selectAll().where('name', '=', lower).executeTakeFirst() : undefined;
    if (!row) {
      await verifyPassword(typeof password === 'string' ? password : '', await (this.dummy ??= hashPassword('x'.repeat(16), this.scrypt)));
      return { ok: false, reason: 'invalid' };
    }
    const nowMs = this.now().getTime();
    if (row.locked_until !== null && Date.parse(row.locked_until) > nowMs) return { ok: false, reason: 'locked' };
    const good = await verifyPassword(password, row.password_hash);
    const by = { actor: `user:${row.id}`, requestId: context.requestId ?? null };
    if (!good) {
      return this.db.transaction(async (tx) => {
        const counted = await tx.k.updateTable('users').set((eb) => ({ failed_logins: eb('failed_logins', '+', 1) }))
          .where('id', '=', row.id).returning('failed_logins').executeTakeFirstOrThrow();
        if (counted.failed_logins >= MAX_FAILED_LOGINS) {
          const lockedUntil = new Date(nowMs + LOCK_MS).toISOString();
          await this.write(tx, row.id, { failed_logins: 0, locked_until: lockedUntil });
          await this.audit.append(tx, auditBy(by, 'user.locked', `user:${row.id}`, { failedLogins: counted.failed_logins, lockedUntil }));
        }
        return { ok: false, reason: 'invalid' } as const;
      });
    }
    if (row.disabled === 1) return { ok: false, reason: 'disabled' };
    const stale = JSON.stringify(paramsOf(row.password_hash)) !== JSON.stringify(this.scrypt);
    const rehashed = stale ? await hashPassword(password, this.scrypt) : undefined;
    return this.db.transaction(async (tx) => {
      const user = await this.write(tx, row.id, { failed_logins: 0, locked_until: null, last_login_at: new Date(nowMs).toISOString(), ...(rehashed ? { password_hash: rehashed } : {}) }, false);
      await this.audit.append(tx, auditBy(by, 'user.signed_in', `user:${row.id}`, {}));
      return { ok: true, user } as const;
    });
  }

  /** The user behind a session issued under `epoch`, while it is still valid. */
  async sessionUser(id: number, epoch: number): Promise<User | undefined> {
    const user = await this.get(id);
    return user && !user.disabled && user.sessionEpoch === epoch ? user : undefined;
  }

  async get(id: number, tx?: Tx): Promise<User | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const row = await (tx?.k ?? this.db.k).selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async getByName(name: string, tx?: Tx): Promise<User | undefined> {
    const lower = typeof name === 'string' ? name.trim().toLowerCase() : '';
    if (!NAME.test(lower)) return undefined;
    const row = await (tx?.k ?? this.db.k).selectFrom('users').selectAll().where('name', '=', lower).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async list(tx?: Tx): Promise<User[]> {
    return (await (tx?.k ?? this.db.k).selectFrom('users').selectAll().orderBy('name').execute()).map(toUser);
  }

  private async require(id: number, tx: Tx): Promise<User> {
    const user = await this.get(id, tx);
    if (!user) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No user with id ${JSON.stringify(id)}`);
    return user;
  }

  private async write(tx: Tx, id: number, set: Omit<Updateable<UsersTable>, 'id'>, touch = true): Promise<User> {
    const row = await tx.k.updateTable('users').set({ ...set, ...(touch ? { updated_at: this.now().toISOString() } : {}) })
      .where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    return toUser(row);
  }
}
