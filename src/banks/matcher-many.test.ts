/**
 * BankMatcher.matchMany (the lookup route's batch call) answers exactly as `match` does query by query, and
 * both agree with a brute-force reference (LinearHammingIndex) per bank threshold, at the edge distances too.
 * Random benign values only.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { VigilError } from '../core/errors.js';
import type { ListItem } from '../lists/types.js';
import { LinearHammingIndex } from '../matching/linear.js';
import { hash256FromHex, hash256ToHex } from '../signals/pdq/hash256.js';
import { openStore } from '../store/store.js';
import type { Store } from '../store/types.js';
import { MapDigestIndex } from './_map-digest-index.js';
import { BankMatcher, type BankMatch, type MatchQuery } from './matcher.js';
import { tempDir } from '../../test/helpers/temp.js';

const PER_BANK = 1500;
const THRESHOLDS = { wide: 31, narrow: 20 } as const;
type BankName = keyof typeof THRESHOLDS;

/** xorshift32: the same values every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}
const rand = rng(0x5eed);
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** `hex` with exactly `bits` distinct random bits flipped. */
function flipExactly(hex: string, bits: number): string {
  const h = hash256FromHex(hex);
  const picked = new Set<number>();
  while (picked.size < bits) picked.add(Math.floor(rand() * 256));
  for (const b of picked) h[b >> 3] ^= 1 << (b & 7);
  return hash256ToHex(h);
}

let store: Store;
let matcher: BankMatcher;
const values: Record<BankName, string[]> = { wide: [], narrow: [] };
const md5s: string[] = [];
const reference: Record<BankName, LinearHammingIndex> = { wide: new LinearHammingIndex(), narrow: new LinearHammingIndex() };
const valueOf = new Map<number, string>();

before(async () => {
  store = await openStore(join(tempDir('matcher-many'), 'm.db'));
  for (const name of Object.keys(THRESHOLDS) as BankName[]) {
    await store.createBank({ name, source: 'test', thresholds: { pdq: THRESHOLDS[name] } });
    const items: ListItem[] = [];
    for (let i = 0; i < PER_BANK; i++) {
      const pdq = toHex(randomBytes(32));
      values[name].push(pdq);
      const signals = [{ type: 'pdq' as const, value: pdq }];
      if (i % 100 === 0) {
        const md5 = toHex(randomBytes(16));
        md5s.push(md5);
        signals.push({ type: 'md5' as never, value: md5 });
      }
      items.push({ kind: 'record', line: i + 1, record: { signals, labels: {} } });
    }
    await store.importList(name, items);
  }
  // The reference holds the same values under a running number; the comparison is by bank, value and distance.
  let id = 0;
  for (const name of Object.keys(THRESHOLDS) as BankName[]) {
    for (const v of values[name]) {
      valueOf.set(++id, v);
      reference[name].add(id, hash256FromHex(v));
    }
  }
  matcher = new BankMatcher(store, { digestIndex: () => new MapDigestIndex() });
  await matcher.sync();
});

after(() => store.close());

const pdqQuery = (hex: string): MatchQuery => ({ pdq: [{ view: 'original', quality: 100, hashes: [hash256FromHex(hex)] }] });
const key = (bank: string, value: string, distance: number) => `${bank} ${value} ${distance}`;

function expectedPdq(hex: string): string[] {
  const out: string[] = [];
  for (const name of Object.keys(THRESHOLDS) as BankName[]) {
    for (const m of reference[name].search(hash256FromHex(hex), THRESHOLDS[name])) out.push(key(name, valueOf.get(m.id)!, m.distance));
  }
  return out.sort();
}

test('matchMany equals match per query and the brute-force reference, edge distances included', async () => {
  const pdqs: string[] = [];
  // Around each bank's threshold (20/21 for narrow, 31/32 for wide), both banks' values, plus exact and far.
  for (const name of Object.keys(THRESHOLDS) as BankName[]) {
    for (let i = 0; i < 12; i++) for (const d of [0, 1, 19, 20, 21, 30, 31, 32, 40]) pdqs.push(flipExactly(values[name][(i * 97) % PER_BANK], d));
  }
  for (let i = 0; i < 40; i++) pdqs.push(toHex(randomBytes(32)));
  const queries: MatchQuery[] = [
    ...pdqs.map(pdqQuery),
    { md5: md5s[0]! },
    { md5: md5s[md5s.length - 1]! },
    { md5: 'f'.repeat(32) },
    { md5: 'xyz' },
    { md5: md5s[1]!, pdq: pdqQuery(pdqs[3]!).pdq! },
  ];
  const many = await matcher.matchMany(queries);
  assert.equal(many.length, queries.length);
  let hits = 0;
  for (let i = 0; i < queries.length; i++) {
    const one = await matcher.match(queries[i]!).catch((err: unknown) => err as VigilError);
    assert.deepEqual(many[i], one, `query ${i}`);
  }
  for (let i = 0; i < pdqs.length; i++) {
    const got = (many[i] as BankMatch[]).map((m) => key(m.bank, m.value, m.distance)).sort();
    assert.deepEqual(got, expectedPdq(pdqs[i]!), `pdq query ${i}`);
    hits += got.length;
  }
  // Both sides of both thresholds were exercised.
  const distances = new Set(many.slice(0, pdqs.length).flatMap((r) => (r as BankMatch[]).map((m) => `${m.bank}:${m.distance}`)));
  for (const seen of ['narrow:20', 'wide:31', 'wide:21', 'wide:0']) assert.ok(distances.has(seen), seen);
  for (const never of ['narrow:21', 'wide:32']) assert.ok(!distances.has(never), never);
  assert.ok(hits > 100);
  assert.equal((many[pdqs.length] as BankMatch[]).length, 1, 'an md5 hit');
  assert.deepEqual(many[pdqs.length + 2], [], 'an md5 miss');
  const bad = many[pdqs.length + 3];
  assert.ok(bad instanceof VigilError && bad.code === 'VIGIL_ERR_INVALID_HASH', 'a bad hash: its own error, the rest answered');
  assert.ok((many[pdqs.length + 4] as BankMatch[]).some((m) => m.signalType === 'md5'), 'md5 and pdq in one query');
  assert.deepEqual(await matcher.matchMany([]), []);
});
