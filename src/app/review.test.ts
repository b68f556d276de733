import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuditLog } from '../audit/log.js';
import { SessionStore } from '../auth/sessions.js';
import { UserStore, type Role, type User } from '../auth/users.js';
import { VigilError, type VigilErrorCode } from '../core/errors.js';
import { DecisionRecords } from '../records/decisions.js';
import { migrate } from '../state/migrate.js';
import { ENGINES, type TestDatabase } from '../state/test-engines.js';
import { storeOver } from '../store/store.js';
import type { Signal, Store } from '../store/types.js';
import { seedReviewItem } from './_review-seed.js';
import { BankService } from './banks.js';
import { ReviewService, type Reviewer } from './review.js';
import { COMPONENTS } from './vigil.js';

const FAST = { N: 1024, r: 8, p: 1 };
const T0 = Date.parse('2025-06-01T12:00:00Z');
const LEASE = 60_000;

function isCode(code: VigilErrorCode) {
  return (err: unknown) => err instanceof VigilError && err.code === code;
}

for (const engine of ENGINES) describe(`review service (${engine.name})`, () => {
  let t: TestDatabase;
  let store: Store;
  let records: DecisionRecords;
  let audit: AuditLog;
  let users: UserStore;
  let banks: BankService;
  let review: ReviewService;
  let sessions: SessionStore;
  let clock = T0;
  const now = () => new Date(clock);
  let signals: Signal[];
  const people: Record<string, User> = {};
  const as = (name: string, sessionId?: string): Reviewer => ({ user: people[name], requestId: `req-${name}`, ...(sessionId ? { sessionId } : {}) });
  let n = 0;
  const seed = (o: { account?: string | null; priority?: number; signals?: Signal[]; evidence?: boolean; at?: number } = {}) =>
    t.db.transaction((tx) => seedReviewItem(tx, records, {
      contentId: `c-${++n}`, accountId: o.account === undefined ? 'acct-1' : o.account, priority: o.priority ?? 50, signals: o.signals ?? [signals[0]],
      evidenceId: o.evidence ? `ev-${n}` : null, at: new Date(o.at ?? clock).toISOString(),
    }));

  before(async () => {
    t = await engine.open();
    store = await storeOver(t.db);
    await migrate(t.db, COMPONENTS);
    records = new DecisionRecords(t.db);
    audit = new AuditLog(t.db, { now });
    users = new UserStore(t.db, audit, { now, scrypt: FAST });
    sessions = new SessionStore(t.db, users, { now });
    let changes = 0;
    banks = new BankService({ db: t.db, store, audit, onChange: async () => void changes++ });
    review = new ReviewService({ db: t.db, records, audit, banks, store, sessions, now, leaseMs: LEASE, scales: ['industry', 'uk'] });
    await banks.createBank('test', { name: 'BENIGN', description: 'hashes of benign test pictures', kind: 'block', source: 'test' });
    // One at a time: BankService.addSignals with several signals fails on PostgreSQL (import_staging created twice in one transaction).
    signals = [
      await banks.addSignal('test', 'BENIGN', { type: 'md5', value: '0'.repeat(31) + '1', labels: { tags: ['demo'] } }),
      await banks.addSignal('test', 'BENIGN', { type: 'md5', value: '0'.repeat(31) + '2' }),
    ];
    const roles: [string, Role, boolean][] = [['ann', 'reviewer', true], ['bob', 'reviewer', true], ['cat', 'reviewer', false], ['sue', 'senior_reviewer', true], ['ivy', 'investigator', true]];
    for (const [name, role, childSafety] of roles) people[name] = await users.createNow({ name, role, childSafety, password: 'correct horse battery' }, { actor: 'test' });
  });
  after(() => t.drop());

  test('the queue: priority then age, with context; nothing for people without the child-safety grant or the review role', async () => {
    const low = await seed({ priority: 20 });
    const high = await seed({ priority: 100, account: 'acct-2' });
    const older = await seed({ priority: 50, at: T0 - 1000 });
    const q = await review.queue(people.ann);
    const order = q.map((e) => e.item.id);
    assert.equal(order[0], high, 'highest priority first');
    assert.ok(order.indexOf(older) < order.indexOf(low), 'then by priority and age');
    const e = q.find((x) => x.item.id === low)!;
    assert.equal(e.matches[0].bank, 'BENIGN');
    assert.equal(e.matches[0].signalType, 'md5');
    assert.deepEqual(e.matches[0].labels, { tags: ['demo'] });
    assert.equal(e.rules[0].ruleId, 'block-known');
    assert.equal(e.hashOnly, true);
    assert.equal(e.accountOpen, 1, 'the other open item of acct-1');
    assert.deepEqual(await review.queue(people.cat), [], 'no child-safety grant: no items');
    assert.deepEqual(await review.queue(people.ivy), [], 'investigators do not review');
    await assert.rejects(review.item(people.cat, low), isCode('VIGIL_ERR_FORBIDDEN'), 'checked on every read');
    await assert.rejects(review.claim(as('cat'), low), isCode('VIGIL_ERR_FORBIDDEN'));
    const view = await review.item(people.ann, low);
    assert.equal(view.fired[0].ruleId, 'block-known');
    assert.equal(view.viewedByPerson, false);
    assert.ok(view.accountItems.some((a) => a.id === older));
    for (const id of [low, high, older]) {
      await review.claim(as('ann'), id);
      await review.decide(as('ann'), id, { outcome: 'skipped', reason: 'test set-up' });
    }
  });

  test('claims: a second reviewer cannot claim a claimed item; an expired claim returns to the queue; release', async () => {
    const id = await seed();
    await review.claim(as('ann'), id);
    await assert.rejects(review.claim(as('bob'), id), isCode('VIGIL_ERR_CONFLICT'));
    assert.ok(!(await review.queue(people.bob)).some((e) => e.item.id === id), 'a live claim hides it from others');
    await assert.rejects(review.decide(as('bob'), id, { outcome: 'confirmed', classification: 'A1' }), isCode('VIGIL_ERR_CONFLICT'));
    clock += LEASE + 1;
    assert.ok((await review.queue(people.bob)).some((e) => e.item.id === id), 'expired: open again');
    await assert.rejects(review.decide(as('ann'), id, { outcome: 'confirmed', classification: 'A1' }), isCode('VIGIL_ERR_CONFLICT'), 'an expired lease decides nothing');
    await review.claim(as('bob'), id);
    assert.equal(await review.release(as('ann'), id), false, 'only the holder releases');
    assert.equal(await review.release(as('bob'), id), true);
    assert.equal((await records.getReviewItem(id))!.state, 'open');
    const entries = await audit.list({ subject: `review_item:${id}` });
    assert.deepEqual(entries.map((e) => [e.action, e.actor]), [['review.claimed', `user:${people.ann.id}`], ['review.claimed', `user:${people.bob.id}`], ['review.released', `user:${people.bob.id}`]]);
  });

  test('confirm: classification required and checked; the incident is marked; audited in the same unit; not viewed unless revealed', async () => {
    const id = await seed();
    await review.claim(as('ann'), id);
    await assert.rejects(review.decide(as('ann'), id, { outcome: 'confirmed', classification: 'VIC3' }), isCode('VIGIL_ERR_INVALID_ARGUMENT'), 'VIC not enabled here');
    await assert.rejects(review.decide(as('ann'), id, { outcome: 'skipped', reason: '' }), isCode('VIGIL_ERR_INVALID_ARGUMENT'), 'a skip needs a reason');
    const item = await review.decide(as('ann'), id, { outcome: 'confirmed', classification: 'UK-A' });
    assert.equal(item.state, 'decided');
    assert.equal(item.classification, 'UK-A');
    const incident = await t.db.k.selectFrom('incidents').select('state').where('id', '=', item.incidentId!).executeTakeFirstOrThrow();
    assert.equal(incident.state, 'confirmed');
    const [entry] = (await audit.list({ subject: `review_item:${id}` })).filter((e) => e.action === 'review.decided');
    assert.equal(entry.details.outcome, 'confirmed');
    assert.equal(entry.details.fileViewedByPerson, false, 'nobody revealed it');
    assert.equal(entry.requestId, 'req-ann');
  });

  test('false positive: an opinion on each matched signal, the incident dismissed, all audited', async () => {
    const id = await seed({ signals: [signals[1]] });
    await review.claim(as('ann'), id);
    await review.decide(as('ann'), id, { outcome: 'false_positive', reason: 'a benign picture' });
    const opinions = await store.listOpinions(signals[1].id);
    assert.equal(opinions.length, 1);
    assert.equal(opinions[0].kind, 'false_positive');
    assert.equal(opinions[0].actor, `user:${people.ann.id}`);
    assert.equal((await store.getSignal(signals[1].id))!.status, 'false_positive');
    const actions = (await audit.list({ limit: 1000 })).filter((e) => e.requestId === 'req-ann').map((e) => e.action);
    assert.ok(actions.includes('signal.opinion'));
    const item = await records.getReviewItem(id);
    assert.equal((await t.db.k.selectFrom('incidents').select('state').where('id', '=', item!.incidentId!).executeTakeFirstOrThrow()).state, 'dismissed');
    assert.deepEqual((await review.item(people.ann, id)).opinions[signals[1].id].map((o) => o.kind), ['false_positive']);
  });

  test('reveal: only the claim holder, only with a stored file; recorded as a view, counted and audited; the decision says a person viewed it', async () => {
    const id = await seed({ evidence: true });
    const hashOnly = await seed();
    const { session } = await t.db.transaction((tx) => sessions.start(tx, people.ann));
    await assert.rejects(review.reveal(as('ann', session.id), id), isCode('VIGIL_ERR_CONFLICT'), 'claim first');
    await review.claim(as('ann'), id);
    await review.claim(as('ann'), hashOnly);
    await assert.rejects(review.reveal(as('ann', session.id), hashOnly), isCode('VIGIL_ERR_NOT_FOUND'));
    await assert.rejects(review.reveal(as('bob'), id), isCode('VIGIL_ERR_CONFLICT'), "another reviewer's claim");
    const r = await review.reveal(as('ann', session.id), id);
    assert.equal(r.evidenceId, `ev-${n - 1}`);
    assert.equal(r.reveals, 1);
    assert.equal(await review.viewedByPerson(id), true);
    assert.equal(await review.viewedByPerson(hashOnly), false);
    await review.decide(as('ann'), id, { outcome: 'escalated', note: 'second opinion' });
    await review.decide(as('ann'), hashOnly, { outcome: 'skipped', reason: 'later' });
    const decided = (await audit.list({ subject: `review_item:${id}` })).find((e) => e.action === 'review.decided')!;
    assert.equal(decided.details.fileViewedByPerson, true);
    assert.ok((await audit.list({ subject: `review_item:${id}` })).some((e) => e.action === 'review.revealed'));
    // Escalated: the senior queue, which only senior reviewers work.
    assert.equal((await records.getReviewItem(id))!.queue, 'senior');
    await assert.rejects(review.item(people.ann, id), isCode('VIGIL_ERR_FORBIDDEN'));
    assert.ok((await review.queue(people.sue)).some((e) => e.item.id === id));
    await review.claim(as('sue'), id);
    await assert.rejects(review.decide(as('sue'), id, { outcome: 'escalated' }), isCode('VIGIL_ERR_INVALID_ARGUMENT'));
    await review.decide(as('sue'), id, { outcome: 'confirmed', classification: 'A2' });
  });

  test('bulk: every open item of an account (or sharing a signal) in one unit; items another reviewer holds are left alone', async () => {
    const a = await seed({ account: 'bulk-acct' });
    const b = await seed({ account: 'bulk-acct' });
    const held = await seed({ account: 'bulk-acct' });
    await review.claim(as('bob'), held);
    const r = await review.bulk(as('ann'), a, 'account', { outcome: 'confirmed', classification: 'B1' });
    assert.deepEqual(r, { decided: [a, b], skipped: [held] });
    assert.equal((await records.getReviewItem(b))!.classification, 'B1');
    assert.equal((await records.getReviewItem(held))!.state, 'claimed');
    const s1 = await seed({ account: 'x', signals: [signals[0]] });
    const s2 = await seed({ account: 'y', signals: [signals[0], signals[1]] });
    const other = await seed({ account: 'z', signals: [signals[1]] });
    const bySignal = await review.bulk(as('ann'), s1, 'signal', { outcome: 'skipped', reason: 'bulk' });
    assert.ok(bySignal.decided.includes(s1) && bySignal.decided.includes(s2));
    assert.ok(!bySignal.decided.includes(other));
    await assert.rejects(review.bulk(as('cat'), other, 'signal', { outcome: 'skipped', reason: 'x' }), isCode('VIGIL_ERR_FORBIDDEN'));
    const entry = (await audit.list({ subject: `review_item:${a}` })).find((e) => e.action === 'review.bulk_decided')!;
    assert.deepEqual(entry.details.decided, [a, b]);
  });

  test('wellness preferences: only stricter than the organisation', async () => {
    assert.deepEqual(await review.prefs(people.ann.id), { blurPx: 24, greyscalePct: 100, sessionReminderMin: 60 });
    await assert.rejects(review.setPrefs(as('ann'), { blurPx: 4 }), isCode('VIGIL_ERR_INVALID_ARGUMENT'));
    await assert.rejects(review.setPrefs(as('ann'), { sessionReminderMin: 120 }), isCode('VIGIL_ERR_INVALID_ARGUMENT'));
    assert.deepEqual(await review.setPrefs(as('ann'), { blurPx: 40, sessionReminderMin: 30 }), { blurPx: 40, greyscalePct: 100, sessionReminderMin: 30 });
    assert.deepEqual(await review.prefs(people.ann.id), { blurPx: 40, greyscalePct: 100, sessionReminderMin: 30 });
  });

  test('sessions: epoch bump and end sign out; idle sessions expire', async () => {
    const { token, session } = await t.db.transaction((tx) => sessions.start(tx, people.bob));
    assert.equal((await sessions.resolve(token))?.user.id, people.bob.id);
    assert.equal(await sessions.resolve(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), undefined);
    await t.db.transaction((tx) => users.signOutEverywhere(tx, people.bob.id, { actor: 'test' }));
    assert.equal(await sessions.resolve(token), undefined, 'epoch bumped');
    people.bob = (await users.get(people.bob.id))!;
    const second = await t.db.transaction((tx) => sessions.start(tx, people.bob));
    assert.ok(await sessions.resolve(second.token));
    clock += 31 * 60_000;
    assert.equal(await sessions.resolve(second.token), undefined, 'idle');
    const third = await t.db.transaction((tx) => sessions.start(tx, people.bob));
    await t.db.transaction((tx) => sessions.end(tx, third.session.id));
    assert.equal(await sessions.resolve(third.token), undefined, 'ended');
    void session;
  });
});
