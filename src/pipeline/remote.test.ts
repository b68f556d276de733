// The pipeline with a remote matcher (a fake Arachnid Shield): hits join the decision, an outage is recorded, not hidden.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { AuditLog } from '../audit/log.js';
import { AUDIT_COMPONENT } from '../audit/schema.js';
import { MapDigestIndex } from '../banks/_map-digest-index.js';
import { BankMatcher } from '../banks/matcher.js';
import { ArachnidShieldMatcher } from '../exchanges/arachnid-shield.js';
import { QUEUE_COMPONENT } from '../queue/schema.js';
import { SqlJobQueue } from '../queue/sql-queue.js';
import { DecisionRecords } from '../records/decisions.js';
import { RECORDS_COMPONENT } from '../records/schema.js';
import { parseRulesConfig } from '../rules/config.js';
import { RuleEngine } from '../rules/engine.js';
import { migrate } from '../state/migrate.js';
import { ENGINES, type TestDatabase } from '../state/test-engines.js';
import { storeOver } from '../store/store.js';
import { tempDir } from '../../test/helpers/temp.js';
import { ContentPipeline } from './pipeline.js';
import { REMOTE_CHECKS_COMPONENT } from './remote-schema.js';
import { askRemote, remoteMatcherOf, type RemoteMatcherOptions } from './remote.js';

// Benign stand-ins: a PDQ the fake service "knows" (answered with its integration value `test`), one it does not,
// and a digest in the local bank.
const KNOWN = Buffer.alloc(32, 0x5a);
const OTHER = Buffer.alloc(32, 0x13);
const LOCAL_MD5 = '0123456789abcdef0123456789abcdef';

let up = true;
let url = '';
const mediaSeen: string[] = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (!up) return void res.writeHead(503).end();
    if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) return void res.writeHead(401).end();
    if (req.url === '/v1/media/') {
      mediaSeen.push(`${req.headers['content-type']}:${Buffer.concat(chunks).length}`);
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sha256_hex: 'ab'.repeat(32), classification: 'test', match_type: 'exact', match_id: 'm-1', near_match_details: [] }));
    }
    const { hashes } = JSON.parse(Buffer.concat(chunks).toString()) as { hashes: string[] };
    const scanned = Object.fromEntries(hashes.map((h) => [h, h === KNOWN.toString('base64') ? { classification: 'test', match_type: 'near', near_match_details: [] } : { classification: 'no-known-match', match_type: null }]));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ scanned_hashes: scanned }));
  });
});
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const rules = new RuleEngine(parseRulesConfig({
  version: 1,
  rules: [
    { id: 'review-remote', description: 'a remote match: a person looks', when: { remote: true }, then: [{ type: 'hold_for_review', priority: 70 }] },
    { id: 'block-local', description: 'a local block-bank match', when: { bankKind: 'block', remote: false }, then: [{ type: 'block' }] },
    { id: 'review-remote-failed', description: 'the remote check failed: a person looks', when: { remoteFailed: true }, then: [{ type: 'hold_for_review', priority: 10 }] },
  ],
}));

for (const engine of ENGINES) describe(`pipeline with a remote matcher (${engine.name})`, () => {
  let t: TestDatabase;
  let records: DecisionRecords;
  let audit: AuditLog;
  let pipeline: ContentPipeline;
  let make: (remote: RemoteMatcherOptions, hashFile?: ConstructorParameters<typeof ContentPipeline>[0]['hashFile']) => ContentPipeline;

  beforeEach(async () => {
    up = true;
    t = await engine.open();
    const store = await storeOver(t.db);
    await migrate(t.db, [AUDIT_COMPONENT, QUEUE_COMPONENT, RECORDS_COMPONENT, REMOTE_CHECKS_COMPONENT]);
    await store.createBank({ name: 'list', source: 'test' });
    await store.importList('list', [{ kind: 'record', line: 1, record: { signals: [{ type: 'md5', value: LOCAL_MD5 }], labels: {} } }]);
    const matcher = new BankMatcher(store, { digestIndex: () => new MapDigestIndex() });
    await matcher.sync();
    records = new DecisionRecords(t.db);
    audit = new AuditLog(t.db);
    // One attempt, no waits: a 503 is a failure at once (no sleeps in tests).
    const remote: RemoteMatcherOptions = { name: 'arachnid', matcher: new ArachnidShieldMatcher({ username: 'u', password: 'p', baseUrl: url }, { attempts: 1 }), timeoutMs: 30_000 };
    make = (r, hashFile = () => Promise.reject(new Error('not used'))) => new ContentPipeline({ db: t.db, store, matcher, records, queue: new SqlJobQueue(t.db), audit, rules: () => rules, hashFile, remote: r });
    pipeline = make(remote);
  });
  afterEach(() => t.drop());

  test('a remote hit becomes a stored match with its classification; the rule requiring one fires', async () => {
    const r = await pipeline.submitHashes({ contentId: 'c-1', actor: 'key:test' }, { pdq: [KNOWN.toString('hex')] });
    assert.deepEqual(r.remote, [{ matcher: 'arachnid', status: 'ok', matches: 1 }]);
    assert.equal(r.verdict, 'review');
    assert.deepEqual(r.fired.map((f) => f.ruleId), ['review-remote']);
    assert.match(r.fired[0]!.reason, /remote near pdq match \(arachnid-shield: test\)/);
    const stored = (await records.getDecision(r.decisionId!))!.matches;
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.bank, 'remote:arachnid');
    assert.deepEqual(stored[0]!.labels, { tags: ['test'] });
    assert.deepEqual(stored[0]!.remote, { matcher: 'arachnid-shield', classification: 'test', matchType: 'near' });
    assert.equal(stored[0]!.confidence, 'medium');
    assert.ok(stored[0]!.signalId < 0, 'no local signal stands behind a remote match');
    const [entry] = await audit.list({ action: 'decision.created' });
    assert.deepEqual(entry!.details.remote, [{ matcher: 'arachnid', status: 'ok', matches: 1 }]);
  });

  test('without a remote hit the remote rule stays silent and local matches decide', async () => {
    const r = await pipeline.submitHashes({ contentId: 'c-2', actor: 'key:test' }, { md5: LOCAL_MD5, pdq: [OTHER.toString('hex')] });
    assert.deepEqual(r.remote, [{ matcher: 'arachnid', status: 'ok', matches: 0 }]);
    assert.equal(r.verdict, 'block');
    assert.deepEqual(r.fired.map((f) => f.ruleId), ['block-local']);
  });

  test('an upload also goes to the media endpoint when asked, with its media type', async () => {
    const path = join(tempDir('remote'), 'upload.jpg');
    const bytes = Buffer.from('benign bytes');
    writeFileSync(path, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const shield = new ArachnidShieldMatcher({ username: 'u', password: 'p', baseUrl: url }, { attempts: 1 });
    const withMedia = make({ name: 'arachnid', matcher: shield, timeoutMs: 30_000, media: true }, async () => ({ path, sha256, media: 'image', format: 'jpeg', pdq: OTHER.toString('hex'), quality: 100 }));
    mediaSeen.length = 0;
    const r = await withMedia.submitFile({ contentId: 'c-5', actor: 'key:test' }, path);
    assert.deepEqual(mediaSeen, ['image/jpeg:12']);
    assert.deepEqual(r.remote, [{ matcher: 'arachnid', status: 'ok', matches: 1 }]);
    assert.deepEqual(r.matches.map((m) => [m.bank, m.signalType, m.sourceId, m.remote?.matchType]), [['remote:arachnid', 'sha256', 'm-1', 'exact']]);
    // Larger than mediaMaxBytes: only the PDQ leaves.
    const small = make({ name: 'arachnid', matcher: shield, timeoutMs: 30_000, media: true, mediaMaxBytes: 4 }, async () => ({ path, sha256, media: 'image', format: 'jpeg', pdq: OTHER.toString('hex'), quality: 100 }));
    mediaSeen.length = 0;
    assert.deepEqual((await small.submitFile({ contentId: 'c-6', actor: 'key:test' }, path)).remote, [{ matcher: 'arachnid', status: 'ok', matches: 0 }]);
    assert.deepEqual(mediaSeen, []);
  });

  test('remote down: decided from local matches, the failure recorded in the result and the audit entry', async () => {
    up = false;
    const r = await pipeline.submitHashes({ contentId: 'c-3', actor: 'key:test' }, { md5: LOCAL_MD5, pdq: [KNOWN.toString('hex')] });
    assert.equal(r.verdict, 'block');
    assert.deepEqual(r.fired.map((f) => f.ruleId), ['block-local', 'review-remote-failed']);
    assert.equal(r.remote![0]!.status, 'failed');
    assert.match(r.remote![0]!.error!, /503/);
    // Recorded with the decision: a replay says the same.
    const replay = await pipeline.submitHashes({ contentId: 'c-3', actor: 'key:test' }, { md5: LOCAL_MD5, pdq: [KNOWN.toString('hex')] });
    assert.equal(replay.replayed, true);
    assert.deepEqual(replay.remote, r.remote);
    const none = await pipeline.submitHashes({ contentId: 'c-4', actor: 'key:test' }, { pdq: [KNOWN.toString('hex')] });
    assert.equal(none.remote![0]!.status, 'failed', 'not a silent "no match"');
    // A rule can send what the remote matcher could not check to a person: the decision records why.
    assert.equal(none.verdict, 'review');
    const recorded = (await records.getDecision(none.decisionId!))!;
    assert.deepEqual(recorded.fired.map((f) => f.ruleId), ['review-remote-failed']);
    assert.match(recorded.fired[0]!.reason, /remote matcher arachnid could not check it: .*503/);
    const entries = await audit.list({ action: 'decision.created' });
    assert.deepEqual(entries.map((e) => (e.details.remote as { status: string }[])[0]!.status), ['failed', 'failed']);
    // Nothing it can look up (a digest only): not asked, and said so.
    assert.deepEqual((await pipeline.submitHashes({ contentId: 'c-7', actor: 'key:test' }, { md5: LOCAL_MD5 })).remote, [{ matcher: 'arachnid', status: 'skipped', matches: 0 }]);
  });
});

test('remoteMatcherOf: off unless enabled with credentials', () => {
  const base = { enabled: true, baseUrl: 'https://shield.example', timeoutMs: 5000, media: false, mediaMaxBytes: 1 };
  assert.equal(remoteMatcherOf({ ...base, enabled: false, username: 'u', password: 'p' }), undefined);
  assert.equal(remoteMatcherOf(base), undefined);
  assert.equal(remoteMatcherOf({ ...base, username: 'u', password: 'p' })?.name, 'arachnid');
});

test('a remote matcher that does not answer in time is a failed check, not a hang', async () => {
  const never: RemoteMatcherOptions = { name: 'slow', matcher: { match: () => new Promise(() => undefined) }, timeoutMs: 1 };
  const { check } = await askRemote(never, { pdq: [{ view: 'original', quality: 100, hashes: [KNOWN] }] });
  assert.equal(check.status, 'failed');
  assert.match(check.error!, /no answer within 1 ms/);
});
