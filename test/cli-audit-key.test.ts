// `vigil key …` and `vigil audit …` end to end (in-process): keys round-trip, audited changes, verify, tampering, anchors.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { AuditLog } from '../src/audit/log.js';
import { ApiKeyStore } from '../src/auth/keys.js';
import { openDatabase } from '../src/state/database.js';
import Database from 'better-sqlite3';
import { runVigil } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';

let dir: string;
let db: string;

const vigil = (...args: string[]) => runVigil(['--db', db, ...args]);

/** Authenticates as the service would, in this process, against the CLI's database. */
async function authenticate(secret: string): Promise<string | undefined> {
  const state = await openDatabase(db);
  try {
    return (await new ApiKeyStore(state, new AuditLog(state)).authenticate(secret))?.id;
  } finally {
    await state.close();
  }
}

before(() => {
  dir = tempDir('audit-key');
  db = join(dir, 'vigil.db');
});

let secret = '';
let keyId = '';

test('key create prints the secret once with a warning; it authenticates; list never shows secrets', async () => {
  const made = await vigil('key', 'create', '--name', 'ingest worker', '--scope', 'submit,lookup', '--rate-limit', '120', '--json');
  assert.equal(made.status, 0, made.stderr);
  assert.match(made.stderr, /shown only once/);
  const created = JSON.parse(made.stdout);
  secret = created.secret;
  keyId = created.key.id;
  assert.match(secret, /^vigil_k_[a-z2-7]{12}_/);
  assert.deepEqual(created.key.scopes, ['submit', 'lookup']);
  assert.equal(created.key.rateLimitPerMinute, 120);

  const human = await vigil('key', 'create', '--name', 'reviewer', '--scope', 'review', '--expires', '2999-01-01T00:00:00Z');
  assert.equal(human.status, 0, human.stderr);
  assert.match(human.stdout, /^Created API key k_[a-z2-7]{12} \(reviewer\): scopes review, 6000 requests\/minute, expires 2999-01-01T00:00:00.000Z\nvigil_k_/);

  assert.equal(await authenticate(secret), keyId);

  const listed = await vigil('key', 'list', '--json');
  assert.equal(listed.status, 0, listed.stderr);
  const keys = JSON.parse(listed.stdout);
  assert.deepEqual(keys.map((k: { name: string }) => k.name).sort(), ['ingest worker', 'reviewer']);
  assert.ok(!listed.stdout.includes(secret.slice(-43)));
  const table = await vigil('key', 'list');
  assert.match(table.stdout, /^id\s+name\s+scopes/);
  assert.match(table.stdout, new RegExp(`${keyId}\\s+ingest worker\\s+submit,lookup\\s+120\\s+active`));
});

test('key create rejects bad input with the usage exit status', async () => {
  assert.equal((await vigil('key', 'create', '--name', 'x', '--scope', 'submit,root')).status, 2);
  assert.equal((await vigil('key', 'create', '--name', 'x', '--scope', 'submit', '--rate-limit', '-5')).status, 2);
  assert.equal((await vigil('key', 'create', '--name', 'x', '--scope', 'submit', '--expires', 'soon')).status, 2);
  assert.equal((await vigil('key', 'create', '--scope', 'submit')).status, 2, '--name is required');
});

test('key revoke: stops authentication, idempotent, unknown id exits 1', async () => {
  const r = await vigil('key', 'revoke', keyId);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `Revoked ${keyId} (ingest worker)\n`);
  assert.equal(await authenticate(secret), undefined);
  const again = await vigil('key', 'revoke', keyId);
  assert.equal(again.status, 0);
  assert.match(again.stdout, /already revoked at/);
  const missing = await vigil('key', 'revoke', 'k_zzzzzzzzzzzz');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /VIGIL_ERR_NOT_FOUND/);
  assert.match((await vigil('key', 'list')).stdout, new RegExp(`${keyId}.*revoked`));
});

test('audit list shows key creation and revocation by the cli, without secrets', async () => {
  const r = await vigil('audit', 'list', '--json');
  assert.equal(r.status, 0, r.stderr);
  const entries = JSON.parse(r.stdout);
  assert.deepEqual(entries.map((e: { seq: number; action: string }) => [e.seq, e.action]), [[1, 'key.created'], [2, 'key.created'], [3, 'key.revoked']]);
  assert.ok(entries.every((e: { actor: string }) => /^cli:\S+$/.test(e.actor)), 'the actor is cli:<OS user>');
  assert.equal(entries[0].subject, keyId);
  assert.deepEqual(entries[0].details.scopes, ['submit', 'lookup']);
  assert.ok(!r.stdout.includes(secret.slice(-43)), 'no secret in the audit log');
  assert.deepEqual(JSON.parse((await vigil('audit', 'list', '--json', '--action', 'key.revoked')).stdout).map((e: { seq: number }) => e.seq), [3]);
  assert.deepEqual(JSON.parse((await vigil('audit', 'list', '--json', '--action', 'key.*', '--after', '1', '--limit', '1')).stdout).map((e: { seq: number }) => e.seq), [2]);
  assert.deepEqual(JSON.parse((await vigil('audit', 'list', '--json', '--subject', keyId)).stdout).map((e: { seq: number }) => e.seq), [1, 3]);
  assert.match((await vigil('audit', 'list')).stdout, /^seq\s+at\s+actor\s+action\s+subject\s+details\n1\s/);
  assert.equal((await vigil('audit', 'list', '--limit', 'many')).status, 2);
  assert.equal((await vigil('audit', 'list', '--action', 'bad action')).status, 2);
});

let anchor = '';

test('audit verify: ok, prints an anchor, records itself; the anchor verifies next time', async () => {
  const r = await vigil('audit', 'verify');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^audit log ok: 3 entries verified\nanchor: 4:[0-9a-f]{64}\n/);
  anchor = /anchor: (\S+)/.exec(r.stdout)![1];
  const withAnchor = await vigil('audit', 'verify', '--anchor', anchor, '--json');
  assert.equal(withAnchor.status, 0, withAnchor.stderr);
  const result = JSON.parse(withAnchor.stdout);
  assert.equal(result.ok, true);
  assert.equal(result.entries, 4);
  assert.match(result.anchor, /^5:[0-9a-f]{64}$/);
  const verified = JSON.parse((await vigil('audit', 'list', '--json', '--action', 'audit.verified')).stdout);
  assert.deepEqual(verified.map((e: { seq: number }) => e.seq), [4, 5]);
  assert.equal(verified[1].details.anchor, anchor);
  assert.equal((await vigil('audit', 'verify', '--anchor', '4:xyz')).status, 2);
  anchor = result.anchor;
});

test('audit verify: an edited entry exits 1 naming the first bad seq', async () => {
  const state = new Database(db);
  try {
    state.exec('DROP TRIGGER audit_log_no_update');
    state.prepare(`UPDATE audit_log SET details = json_set(details, '$.name', 'someone else') WHERE seq = 3`).run();
  } finally {
    state.close();
  }
  const r = await vigil('audit', 'verify');
  assert.equal(r.status, 1);
  assert.match(r.stdout, /audit log TAMPERED at entry 3: hash mismatch/);
  assert.match(r.stderr, /VIGIL_ERR_AUDIT_TAMPERED: audit log tampered: first bad entry 3: hash mismatch/);
  const json = await vigil('audit', 'verify', '--json');
  assert.equal(json.status, 1);
  const result = JSON.parse(json.stdout);
  assert.equal(result.ok, false);
  assert.equal(result.firstBadSeq, 3);
  assert.equal(result.anchor, undefined, 'no anchor from a broken log');
});

test('audit verify --anchor: tail truncation exits 1', async () => {
  const path = join(dir, 'trunc.db');
  const run = (...args: string[]) => runVigil(['--db', path, ...args]);
  assert.equal((await run('key', 'create', '--name', 'a', '--scope', 'lookup')).status, 0);
  const ok = await run('audit', 'verify');
  const kept = /anchor: (\S+)/.exec(ok.stdout)![1];
  assert.ok(kept.startsWith('2:'));
  const state = new Database(path);
  try {
    state.exec('DROP TRIGGER audit_log_no_delete');
    state.prepare('DELETE FROM audit_log WHERE seq >= 2').run();
  } finally {
    state.close();
  }
  const r = await run('audit', 'verify', '--anchor', kept);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /first bad entry 2: truncated: the log ends at entry 1 but the anchor records entry 2/);
});
