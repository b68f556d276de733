import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { VigilError, type VigilErrorCode } from '../core/errors.js';
import { openStateDb, type StateDb } from '../state/sqlite.js';
import { ApiKeyStore, DEFAULT_RATE_LIMIT_PER_MINUTE, hasScope, parseScopes, ROLE_SCOPES, SCOPES } from './keys.js';
import { tempDir } from '../../test/helpers/temp.js';

const T0 = Date.parse('2025-06-01T12:00:00Z');

function tempDbPath(): string {
  return join(tempDir('keys'), 'state.db');
}

function setup(): { db: StateDb; keys: ApiKeyStore; clock: { ms: number } } {
  const clock = { ms: T0 };
  const db = openStateDb(tempDbPath());
  return { db, keys: new ApiKeyStore(db, { now: () => new Date(clock.ms) }), clock };
}

function throwsCode(fn: () => unknown, code: VigilErrorCode, message?: string): void {
  assert.throws(fn, (err: unknown) => err instanceof VigilError && err.code === code, message);
}

test('create returns the secret once; authenticate accepts it and returns the key', () => {
  const { db, keys } = setup();
  const { key, secret } = keys.create({ name: 'ingest worker', scopes: ['lookup', 'submit', 'lookup'] });
  assert.match(key.id, /^k_[a-z2-7]{12}$/);
  assert.match(secret, new RegExp(`^vigil_${key.id}_[A-Za-z0-9_-]{43}$`));
  assert.deepEqual(key, {
    id: key.id, name: 'ingest worker', scopes: ['submit', 'lookup'], rateLimitPerMinute: DEFAULT_RATE_LIMIT_PER_MINUTE,
    createdAt: '2025-06-01T12:00:00.000Z', expiresAt: null, revokedAt: null, lastUsedAt: null,
  });
  assert.deepEqual(keys.authenticate(secret), key);
  assert.deepEqual(keys.authenticate(secret), key, 'again, from the cache');
  assert.deepEqual(keys.get(key.id), key);
  assert.deepEqual(keys.list(), [key]);
  assert.equal(keys.get('k_zzzzzzzzzzzz'), undefined);
  const other = keys.create({ name: 'b', scopes: ['admin'], rateLimitPerMinute: 0 });
  assert.notEqual(other.key.id, key.id);
  assert.notEqual(other.secret, secret);
  assert.equal(other.key.rateLimitPerMinute, 0);
  assert.deepEqual(keys.list().map((k) => k.id).sort(), [key.id, other.key.id].sort());
  db.close();
});

test('a wrong secret for a right id, unknown ids and malformed secrets do not authenticate', () => {
  const { db, keys } = setup();
  const { key, secret } = keys.create({ name: 'a', scopes: ['submit'] });
  const last = secret.at(-1) === 'A' ? 'B' : 'A';
  assert.equal(keys.authenticate(secret.slice(0, -1) + last), undefined, 'one character off');
  assert.equal(keys.authenticate(`vigil_${key.id}_${'A'.repeat(43)}`), undefined, 'right id, made-up secret');
  assert.equal(keys.authenticate(secret.replace(key.id, 'k_aaaaaaaaaaaa')), undefined, 'unknown id');
  const malformed = [
    '', 'vigil_', secret.slice(6), `Bearer ${secret}`, ` ${secret}`, `${secret}\n`, secret.toUpperCase(),
    secret.replace(/_[^_]*$/, ''), `vigil_${key.id}_short`, `vigil_${key.id}_${'A'.repeat(129)}`, secret + '!',
    `vigil_${key.id.toUpperCase()}_${secret.slice(-43)}`, 'x'.repeat(100_000),
  ];
  for (const s of malformed) assert.equal(keys.authenticate(s), undefined, JSON.stringify(s.slice(0, 80)));
  for (const s of [undefined, null, 42, {}]) assert.equal(keys.authenticate(s as unknown as string), undefined);
  assert.ok(keys.authenticate(secret));
  db.close();
});

test('secrets are not stored in plain text: the row holds SHA-256(secret) only', () => {
  const path = tempDbPath();
  const db = openStateDb(path);
  const keys = new ApiKeyStore(db);
  const { key, secret } = keys.create({ name: 'a', scopes: ['lookup'] });
  const randomPart = secret.slice(`vigil_${key.id}_`.length);
  const row = db.prepare('SELECT * FROM api_keys WHERE id = ?').get(key.id) as Record<string, unknown>;
  for (const [column, value] of Object.entries(row)) {
    const text = Buffer.isBuffer(value) ? value.toString('latin1') + value.toString('hex') + value.toString('base64url') : String(value);
    assert.ok(!text.includes(randomPart), `column ${column} must not hold the secret`);
  }
  assert.deepEqual(row.secret_sha256, createHash('sha256').update(secret).digest());
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  assert.ok(!readFileSync(path).toString('latin1').includes(randomPart), 'nor anywhere in the database file');
});

test('revoke: authentication stops at once, idempotent, unknown id is NOT_FOUND', () => {
  const { db, keys, clock } = setup();
  const { key, secret } = keys.create({ name: 'a', scopes: ['submit'] });
  const survivor = keys.create({ name: 'b', scopes: ['submit'] });
  assert.ok(keys.authenticate(secret)); // cached
  clock.ms += 5000;
  const revoked = keys.revoke(key.id);
  assert.equal(revoked.revokedAt, '2025-06-01T12:00:05.000Z');
  assert.equal(keys.authenticate(secret), undefined);
  assert.ok(keys.authenticate(survivor.secret));
  clock.ms += 5000;
  assert.equal(keys.revoke(key.id).revokedAt, revoked.revokedAt, 'revoking again changes nothing');
  assert.deepEqual(keys.get(key.id), revoked);
  throwsCode(() => keys.revoke('k_zzzzzzzzzzzz'), 'VIGIL_ERR_NOT_FOUND');
  db.close();
});

test('a revocation by another process (connection) is seen on the next authenticate, despite the cache', () => {
  const path = tempDbPath();
  const serverDb = openStateDb(path);
  const cliDb = openStateDb(path);
  const server = new ApiKeyStore(serverDb);
  const cli = new ApiKeyStore(cliDb);
  const { key, secret } = cli.create({ name: 'a', scopes: ['lookup'] });
  assert.equal(server.authenticate(secret)?.id, key.id);
  cli.revoke(key.id);
  assert.equal(server.authenticate(secret), undefined);
  // A scope change made with raw SQL is picked up too.
  const b = cli.create({ name: 'b', scopes: ['lookup'] });
  assert.deepEqual(server.authenticate(b.secret)?.scopes, ['lookup']);
  cliDb.prepare("UPDATE api_keys SET scopes = 'review' WHERE id = ?").run(b.key.id);
  assert.deepEqual(server.authenticate(b.secret)?.scopes, ['review']);
  serverDb.close();
  cliDb.close();
});

test('rolled-back creates and revocations leave no trace, in the database or the cache', () => {
  const { db, keys } = setup();
  const { key, secret } = keys.create({ name: 'a', scopes: ['submit'] });
  let ghost = '';
  assert.throws(() => db.transaction(() => {
    ghost = keys.create({ name: 'ghost', scopes: ['admin'] }).secret;
    keys.revoke(key.id);
    assert.equal(keys.authenticate(secret), undefined, 'inside the transaction it is revoked');
    throw new Error('rollback');
  })(), /rollback/);
  assert.equal(keys.authenticate(ghost), undefined);
  assert.equal(keys.list().length, 1);
  assert.equal(keys.authenticate(secret)?.revokedAt, null, 'the revocation rolled back with the transaction');
  db.close();
});

test('expiry: valid until expiresAt, not from then on; past or invalid expiries are refused', () => {
  const { db, keys, clock } = setup();
  const { key, secret } = keys.create({ name: 'a', scopes: ['lookup'], expiresAt: '2025-06-01T13:00:00+00:00' });
  assert.equal(key.expiresAt, '2025-06-01T13:00:00.000Z', 'normalised to UTC ISO');
  clock.ms = Date.parse('2025-06-01T12:59:59.999Z');
  assert.ok(keys.authenticate(secret));
  clock.ms = Date.parse('2025-06-01T13:00:00Z');
  assert.equal(keys.authenticate(secret), undefined);
  throwsCode(() => keys.create({ name: 'b', scopes: ['lookup'], expiresAt: '2025-06-01T12:00:00Z' }), 'VIGIL_ERR_INVALID_ARGUMENT', 'past');
  throwsCode(() => keys.create({ name: 'b', scopes: ['lookup'], expiresAt: 'next tuesday' }), 'VIGIL_ERR_INVALID_ARGUMENT', 'invalid');
  assert.equal(keys.create({ name: 'b', scopes: ['lookup'], expiresAt: null }).key.expiresAt, null);
  db.close();
});

test('scopes: hasScope (admin implies all), parseScopes validates, ROLE_SCOPES', () => {
  assert.equal(hasScope({ scopes: ['submit'] }, 'submit'), true);
  assert.equal(hasScope({ scopes: ['submit'] }, 'lookup'), false);
  assert.equal(hasScope({ scopes: ['review', 'lookup'] }, 'curate'), false);
  for (const s of SCOPES) assert.equal(hasScope({ scopes: ['admin'] }, s), true);
  assert.deepEqual(parseScopes('lookup, submit,,lookup'), ['submit', 'lookup']);
  assert.deepEqual(parseScopes('admin'), ['admin']);
  for (const bad of ['', ' , ', 'submit,delete', 'Submit', 'all']) throwsCode(() => parseScopes(bad), 'VIGIL_ERR_INVALID_ARGUMENT', bad);
  assert.deepEqual(ROLE_SCOPES, { reviewer: ['review', 'lookup'], investigator: ['lookup', 'curate'], admin: ['admin'] });
});

test('create validates its input', () => {
  const { db, keys } = setup();
  const invalid = (input: unknown) => throwsCode(() => keys.create(input as never), 'VIGIL_ERR_INVALID_ARGUMENT', JSON.stringify(input));
  invalid({ name: '', scopes: ['submit'] });
  invalid({ name: ' ', scopes: ['submit'] });
  invalid({ name: 'a\u0000', scopes: ['submit'] });
  invalid({ name: 'a', scopes: [] });
  invalid({ name: 'a', scopes: ['root'] });
  invalid({ name: 'a', scopes: 'submit' });
  invalid({ name: 'a', scopes: ['submit'], rateLimitPerMinute: -1 });
  invalid({ name: 'a', scopes: ['submit'], rateLimitPerMinute: 1.5 });
  invalid({ name: 'a', scopes: ['submit'], secret: 'vigil_k_demo_short' });
  assert.deepEqual(keys.list(), []);
  db.close();
});

test('a deterministic demo key from a given secret; the same id twice is a CONFLICT', () => {
  const { db, keys } = setup();
  const secret = `vigil_k_demodemodemo_${'d'.repeat(43)}`;
  const { key } = keys.create({ name: 'demo', scopes: ['submit', 'lookup'], secret });
  assert.equal(key.id, 'k_demodemodemo');
  assert.equal(keys.authenticate(secret)?.id, 'k_demodemodemo');
  throwsCode(() => keys.create({ name: 'demo again', scopes: ['submit'], secret }), 'VIGIL_ERR_CONFLICT');
  db.close();
});

test('markUsed writes last_used_at at most once per key per minute', () => {
  const { db, keys, clock } = setup();
  const a = keys.create({ name: 'a', scopes: ['submit'] });
  const b = keys.create({ name: 'b', scopes: ['submit'] });
  keys.authenticate(a.secret);
  assert.equal(keys.markUsed(a.key.id), true);
  assert.equal(keys.get(a.key.id)?.lastUsedAt, '2025-06-01T12:00:00.000Z');
  assert.equal(keys.authenticate(a.secret)?.lastUsedAt, '2025-06-01T12:00:00.000Z', 'the cached row follows');
  clock.ms += 30_000;
  assert.equal(keys.markUsed(a.key.id), false);
  assert.equal(keys.markUsed(b.key.id), true, 'per key');
  assert.equal(keys.get(a.key.id)?.lastUsedAt, '2025-06-01T12:00:00.000Z');
  clock.ms += 30_000;
  assert.equal(keys.markUsed(a.key.id), true);
  assert.equal(keys.get(a.key.id)?.lastUsedAt, '2025-06-01T12:01:00.000Z');
  assert.equal(keys.markUsed('k_zzzzzzzzzzzz'), false);
  db.close();
});
