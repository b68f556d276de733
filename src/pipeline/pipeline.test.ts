// The pipeline on both engines: decision, rows, incident, review item, jobs and audit in one unit of work.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { AuditLog } from '../audit/log.js';
import { AUDIT_COMPONENT } from '../audit/schema.js';
import { MapDigestIndex } from '../banks/_map-digest-index.js';
import { BankMatcher } from '../banks/matcher.js';
import { QUEUE_COMPONENT } from '../queue/schema.js';
import { SqlJobQueue } from '../queue/sql-queue.js';
import { DecisionRecords } from '../records/decisions.js';
import { RECORDS_COMPONENT } from '../records/schema.js';
import { parseRulesConfig } from '../rules/config.js';
import { RuleEngine } from '../rules/engine.js';
import { migrate } from '../state/migrate.js';
import { ENGINES, type TestDatabase } from '../state/test-engines.js';
import { storeOver } from '../store/store.js';
import type { Store } from '../store/types.js';
import { ContentPipeline } from './pipeline.js';
import { RetroMatcher } from './retro.js';

// Benign stand-ins: the conformance bridge photo's PDQ, and arbitrary digests.
const BRIDGE = 'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22';
const KNOWN_MD5 = '0123456789abcdef0123456789abcdef';
const LATER_MD5 = '00112233445566778899aabbccddeeff';
/** `hex` with `bits` bits flipped from bit `from` on. */
const flipBits = (hex: string, from: number, bits: number) => {
  const b = Buffer.from(hex, 'hex');
  for (let k = from; k < from + bits; k++) b[(k >> 3) % 32] ^= 1 << (k & 7);
  return b.toString('hex');
};

const rules = new RuleEngine(parseRulesConfig({
  version: 1,
  webhooks: { accounts: { url: 'https://accounts.example/hook', secretEnv: 'VIGIL_TEST_SECRET' } },
  rules: [
    { id: 'block-known', description: 'known material', when: { bankKind: 'block' }, then: [{ type: 'block' }, { type: 'hold_for_review', priority: 90 }, { type: 'preserve_evidence' }, { type: 'disable_account', webhook: 'accounts' }] },
  ],
}));

for (const engine of ENGINES) describe(`pipeline (${engine.name})`, () => {
let t: TestDatabase;
let store: Store;
let matcher: BankMatcher;
let records: DecisionRecords;
let queue: SqlJobQueue;
let audit: AuditLog;
let pipeline: ContentPipeline;
const make = (o: { retainDays: number; now?: () => Date }) =>
  new ContentPipeline({ db: t.db, store, matcher, records, queue, audit, rules: () => rules, hashFile: () => Promise.reject(new Error('not used')), ...o });

// A fresh database for every test, so none depends on what an earlier one left.
beforeEach(async () => {
  t = await engine.open();
  store = await storeOver(t.db);
  await migrate(t.db, [AUDIT_COMPONENT, QUEUE_COMPONENT, RECORDS_COMPONENT]);
  await store.createBank({ name: 'list', source: 'test exchange' });
  await store.importList('list', [{ kind: 'record', line: 1, record: { signals: [{ type: 'pdq', value: BRIDGE }, { type: 'md5', value: KNOWN_MD5 }], labels: { industryCategory: 'A1' } } }]);
  matcher = new BankMatcher(store, { digestIndex: () => new MapDigestIndex() });
  await matcher.sync();
  records = new DecisionRecords(t.db);
  queue = new SqlJobQueue(t.db);
  audit = new AuditLog(t.db);
  pipeline = make({ retainDays: 30 });
});

afterEach(() => t.drop());

test('a match is decided, recorded with its actions and audited in one go; a concurrent twin repeats nothing', async () => {
  const meta = { contentId: 'post-1', accountId: 'acct-1', context: { surface: 'chat' }, actor: 'key:test' };
  const [a, b] = await Promise.all([pipeline.submitHashes(meta, { md5: KNOWN_MD5 }), pipeline.submitHashes(meta, { md5: KNOWN_MD5 })]);
  assert.equal(a.verdict, 'block');
  assert.equal(a.decisionId, b.decisionId);
  assert.deepEqual([a.replayed, b.replayed].sort(), [false, true]);
  const first = a.replayed ? b : a;
  assert.deepEqual(first.actions.map((x) => [x.type, x.status]), [['block', 'done'], ['hold_for_review', 'done'], ['preserve_evidence', 'skipped'], ['disable_account', 'queued']]);
  const [item] = await records.listReviewItems();
  assert.equal(item!.priority, 90);
  assert.equal(item!.state, 'open');
  assert.ok(item!.incidentId !== null, 'the review item points at its incident');
  const jobs = await queue.list({ queue: 'webhook' });
  assert.equal(jobs.length, 1);
  assert.equal((jobs[0].payload as { event: { type: string; data: { accountId: string } } }).event.data.accountId, 'acct-1');
  assert.equal((await audit.list({ action: 'decision.created' })).length, 1);
  assert.equal((await audit.verify()).ok, true);
  const stored = await records.getDecision(first.decisionId!);
  assert.deepEqual(stored!.matches.map((m) => m.signalType), ['md5']);
  assert.deepEqual(stored!.actions.map((x) => x.type), ['block', 'hold_for_review', 'preserve_evidence', 'disable_account']);
});

test('a different content id with the same hashes is a new decision; account history counts it', async () => {
  await pipeline.submitHashes({ contentId: 'post-1', accountId: 'acct-1', actor: 'key:test' }, { md5: KNOWN_MD5 });
  const r = await pipeline.submitHashes({ contentId: 'post-2', accountId: 'acct-1', actor: 'key:test' }, { pdq: [BRIDGE] });
  assert.equal(r.replayed, false);
  assert.equal(r.matches[0].signalType, 'pdq');
  assert.deepEqual(await records.accountHistory('acct-1'), { priorMatchedDecisions: 2, priorBlocks: 2 });
});

test('unmatched content leaves no decision; its hashes are retained and found when a bank gains them later', async () => {
  const r = await pipeline.submitHashes({ contentId: 'post-3', accountId: 'acct-2', actor: 'key:test' }, { md5: LATER_MD5 });
  assert.equal(r.verdict, 'allow');
  assert.equal(r.decisionId, null);
  assert.equal(await records.findDecision('post-3', r.fingerprint), undefined);
  assert.equal(await records.countRetained(), 1);
  const retro = new RetroMatcher({ store, matcher, records, pipeline });
  assert.equal((await retro.run()).late.length, 0);
  await store.importList('list', [{ kind: 'record', line: 1, record: { signals: [{ type: 'md5', value: LATER_MD5 }], labels: {} } }]);
  const run = await retro.run();
  assert.equal(run.late.length, 1);
  assert.equal(run.late[0].contentId, 'post-3');
  assert.equal(run.late[0].late, true);
  assert.equal(await records.countRetained(), 0);
  assert.equal((await retro.run()).checked, 0);
});

test('retroactive matching re-matches only the retained submissions a new signal is near, not every one', async () => {
  // Unrelated 256-bit values (about 128 bits from each other and from the bank's).
  const far = (i: number) => createHash('sha256').update(`retained-${i}`).digest('hex');
  for (let i = 0; i < 5; i++) await pipeline.submitHashes({ contentId: `kept-${i}`, actor: 'key:test' }, { md5: `${i}`.repeat(32), pdq: [far(i)] });
  assert.equal(await records.countRetained(), 5);
  const rematched: string[] = [];
  const rematch = pipeline.rematch.bind(pipeline);
  pipeline.rematch = (row, query) => (rematched.push(row.contentId), rematch(row, query));
  const retro = new RetroMatcher({ store, matcher, records, pipeline });
  // A new MD5 equal to one submission's, and a new PDQ 8 bits from another's; 20 unrelated signals.
  await store.importList('list', [
    { kind: 'record', line: 1, record: { signals: [{ type: 'md5', value: '1'.repeat(32) }], labels: {} } },
    { kind: 'record', line: 2, record: { signals: [{ type: 'pdq', value: flipBits(far(3), 0, 8) }], labels: {} } },
    ...Array.from({ length: 20 }, (_, i) => ({ kind: 'record' as const, line: 3 + i, record: { signals: [{ type: 'md5' as const, value: (1000 + i).toString(16).padStart(32, 'e') }], labels: {} } })),
  ]);
  const run = await retro.run();
  assert.deepEqual(rematched.sort(), ['kept-1', 'kept-3']);
  assert.equal(run.checked, 5);
  assert.equal(run.rematched, 2);
  assert.deepEqual(run.late.map((r) => r.contentId).sort(), ['kept-1', 'kept-3']);
  // The others are checked as of now: another run re-matches nothing until the feed moves again.
  rematched.length = 0;
  assert.deepEqual(await retro.run(), { checked: 0, rematched: 0, late: [], purged: 0 });
  assert.deepEqual(rematched, []);
  assert.equal(await records.countRetained(), 3);
});

test('retained hashes expire', async () => {
  const late = make({ retainDays: 1, now: () => new Date('2020-01-01T00:00:00Z') });
  await late.submitHashes({ contentId: 'old', actor: 'key:test' }, { md5: 'ffeeddccbbaa99887766554433221100' });
  const purged = await new RetroMatcher({ store, matcher, records, pipeline }).run();
  assert.equal(purged.purged, 1);
});
});
