import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuditLog } from '../audit/log.js';
import { UserStore, type Role, type User } from '../auth/users.js';
import { VigilError, type VigilErrorCode } from '../core/errors.js';
import { DecisionRecords } from '../records/decisions.js';
import { migrate } from '../state/migrate.js';
import { ENGINES, type TestDatabase } from '../state/test-engines.js';
import { storeOver } from '../store/store.js';
import type { Signal, Store } from '../store/types.js';
import { seedReviewItem } from './_review-seed.js';
import { BankService } from './banks.js';
import { jobKey, parseJobKey } from './review-jobs.js';
import { ReviewService, type Reviewer } from './review.js';
import { COMPONENTS } from './vigil.js';

const FAST = { N: 1024, r: 8, p: 1 };
const T0 = Date.parse('2025-06-01T12:00:00Z');
const LEASE = 60_000;

const isCode = (code: VigilErrorCode) => (err: unknown) => err instanceof VigilError && err.code === code;

test('job keys: an account (any text) or a single item; anything else is not found', () => {
  for (const a of ['acct-1', 'ünï/😀 ?&#', 'x'.repeat(500)]) assert.deepEqual(parseJobKey(jobKey(a, 7)), { accountId: a });
  assert.deepEqual(parseJobKey(jobKey(null, 42)), { itemId: 42 });
  for (const bad of ['', 'a', 'i', 'i-1', 'z1', 'a+/=', 'i1234567890123456']) assert.throws(() => parseJobKey(bad), isCode('VIGIL_ERR_NOT_FOUND'));
});

for (const engine of ENGINES) describe(`review jobs (${engine.name})`, () => {
  let t: TestDatabase;
  let store: Store;
  let records: DecisionRecords;
  let audit: AuditLog;
  let review: ReviewService;
  let clock = T0;
  const now = () => new Date(clock);
  let signals: Signal[];
  const people: Record<string, User> = {};
  const as = (name: string): Reviewer => ({ user: people[name], requestId: `req-${name}` });
  let n = 0;
  const seed = (o: { account?: string | null; priority?: number; signals?: Signal[]; at?: number; evidence?: boolean } = {}) =>
    t.db.transaction((tx) => seedReviewItem(tx, records, {
      contentId: `c-${++n}`, accountId: o.account === undefined ? 'acct-1' : o.account, priority: o.priority ?? 50, signals: o.signals ?? [signals[0]],
      evidenceId: o.evidence ? `ev-${n}` : null, at: new Date(o.at ?? clock).toISOString(),
    }));
  /** Decides whatever is left (a skip would re-open it) so that each test starts from an empty queue. */
  const drain = async () => {
    for (const j of await review.jobs.list(people.sue, { limit: 200 })) {
      await review.jobs.claim(as('sue'), j.key).catch(() => undefined);
      await review.jobs.decide(as('sue'), j.key, { outcome: 'confirmed', classification: 'A1' }).catch(() => undefined);
    }
  };

  before(async () => {
    t = await engine.open();
    store = await storeOver(t.db);
    await migrate(t.db, COMPONENTS);
    records = new DecisionRecords(t.db);
    audit = new AuditLog(t.db, { now });
    const users = new UserStore(t.db, audit, { now, scrypt: FAST });
    const banks = new BankService({ db: t.db, store, audit, onChange: async () => undefined });
    review = new ReviewService({ db: t.db, records, audit, banks, store, now, leaseMs: LEASE });
    await banks.createBank('test', { name: 'BENIGN', description: 'hashes of benign test pictures', kind: 'block', source: 'test' });
    signals = [
      await banks.addSignal('test', 'BENIGN', { type: 'md5', value: '0'.repeat(31) + '1', labels: { tags: ['demo'] } }),
      await banks.addSignal('test', 'BENIGN', { type: 'md5', value: '0'.repeat(31) + '2' }),
    ];
    const roles: [string, Role, boolean][] = [['ann', 'reviewer', true], ['bob', 'reviewer', true], ['cat', 'reviewer', false], ['sue', 'senior_reviewer', true]];
    for (const [name, role, childSafety] of roles) people[name] = await users.createNow({ name, role, childSafety, password: 'correct horse battery' }, { actor: 'test' });
  });
  after(() => t.drop());

  test('the queue lists one job per account, by its most urgent item (priority, then age), with counts and context', async () => {
    const a1 = await seed({ account: 'A', priority: 10, at: T0 - 5000 });
    const b1 = await seed({ account: 'B', priority: 90 });
    const a2 = await seed({ account: 'A', priority: 90, signals: [signals[1]] });
    const lone = await seed({ account: null, priority: 95 });
    const c1 = await seed({ account: 'C', priority: 20, evidence: true });
    const jobs = await review.jobs.list(people.ann);
    assert.deepEqual(jobs.map((j) => j.accountId), [null, 'B', 'A', 'C'], 'priority first; B and A tie on 90, and B arrived first');
    const a = jobs.find((j) => j.accountId === 'A')!;
    assert.equal(a.open, 2);
    assert.equal(a.priority, 90);
    assert.equal(a.oldest, new Date(T0 - 5000).toISOString());
    assert.equal(a.top.itemId, a2);
    assert.equal(a.top.matches[0].signalId, signals[1].id);
    assert.deepEqual(a.top.rules, ['block-known']);
    assert.equal(a.hashOnly, 2);
    assert.equal(jobs.find((j) => j.accountId === 'C')!.hashOnly, 0);
    assert.equal(jobs[0].key, jobKey(null, lone));
    assert.deepEqual((await review.jobs.list(people.ann, { limit: 2 })).map((j) => j.accountId), [null, 'B'], 'a page stops at its limit');
    assert.deepEqual(await review.jobs.list(people.cat), [], 'no child-safety grant: no jobs');
    await assert.rejects(review.jobs.view(people.cat, a.key), isCode('VIGIL_ERR_FORBIDDEN'));
    await assert.rejects(review.jobs.claim(as('cat'), a.key), isCode('VIGIL_ERR_FORBIDDEN'));

    const view = await review.jobs.view(people.ann, a.key);
    assert.deepEqual(view.items.map((i) => i.item.id), [a2, a1], 'every item, most urgent first');
    assert.equal(view.items[0].matches[0].bank, 'BENIGN');
    assert.equal(view.items[0].rules[0].ruleId, 'block-known');
    assert.deepEqual(view.accountMatches.map((m) => [m.signalId, m.times]).sort(), [[signals[0].id, 1], [signals[1].id, 1]].sort());
    void b1; void c1;
    await drain();
  });

  test('claiming a job claims its items; another reviewer gets only what is left; a job decision covers only held items', async () => {
    const i1 = await seed({ account: 'J' });
    const i2 = await seed({ account: 'J' });
    const key = jobKey('J', i1);
    const got = await review.jobs.claim(as('ann'), key);
    assert.deepEqual(got.claimed, [i1, i2]);
    assert.equal(got.leaseUntil, new Date(clock + LEASE).toISOString());
    assert.ok(!(await review.jobs.list(people.bob)).some((j) => j.key === key), 'wholly held: hidden from others');
    const late = await seed({ account: 'J' });
    const listed = (await review.jobs.list(people.bob)).find((j) => j.key === key)!;
    assert.equal(listed.open, 1, 'only the new item is pending for bob');
    assert.equal(listed.heldByOthers, 2);
    const bobs = await review.jobs.claim(as('bob'), key);
    assert.deepEqual(bobs, { claimed: [late], heldByOthers: [i1, i2], leaseUntil: bobs.leaseUntil });
    await assert.rejects(review.decide(as('bob'), i1, { outcome: 'confirmed', classification: 'A1' }), isCode('VIGIL_ERR_CONFLICT'), "never ann's item");
    const d = await review.jobs.decide(as('ann'), key, { outcome: 'confirmed', classification: 'B2' });
    assert.deepEqual(d.decided, [i1, i2], "bob's item is not ann's to decide");
    assert.equal((await records.getReviewItem(late))!.state, 'claimed');
    assert.equal((await records.getReviewItem(i2))!.classification, 'B2');
    const decided = (await audit.list({ subject: `review_item:${i2}` })).find((e) => e.action === 'review.decided')!;
    assert.equal(decided.details.job, key);
    assert.equal(decided.details.fileViewedByPerson, false);
    const jobEntry = (await audit.list({ subject: `review_job:${key}` })).map((e) => [e.action, e.actor]);
    assert.deepEqual(jobEntry, [['review.job_claimed', `user:${people.ann.id}`], ['review.job_claimed', `user:${people.bob.id}`]]);
    const view = await review.jobs.view(people.bob, key);
    assert.deepEqual(view.items.map((i) => [i.item.id, i.heldByMe]), [[late, true]]);
    assert.deepEqual(view.history.map((h) => h.id).sort(), [i1, i2].sort());
    assert.deepEqual(await review.jobs.release(as('bob'), key), [late]);
    await drain();
  });

  test('two reviewers claiming one job at once split it: no item is claimed twice', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 12; i++) ids.push(await seed({ account: 'race' }));
    const key = jobKey('race', ids[0]);
    const [a, b] = await Promise.all([review.jobs.claim(as('ann'), key), review.jobs.claim(as('bob'), key)]);
    assert.deepEqual([...a.claimed, ...b.claimed].sort((x, y) => x - y), ids, 'every item claimed once');
    assert.equal(a.claimed.filter((x) => b.claimed.includes(x)).length, 0);
    const holders = await t.db.k.selectFrom('review_items').select(['id', 'assignee']).where('id', 'in', ids).execute();
    for (const h of holders) assert.equal(h.assignee, a.claimed.includes(Number(h.id)) ? `user:${people.ann.id}` : `user:${people.bob.id}`);
    await drain();
  });

  test('an abandoned job claim expires: the job is back in the queue and anyone can claim it', async () => {
    const i1 = await seed({ account: 'E' });
    const key = jobKey('E', i1);
    await review.jobs.claim(as('ann'), key);
    assert.ok(!(await review.jobs.list(people.bob)).some((j) => j.key === key));
    clock += LEASE + 1;
    assert.ok((await review.jobs.list(people.bob)).some((j) => j.key === key), 'expired: back');
    await assert.rejects(review.jobs.decide(as('ann'), key, { outcome: 'skipped', reason: 'late' }), isCode('VIGIL_ERR_CONFLICT'), 'an expired claim decides nothing');
    assert.deepEqual((await review.jobs.claim(as('bob'), key)).claimed, [i1]);
    await drain();
  });

  test('a single item without an account is a job of one', async () => {
    const id = await seed({ account: null });
    const key = jobKey(null, id);
    assert.deepEqual((await review.jobs.claim(as('ann'), key)).claimed, [id]);
    const view = await review.jobs.view(people.ann, key);
    assert.equal(view.accountId, null);
    assert.deepEqual(view.items.map((i) => i.item.id), [id]);
    await review.jobs.decide(as('ann'), key, { outcome: 'false_positive', reason: 'benign' });
    assert.equal((await records.getReviewItem(id))!.outcome, 'false_positive');
    assert.deepEqual((await review.jobs.view(people.ann, key)).history.map((h) => h.outcome), ['false_positive']);
    await assert.rejects(review.jobs.view(people.ann, 'i999999'), isCode('VIGIL_ERR_NOT_FOUND'));
  });
});
