import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ListItem } from '../lists/types.js';
import { hash256FromHex, hash256ToHex } from '../signals/pdq/hash256.js';
import { openStore } from '../store/store.js';
import type { Store } from '../store/types.js';
import { MapDigestIndex } from './_map-digest-index.js';
import { BankMatcher } from './matcher.js';
import { tempDir } from '../../test/helpers/temp.js';

// Benign stand-ins: hashes of the conformance bridge photo and its rotations (cpp-reference-full.tsv).
const BRIDGE = 'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22';
const BRIDGE_ROT90 = 'f0a10efd51c83d429053d48d0fffbc52e34e0e17ada956a9d29685211ea9e58f';
const MD5 = '0123456789abcdef0123456789abcdef';
const GOOD_MD5 = 'fedcba9876543210fedcba9876543210';

function flip(hex: string, bits: number): string {
  const h = hash256FromHex(hex);
  for (let k = 0; k < bits; k++) h[k] ^= 1;
  return hash256ToHex(h);
}

let store: Store;
let matcher: BankMatcher;

before(async () => {
  store = await openStore(join(tempDir('matcher'), 'm.db'));
  await store.createBank({ name: 'block-list', source: 'test exchange' });
  await store.createBank({ name: 'known-good', kind: 'allow' });
  const items: ListItem[] = [
    { kind: 'record', line: 1, record: { signals: [{ type: 'pdq', value: BRIDGE }, { type: 'md5', value: MD5 }], labels: { ukCategory: 'C' }, sourceId: 'entry-1' } },
  ];
  await store.importList('block-list', items);
  await store.importList('known-good', [{ kind: 'record', line: 1, record: { signals: [{ type: 'md5', value: GOOD_MD5 }], labels: {} } }]);
  matcher = new BankMatcher(store, { digestIndex: () => new MapDigestIndex() });
  await matcher.sync();
});

after(() => store.close());

const query = (pdq: string, quality = 100, extra: string[] = []) => ({ pdq: [{ view: 'original', quality, hashes: [pdq, ...extra].map(hash256FromHex) }] });

test('exact digests match, with labels and provenance; allow-list matches say so', async () => {
  const [m] = await matcher.match({ md5: MD5 });
  assert.equal(m.bank, 'block-list');
  assert.equal(m.signalType, 'md5');
  assert.equal(m.distance, 0);
  assert.equal(m.labels.ukCategory, 'C');
  assert.equal(m.sourceId, 'entry-1');
  assert.equal(m.provenance.source, 'test exchange');
  assert.equal(m.actionable, true);
  const [good] = await matcher.match({ md5: GOOD_MD5 });
  assert.equal(good.bankKind, 'allow');
  assert.deepEqual(await matcher.match({ md5: 'f'.repeat(32) }), []);
  await assert.rejects(matcher.match({ md5: 'xyz' }), { code: 'VIGIL_ERR_INVALID_HASH' });
});

test('PDQ within the threshold matches with its distance; beyond it does not; low quality is not matched', async () => {
  const [near] = await matcher.match(query(flip(BRIDGE, 12)));
  assert.equal(near.distance, 12);
  assert.equal(near.view, 'original');
  assert.equal(near.dihedral, 'orig');
  assert.deepEqual(await matcher.match(query(flip(BRIDGE, 40))), []);
  assert.deepEqual(await matcher.match(query(BRIDGE, 30)), []);
});

test('dihedral queries report the orientation that matched, and how sure the match is', async () => {
  const hashes = [BRIDGE_ROT90, BRIDGE_ROT90, BRIDGE_ROT90, BRIDGE, BRIDGE_ROT90, BRIDGE_ROT90, BRIDGE_ROT90, BRIDGE_ROT90];
  const [m] = await matcher.match({ pdq: [{ view: 'original', quality: 100, hashes: hashes.map(hash256FromHex) }] });
  assert.equal(m.dihedral, 'rot270');
  assert.equal(m.view, 'original');
  assert.equal(m.distance, 0);
  assert.equal(m.rule?.rule, 'orientation');
  assert.equal(m.confidence, 'medium');
  assert.ok(m.rule!.originalDistance! > 100, 'the unturned picture is far from the list hash');
  const [plain] = await matcher.match(query(flip(BRIDGE, 3)));
  assert.deepEqual({ rule: plain.rule?.rule, confidence: plain.confidence, maxDistance: plain.rule?.maxDistance }, { rule: 'original', confidence: 'high', maxDistance: 31 });
  // A trimmed view turned is not a match by default (measured: mostly false pairs); loose settings find it.
  const trimmed = { pdq: [{ view: 'trimmed', quality: 100, hashes: hashes.map(hash256FromHex) }] };
  assert.deepEqual(await matcher.match(trimmed), []);
  const loose = new BankMatcher(store, { digestIndex: () => new MapDigestIndex(), precision: 'loose' });
  await loose.sync();
  const [l] = await loose.match(trimmed);
  assert.deepEqual({ view: l.view, dihedral: l.dihedral, rule: l.rule?.rule, confidence: l.confidence }, { view: 'trimmed', dihedral: 'rot270', rule: 'view-orientation', confidence: 'low' });
});

test('an orientation must beat the unturned picture: a hash close both ways is not matched turned', async () => {
  // The unturned hash is 20 bits off and a turned one 10: not 32 bits better, so only the plain match stands.
  const [m, ...rest] = await matcher.match(query(flip(BRIDGE, 20), 100, [flip(BRIDGE, 10), ...Array(6).fill(BRIDGE_ROT90)]));
  assert.equal(rest.length, 0);
  assert.deepEqual({ dihedral: m.dihedral, distance: m.distance, rule: m.rule?.rule }, { dihedral: 'orig', distance: 20, rule: 'original' });
});

test('per-bank threshold, disabling a bank and deleting a signal take effect at the next sync', async () => {
  await store.updateBank('block-list', { thresholds: { pdq: 10 } });
  await matcher.sync();
  assert.deepEqual(await matcher.match(query(flip(BRIDGE, 12))), []);
  await store.updateBank('block-list', { thresholds: { pdq: 31 }, enabled: false });
  await matcher.sync();
  assert.deepEqual(await matcher.match({ md5: MD5 }), []);
  await store.updateBank('block-list', { enabled: true });
  await matcher.sync();
  assert.equal((await matcher.match({ md5: MD5 })).length, 1);
  await store.importList('block-list', [{ kind: 'record', line: 1, record: { signals: [], labels: {}, sourceId: 'entry-1', deleted: true } }]);
  assert.equal(await matcher.sync(), 2);
  assert.deepEqual(await matcher.match({ md5: MD5 }), []);
  assert.deepEqual(await matcher.match(query(BRIDGE)), []);
  assert.equal(matcher.sizes.pdq, 0);
  // Re-adding brings it back.
  await store.importList('block-list', [{ kind: 'record', line: 1, record: { signals: [{ type: 'pdq', value: BRIDGE }], labels: {} } }]);
  await matcher.sync();
  assert.equal((await matcher.match(query(BRIDGE))).length, 1);
});

test('false positives: suppressed (not actionable) or down-ranked, per bank policy', async () => {
  const [m] = await matcher.match(query(BRIDGE));
  await store.addOpinion(m.signalId, { kind: 'false_positive', actor: 'reviewer', reason: 'benign test' });
  await matcher.sync();
  const [suppressed] = await matcher.match(query(BRIDGE));
  assert.equal(suppressed.status, 'false_positive');
  assert.equal(suppressed.actionable, false);
  await store.updateBank('block-list', { falsePositivePolicy: 'downrank' });
  await matcher.sync();
  const [down] = await matcher.match(query(BRIDGE));
  assert.equal(down.actionable, true);
  assert.equal(down.downranked, true);
});

test('pdqQueriesOf uses the 7 other orientations only when all are there (positions name them)', async () => {
  const { pdqQueriesOf } = await import('./matcher.js');
  assert.equal(pdqQueriesOf({ pdq: BRIDGE, quality: 100, dihedral: { flipx: BRIDGE_ROT90 } })[0].hashes.length, 1);
});

test('each bank applies its own vPDQ frame threshold to whole-video matches', async () => {
  const frames = [0, 1, 2, 3].map((i) => flip(BRIDGE, i * 40));
  const known = JSON.stringify(frames.map((h, i) => `${h},100,${i}.0`));
  await store.createBank({ name: 'strict-videos', thresholds: { vpdq: 0 } });
  await store.createBank({ name: 'loose-videos' });
  await store.importList('strict-videos', [{ kind: 'record', line: 1, record: { signals: [{ type: 'vpdq', value: known }], labels: {} } }]);
  await store.importList('loose-videos', [{ kind: 'record', line: 1, record: { signals: [{ type: 'vpdq', value: known }], labels: {} } }]);
  await matcher.sync();
  // Every query frame is 10 bits from its known frame: a match at 31, not at 0.
  const query = frames.map((h, i) => ({ hash: hash256FromHex(flip(h, 10)), quality: 100, timestamp: i }));
  const banks = (await matcher.match({ vpdq: query })).filter((m) => m.signalType === 'vpdq').map((m) => m.bank);
  assert.deepEqual(banks, ['loose-videos']);
});

test('degenerate hashes: exactly only (bank policy exact) or never (none), and never loosely from the query side', async () => {
  const FLAT = '0000ffff'.repeat(8);
  await store.createBank({ name: 'flat', source: 'test' });
  await store.importList('flat', [{ kind: 'record', line: 1, record: { signals: [{ type: 'pdq', value: FLAT }], labels: {} } }]);
  await matcher.sync();
  const [exact] = await matcher.match(query(FLAT));
  assert.deepEqual({ bank: exact.bank, rule: exact.rule?.rule, confidence: exact.confidence }, { bank: 'flat', rule: 'degenerate-exact', confidence: 'low' });
  assert.deepEqual(await matcher.match(query(flip(FLAT, 1))), [], 'one bit off a degenerate hash is no match');
  await store.updateBank('flat', { degeneratePolicy: 'none' });
  await matcher.sync();
  assert.deepEqual(await matcher.match(query(FLAT)), []);
  await store.updateBank('flat', { enabled: false });
  await matcher.sync();
});
