import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { VigilError } from '../core/errors.js';
import { openStateDb, type StateDb } from '../state/sqlite.js';
import { canonicalJson } from './canonical.js';
import { AuditLog, auditHashInput, formatAuditAnchor, GENESIS_HASH, parseAuditAnchor, type AuditEntry, type AuditVerifyResult } from './log.js';
import { tempDir } from '../../test/helpers/temp.js';

function tempDbPath(): string {
  return join(tempDir('audit'), 'state.db');
}

/** A clock that advances one second per call, so entries have distinct, predictable times. */
function fakeClock(start = Date.parse('2025-01-01T00:00:00Z')): () => Date {
  let t = start;
  return () => new Date((t += 1000));
}

function setup(count = 5): { db: StateDb; log: AuditLog; entries: AuditEntry[] } {
  const db = openStateDb(tempDbPath());
  const log = new AuditLog(db, { now: fakeClock() });
  const entries = Array.from({ length: count }, (_, i) =>
    log.append({ actor: i % 2 ? 'cli' : 'key:k_aaaaaaaaaaaa', action: i % 2 ? 'key.created' : 'decision.created', subject: `s${i + 1}`, details: { n: i + 1, nested: { b: [1, 'two'], a: null } } }),
  );
  return { db, log, entries };
}

/** Tampering needs the triggers gone: an attacker with file access can do the same. */
function dropTriggers(db: StateDb): void {
  db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_log_extends_chain');
}

/** verify and verifyAsync (in pages of 2, to cross page boundaries) must agree. */
async function verifyBoth(log: AuditLog, options: { anchor?: { seq: number; hash: string } } = {}): Promise<AuditVerifyResult> {
  const sync = log.verify(options);
  assert.deepEqual(await log.verifyAsync({ ...options, batchSize: 2 }), sync);
  assert.deepEqual(await log.verifyAsync(options), sync);
  return sync;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function rehash(e: Omit<AuditEntry, 'hash'>): string {
  return sha256Hex(canonicalJson({ seq: e.seq, at: e.at, actor: e.actor, action: e.action, subject: e.subject, details: e.details, prevHash: e.prevHash }));
}

test('an empty log verifies, with the genesis head', async () => {
  const db = openStateDb(tempDbPath());
  const log = new AuditLog(db);
  assert.deepEqual(log.head(), { seq: 0, hash: GENESIS_HASH });
  assert.deepEqual(await verifyBoth(log), { ok: true, entries: 0, headSeq: 0, headHash: GENESIS_HASH });
  assert.equal((await verifyBoth(log, { anchor: { seq: 0, hash: GENESIS_HASH } })).ok, true);
  db.close();
});

test('appends chain from genesis with contiguous seqs; hash = sha256 of canonical JSON; verify ok', async () => {
  const { db, log, entries } = setup(5);
  assert.deepEqual(entries.map((e) => e.seq), [1, 2, 3, 4, 5]);
  assert.equal(entries[0].prevHash, GENESIS_HASH);
  for (let i = 1; i < entries.length; i++) assert.equal(entries[i].prevHash, entries[i - 1].hash);
  for (const e of entries) {
    assert.match(e.hash, /^[0-9a-f]{64}$/);
    assert.equal(e.hash, rehash(e), 'the documented definition, recomputed independently');
  }
  assert.equal(entries[0].at, '2025-01-01T00:00:01.000Z');
  assert.deepEqual(log.list(), entries);
  assert.deepEqual(log.head(), { seq: 5, hash: entries[4].hash });
  assert.deepEqual(await verifyBoth(log), { ok: true, entries: 5, headSeq: 5, headHash: entries[4].hash });
  db.close();
});

test('auditHashInput is canonicalJson of the entry without its hash', () => {
  const e = { seq: 7, at: '2025-01-01T00:00:00.000Z', actor: 'user:Zoë "z"', action: 'rules.changed', subject: null, prevHash: GENESIS_HASH };
  const details = { z: 1, a: { y: [true, 1.5, -0, 'ünï\u2028'], b: 'x' }, é: 2, B: 3 };
  assert.equal(auditHashInput(e, canonicalJson(details)), canonicalJson({ ...e, details }));
});

test('canonicalJson: sorted keys, no whitespace, JSON forms; rejects what JSON would silently change', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }], c: undefined, e: new Date(0) }), '{"a":[{"c":2,"d":1}],"b":1,"e":"1970-01-01T00:00:00.000Z"}');
  assert.equal(canonicalJson({ '\u00e9': 1, z: 2, Z: 3, '10': 4, '9': 5 }), '{"10":4,"9":5,"Z":3,"z":2,"é":1}');
  assert.equal(canonicalJson(Object.assign(Object.create(null) as object, { a: 1 })), '{"a":1}');
  for (const bad of [NaN, Infinity, { x: 1n }, [undefined], { f: () => 1 }, new Map(), Symbol('s')]) {
    assert.throws(() => canonicalJson(bad), (err: unknown) => err instanceof VigilError && err.code === 'VIGIL_ERR_INVALID_ARGUMENT');
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => canonicalJson(cyclic), /acyclic/);
  const shared = { x: 1 };
  assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}', 'a shared (non-cyclic) object is fine');
});

test('the database refuses UPDATE, DELETE and inserts that do not extend the chain', () => {
  const { db, entries } = setup(3);
  assert.throws(() => db.prepare("UPDATE audit_log SET details = '{}' WHERE seq = 2").run(), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit_log WHERE seq = 3').run(), /append-only/);
  const insert = db.prepare('INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  assert.throws(() => insert.run(5, 'x', 'cli', 'a.b', null, '{}', entries[2].hash, 'h'), /extend the chain/, 'gap');
  assert.throws(() => insert.run(4, 'x', 'cli', 'a.b', null, '{}', entries[1].hash, 'h'), /extend the chain/, 'wrong link');
  db.close();
});

test('verify detects an edited details field', async () => {
  const { db, log } = setup(5);
  dropTriggers(db);
  db.prepare(`UPDATE audit_log SET details = json_set(details, '$.n', 99) WHERE seq = 3`).run();
  const r = await verifyBoth(log);
  assert.equal(r.ok, false);
  assert.equal(r.firstBadSeq, 3);
  assert.match(r.problem ?? '', /hash mismatch/);
  assert.equal(r.entries, 2);
  assert.equal(r.headSeq, 2, 'the sound prefix');
  db.close();
});

test('verify detects a byte-level change even when the JSON means the same', async () => {
  const { db, log } = setup(3);
  dropTriggers(db);
  db.prepare(`UPDATE audit_log SET details = ' ' || details WHERE seq = 2`).run();
  assert.equal((await verifyBoth(log)).firstBadSeq, 2);
  db.close();
});

test('verify detects an edited hash, and an edit whose hash was recomputed (broken link at the next entry)', async () => {
  const { db, log, entries } = setup(5);
  dropTriggers(db);
  db.prepare('UPDATE audit_log SET hash = ? WHERE seq = 3').run('f'.repeat(64));
  let r = await verifyBoth(log);
  assert.equal(r.firstBadSeq, 3);
  assert.match(r.problem ?? '', /hash mismatch/);

  const forged = { ...entries[2], details: { n: 42 } };
  db.prepare('UPDATE audit_log SET details = ?, hash = ? WHERE seq = 3').run(canonicalJson(forged.details), rehash(forged));
  r = await verifyBoth(log);
  assert.equal(r.firstBadSeq, 4);
  assert.match(r.problem ?? '', /broken link: prevHash of entry 4 does not match the hash of entry 3/);
  db.close();
});

test('verify detects a deleted middle row and a deleted first row', async () => {
  const { db, log } = setup(5);
  dropTriggers(db);
  db.prepare('DELETE FROM audit_log WHERE seq = 3').run();
  let r = await verifyBoth(log);
  assert.equal(r.firstBadSeq, 3);
  assert.match(r.problem ?? '', /entry 3 missing/);
  db.prepare('DELETE FROM audit_log WHERE seq = 1').run();
  r = await verifyBoth(log);
  assert.equal(r.firstBadSeq, 1);
  assert.equal(r.headSeq, 0);
  db.close();
});

test('verify detects reordered rows', async () => {
  const { db, log } = setup(5);
  dropTriggers(db);
  db.exec('UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -2');
  const r = await verifyBoth(log);
  assert.equal(r.firstBadSeq, 2);
  assert.match(r.problem ?? '', /broken link/);
  db.close();
});

test('verify detects a well-formed row inserted in the middle (the following entry no longer links)', async () => {
  const { db, log, entries } = setup(5);
  dropTriggers(db);
  db.exec('UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3; UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000');
  const forged = { seq: 3, at: entries[1].at, actor: 'cli', action: 'key.revoked', subject: 'x', details: {}, prevHash: entries[1].hash };
  db.prepare('INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(3, forged.at, forged.actor, forged.action, forged.subject, '{}', forged.prevHash, rehash(forged));
  const r = await verifyBoth(log);
  assert.equal(r.firstBadSeq, 4, 'entry 3 itself is well formed; entry 4 (the old 3) breaks');
  assert.equal(r.headSeq, 3);
  db.close();
});

test('tail truncation passes a plain verify but not one with an anchor', async () => {
  const { db, log, entries } = setup(5);
  const anchor = log.head();
  dropTriggers(db);
  db.prepare('DELETE FROM audit_log WHERE seq >= 4').run();
  assert.equal((await verifyBoth(log)).ok, true, 'a chain cannot see its own missing tail');
  const r = await verifyBoth(log, { anchor });
  assert.equal(r.ok, false);
  assert.equal(r.firstBadSeq, 4);
  assert.match(r.problem ?? '', /truncated: the log ends at entry 3 but the anchor records entry 5/);
  assert.equal(r.headHash, entries[2].hash);

  db.prepare('DELETE FROM audit_log').run();
  const all = await verifyBoth(log, { anchor });
  assert.equal(all.firstBadSeq, 1);
  assert.match(all.problem ?? '', /truncated/);
  db.close();
});

test('a consistently rewritten tail passes a plain verify but not one with an anchor', async () => {
  const { db, log, entries } = setup(5);
  const anchor = log.head();
  dropTriggers(db);
  let prevHash = entries[1].hash;
  for (const e of entries.slice(2)) {
    const forged = { ...e, details: { rewritten: true }, prevHash };
    const hash = rehash(forged);
    db.prepare('UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(canonicalJson(forged.details), prevHash, hash, e.seq);
    prevHash = hash;
  }
  assert.equal((await verifyBoth(log)).ok, true);
  const r = await verifyBoth(log, { anchor });
  assert.equal(r.firstBadSeq, 5);
  assert.match(r.problem ?? '', /anchor mismatch/);
  db.close();
});

test('an anchor from earlier keeps verifying as the log grows', async () => {
  const { db, log } = setup(3);
  const anchor = parseAuditAnchor(formatAuditAnchor(log.head()));
  log.append({ actor: 'system', action: 'job.retried' });
  const r = await verifyBoth(log, { anchor });
  assert.equal(r.ok, true);
  assert.equal(r.headSeq, 4);
  db.close();
});

test('anchors: parse, format and validation', () => {
  const hash = 'AB'.repeat(32);
  assert.deepEqual(parseAuditAnchor(` 12:${hash} `), { seq: 12, hash: hash.toLowerCase() });
  for (const bad of ['12', `x:${hash}`, `-1:${hash}`, '3:abc', `0:${'1'.repeat(64)}`]) {
    assert.throws(() => parseAuditAnchor(bad), (err: unknown) => err instanceof VigilError && err.code === 'VIGIL_ERR_INVALID_ARGUMENT', bad);
  }
  const db = openStateDb(':memory:');
  assert.throws(() => new AuditLog(db).verify({ anchor: { seq: 1.5, hash: GENESIS_HASH } }), /non-negative integer/);
  db.close();
});

test("appends inside a caller's rolled-back transaction leave no trace; committed ones land with the caller's rows", async () => {
  const db = openStateDb(tempDbPath());
  const log = new AuditLog(db, { now: fakeClock() });
  db.exec('CREATE TABLE decisions (id INTEGER PRIMARY KEY, verdict TEXT)');
  const decide = db.transaction((verdict: string, fail: boolean) => {
    const id = Number(db.prepare('INSERT INTO decisions (verdict) VALUES (?)').run(verdict).lastInsertRowid);
    log.append({ actor: 'key:k_aaaaaaaaaaaa', action: 'decision.created', subject: String(id), details: { verdict } });
    log.appendMany([{ actor: 'system', action: 'data.accessed' }, { actor: 'system', action: 'data.accessed' }]);
    if (fail) throw new Error('downstream failure');
    return id;
  });
  assert.throws(() => decide.immediate('block', true), /downstream failure/);
  assert.deepEqual(log.list(), []);
  assert.deepEqual(log.head(), { seq: 0, hash: GENESIS_HASH });
  assert.equal(db.prepare('SELECT COUNT(*) AS n FROM decisions').pluck().get(), 0);

  const id = decide.immediate('allow', false);
  const entries = log.list();
  assert.deepEqual(entries.map((e) => e.seq), [1, 2, 3], 'seq 1 again: the rolled-back entries used up nothing');
  assert.equal(entries[0].subject, String(id));
  assert.equal((await verifyBoth(log)).ok, true);
  db.close();
});

test('appendMany is all or nothing; invalid inputs are rejected before anything is written', () => {
  const { db, log } = setup(1);
  const bad = [{ actor: 'cli', action: 'bank.changed' }, { actor: 'cli', action: 'Not Dotted' }];
  assert.throws(() => log.appendMany(bad), (err: unknown) => err instanceof VigilError && err.code === 'VIGIL_ERR_INVALID_ARGUMENT');
  assert.equal(log.head().seq, 1);
  const added = log.appendMany([{ actor: 'cli', action: 'bank.changed' }, { actor: 'cli', action: 'rules.changed', details: { version: 2 } }]);
  assert.deepEqual(added.map((e) => e.seq), [2, 3]);
  assert.deepEqual(added[0].details, {});
  assert.equal(added[0].subject, null);
  assert.deepEqual(log.appendMany([]), []);
  db.close();
});

test('input validation', () => {
  const db = openStateDb(':memory:');
  const log = new AuditLog(db);
  const invalid = (input: unknown) =>
    assert.throws(() => log.append(input as never), (err: unknown) => err instanceof VigilError && err.code === 'VIGIL_ERR_INVALID_ARGUMENT', JSON.stringify(input));
  invalid({ actor: '', action: 'key.created' });
  invalid({ actor: 'cli\n', action: 'key.created' });
  invalid({ actor: 'cli', action: 'created' });
  invalid({ actor: 'cli', action: 'key.created', details: [1] });
  invalid({ actor: 'cli', action: 'key.created', details: { x: NaN } });
  invalid({ actor: 'cli', action: 'key.created', subject: 5 });
  assert.equal(log.head().seq, 0);
  db.close();
});

test('list: afterSeq paging, limit, exact action, action prefix, subject', () => {
  const { db, log } = setup(6); // odd seqs decision.created, even key.created; subjects s1…s6
  log.append({ actor: 'cli', action: 'keyring.changed' }); // must not match 'key.*'
  assert.deepEqual(log.list({ afterSeq: 2, limit: 2 }).map((e) => e.seq), [3, 4]);
  assert.deepEqual(log.list({ action: 'key.created' }).map((e) => e.seq), [2, 4, 6]);
  assert.deepEqual(log.list({ action: 'key.*' }).map((e) => e.seq), [2, 4, 6]);
  assert.deepEqual(log.list({ action: 'decision.*', afterSeq: 1 }).map((e) => e.seq), [3, 5]);
  assert.deepEqual(log.list({ subject: 's5' }).map((e) => e.seq), [5]);
  assert.deepEqual(log.list({ afterSeq: 100 }), []);
  assert.throws(() => log.list({ limit: 0 }), /limit/);
  assert.throws(() => log.list({ limit: 10_001 }), /limit/);
  assert.throws(() => log.list({ action: "x' OR 1=1" }), /action/);
  db.close();
});

test('two connections (two processes) appending in turn extend one chain', async () => {
  const path = tempDbPath();
  const a = openStateDb(path);
  const b = openStateDb(path);
  const logA = new AuditLog(a);
  const logB = new AuditLog(b);
  for (let i = 0; i < 10; i++) (i % 3 ? logA : logB).append({ actor: 'system', action: 'job.retried', details: { i } });
  assert.deepEqual(await verifyBoth(logB), { ok: true, entries: 10, headSeq: 10, headHash: logA.head().hash });
  a.close();
  b.close();
});

test('a reopened database keeps its chain and migrations are not re-run', async () => {
  const path = tempDbPath();
  let db = openStateDb(path);
  new AuditLog(db).append({ actor: 'cli', action: 'key.created' });
  db.close();
  db = openStateDb(path);
  const log = new AuditLog(db);
  log.append({ actor: 'cli', action: 'key.revoked' });
  assert.equal((await verifyBoth(log)).entries, 2);
  db.close();
});

test('verifyAsync: a forged entry with seq 0 is seen; batchSize is validated', async () => {
  const { db, log } = setup(3);
  dropTriggers(db);
  db.prepare("INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (0, 'x', 'cli', 'a.b', NULL, '{}', ?, ?)").run(GENESIS_HASH, GENESIS_HASH);
  const r = await verifyBoth(log);
  assert.equal(r.firstBadSeq, 1);
  assert.match(r.problem ?? '', /invalid seq 0/);
  await assert.rejects(log.verifyAsync({ batchSize: 0 }), /batchSize/);
  db.close();
});
