import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ListItem } from '../lists/types.js';
import { isDegenerate } from '../signals/pdq/degenerate.js';
import { hash256FromHex, hash256ToHex } from '../signals/pdq/hash256.js';
import { openStore } from '../store/store.js';
import type { Store } from '../store/types.js';
import { createDigestIndex, loadDigestIndex } from './digest-index.js';
import { BankMatcher, type MatchQuery } from './matcher.js';
import { tempDir } from '../../test/helpers/temp.js';

// Benign stand-ins: the conformance bridge photo's PDQ and made-up digests.
const BRIDGE = 'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22';
const flip = (hex: string, from: number, bits: number) => {
  const h = hash256FromHex(hex);
  for (let k = from; k < from + bits; k++) h[k >> 3] ^= 1 << (k & 7);
  return hash256ToHex(h);
};
const pdqValues = Array.from({ length: 40 }, (_, i) => flip(BRIDGE, (i * 6) % 250, 40));
const md5 = (i: number) => i.toString(16).padStart(32, '0');
const sha256 = (i: number) => i.toString(16).padStart(64, 'a');
const video = JSON.stringify([0, 1, 2].map((i) => `${flip(BRIDGE, 200 - i * 30, 50)},100,${i}.0`));

const record = (line: number, signals: { type: 'pdq' | 'md5' | 'sha256' | 'vpdq'; value: string }[], sourceId?: string): ListItem =>
  ({ kind: 'record', line, record: { signals, labels: {}, ...(sourceId ? { sourceId } : {}) } });

async function seededStore(dir: string): Promise<Store> {
  const store = await openStore(join(dir, 'vigil.db'));
  await store.createBank({ name: 'list-a', source: 'test' });
  await store.createBank({ name: 'list-b', source: 'test', kind: 'allow' });
  await store.importList('list-a', pdqValues.slice(0, 30).map((v, i) => record(i + 1, [{ type: 'pdq', value: v }, { type: 'md5', value: md5(i) }], `a-${i}`)));
  await store.importList('list-b', [record(1, [{ type: 'sha256', value: sha256(1) }, { type: 'vpdq', value: video }])]);
  return store;
}

const matcherOf = (store: Store) => new BankMatcher(store, { digestIndex: createDigestIndex, loadDigestIndex });

/** Every match for a set of queries that touch each kind of signal, in a comparable form. */
async function everyMatch(matcher: BankMatcher): Promise<string[]> {
  const queries: MatchQuery[] = [
    ...pdqValues.map((v) => ({ pdq: [{ view: 'original', quality: 100, hashes: [hash256FromHex(flip(v, 3, 5))] }] })),
    ...Array.from({ length: 45 }, (_, i) => ({ md5: md5(i) })),
    { sha256: sha256(1) },
    { vpdq: [0, 1, 2].map((i) => ({ hash: hash256FromHex(flip(BRIDGE, 200 - i * 30, 50)), quality: 100, timestamp: i })) },
  ];
  const out: string[] = [];
  for (const q of queries) for (const m of await matcher.match(q)) out.push(`${m.signalId}:${m.signalType}:${m.bank}:${m.status}:${m.distance}`);
  return out.sort();
}

test('a matcher restored from a snapshot plus the feed since matches exactly as one that replayed the whole feed', async () => {
  const dir = tempDir('snapshot');
  const store = await seededStore(dir);
  try {
    const first = matcherOf(store);
    await first.warm();
    const snap = join(dir, 'index');
    mkdirSync(snap);
    assert.equal(first.saveSnapshot(snap), true);
    const position = first.position;

    // Changes after the snapshot: additions, a withdrawal, a false positive.
    await store.importList('list-a', pdqValues.slice(30).map((v, i) => record(i + 1, [{ type: 'pdq', value: v }, { type: 'md5', value: md5(30 + i) }], `a-${30 + i}`)));
    await store.importList('list-a', [{ kind: 'record', line: 1, record: { signals: [], labels: {}, sourceId: 'a-3', deleted: true } }]);
    const [fp] = await store.findSignals('md5', md5(5));
    await store.addOpinion(fp.id, { kind: 'false_positive', actor: 'test' });

    const restored = matcherOf(store);
    assert.deepEqual(await restored.restoreSnapshot(snap), { position });
    const applied = await restored.sync();
    const replayed = matcherOf(store);
    const all = await replayed.sync();
    assert.ok(applied > 0 && applied < all, `only the changes since the snapshot are applied (${applied} of ${all})`);
    assert.equal(restored.position, replayed.position);
    assert.deepEqual(restored.sizes, replayed.sizes);
    const expected = await everyMatch(replayed);
    assert.ok(expected.some((m) => m.includes(':vpdq:')) && expected.some((m) => m.includes(':false_positive:')));
    assert.deepEqual(await everyMatch(restored), expected);
  } finally {
    await store.close();
  }
});

test('a corrupt, truncated or foreign snapshot is refused with VIGIL_ERR_INDEX_CORRUPT and the matcher replays the feed', async () => {
  const dir = tempDir('snapshot-bad');
  const store = await seededStore(dir);
  const other = await openStore(join(tempDir('snapshot-other'), 'vigil.db'));
  try {
    const source = matcherOf(store);
    await source.warm();
    const snap = join(dir, 'index');
    mkdirSync(snap);
    source.saveSnapshot(snap);
    const expected = await everyMatch(source);

    // Written for another database (a rebuilt one has different signals under the same ids).
    await other.createBank({ name: 'list-a', source: 'test' });
    await other.importList('list-a', Array.from({ length: 200 }, (_, i) => record(i + 1, [{ type: 'md5', value: md5(1000 + i) }])));
    await assert.rejects(matcherOf(other).restoreSnapshot(snap), { code: 'VIGIL_ERR_INDEX_CORRUPT', message: /another/ });

    // A manifest cut short (a copy that stopped half-way).
    const manifest = join(snap, 'matcher.snapshot');
    const whole = readFileSync(manifest);
    writeFileSync(manifest, whole.subarray(0, whole.length - 10));
    await assert.rejects(matcherOf(store).restoreSnapshot(snap), { code: 'VIGIL_ERR_INDEX_CORRUPT', message: /truncated/ });
    writeFileSync(manifest, whole);

    // One flipped byte in the PDQ index file.
    const pdqFile = join(snap, readdirSync(snap).find((n) => n.endsWith('.pdq'))!);
    const fd = openSync(pdqFile, 'r+');
    const at = statSync(pdqFile).size - 100;
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    byte[0] ^= 0xff;
    writeSync(fd, byte, 0, 1, at);
    closeSync(fd);
    const matcher = matcherOf(store);
    await assert.rejects(matcher.restoreSnapshot(snap), { code: 'VIGIL_ERR_INDEX_CORRUPT' });
    // Nothing of the refused snapshot is kept: the feed is replayed from the start.
    assert.equal(matcher.position, 0);
    assert.ok((await matcher.sync()) > 0);
    assert.deepEqual(await everyMatch(matcher), expected);
  } finally {
    await store.close();
    await other.close();
  }
});

test('a new snapshot replaces the one before last; the previous generation is kept for readers', async () => {
  const dir = tempDir('snapshot-gen');
  const store = await seededStore(dir);
  try {
    const matcher = matcherOf(store);
    await matcher.warm();
    const snap = join(dir, 'index');
    mkdirSync(snap);
    for (let i = 0; i < 3; i++) matcher.saveSnapshot(snap);
    const generations = new Set(readdirSync(snap).filter((n) => n.endsWith('.pdq')));
    assert.equal(generations.size, 2);
    assert.ok(readdirSync(snap).includes('matcher.snapshot'));
  } finally {
    await store.close();
  }
});

test('a degenerate list hash stays degenerate after a restore: it matches only itself, never a near query', async () => {
  const dir = tempDir('snapshot-degenerate');
  const store = await openStore(join(dir, 'vigil.db'));
  try {
    // A striped hash (a bar): rows of all-0 and all-1, the shape that matched unrelated pictures loosely.
    const striped = '0000ffff00007fffffff0000ffff0000ffff0000ffff0000ffff0000ffff8000';
    await store.createBank({ name: 'list-a', source: 'test' });
    await store.importList('list-a', [record(1, [{ type: 'pdq', value: striped }, { type: 'md5', value: md5(1) }])]);
    // 15 bits away, 3 in each of 5 rows: no longer striped itself, so only the list side can refuse it.
    let nearHex = striped;
    for (let row = 0; row < 5; row++) nearHex = flip(nearHex, row * 16 + 4, 3);
    assert.equal(isDegenerate(hash256FromHex(nearHex)), false);
    const near: MatchQuery = { pdq: [{ view: 'original', quality: 100, hashes: [hash256FromHex(nearHex)] }] };
    const live = matcherOf(store);
    await live.warm();
    assert.deepEqual(await live.match(near), [], 'a near query never matches a degenerate list hash');
    const snap = join(dir, 'index');
    mkdirSync(snap);
    assert.equal(live.saveSnapshot(snap), true);
    const restored = matcherOf(store);
    await restored.restoreSnapshot(snap);
    await restored.sync();
    assert.deepEqual(await restored.match(near), [], 'nor after a restore');
    assert.equal((await restored.match({ pdq: [{ view: 'original', quality: 100, hashes: [hash256FromHex(striped)] }] })).length, 1, 'the identical hash still matches');
  } finally {
    await store.close();
  }
});
