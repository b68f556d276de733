import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { VigilError } from '../core/errors.js';
import { openDatabase, type VigilDatabase } from '../state/database.js';
import { migrate } from '../state/migrate.js';
import Database from 'better-sqlite3';
import { ENGINES, type TestDatabase } from '../state/test-engines.js';
import { rawCount, rawSql, rawSqlIn } from '../state/test-sql.js';
import { canonicalJson } from '../core/canonical-json.js';
import { AUDIT_MIGRATIONS } from './schema.js';
import { AUDIT_COMPONENT, AuditLog, auditHashInput, formatAuditAnchor, GENESIS_HASH, parseAuditAnchor, type AuditEntry, type AuditVerifyResult } from './log.js';
import { tempDir } from '../../test/helpers/temp.js';

/** A clock that advances one second per call, so entries have distinct, predictable times. */
function fakeClock(start = Date.parse('2025-01-01T00:00:00Z')): () => Date {
  let t = start;
  return () => new Date((t += 1000));
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function rehash(e: Omit<AuditEntry, 'hash' | 'requestId'> & { requestId?: string | null }): string {
  const requestId = e.requestId ?? undefined; // canonicalJson drops undefined: absent when null
  return sha256Hex(canonicalJson({ seq: e.seq, at: e.at, actor: e.actor, action: e.action, subject: e.subject, details: e.details, prevHash: e.prevHash, requestId }));
}

const invalidArg = (err: unknown) => err instanceof VigilError && err.code === 'VIGIL_ERR_INVALID_ARGUMENT';

test('auditHashInput is canonicalJson of the entry without its hash (requestId only when present)', () => {
  const e = { seq: 7, at: '2025-01-01T00:00:00.000Z', actor: 'user:Zoë "z"', action: 'rules.changed', subject: null, prevHash: GENESIS_HASH };
  const details = { z: 1, a: { y: [true, 1.5, -0, 'ünï\u2028'], b: 'x' }, é: 2, B: 3 };
  assert.equal(auditHashInput(e, canonicalJson(details)), canonicalJson({ ...e, details }));
  assert.equal(auditHashInput({ ...e, requestId: null }, canonicalJson(details)), canonicalJson({ ...e, details }));
  assert.equal(auditHashInput({ ...e, requestId: 'req-1 "x"' }, canonicalJson(details)), canonicalJson({ ...e, details, requestId: 'req-1 "x"' }));
});

test('canonicalJson: sorted keys, no whitespace, JSON forms; rejects what JSON would silently change', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }], c: undefined, e: new Date(0) }), '{"a":[{"c":2,"d":1}],"b":1,"e":"1970-01-01T00:00:00.000Z"}');
  assert.equal(canonicalJson({ '\u00e9': 1, z: 2, Z: 3, '10': 4, '9': 5 }), '{"10":4,"9":5,"Z":3,"z":2,"é":1}');
  assert.equal(canonicalJson(Object.assign(Object.create(null) as object, { a: 1 })), '{"a":1}');
  for (const bad of [NaN, Infinity, { x: 1n }, [undefined], { f: () => 1 }, new Map(), Symbol('s')]) assert.throws(() => canonicalJson(bad), invalidArg);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => canonicalJson(cyclic), /acyclic/);
  const shared = { x: 1 };
  assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}', 'a shared (non-cyclic) object is fine');
});

test('anchors: parse, format and validation', () => {
  const hash = 'AB'.repeat(32);
  assert.deepEqual(parseAuditAnchor(` 12:${hash} `), { seq: 12, hash: hash.toLowerCase() });
  for (const bad of ['12', `x:${hash}`, `-1:${hash}`, '3:abc', `0:${'1'.repeat(64)}`]) assert.throws(() => parseAuditAnchor(bad), invalidArg, bad);
});

test('a database of the first release (sync log, component_versions) carries over: old entries verify, new ones extend them', async () => {
  const path = join(tempDir('audit'), 'state.db');
  // What the first release wrote: the table from its first migration, recorded in component_versions, and
  // entries chained without request ids.
  const old = new Database(path);
  old.exec(AUDIT_MIGRATIONS[0]!.sqlite);
  old.exec('CREATE TABLE component_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at TEXT NOT NULL)');
  old.prepare("INSERT INTO component_versions VALUES ('audit', 1, ?)").run(new Date().toISOString());
  const clock = fakeClock();
  let prevHash = GENESIS_HASH;
  for (const [seq, e] of [{ actor: 'cli', action: 'key.created', subject: 'k_1', details: { n: 1 } }, { actor: 'system', action: 'service.started', subject: null, details: {} }].entries()) {
    const fields = { seq: seq + 1, at: clock().toISOString(), actor: e.actor, action: e.action, subject: e.subject, requestId: null, prevHash };
    const details = canonicalJson(e.details);
    const hash = createHash('sha256').update(auditHashInput(fields, details), 'utf8').digest('hex');
    old.prepare('INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(fields.seq, fields.at, e.actor, e.action, e.subject, details, prevHash, hash);
    prevHash = hash;
  }
  old.close();
  const db = await openDatabase(path);
  try {
    await migrate(db, [AUDIT_COMPONENT]);
    const log = new AuditLog(db);
    const added = await log.appendNow({ actor: 'user:1', action: 'review.decided', requestId: 'req-9' });
    assert.equal(added.seq, 3);
    assert.equal(added.requestId, 'req-9');
    assert.deepEqual(await log.verify(), { ok: true, entries: 3, headSeq: 3, headHash: added.hash });
    assert.deepEqual((await log.list()).map((e) => e.requestId), [null, null, 'req-9']);
  } finally {
    await db.close();
  }
});

for (const engine of ENGINES) {
  describe(`audit log (${engine.name})`, () => {
    const opened: TestDatabase[] = [];
    after(async () => {
      for (const t of opened) await t.drop();
    });

    async function fresh(): Promise<TestDatabase> {
      const t = await engine.open();
      opened.push(t);
      await migrate(t.db, [AUDIT_COMPONENT]);
      return t;
    }

    async function setup(count = 5): Promise<{ db: VigilDatabase; t: TestDatabase; log: AuditLog; entries: AuditEntry[] }> {
      const t = await fresh();
      const log = new AuditLog(t.db, { now: fakeClock() });
      const entries: AuditEntry[] = [];
      for (let i = 0; i < count; i++) {
        entries.push(await log.appendNow({ actor: i % 2 ? 'cli' : 'key:k_aaaaaaaaaaaa', action: i % 2 ? 'key.created' : 'decision.created', subject: `s${i + 1}`, details: { n: i + 1, nested: { b: [1, 'two'], a: null } } }));
      }
      return { db: t.db, t, log, entries };
    }

    /** Tampering needs the triggers gone: an attacker with database access can do the same. */
    const dropTriggers = (db: VigilDatabase) => rawSql(db, ['audit_log_no_update', 'audit_log_no_delete', 'audit_log_extends_chain']
      .map((name) => `DROP TRIGGER ${name}${engine.name === 'postgres' ? ' ON audit_log' : ''};`).join(' '));

    /** Whole-log reads and pages of 2 (crossing page boundaries) must agree. */
    async function verifyBoth(log: AuditLog, options: { anchor?: { seq: number; hash: string } } = {}): Promise<AuditVerifyResult> {
      const whole = await log.verify(options);
      assert.deepEqual(await log.verify({ ...options, batchSize: 2 }), whole);
      return whole;
    }

    test('an empty log verifies, with the genesis head', async () => {
      const { log } = await setup(0);
      assert.deepEqual(await log.head(), { seq: 0, hash: GENESIS_HASH });
      assert.deepEqual(await verifyBoth(log), { ok: true, entries: 0, headSeq: 0, headHash: GENESIS_HASH });
      assert.equal((await verifyBoth(log, { anchor: { seq: 0, hash: GENESIS_HASH } })).ok, true);
      await assert.rejects(log.verify({ anchor: { seq: 1.5, hash: GENESIS_HASH } }), /non-negative integer/);
    });

    test('appends chain from genesis with contiguous seqs; hash = sha256 of canonical JSON; verify ok', async () => {
      const { log, entries } = await setup(5);
      assert.deepEqual(entries.map((e) => e.seq), [1, 2, 3, 4, 5]);
      assert.equal(entries[0].prevHash, GENESIS_HASH);
      for (let i = 1; i < entries.length; i++) assert.equal(entries[i].prevHash, entries[i - 1].hash);
      for (const e of entries) {
        assert.match(e.hash, /^[0-9a-f]{64}$/);
        assert.equal(e.hash, rehash(e), 'the documented definition, recomputed independently');
        assert.equal(e.requestId, null);
      }
      assert.equal(entries[0].at, '2025-01-01T00:00:01.000Z');
      assert.deepEqual(await log.list(), entries);
      assert.deepEqual(await log.head(), { seq: 5, hash: entries[4].hash });
      assert.deepEqual(await verifyBoth(log), { ok: true, entries: 5, headSeq: 5, headHash: entries[4].hash });
    });

    test('an entry names its request; the request id is hashed, so editing it is detected', async () => {
      const { db, log } = await setup(2);
      const e = await log.appendNow({ actor: 'user:7', action: 'review.decided', subject: 'review:1', requestId: 'req-abc' });
      assert.equal(e.requestId, 'req-abc');
      assert.equal(e.hash, rehash(e));
      assert.deepEqual((await log.list({ afterSeq: 2 }))[0], e);
      assert.equal((await verifyBoth(log)).ok, true);
      for (const bad of ['', 'a\nb', 'x'.repeat(201), 5]) await assert.rejects(log.appendNow({ actor: 'cli', action: 'a.b', requestId: bad as string }), invalidArg);
      await dropTriggers(db);
      await rawSql(db, "UPDATE audit_log SET request_id = 'req-other' WHERE seq = 3");
      assert.equal((await verifyBoth(log)).firstBadSeq, 3);
    });

    test('the database refuses UPDATE, DELETE and inserts that do not extend the chain', async () => {
      const { db, entries } = await setup(3);
      await assert.rejects(rawSql(db, "UPDATE audit_log SET details = '{}' WHERE seq = 2"), /append-only/);
      await assert.rejects(rawSql(db, 'DELETE FROM audit_log WHERE seq = 3'), /append-only/);
      if (engine.name === 'postgres') await assert.rejects(rawSql(db, 'TRUNCATE audit_log'), /append-only/);
      const insert = 'INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
      await assert.rejects(rawSql(db, insert, [5, 'x', 'cli', 'a.b', null, '{}', entries[2].hash, 'h']), /extend the chain/, 'gap');
      await assert.rejects(rawSql(db, insert, [4, 'x', 'cli', 'a.b', null, '{}', entries[1].hash, 'h']), /extend the chain/, 'wrong link');
      assert.equal(await rawCount(db, 'audit_log'), 3);
    });

    test('verify detects an edited details field', async () => {
      const { db, log } = await setup(5);
      await dropTriggers(db);
      await rawSql(db, `UPDATE audit_log SET details = replace(details, '"n":3', '"n":99') WHERE seq = 3`);
      const r = await verifyBoth(log);
      assert.equal(r.ok, false);
      assert.equal(r.firstBadSeq, 3);
      assert.match(r.problem ?? '', /hash mismatch/);
      assert.equal(r.entries, 2);
      assert.equal(r.headSeq, 2, 'the sound prefix');
    });

    test('verify detects a byte-level change even when the JSON means the same', async () => {
      const { db, log } = await setup(3);
      await dropTriggers(db);
      await rawSql(db, `UPDATE audit_log SET details = ' ' || details WHERE seq = 2`);
      assert.equal((await verifyBoth(log)).firstBadSeq, 2);
    });

    test('verify detects an edited hash, and an edit whose hash was recomputed (broken link at the next entry)', async () => {
      const { db, log, entries } = await setup(5);
      await dropTriggers(db);
      await rawSql(db, 'UPDATE audit_log SET hash = ? WHERE seq = 3', ['f'.repeat(64)]);
      let r = await verifyBoth(log);
      assert.equal(r.firstBadSeq, 3);
      assert.match(r.problem ?? '', /hash mismatch/);

      const forged = { ...entries[2], details: { n: 42 } };
      await rawSql(db, 'UPDATE audit_log SET details = ?, hash = ? WHERE seq = 3', [canonicalJson(forged.details), rehash(forged)]);
      r = await verifyBoth(log);
      assert.equal(r.firstBadSeq, 4);
      assert.match(r.problem ?? '', /broken link: prevHash of entry 4 does not match the hash of entry 3/);
    });

    test('verify detects a deleted middle row and a deleted first row', async () => {
      const { db, log } = await setup(5);
      await dropTriggers(db);
      await rawSql(db, 'DELETE FROM audit_log WHERE seq = 3');
      let r = await verifyBoth(log);
      assert.equal(r.firstBadSeq, 3);
      assert.match(r.problem ?? '', /entry 3 missing/);
      await rawSql(db, 'DELETE FROM audit_log WHERE seq = 1');
      r = await verifyBoth(log);
      assert.equal(r.firstBadSeq, 1);
      assert.equal(r.headSeq, 0);
    });

    test('verify detects reordered rows', async () => {
      const { db, log } = await setup(5);
      await dropTriggers(db);
      await rawSql(db, 'UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -2');
      const r = await verifyBoth(log);
      assert.equal(r.firstBadSeq, 2);
      assert.match(r.problem ?? '', /broken link/);
    });

    test('verify detects a well-formed row inserted in the middle (the following entry no longer links)', async () => {
      const { db, log, entries } = await setup(5);
      await dropTriggers(db);
      await rawSql(db, 'UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3; UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000');
      const forged = { seq: 3, at: entries[1].at, actor: 'cli', action: 'key.revoked', subject: 'x', details: {}, prevHash: entries[1].hash };
      await rawSql(db, 'INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [3, forged.at, forged.actor, forged.action, forged.subject, '{}', forged.prevHash, rehash(forged)]);
      const r = await verifyBoth(log);
      assert.equal(r.firstBadSeq, 4, 'entry 3 itself is well formed; entry 4 (the old 3) breaks');
      assert.equal(r.headSeq, 3);
    });

    test('tail truncation passes a plain verify but not one with an anchor', async () => {
      const { db, log, entries } = await setup(5);
      const anchor = await log.head();
      await dropTriggers(db);
      await rawSql(db, 'DELETE FROM audit_log WHERE seq >= 4');
      assert.equal((await verifyBoth(log)).ok, true, 'a chain cannot see its own missing tail');
      const r = await verifyBoth(log, { anchor });
      assert.equal(r.ok, false);
      assert.equal(r.firstBadSeq, 4);
      assert.match(r.problem ?? '', /truncated: the log ends at entry 3 but the anchor records entry 5/);
      assert.equal(r.headHash, entries[2].hash);

      await rawSql(db, 'DELETE FROM audit_log');
      const all = await verifyBoth(log, { anchor });
      assert.equal(all.firstBadSeq, 1);
      assert.match(all.problem ?? '', /truncated/);
    });

    test('a consistently rewritten tail passes a plain verify but not one with an anchor', async () => {
      const { db, log, entries } = await setup(5);
      const anchor = await log.head();
      await dropTriggers(db);
      let prevHash = entries[1].hash;
      for (const e of entries.slice(2)) {
        const forged = { ...e, details: { rewritten: true }, prevHash };
        const hash = rehash(forged);
        await rawSql(db, 'UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?', [canonicalJson(forged.details), prevHash, hash, e.seq]);
        prevHash = hash;
      }
      assert.equal((await verifyBoth(log)).ok, true);
      const r = await verifyBoth(log, { anchor });
      assert.equal(r.firstBadSeq, 5);
      assert.match(r.problem ?? '', /anchor mismatch/);
    });

    test('an anchor from earlier keeps verifying as the log grows', async () => {
      const { log } = await setup(3);
      const anchor = parseAuditAnchor(formatAuditAnchor(await log.head()));
      await log.appendNow({ actor: 'system', action: 'job.retried' });
      const r = await verifyBoth(log, { anchor });
      assert.equal(r.ok, true);
      assert.equal(r.headSeq, 4);
    });

    test("appends inside a caller's rolled-back transaction leave no trace; committed ones land with the caller's rows", async () => {
      const t = await fresh();
      const { db } = t;
      const log = new AuditLog(db, { now: fakeClock() });
      await rawSql(db, 'CREATE TABLE t_decisions (id INTEGER PRIMARY KEY, verdict TEXT)');
      const decide = (id: number, verdict: string, fail: boolean) => db.transaction(async (tx) => {
        await rawSqlIn(tx, 'INSERT INTO t_decisions (id, verdict) VALUES (?, ?)', [id, verdict]);
        await log.append(tx, { actor: 'key:k_aaaaaaaaaaaa', action: 'decision.created', subject: String(id), details: { verdict }, requestId: `req-${id}` });
        await log.appendMany(tx, [{ actor: 'system', action: 'data.accessed' }, { actor: 'system', action: 'data.accessed' }]);
        assert.equal((await log.head(tx)).seq, 3, 'the transaction sees its own appends');
        if (fail) throw new Error('downstream failure');
        return id;
      });
      await assert.rejects(decide(1, 'block', true), /downstream failure/);
      assert.deepEqual(await log.list(), []);
      assert.deepEqual(await log.head(), { seq: 0, hash: GENESIS_HASH });
      assert.equal(await rawCount(db, 't_decisions'), 0);

      const id = await decide(2, 'allow', false);
      const entries = await log.list();
      assert.deepEqual(entries.map((e) => e.seq), [1, 2, 3], 'seq 1 again: the rolled-back entries used up nothing');
      assert.equal(entries[0].subject, String(id));
      assert.equal(entries[0].requestId, 'req-2');
      assert.equal(await rawCount(db, 't_decisions'), 1);
      assert.equal((await verifyBoth(log)).ok, true);
    });

    test('appendMany is all or nothing; invalid inputs are rejected before anything is written', async () => {
      const { db, log } = await setup(1);
      const bad = [{ actor: 'cli', action: 'bank.changed' }, { actor: 'cli', action: 'Not Dotted' }];
      await assert.rejects(db.transaction((tx) => log.appendMany(tx, bad)), invalidArg);
      await assert.rejects(log.appendManyNow(bad), invalidArg);
      assert.equal((await log.head()).seq, 1);
      const added = await db.transaction((tx) => log.appendMany(tx, [{ actor: 'cli', action: 'bank.changed' }, { actor: 'cli', action: 'rules.changed', details: { version: 2 } }]));
      assert.deepEqual(added.map((e) => e.seq), [2, 3]);
      assert.deepEqual(added[0].details, {});
      assert.equal(added[0].subject, null);
      assert.deepEqual(await log.appendManyNow([]), []);
    });

    test('input validation', async () => {
      const { log } = await setup(0);
      const invalid = (input: unknown) => assert.rejects(log.appendNow(input as never), invalidArg, JSON.stringify(input));
      await invalid({ actor: '', action: 'key.created' });
      await invalid({ actor: 'cli\n', action: 'key.created' });
      await invalid({ actor: 'cli', action: 'created' });
      await invalid({ actor: 'cli', action: 'key.created', details: [1] });
      await invalid({ actor: 'cli', action: 'key.created', details: { x: NaN } });
      await invalid({ actor: 'cli', action: 'key.created', subject: 5 });
      assert.equal((await log.head()).seq, 0);
    });

    test('list: afterSeq paging, limit, exact action, action prefix, subject', async () => {
      const { log } = await setup(6); // odd seqs decision.created, even key.created; subjects s1…s6
      await log.appendNow({ actor: 'cli', action: 'keyring.changed' }); // must not match 'key.*'
      const seqs = async (filter: Parameters<AuditLog['list']>[0]) => (await log.list(filter)).map((e) => e.seq);
      assert.deepEqual(await seqs({ afterSeq: 2, limit: 2 }), [3, 4]);
      assert.deepEqual(await seqs({ action: 'key.created' }), [2, 4, 6]);
      assert.deepEqual(await seqs({ action: 'key.*' }), [2, 4, 6]);
      assert.deepEqual(await seqs({ action: 'decision.*', afterSeq: 1 }), [3, 5]);
      assert.deepEqual(await seqs({ subject: 's5' }), [5]);
      assert.deepEqual(await log.list({ afterSeq: 100 }), []);
      await assert.rejects(log.list({ limit: 0 }), /limit/);
      await assert.rejects(log.list({ limit: 10_001 }), /limit/);
      await assert.rejects(log.list({ action: "x' OR 1=1" }), /action/);
    });

    test('concurrent appends on one database extend one chain', async () => {
      const { log } = await setup(0);
      await Promise.all(Array.from({ length: 30 }, (_, i) => log.appendNow({ actor: 'system', action: 'job.retried', details: { i } })));
      assert.deepEqual(await verifyBoth(log), { ok: true, entries: 30, headSeq: 30, headHash: (await log.head()).hash });
    });

    test('two connections (two processes) appending extend one chain', async () => {
      const t = await fresh();
      const other = await openDatabase(t.url, t.schema ? { schema: t.schema } : {});
      try {
        const logA = new AuditLog(t.db);
        const logB = new AuditLog(other);
        for (let i = 0; i < 10; i++) await (i % 3 ? logA : logB).appendNow({ actor: 'system', action: 'job.retried', details: { i } });
        if (engine.name === 'postgres') {
          // Separate pools: the advisory lock, not this process, keeps them in line. (Two SQLite connections in one
          // process cannot interleave async transactions: the second BEGIN IMMEDIATE would block the event loop.)
          await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? logA : logB).appendNow({ actor: 'system', action: 'job.retried', details: { i } })));
        }
        const n = engine.name === 'postgres' ? 50 : 10;
        assert.deepEqual(await verifyBoth(logB), { ok: true, entries: n, headSeq: n, headHash: (await logA.head()).hash });
      } finally {
        await other.close();
      }
    });

    test('verify: a forged entry with seq 0 is seen; batchSize is validated', async () => {
      const { db, log } = await setup(3);
      await dropTriggers(db);
      await rawSql(db, "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (0, 'x', 'cli', 'a.b', NULL, '{}', ?, ?)", [GENESIS_HASH, GENESIS_HASH]);
      const r = await verifyBoth(log);
      assert.equal(r.firstBadSeq, 1);
      assert.match(r.problem ?? '', /invalid seq 0/);
      await assert.rejects(log.verify({ batchSize: 0 }), /batchSize/);
    });
  });
}
