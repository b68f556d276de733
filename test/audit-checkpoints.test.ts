/**
 * Signed audit checkpoints outside the database (issue #11): the service writes them (file 0600, webhook),
 * `vigil audit checkpoint` on demand, and `vigil audit verify --checkpoints` catches what the chain alone
 * cannot — a cut tail and a chain recomputed after an edit — naming the first bad entry; decision rows are
 * cross-checked with their entries. Benign data only (the demo's synthetic pictures).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCheckpoints, loadVerifyKey, type Checkpoint } from '../src/audit/checkpoint.js';
import { auditHashInput } from '../src/audit/log.js';
import Database from 'better-sqlite3';
import { runVigil } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';
import { startTestService } from './_service.js';

type Sqlite = Database.Database;
const openStateDb = (path: string): Sqlite => new Database(path);

/** What an owner of the database can do: edit entry `seq` and recompute every later hash and link. */
function rewriteFrom(db: Sqlite, seq: number, edit: (details: Record<string, unknown>) => void): void {
  db.exec('DROP TRIGGER IF EXISTS audit_log_no_update');
  const rows = db.prepare('SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq').all(seq) as { seq: number; at: string; actor: string; action: string; subject: string | null; details: string; prev_hash: string; hash: string; request_id: string | null }[];
  let prev = (db.prepare('SELECT hash FROM audit_log WHERE seq = ?').get(seq - 1) as { hash: string } | undefined)?.hash ?? '0'.repeat(64);
  for (const row of rows) {
    let details = row.details;
    if (row.seq === seq) {
      const parsed = JSON.parse(details) as Record<string, unknown>;
      edit(parsed);
      details = JSON.stringify(parsed);
    }
    const hash = createHash('sha256').update(auditHashInput({ seq: row.seq, at: row.at, actor: row.actor, action: row.action, subject: row.subject, requestId: row.request_id, prevHash: prev }, details)).digest('hex');
    db.prepare('UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(details, prev, hash, row.seq);
    prev = hash;
  }
}

test('service checkpoints (0600 file, webhook, on demand); verify catches truncation, a recomputed chain and an edited decision', async () => {
  const dir = tempDir('checkpoints');
  const keyFile = join(dir, 'checkpoint.key');
  const file = join(dir, 'audit-checkpoints.jsonl');
  const keygen = await runVigil(['audit', 'keygen', keyFile]);
  assert.equal(keygen.status, 0, keygen.stderr);
  assert.match(keygen.stdout, /-----BEGIN PUBLIC KEY-----/);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const publicKey = join(dir, 'public.pem');
  writeFileSync(publicKey, /-----BEGIN PUBLIC KEY-----[\s\S]*-----END PUBLIC KEY-----\n/.exec(keygen.stdout)![0]);
  assert.equal((await runVigil(['audit', 'keygen', keyFile])).status, 2, 'an existing key is never overwritten');

  const posted: Checkpoint[] = [];
  let arrived: () => void = () => undefined;
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += String(c)));
    req.on('end', () => { posted.push(JSON.parse(body) as Checkpoint); res.end('ok'); arrived(); });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const t = await startTestService({ demo: true, audit: { checkpointFile: file, checkpointKeyFile: keyFile, checkpointWebhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/audit` } });
  const db = join(t.dir, 'vigil.db');
  try {
    const admin = await t.key(['admin']);
    const sunset = readFileSync(join(t.dir, 'demo', 'sunset.png'));
    const form = new FormData();
    form.set('contentId', 'checkpointed-1');
    form.set('file', new Blob([sunset]), 'sunset.png');
    const decided = await fetch(`${t.url}/v1/content`, { method: 'POST', headers: { authorization: `Bearer ${admin}` }, body: form });
    assert.equal(((await decided.json()) as { verdict: string }).verdict, 'block');
    const onDemand = await t.service.checkpoints!.checkpoint();
    assert.equal(onDemand?.seq, (await t.service.ctx.audit.head()).seq);
    if (posted.length < 2) await new Promise<void>((r) => (arrived = r));
    assert.deepEqual(posted.at(-1), onDemand, 'the webhook got the same signed checkpoint');
  } finally {
    await t.service.close();
    hook.close();
  }
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const written = readCheckpoints(file, loadVerifyKey(publicKey));
  assert.deepEqual(written.problems, []);
  assert.ok(written.checkpoints.length >= 3, 'at start, on demand and at stop');

  const verify = (...extra: string[]) => runVigil(['--db', db, 'audit', 'verify', '--json', '--checkpoints', file, '--checkpoint-key', publicKey, ...extra]);
  const ok = await verify();
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  const okResult = JSON.parse(ok.stdout) as { ok: boolean; checkpoint: { seq: number }; crossCheck: { decisions: number } };
  // Every decision row (the upload above, and the demo's when it runs) agrees with its entry.
  const rows = openStateDb(db);
  const decisionRows = (rows.prepare('SELECT count(*) AS n FROM decisions').get() as { n: number }).n;
  rows.close();
  assert.ok(decisionRows >= 1);
  assert.equal(okResult.crossCheck.decisions, decisionRows);
  // Checkpoint every entry, so a rewrite is pinned to the exact entry.
  for (let i = 0; i < 2; i++) assert.equal((await runVigil(['--db', db, 'audit', 'checkpoint', '--checkpoints', file, '--checkpoint-key', keyFile])).status, 0);
  const checkpointed = readCheckpoints(file, loadVerifyKey(keyFile)).checkpoints.map((c) => c.seq);
  const head = Math.max(...checkpointed);

  // 1. A decision row edited behind Vigil's back: the chain is intact, the cross-check is not.
  let sqlite = openStateDb(db);
  sqlite.prepare("UPDATE decisions SET verdict = 'allow' WHERE content_id = 'checkpointed-1'").run();
  sqlite.close();
  const edited = await verify();
  assert.equal(edited.status, 1);
  assert.match((JSON.parse(edited.stdout) as { crossCheck: { problems: string[] } }).crossCheck.problems[0]!, /^decision \d+: its verdict differs from audit entry \d+ \(the row was edited\)$/);
  sqlite = openStateDb(db);
  sqlite.prepare("UPDATE decisions SET verdict = 'block' WHERE content_id = 'checkpointed-1'").run();

  // 2. The chain recomputed after editing the decision's entry: without checkpoints it verifies; with them it fails at that entry.
  const entrySeq = (sqlite.prepare("SELECT seq FROM audit_log WHERE action = 'decision.created' AND subject = 'content:checkpointed-1'").get() as { seq: number }).seq;
  const before = Math.max(...checkpointed.filter((s) => s < entrySeq));
  rewriteFrom(sqlite, entrySeq, (d) => void (d.verdict = 'allow'));
  sqlite.prepare("UPDATE decisions SET verdict = 'allow' WHERE content_id = 'checkpointed-1'").run();
  sqlite.close();
  const plain = await runVigil(['--db', db, 'audit', 'verify', '--json']);
  assert.equal(plain.status, 0, 'a recomputed chain fools the chain alone');
  const rewritten = await verify();
  assert.equal(rewritten.status, 1);
  const bad = JSON.parse(rewritten.stdout) as { ok: boolean; firstBadSeq: number; problem: string };
  assert.equal(bad.firstBadSeq, before + 1, 'the first entry after the last checkpoint that still matches');
  assert.match(bad.problem, /^rewritten: entry \d+'s hash differs from the checkpoint/);
  assert.match(rewritten.stderr, /VIGIL_ERR_AUDIT_TAMPERED: audit log tampered: first bad entry/);

  // 3. The tail cut below the latest checkpoint.
  sqlite = openStateDb(db);
  sqlite.exec('DROP TRIGGER IF EXISTS audit_log_no_delete');
  sqlite.prepare('DELETE FROM audit_log WHERE seq >= ?').run(entrySeq);
  sqlite.close();
  const cut = await verify();
  assert.equal(cut.status, 1);
  const truncated = JSON.parse(cut.stdout) as { firstBadSeq: number; problem: string };
  assert.match(truncated.problem, new RegExp(`^truncated: the log ends at entry ${entrySeq - 1} but the checkpoint of \\S+ records entry \\d+`));
  assert.ok(head >= entrySeq);

  // 4. A forged or edited checkpoint line is refused.
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  const forged = JSON.parse(lines.at(-1)!) as Checkpoint;
  forged.seq = 1;
  writeFileSync(file, [...lines, JSON.stringify(forged)].join('\n') + '\n');
  assert.match(readCheckpoints(file, loadVerifyKey(publicKey)).problems.join(), new RegExp(`checkpoint line ${lines.length + 1}: bad signature`));
});
