import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { VigilError, type VigilErrorCode } from '../core/errors.js';
import { AUDIT_COMPONENT, AuditLog } from '../audit/log.js';
import { openDatabase, pgClientConfig, type VigilDatabase } from '../state/database.js';
import { PgNotifications } from '../fleet/notifications.js';
import { migrate } from '../state/migrate.js';
import { ENGINES, type TestDatabase } from '../state/test-engines.js';
import { rawSql } from '../state/test-sql.js';
import { API_KEYS_CHANNEL, ApiKeyStore, AUTH_COMPONENT, DEFAULT_RATE_LIMIT_PER_MINUTE, DEFAULT_REVISION_TTL_MS, hasScope, parseScopes, SCOPES } from './keys.js';

const T0 = Date.parse('2025-06-01T12:00:00Z');
const BY = { actor: 'user:1', requestId: 'req-1' };

function isCode(code: VigilErrorCode) {
  return (err: unknown) => err instanceof VigilError && err.code === code;
}

test('scopes: hasScope (admin implies all), parseScopes validates', () => {
  assert.equal(hasScope({ scopes: ['submit'] }, 'submit'), true);
  assert.equal(hasScope({ scopes: ['submit'] }, 'lookup'), false);
  assert.equal(hasScope({ scopes: ['review', 'lookup'] }, 'curate'), false);
  for (const s of SCOPES) assert.equal(hasScope({ scopes: ['admin'] }, s), true);
  assert.deepEqual(parseScopes('lookup, submit,,lookup'), ['submit', 'lookup']);
  assert.deepEqual(parseScopes('admin'), ['admin']);
  for (const bad of ['', ' , ', 'submit,delete', 'Submit', 'all']) assert.throws(() => parseScopes(bad), isCode('VIGIL_ERR_INVALID_ARGUMENT'), bad);
});

for (const engine of ENGINES) {
  describe(`API keys (${engine.name})`, () => {
    const opened: TestDatabase[] = [];
    after(async () => {
      for (const t of opened) await t.drop();
    });

    async function setup(): Promise<{ t: TestDatabase; db: VigilDatabase; keys: ApiKeyStore; audit: AuditLog; clock: { ms: number } }> {
      const t = await engine.open();
      opened.push(t);
      await migrate(t.db, [AUDIT_COMPONENT, AUTH_COMPONENT]);
      const clock = { ms: T0 };
      const now = () => new Date(clock.ms);
      const audit = new AuditLog(t.db, { now });
      return { t, db: t.db, keys: new ApiKeyStore(t.db, audit, { now }), audit, clock };
    }

    test('create returns the secret once and audits it in the same transaction; authenticate accepts it', async () => {
      const { keys, audit } = await setup();
      const { key, secret } = await keys.createNow({ name: 'ingest worker', scopes: ['lookup', 'submit', 'lookup'] }, BY);
      assert.match(key.id, /^k_[a-z2-7]{12}$/);
      assert.match(secret, new RegExp(`^vigil_${key.id}_[A-Za-z0-9_-]{43}$`));
      assert.deepEqual(key, {
        id: key.id, name: 'ingest worker', scopes: ['submit', 'lookup'], rateLimitPerMinute: DEFAULT_RATE_LIMIT_PER_MINUTE,
        createdAt: '2025-06-01T12:00:00.000Z', expiresAt: null, revokedAt: null, lastUsedAt: null,
      });
      assert.deepEqual(await keys.authenticate(secret), key);
      assert.deepEqual(await keys.authenticate(secret), key, 'again, from the cache');
      assert.deepEqual(await keys.get(key.id), key);
      assert.deepEqual(await keys.list(), [key]);
      assert.equal(await keys.get('k_zzzzzzzzzzzz'), undefined);
      const other = await keys.createNow({ name: 'b', scopes: ['admin'], rateLimitPerMinute: 0 }, { actor: 'cli', details: { osUser: 'ops' } });
      assert.notEqual(other.key.id, key.id);
      assert.notEqual(other.secret, secret);
      assert.equal(other.key.rateLimitPerMinute, 0);
      assert.deepEqual((await keys.list()).map((k) => k.id).sort(), [key.id, other.key.id].sort());

      const entries = await audit.list();
      assert.deepEqual(entries.map((e) => [e.actor, e.action, e.subject, e.requestId]), [['user:1', 'key.created', key.id, 'req-1'], ['cli', 'key.created', other.key.id, null]]);
      assert.deepEqual(entries[0].details, { name: 'ingest worker', scopes: ['submit', 'lookup'], rateLimitPerMinute: DEFAULT_RATE_LIMIT_PER_MINUTE, expiresAt: null });
      assert.equal(entries[1].details.osUser, 'ops');
      assert.ok(!JSON.stringify(entries).includes(secret.slice(-43)), 'never the secret');
    });

    test('a wrong secret for a right id, unknown ids and malformed secrets do not authenticate', async () => {
      const { keys } = await setup();
      const { key, secret } = await keys.createNow({ name: 'a', scopes: ['submit'] }, BY);
      const last = secret.at(-1) === 'A' ? 'B' : 'A';
      assert.equal(await keys.authenticate(secret.slice(0, -1) + last), undefined, 'one character off');
      assert.equal(await keys.authenticate(`vigil_${key.id}_${'A'.repeat(43)}`), undefined, 'right id, made-up secret');
      assert.equal(await keys.authenticate(secret.replace(key.id, 'k_aaaaaaaaaaaa')), undefined, 'unknown id');
      const malformed = [
        '', 'vigil_', secret.slice(6), `Bearer ${secret}`, ` ${secret}`, `${secret}\n`, secret.toUpperCase(),
        secret.replace(/_[^_]*$/, ''), `vigil_${key.id}_short`, `vigil_${key.id}_${'A'.repeat(129)}`, secret + '!',
        `vigil_${key.id.toUpperCase()}_${secret.slice(-43)}`, 'x'.repeat(100_000),
      ];
      for (const s of malformed) assert.equal(await keys.authenticate(s), undefined, JSON.stringify(s.slice(0, 80)));
      for (const s of [undefined, null, 42, {}]) assert.equal(await keys.authenticate(s as unknown as string), undefined);
      assert.ok(await keys.authenticate(secret));
    });

    test('secrets are not stored in plain text: the row holds SHA-256(secret) only', async () => {
      const { t, db, keys } = await setup();
      const { key, secret } = await keys.createNow({ name: 'a', scopes: ['lookup'] }, BY);
      const randomPart = secret.slice(`vigil_${key.id}_`.length);
      const row = await db.k.selectFrom('api_keys').selectAll().where('id', '=', key.id).executeTakeFirstOrThrow();
      for (const [column, value] of Object.entries(row)) {
        const text = Buffer.isBuffer(value) ? value.toString('latin1') + value.toString('hex') + value.toString('base64url') : String(value);
        assert.ok(!text.includes(randomPart), `column ${column} must not hold the secret`);
      }
      assert.deepEqual(Buffer.from(row.secret_sha256), createHash('sha256').update(secret).digest());
      if (engine.name === 'sqlite') {
        await db.runExclusive(() => db.sqlite!.pragma('wal_checkpoint(TRUNCATE)'));
        assert.ok(!readFileSync(t.url).toString('latin1').includes(randomPart), 'nor anywhere in the database file');
      }
    });

    test('revoke: authentication stops at once, idempotent (one audit entry), unknown id is NOT_FOUND', async () => {
      const { keys, audit, clock } = await setup();
      const { key, secret } = await keys.createNow({ name: 'a', scopes: ['submit'] }, BY);
      const survivor = await keys.createNow({ name: 'b', scopes: ['submit'] }, BY);
      assert.ok(await keys.authenticate(secret)); // cached
      clock.ms += 5000;
      const revoked = await keys.revokeNow(key.id, { actor: 'user:2', requestId: 'req-2' });
      assert.equal(revoked.revokedAt, '2025-06-01T12:00:05.000Z');
      assert.equal(await keys.authenticate(secret), undefined);
      assert.ok(await keys.authenticate(survivor.secret));
      clock.ms += 5000;
      assert.equal((await keys.revokeNow(key.id, BY)).revokedAt, revoked.revokedAt, 'revoking again changes nothing');
      assert.deepEqual(await keys.get(key.id), revoked);
      await assert.rejects(keys.revokeNow('k_zzzzzzzzzzzz', BY), isCode('VIGIL_ERR_NOT_FOUND'));
      const entries = await audit.list({ action: 'key.revoked' });
      assert.deepEqual(entries.map((e) => [e.actor, e.subject, e.requestId, e.details]), [['user:2', key.id, 'req-2', { name: 'a' }]]);
    });

    test('revisionTtlMs 0: a revocation by another process (connection) is seen on the next authenticate, despite the cache', async () => {
      const { t, audit } = await setup();
      const server = new ApiKeyStore(t.db, audit, { revisionTtlMs: 0 });
      const cliDb = await openDatabase(t.url, t.schema ? { schema: t.schema } : {});
      try {
        const cli = new ApiKeyStore(cliDb, new AuditLog(cliDb));
        const { key, secret } = await cli.createNow({ name: 'a', scopes: ['lookup'] }, BY);
        assert.equal((await server.authenticate(secret))?.id, key.id);
        await cli.revokeNow(key.id, BY);
        assert.equal(await server.authenticate(secret), undefined);
        // A scope change made with raw SQL is picked up too.
        const b = await cli.createNow({ name: 'b', scopes: ['lookup'] }, BY);
        assert.deepEqual((await server.authenticate(b.secret))?.scopes, ['lookup']);
        await rawSql(cliDb, "UPDATE api_keys SET scopes = 'review' WHERE id = ?", [b.key.id]);
        assert.deepEqual((await server.authenticate(b.secret))?.scopes, ['review']);
      } finally {
        await cliDb.close();
      }
    });

    test('by default another process\'s revocation is seen within DEFAULT_REVISION_TTL_MS (1 s); this process\'s at once', async () => {
      const { t, audit, clock } = await setup();
      assert.equal(DEFAULT_REVISION_TTL_MS, 1000);
      const server = new ApiKeyStore(t.db, audit, { now: () => new Date(clock.ms) });
      const cliDb = await openDatabase(t.url, t.schema ? { schema: t.schema } : {});
      try {
        const cli = new ApiKeyStore(cliDb, new AuditLog(cliDb));
        const a = await cli.createNow({ name: 'a', scopes: ['lookup'] }, BY);
        const b = await cli.createNow({ name: 'b', scopes: ['lookup'] }, BY);
        assert.ok(await server.authenticate(a.secret));
        await cli.revokeNow(a.key.id, BY);
        clock.ms += 999;
        assert.ok(await server.authenticate(a.secret), 'within the TTL: the cached row');
        clock.ms += 1;
        assert.equal(await server.authenticate(a.secret), undefined, 'after it: revoked');
        assert.ok(await server.authenticate(b.secret));
        await server.revokeNow(b.key.id, BY);
        assert.equal(await server.authenticate(b.secret), undefined, 'revoked here: at once');
        assert.throws(() => new ApiKeyStore(t.db, audit, { revisionTtlMs: -1 }), isCode('VIGIL_ERR_INVALID_ARGUMENT'));
      } finally {
        await cliDb.close();
      }
    });

    test('invalidate (a change notification) makes the next authenticate read the revision, within the TTL', async () => {
      const { t, audit, clock } = await setup();
      const server = new ApiKeyStore(t.db, audit, { now: () => new Date(clock.ms), revisionTtlMs: 60_000 });
      const cliDb = await openDatabase(t.url, t.schema ? { schema: t.schema } : {});
      try {
        const cli = new ApiKeyStore(cliDb, new AuditLog(cliDb));
        const a = await cli.createNow({ name: 'a', scopes: ['lookup'] }, BY);
        const b = await cli.createNow({ name: 'b', scopes: ['lookup'] }, BY);
        assert.ok(await server.authenticate(a.secret));
        assert.ok(await server.authenticate(b.secret));
        await cli.revokeNow(a.key.id, BY);
        await rawSql(cliDb, "UPDATE api_keys SET scopes = 'review' WHERE id = ?", [b.key.id]);
        clock.ms += 1;
        assert.ok(await server.authenticate(a.secret), 'unseen: cached, within the TTL');
        server.invalidate();
        assert.equal(await server.authenticate(a.secret), undefined, 'revoked once told');
        assert.deepEqual((await server.authenticate(b.secret))?.scopes, ['review'], 'the revision changed: every cached key read again');
      } finally {
        await cliDb.close();
      }
    });

    if (engine.name === 'postgres') {
      test('PostgreSQL: a key change NOTIFYs at commit; a listener that invalidates sees another process\'s revocation at once', async () => {
        const { t, audit, clock } = await setup();
        const server = new ApiKeyStore(t.db, audit, { now: () => new Date(clock.ms), revisionTtlMs: 60_000 });
        let heard: () => void = () => undefined;
        const notifications = new PgNotifications({ client: pgClientConfig(t.url, t.schema ? { schema: t.schema } : {}), channels: { [API_KEYS_CHANNEL]: () => {
          server.invalidate();
          heard();
        } } });
        await notifications.start();
        const cliDb = await openDatabase(t.url, t.schema ? { schema: t.schema } : {});
        try {
          const cli = new ApiKeyStore(cliDb, new AuditLog(cliDb));
          const created = new Promise<void>((resolve) => (heard = resolve));
          const a = await cli.createNow({ name: 'a', scopes: ['lookup'] }, BY);
          await created;
          assert.ok(await server.authenticate(a.secret));
          const told = new Promise<void>((resolve) => (heard = resolve));
          await cli.revokeNow(a.key.id, BY);
          await told;
          assert.equal(await server.authenticate(a.secret), undefined, 'revoked, with the clock still inside the TTL');
        } finally {
          await notifications.stop();
          await cliDb.close();
        }
      });
    }

    test('rolled-back creates and revocations leave no trace, in the database, the audit log or the cache', async () => {
      const { db, keys, audit } = await setup();
      const { key, secret } = await keys.createNow({ name: 'a', scopes: ['submit'] }, BY);
      let ghost = '';
      await assert.rejects(db.transaction(async (tx) => {
        ghost = (await keys.create(tx, { name: 'ghost', scopes: ['admin'] }, BY)).secret;
        await keys.revoke(tx, key.id, BY);
        assert.notEqual((await keys.get(key.id, tx))?.revokedAt, null, 'inside the transaction it is revoked');
        throw new Error('rollback');
      }), /rollback/);
      assert.equal(await keys.authenticate(ghost), undefined);
      assert.equal((await keys.list()).length, 1);
      assert.equal((await keys.authenticate(secret))?.revokedAt, null, 'the revocation rolled back with the transaction');
      assert.deepEqual((await audit.list()).map((e) => e.action), ['key.created']);
    });

    test('expiry: valid until expiresAt, not from then on; past or invalid expiries are refused', async () => {
      const { keys, clock } = await setup();
      const { key, secret } = await keys.createNow({ name: 'a', scopes: ['lookup'], expiresAt: '2025-06-01T13:00:00+00:00' }, BY);
      assert.equal(key.expiresAt, '2025-06-01T13:00:00.000Z', 'normalised to UTC ISO');
      clock.ms = Date.parse('2025-06-01T12:59:59.999Z');
      assert.ok(await keys.authenticate(secret));
      clock.ms = Date.parse('2025-06-01T13:00:00Z');
      assert.equal(await keys.authenticate(secret), undefined);
      await assert.rejects(keys.createNow({ name: 'b', scopes: ['lookup'], expiresAt: '2025-06-01T12:00:00Z' }, BY), isCode('VIGIL_ERR_INVALID_ARGUMENT'), 'past');
      await assert.rejects(keys.createNow({ name: 'b', scopes: ['lookup'], expiresAt: 'next tuesday' }, BY), isCode('VIGIL_ERR_INVALID_ARGUMENT'), 'invalid');
      assert.equal((await keys.createNow({ name: 'b', scopes: ['lookup'], expiresAt: null }, BY)).key.expiresAt, null);
    });

    test('create validates its input', async () => {
      const { keys, audit } = await setup();
      const invalid = (input: unknown) => assert.rejects(keys.createNow(input as never, BY), isCode('VIGIL_ERR_INVALID_ARGUMENT'), JSON.stringify(input));
      await invalid({ name: '', scopes: ['submit'] });
      await invalid({ name: ' ', scopes: ['submit'] });
      await invalid({ name: 'a\u0000', scopes: ['submit'] });
      await invalid({ name: 'a', scopes: [] });
      await invalid({ name: 'a', scopes: ['root'] });
      await invalid({ name: 'a', scopes: 'submit' });
      await invalid({ name: 'a', scopes: ['submit'], rateLimitPerMinute: -1 });
      await invalid({ name: 'a', scopes: ['submit'], rateLimitPerMinute: 1.5 });
      await invalid({ name: 'a', scopes: ['submit'], secret: 'vigil_k_demo_short' });
      await assert.rejects(keys.createNow({ name: 'a', scopes: ['submit'] }, { actor: '' }), isCode('VIGIL_ERR_INVALID_ARGUMENT'), 'no actor, no key');
      assert.deepEqual(await keys.list(), []);
      assert.deepEqual(await audit.list(), []);
    });

    test('a deterministic demo key from a given secret; the same id twice is a CONFLICT that leaves the transaction usable', async () => {
      const { db, keys } = await setup();
      const secret = `vigil_k_demodemodemo_${'d'.repeat(43)}`;
      const { key } = await keys.createNow({ name: 'demo', scopes: ['submit', 'lookup'], secret }, BY);
      assert.equal(key.id, 'k_demodemodemo');
      assert.equal((await keys.authenticate(secret))?.id, 'k_demodemodemo');
      await assert.rejects(keys.createNow({ name: 'demo again', scopes: ['submit'] , secret }, BY), isCode('VIGIL_ERR_CONFLICT'));
      const other = await db.transaction(async (tx) => {
        await assert.rejects(keys.create(tx, { name: 'demo again', scopes: ['submit'], secret }, BY), isCode('VIGIL_ERR_CONFLICT'));
        return keys.create(tx, { name: 'other', scopes: ['submit'] }, BY);
      });
      assert.equal((await keys.get(other.key.id))?.name, 'other');
    });

    test('markUsed writes last_used_at at most once per key per minute', async () => {
      const { keys, clock } = await setup();
      const a = await keys.createNow({ name: 'a', scopes: ['submit'] }, BY);
      const b = await keys.createNow({ name: 'b', scopes: ['submit'] }, BY);
      await keys.authenticate(a.secret);
      assert.equal(await keys.markUsed(a.key.id), true);
      assert.equal((await keys.get(a.key.id))?.lastUsedAt, '2025-06-01T12:00:00.000Z');
      assert.equal((await keys.authenticate(a.secret))?.lastUsedAt, '2025-06-01T12:00:00.000Z', 'the cached row follows');
      clock.ms += 30_000;
      assert.equal(await keys.markUsed(a.key.id), false);
      assert.equal(await keys.markUsed(b.key.id), true, 'per key');
      assert.equal((await keys.get(a.key.id))?.lastUsedAt, '2025-06-01T12:00:00.000Z');
      clock.ms += 30_000;
      assert.equal(await keys.markUsed(a.key.id), true);
      assert.equal((await keys.get(a.key.id))?.lastUsedAt, '2025-06-01T12:01:00.000Z');
      assert.equal(await keys.markUsed('k_zzzzzzzzzzzz'), false);
    });
  });
}
