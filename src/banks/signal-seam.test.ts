// The signal-type seam's claim, tested: a hash type is its SignalType plus one registry entry. Two test-only
// types (a made-up 256-bit photo hash and SHAKE128 of the bytes, both benign) are registered through the
// seam's run-time extension point — the same table a registry line fills — and go through list import, the
// file hasher, client hashes, lookups, the matcher, snapshots and retroactive matching with no edit elsewhere.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hashFile } from '../hashing/hash-file.js';
import { deserializeQuery, fingerprintOf, matchQueryOfClientHashes, matchQueryOfRecord, serializeQuery } from '../pipeline/query.js';
import { RetainedIndex } from '../pipeline/retained-index.js';
import { lookupQuery } from '../service/routes/lookup.js';
import { hammingDistance256, hash256FromHex, hash256ToHex } from '../signals/pdq/hash256.js';
import { registerSignalType, type SignalTypeName } from '../signals/registry.js';
import { digestSignalType, parseFixedHex, type SignalType } from '../signals/types.js';
import { openStore } from '../store/store.js';
import { describeSignalType } from '../../test/helpers/signal-conformance.js';
import { tempDir } from '../../test/helpers/temp.js';
import { createDigestIndex, loadDigestIndex } from './digest-index.js';
import { importListFile } from './list-io.js';
import { BankMatcher, type MatchQuery } from './matcher.js';

const KNOWN = 'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22';
const flip = (hex: string, bits: number) => {
  const h = hash256FromHex(hex);
  for (let k = 0; k < bits; k++) h[(k * 7) >> 3] ^= 1 << ((k * 7) & 7);
  return hash256ToHex(h);
};

const distance = (a: string, b: string) => hammingDistance256(hash256FromHex(a), hash256FromHex(b));
const fake256: SignalType = {
  name: 'fake256',
  description: 'A made-up 256-bit photo hash (test only)',
  contentTypes: ['photo'],
  matching: 'distance',
  index: 'hamming256',
  hexLength: 64,
  defaultThreshold: 20,
  maxDistance: 256,
  parse: (value) => parseFixedHex('fake256', 64, value),
  distance,
  matches: (a, b, threshold = 20) => distance(a, b) <= threshold,
  examples: [KNOWN, flip(KNOWN, 3)],
};
// SHAKE128's default output is 16 bytes: computed by the file hasher through `digest`, indexed by ExactIndex.
const shake128 = digestSignalType('shake128', 32, 'SHAKE128 of the file bytes (test only)', ['7f9c2ba4e88f827d616045507605853e'], 'shake128');

describeSignalType('fake256', fake256);
describeSignalType('shake128', shake128);

const removals: (() => void)[] = [];
before(() => removals.push(registerSignalType(fake256), registerSignalType(shake128)));
after(() => removals.forEach((remove) => remove()));

const matchesOf = async (matcher: BankMatcher, query: MatchQuery) => (await matcher.match(query)).map((m) => `${m.signalType}:${m.bank}:${m.distance}:${m.actionable}`);

test('a registered type is imported from a list, hashed, matched, looked up, snapshotted and retained with no edit elsewhere', async () => {
  const dir = tempDir('signal-seam');
  const file = join(dir, 'notes.txt');
  writeFileSync(file, 'benign bytes for the signal-type seam\n');
  const shake = createHash('shake128').update('benign bytes for the signal-type seam\n').digest('hex');
  const list = join(dir, 'list.csv');
  writeFileSync(list, `type,hash\nshake128,${shake.toUpperCase()}\nfake256,${KNOWN}\n`);

  const store = await openStore(join(dir, 'vigil.db'));
  try {
    // A bank threshold for the new type is accepted (it has a default) and used.
    await store.createBank({ name: 'seam', source: 'test', thresholds: { fake256: 10 } as Partial<Record<SignalTypeName, number>> });
    const imported = await importListFile(store, 'seam', list, { format: 'csv' });
    assert.equal(imported.inserted, 2);

    const matcher = new BankMatcher(store, { digestIndex: createDigestIndex, loadDigestIndex });
    await matcher.sync();
    assert.equal((matcher.sizes as Record<string, number>).fake256, 1);
    assert.equal((matcher.sizes as Record<string, number>).shake128, 1);

    // The file hasher computes the new digest in its one read; the record becomes a query with it.
    const record = await hashFile(file);
    assert.equal((record as unknown as Record<string, unknown>).shake128, shake);
    assert.deepEqual(await matchesOf(matcher, matchQueryOfRecord(record)), ['shake128:seam:0:true']);

    // `vigil hash` output (Vigil's NDJSON) carries the new digest, and imports it.
    const ndjson = join(dir, 'hashed.ndjson');
    writeFileSync(ndjson, `${JSON.stringify(record)}\n`);
    await store.createBank({ name: 'hashed', source: 'test' });
    assert.equal((await importListFile(store, 'hashed', ndjson, { format: 'vigil-ndjson' })).inserted, 4, 'md5, sha1, sha256 and shake128');
    await matcher.sync();
    assert.deepEqual((await matchesOf(matcher, matchQueryOfRecord(record))).sort(), ['md5:hashed:0:true', 'sha1:hashed:0:true', 'sha256:hashed:0:true', 'shake128:hashed:0:true', 'shake128:seam:0:true']);

    // Client hashes and lookup items of the new type, in its index kind's form.
    const near = flip(KNOWN, 6);
    assert.deepEqual(await matchesOf(matcher, matchQueryOfClientHashes({ fake256: [near] })), ['fake256:seam:6:true']);
    assert.deepEqual(await matchesOf(matcher, matchQueryOfClientHashes({ fake256: [flip(KNOWN, 15)] })), [], "over the bank's 10, under the type's 20");
    assert.deepEqual(await matchesOf(matcher, lookupQuery({ type: 'fake256' as SignalTypeName, value: near })), ['fake256:seam:6:true']);
    assert.deepEqual(await matchesOf(matcher, lookupQuery({ type: 'shake128' as SignalTypeName, value: shake })), ['shake128:hashed:0:true', 'shake128:seam:0:true']);
    assert.throws(() => matchQueryOfClientHashes({ fake256: ['abc'] }), /hashes\.fake256\[0\]/);
    assert.equal((await matcher.nearest(matchQueryOfClientHashes({ fake256: [flip(KNOWN, 15)] }), 64))?.signalType, 'fake256');

    // Snapshots carry the new types' indexes, one file each, and restore to the same answers.
    const snap = join(dir, 'snapshot');
    mkdirSync(snap);
    assert.equal(matcher.saveSnapshot(snap), true);
    const files = readdirSync(snap);
    assert.ok(files.some((f) => f.endsWith('.fake256')) && files.some((f) => f.endsWith('.shake128')), files.join(' '));
    const restored = new BankMatcher(store, { digestIndex: createDigestIndex, loadDigestIndex });
    await restored.restoreSnapshot(snap);
    assert.equal(await restored.sync(), 0);
    assert.deepEqual(await matchesOf(restored, matchQueryOfClientHashes({ fake256: [near], shake128: shake })), await matchesOf(matcher, matchQueryOfClientHashes({ fake256: [near], shake128: shake })));

    // Retroactive matching: a retained query round-trips and a new signal of the type finds it.
    const retained = new RetainedIndex();
    const query = deserializeQuery(serializeQuery(matchQueryOfClientHashes({ fake256: [near], shake128: shake })));
    retained.add(7, query);
    const changes = await store.changesSince(0, 100);
    for (const type of ['fake256', 'shake128']) assert.deepEqual(retained.candidates(changes.find((c) => c.type === type)!, 10), [7], type);
    assert.notEqual(fingerprintOf(matchQueryOfClientHashes({ fake256: [near] })), fingerprintOf(matchQueryOfClientHashes({ fake256: [KNOWN] })), 'the new type is part of the fingerprint');
  } finally {
    await store.close();
  }
});
