import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { VigilError, type VigilErrorCode } from '../core/errors.js';
import { AUDIT_COMPONENT, AuditLog } from '../audit/log.js';
import { migrate } from '../state/migrate.js';
import { ENGINES, type TestDatabase } from '../state/test-engines.js';
import { rawSql } from '../state/test-sql.js';
import { SCOPES } from './keys.js';
import { DEFAULT_SCRYPT, hashPassword, paramsOf, verifyPassword } from './passwords.js';
import { canSeeChildSafety, LOCK_MS, MAX_FAILED_LOGINS, ROLE_SCOPES, ROLES, scopesOf, USERS_COMPONENT, userHasScope, UserStore } from './users.js';

const T0 = Date.parse('2025-06-01T12:00:00Z');
/** Cheap parameters for tests; the defaults are checked once below. */
const FAST = { N: 1024, r: 8, p: 1 };
const ADMIN = { actor: 'user:1', requestId: 'req-1' };
const PASSWORD = 'correct horse battery';

function isCode(code: VigilErrorCode) {
  return (err: unknown) => err instanceof VigilError && err.code === code;
}

test('passwords: salted scrypt with its parameters; verify is true only for the same password; malformed or out-of-bounds hashes never verify', async () => {
  const a = await hashPassword(PASSWORD, FAST);
  const b = await hashPassword(PASSWORD, FAST);
  assert.match(a, /^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b, 'a fresh salt each time');
  assert.equal(await verifyPassword(PASSWORD, a), true);
  assert.equal(await verifyPassword(PASSWORD, b), true);
  assert.equal(await verifyPassword(PASSWORD + '!', a), false);
  assert.equal(await verifyPassword('ﬁle cabinet 12', await hashPassword('file cabinet 12', FAST)), true, 'NFKC: the same text however typed');
  for (const stored of ['', 'bcrypt$x', a.replace('$1024$', '$1000$'), a.replace('$1024$', `$${2 ** 22}$`), a.slice(0, -10), a.replace('scrypt', 'SCRYPT')]) {
    assert.equal(await verifyPassword(PASSWORD, stored), false, stored);
  }
  await assert.rejects(hashPassword('short', FAST), isCode('VIGIL_ERR_INVALID_ARGUMENT'));
  await assert.rejects(hashPassword(PASSWORD, { N: 1000, r: 8, p: 1 }), isCode('VIGIL_ERR_INVALID_ARGUMENT'));
  const strong = await hashPassword(PASSWORD);
  assert.deepEqual(paramsOf(strong), DEFAULT_SCRYPT);
  assert.deepEqual(DEFAULT_SCRYPT, { N: 2 ** 17, r: 8, p: 1 }, 'OWASP: N=2^17, r=8, p=1');
});

test('roles map onto API scopes; disabled users have none; child safety is a separate grant', () => {
  assert.deepEqual(Object.keys(ROLE_SCOPES), [...ROLES]);
  assert.deepEqual(ROLES, ['reviewer', 'senior_reviewer', 'investigator', 'admin']);
  const user = (role: (typeof ROLES)[number], disabled = false) => ({ role, disabled });
  assert.equal(userHasScope(user('reviewer'), 'review'), true);
  assert.equal(userHasScope(user('reviewer'), 'curate'), false);
  assert.equal(userHasScope(user('reviewer'), 'submit'), false);
  assert.equal(userHasScope(user('senior_reviewer'), 'curate'), true);
  assert.equal(userHasScope(user('investigator'), 'review'), false);
  for (const s of SCOPES) assert.equal(userHasScope(user('admin'), s), true);
  for (const s of SCOPES) assert.equal(userHasScope(user('admin', true), s), false);
  assert.deepEqual(scopesOf(user('reviewer', true)), []);
  assert.equal(canSeeChildSafety({ childSafety: true, disabled: false }), true);
  assert.equal(canSeeChildSafety({ childSafety: false, disabled: false }), false);
  assert.equal(canSeeChildSafety({ childSafety: true, disabled: true }), false);
});

for (const engine of ENGINES) {
  describe(`users (${engine.name})`, () => {
    const opened: TestDatabase[] = [];
    after(async () => {
      for (const t of opened) await t.drop();
    });

    async function setup(scrypt = FAST) {
      const t = await engine.open();
      opened.push(t);
      await migrate(t.db, [AUDIT_COMPONENT, USERS_COMPONENT]);
      const clock = { ms: T0 };
      const now = () => new Date(clock.ms);
      const audit = new AuditLog(t.db, { now });
      return { t, db: t.db, audit, clock, users: new UserStore(t.db, audit, { now, scrypt }), now };
    }

    test('create: a person with a role, audited in the same transaction; never the password; names are unique, case-insensitively', async () => {
      const { db, users, audit } = await setup();
      const user = await users.createNow({ name: 'Alice@Example.org', displayName: 'Alice', role: 'reviewer', childSafety: true, password: PASSWORD }, ADMIN);
      assert.deepEqual(user, {
        id: user.id, name: 'alice@example.org', displayName: 'Alice', role: 'reviewer', childSafety: true, disabled: false, failedLogins: 0,
        lockedUntil: null, sessionEpoch: 0, passwordChangedAt: '2025-06-01T12:00:00.000Z', lastLoginAt: null,
        createdAt: '2025-06-01T12:00:00.000Z', updatedAt: '2025-06-01T12:00:00.000Z',
      });
      assert.deepEqual(await users.get(user.id), user);
      assert.deepEqual(await users.getByName('ALICE@example.org'), user);
      assert.deepEqual(await users.list(), [user]);
      const row = await db.k.selectFrom('users').select('password_hash').executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^scrypt\$1024\$8\$1\$/);
      assert.ok(!row.password_hash.includes(PASSWORD));
      const [entry] = await audit.list();
      assert.deepEqual([entry.actor, entry.action, entry.subject, entry.requestId, entry.details], ['user:1', 'user.created', `user:${user.id}`, 'req-1', { name: 'alice@example.org', role: 'reviewer', childSafety: true }]);
      assert.ok(!JSON.stringify(await audit.list()).includes(PASSWORD));

      await assert.rejects(users.createNow({ name: 'alice@EXAMPLE.org', role: 'admin', password: PASSWORD }, ADMIN), isCode('VIGIL_ERR_CONFLICT'));
      const invalid = (input: object) => assert.rejects(users.createNow({ name: 'bob', role: 'reviewer', password: PASSWORD, ...input } as never, ADMIN), isCode('VIGIL_ERR_INVALID_ARGUMENT'), JSON.stringify(input));
      await invalid({ name: '' });
      await invalid({ name: 'bob smith' });
      await invalid({ name: '-bob' });
      await invalid({ role: 'root' });
      await invalid({ password: 'too short' });
      await invalid({ displayName: 'a\u0000' });
      await invalid({ childSafety: 'yes' });
      await assert.rejects(db.transaction((tx) => users.create(tx, { name: 'bob', role: 'reviewer', password: { scrypt: 'plain text' } }, ADMIN)), isCode('VIGIL_ERR_INVALID_ARGUMENT'), 'only hashed passwords are stored');
      assert.equal((await users.list()).length, 1);
      assert.equal((await audit.list()).length, 1);
    });

    test('a rolled-back creation leaves neither the user nor its audit entry', async () => {
      const { db, users, audit } = await setup();
      const password = await users.hashPassword(PASSWORD);
      await assert.rejects(db.transaction(async (tx) => {
        await users.create(tx, { name: 'ghost', role: 'admin', password }, ADMIN);
        throw new Error('rollback');
      }), /rollback/);
      assert.deepEqual(await users.list(), []);
      assert.deepEqual(await audit.list(), []);
    });

    test('sign-in: right password only; unknown names look the same; failures lock the account for a while; success is audited', async () => {
      const { users, audit, clock } = await setup();
      const user = await users.createNow({ name: 'rev', role: 'reviewer', password: PASSWORD }, ADMIN);
      const ok = await users.signIn('Rev', PASSWORD, { requestId: 'req-7' });
      assert.equal(ok.ok, true);
      assert.equal(ok.ok && ok.user.lastLoginAt, '2025-06-01T12:00:00.000Z');
      const signedIn = (await audit.list({ action: 'user.signed_in' }))[0];
      assert.deepEqual([signedIn.actor, signedIn.subject, signedIn.requestId], [`user:${user.id}`, `user:${user.id}`, 'req-7']);
      assert.deepEqual(await users.signIn('nobody', PASSWORD), { ok: false, reason: 'invalid' });
      assert.deepEqual(await users.signIn('bad name!', PASSWORD), { ok: false, reason: 'invalid' });
      for (let i = 1; i < MAX_FAILED_LOGINS; i++) {
        assert.deepEqual(await users.signIn('rev', 'wrong password!'), { ok: false, reason: 'invalid' });
        assert.equal((await users.get(user.id))?.failedLogins, i);
      }
      assert.deepEqual(await users.signIn('rev', 'wrong password!'), { ok: false, reason: 'invalid' });
      const locked = await users.get(user.id);
      assert.equal(locked?.lockedUntil, new Date(T0 + LOCK_MS).toISOString());
      assert.deepEqual((await audit.list({ action: 'user.locked' })).map((e) => e.details), [{ failedLogins: MAX_FAILED_LOGINS, lockedUntil: locked?.lockedUntil }]);
      assert.deepEqual(await users.signIn('rev', PASSWORD), { ok: false, reason: 'locked' }, 'even the right password, while locked');
      clock.ms += LOCK_MS;
      assert.equal((await users.signIn('rev', PASSWORD)).ok, true);
      const after = await users.get(user.id);
      assert.equal(after?.failedLogins, 0);
      assert.equal(after?.lockedUntil, null);
    });

    test('disable ends sessions and sign-in (audited once); enable restores sign-in', async () => {
      const { db, users, audit } = await setup();
      const user = await users.createNow({ name: 'inv', role: 'investigator', password: PASSWORD }, ADMIN);
      assert.deepEqual(await users.sessionUser(user.id, 0), user);
      const disabled = await db.transaction((tx) => users.disable(tx, user.id, ADMIN));
      assert.equal(disabled.disabled, true);
      assert.equal(disabled.sessionEpoch, 1);
      assert.equal(await users.sessionUser(user.id, 0), undefined);
      assert.equal(await users.sessionUser(user.id, 1), undefined, 'a disabled user has no sessions');
      assert.deepEqual(await users.signIn('inv', PASSWORD), { ok: false, reason: 'disabled' });
      assert.deepEqual(scopesOf(disabled), []);
      await db.transaction((tx) => users.disable(tx, user.id, ADMIN));
      assert.equal((await audit.list({ action: 'user.disabled' })).length, 1, 'idempotent');
      await db.transaction((tx) => users.enable(tx, user.id, ADMIN));
      assert.equal((await users.signIn('inv', PASSWORD)).ok, true);
      await assert.rejects(db.transaction((tx) => users.disable(tx, 999_999, ADMIN)), isCode('VIGIL_ERR_NOT_FOUND'));
    });

    test('reset-password: the old password stops working, the lock is cleared, sessions end; audited', async () => {
      const { db, users, audit } = await setup();
      const user = await users.createNow({ name: 'sen', role: 'senior_reviewer', password: PASSWORD }, ADMIN);
      for (let i = 0; i < MAX_FAILED_LOGINS; i++) await users.signIn('sen', 'wrong password!');
      assert.ok((await users.get(user.id))?.lockedUntil);
      const password = await users.hashPassword('a brand new passphrase');
      const reset = await db.transaction((tx) => users.resetPassword(tx, user.id, password, ADMIN));
      assert.equal(reset.sessionEpoch, 1);
      assert.equal(reset.lockedUntil, null);
      assert.deepEqual(await users.signIn('sen', PASSWORD), { ok: false, reason: 'invalid' });
      assert.equal((await users.signIn('sen', 'a brand new passphrase')).ok, true);
      assert.deepEqual((await audit.list({ action: 'user.password_reset' })).map((e) => [e.subject, e.actor]), [[`user:${user.id}`, 'user:1']]);
      await assert.rejects(users.hashPassword('short'), isCode('VIGIL_ERR_INVALID_ARGUMENT'));
    });

    test('sign out everywhere bumps the session epoch; role and child-safety changes are audited with what changed', async () => {
      const { db, users, audit } = await setup();
      const user = await users.createNow({ name: 'rev', role: 'reviewer', password: PASSWORD }, ADMIN);
      const out = await db.transaction((tx) => users.signOutEverywhere(tx, user.id, { actor: `user:${user.id}` }));
      assert.equal(await users.sessionUser(user.id, 0), undefined);
      assert.equal((await users.sessionUser(user.id, out.sessionEpoch))?.id, user.id);
      const promoted = await db.transaction((tx) => users.update(tx, user.id, { role: 'senior_reviewer', childSafety: true }, ADMIN));
      assert.equal(promoted.role, 'senior_reviewer');
      assert.equal(promoted.childSafety, true);
      await db.transaction((tx) => users.update(tx, user.id, { role: 'senior_reviewer' }, ADMIN));
      const updates = await audit.list({ action: 'user.updated' });
      assert.deepEqual(updates.map((e) => e.details), [{ role: { from: 'reviewer', to: 'senior_reviewer' }, childSafety: { from: false, to: true } }], 'a change that changes nothing writes nothing');
      await assert.rejects(db.transaction((tx) => users.update(tx, user.id, { role: 'root' as never }, ADMIN)), isCode('VIGIL_ERR_INVALID_ARGUMENT'));
    });

    test('a hash with weaker parameters than the current ones is replaced at the next sign-in', async () => {
      const { t, users, audit, now } = await setup();
      const user = await users.createNow({ name: 'old', role: 'admin', password: PASSWORD }, ADMIN);
      const stronger = new UserStore(t.db, audit, { now, scrypt: { N: 2048, r: 8, p: 1 } });
      assert.equal((await stronger.signIn('old', PASSWORD)).ok, true);
      const row = await t.db.k.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.deepEqual(paramsOf(row.password_hash), { N: 2048, r: 8, p: 1 });
      assert.equal((await stronger.signIn('old', PASSWORD)).ok, true);
      await rawSql(t.db, 'UPDATE users SET password_hash = ? WHERE id = ?', ['scrypt$4$1$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', user.id]);
      assert.deepEqual(await stronger.signIn('old', PASSWORD), { ok: false, reason: 'invalid' }, 'a tampered hash with toy parameters never verifies');
    });
  });
}
