import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { VigilError } from '../core/errors.js';
import { HammingIndex256, type HammingIndexOptions, type SearchStrategy } from './hamming-index.js';
import { LinearHammingIndex } from './linear.js';
import { Rng, clusteredHashes, nearby, randomHashes } from './_test-data.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-hamming-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function row(hashes: Uint8Array, i: number): Uint8Array {
  return hashes.subarray(i * 32, i * 32 + 32);
}

/** Index (rows in MIH segments: the batch exceeds the small tail) plus the brute-force oracle. */
function build(hashes: Uint8Array, ids: number[], options: HammingIndexOptions = {}): { index: HammingIndex256; oracle: LinearHammingIndex } {
  const index = new HammingIndex256({ tailCapacity: 64, ...options });
  const oracle = new LinearHammingIndex();
  index.addMany(Uint32Array.from(ids), hashes);
  oracle.addMany(ids, hashes);
  assert.equal(index.stats().tailRows, 0, 'test data must sit in segments');
  return { index, oracle };
}

/** Half the queries sit within 0..40 bits of a stored hash, half are random. */
function queries(rng: Rng, hashes: Uint8Array, n: number): Uint8Array[] {
  const stored = hashes.length / 32;
  return Array.from({ length: n }, (_, i) => (i % 2 === 0 ? nearby(rng, row(hashes, rng.int(stored)), rng.int(41)) : randomHashes(rng, 1)));
}

function assertAllRadii(index: HammingIndex256, oracle: LinearHammingIndex, qs: Uint8Array[], strategies: SearchStrategy[], radii = Array.from({ length: 65 }, (_, r) => r)): void {
  for (const q of qs) {
    for (const r of radii) {
      const want = oracle.search(q, r);
      for (const strategy of strategies) assert.deepEqual(index.search(q, r, { strategy }), want, `strategy ${strategy}, radius ${r}`);
    }
  }
}

describe('HammingIndex256 search = brute force', () => {
  it('random data, radii 0..64, every strategy and several MIH layouts', () => {
    const rng = new Rng(1);
    const hashes = randomHashes(rng, 3000);
    const ids = Array.from({ length: 3000 }, (_, i) => i * 7 + 3);
    const qs = queries(rng, hashes, 24);
    for (const layout of [{}, { tables: 11 }, { tables: 16, keyBitsBelowLog2: 0 }, { tables: 13, keyBitsBelowLog2: 6 }]) {
      const { index, oracle } = build(hashes, ids, { layout });
      assertAllRadii(index, oracle, qs, ['mih', 'flat', 'auto']);
    }
  });

  it('clustered data with exact duplicates under different ids, radii 0..64', () => {
    const rng = new Rng(2);
    const hashes = clusteredHashes(rng, 4000);
    const ids = Array.from({ length: 4000 }, (_, i) => 4000 - i);
    const { index, oracle } = build(hashes, ids, { layout: { tables: 11 } });
    const qs = queries(rng, hashes, 16);
    assertAllRadii(index, oracle, qs, ['mih', 'flat', 'auto']);
    // Sanity: the data really is clustered (large result sets) and contains exact duplicates.
    assert.ok(qs.some((q) => oracle.search(q, 31).length > 50));
    const dup = oracle.search(row(hashes, 1), 0);
    assert.ok(dup.length >= 1);
  });

  it('finds neighbours whose differences are spread evenly over the MIH substrings (pigeonhole worst case)', () => {
    const rng = new Rng(11);
    const hashes = randomHashes(rng, 2000);
    const ids = Array.from({ length: 2000 }, (_, i) => i);
    const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
    for (const layout of [{ tables: 11 }, { tables: 16 }, { tables: 13, keyBitsBelowLog2: 0 }]) {
      const { index } = build(hashes, ids, { layout });
      const { tables, subBits } = index.stats().segments[0].layout;
      // Internal bit p = bit (p & 31) of native word p >> 5 (see _bits.ts).
      const flip = (h: Uint8Array, p: number): void => {
        const byte = 4 * (p >> 5) + (littleEndian ? (p & 31) >> 3 : 3 - ((p & 31) >> 3));
        h[byte] ^= 1 << (p & 7);
      };
      for (let r = 0; r <= 64; r++) {
        const x = rng.int(2000);
        // r flips dealt round-robin over the substrings (distinct bits), so every substring differs
        // by floor or ceil of r / tables bits: the tightest case for Σ(p_j + 1) > r.
        const q = Uint8Array.from(row(hashes, x));
        const used = new Set<number>();
        for (let f = 0; f < r; f++) {
          const j = f % tables;
          let p: number;
          do p = j * subBits + rng.int(subBits);
          while (used.has(p));
          used.add(p);
          flip(q, p);
        }
        const hit = (res: { id: number; distance: number }[]): boolean => res.some((m) => m.id === x && m.distance === r);
        assert.ok(hit(index.search(q, r, { strategy: 'mih' })), `tables ${tables}, radius ${r}: neighbour missed`);
        assert.ok(hit(index.searchDihedral([randomHashes(rng, 1), q], r, { strategy: 'mih' }).map((m) => ({ ...m }))), `dihedral, radius ${r}`);
        if (r > 0) assert.ok(!index.search(q, r - 1, { strategy: 'mih' }).some((m) => m.id === x));
      }
    }
  });

  it('returns every id stored under the same hash, sorted by distance then id', () => {
    const rng = new Rng(3);
    const h = randomHashes(rng, 1);
    const index = new HammingIndex256();
    for (const id of [9, 2, 5]) index.add(id, h);
    index.add(1, nearby(rng, h, 3));
    assert.deepEqual(index.search(h, 31), [
      { id: 2, distance: 0 },
      { id: 5, distance: 0 },
      { id: 9, distance: 0 },
      { id: 1, distance: 3 },
    ]);
  });

  it('reports each of thousands of identical hashes once (a cluster found through every table)', () => {
    const rng = new Rng(13);
    const h = randomHashes(rng, 1);
    const n = 3000;
    const hashes = new Uint8Array(n * 32);
    for (let i = 0; i < n; i++) hashes.set(i % 3 === 0 ? nearby(rng, h, 1 + (i % 9)) : h, i * 32);
    const ids = Array.from({ length: n }, (_, i) => 10 * i);
    const { index, oracle } = build(hashes, ids);
    for (const r of [0, 5, 31, 64]) {
      const got = index.search(h, r, { strategy: 'mih' });
      assert.deepEqual(got, oracle.search(h, r));
      assert.equal(new Set(got.map((m) => m.id)).size, got.length);
    }
    assert.equal(index.search(h, 31).length, n);
  });

  it('radius above 64 uses the flat scan and stays exact', () => {
    const rng = new Rng(4);
    const hashes = randomHashes(rng, 500);
    const ids = Array.from({ length: 500 }, (_, i) => i);
    const { index, oracle } = build(hashes, ids);
    for (const q of queries(rng, hashes, 4)) for (const r of [100, 128, 140, 256]) assert.deepEqual(index.search(q, r), oracle.search(q, r));
    assert.throws(() => index.search(row(hashes, 0), 65, { strategy: 'mih' }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  });
});

describe('HammingIndex256 searchDihedral', () => {
  it('best variant per id equals the brute-force merge of 8 searches', () => {
    const rng = new Rng(5);
    const hashes = clusteredHashes(rng, 3000);
    const ids = Array.from({ length: 3000 }, (_, i) => i);
    const { index, oracle } = build(hashes, ids);
    // Some rows in the tail too.
    for (let i = 0; i < 100; i++) {
      const h = nearby(rng, row(hashes, rng.int(3000)), rng.int(30));
      index.add(10000 + i, h);
      oracle.add(10000 + i, h);
    }
    for (let t = 0; t < 10; t++) {
      const variants = Array.from({ length: 1 + (t % 8) }, () => (rng.int(2) ? nearby(rng, row(hashes, rng.int(3000)), rng.int(40)) : randomHashes(rng, 1)));
      for (const r of [0, 10, 31, 48, 64]) {
        const want = oracle.searchDihedral(variants, r);
        for (const strategy of ['mih', 'flat', 'auto'] as const) assert.deepEqual(index.searchDihedral(variants, r, { strategy }), want, `${strategy} r=${r}`);
      }
    }
  });

  it('rejects 0 or more than 8 variants', () => {
    const index = new HammingIndex256();
    assert.throws(() => index.searchDihedral([], 31), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.searchDihedral(Array.from({ length: 9 }, () => new Uint8Array(32)), 31), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  });
});

describe('HammingIndex256 add/remove interleaved with queries', () => {
  it('matches the oracle through tail freezes, merges, removals, re-adds and compaction', () => {
    const rng = new Rng(6);
    const index = new HammingIndex256({ tailCapacity: 64, autoMergeRows: 2000 });
    const oracle = new LinearHammingIndex();
    const pool = clusteredHashes(rng, 3000);
    const live: number[] = [];
    let nextId = 0;
    for (let step = 0; step < 3000; step++) {
      const op = rng.int(10);
      if (op < 6 || live.length === 0) {
        const id = nextId++;
        const h = row(pool, rng.int(3000));
        index.add(id, h);
        oracle.add(id, h);
        live.push(id);
      } else if (op < 9) {
        const k = rng.int(live.length);
        const id = live[k];
        live[k] = live[live.length - 1];
        live.pop();
        assert.equal(index.remove(id), true);
        assert.equal(oracle.remove(id), true);
        assert.equal(index.remove(id), false);
        if (rng.int(4) === 0) {
          // Re-add the same id with a different hash.
          const h = row(pool, rng.int(3000));
          index.add(id, h);
          oracle.add(id, h);
          live.push(id);
        }
      } else {
        const q = nearby(rng, row(pool, rng.int(3000)), rng.int(33));
        const r = rng.int(40);
        assert.deepEqual(index.search(q, r), oracle.search(q, r));
      }
      if (step === 1500) index.compact();
      if (step % 500 === 0) {
        assert.equal(index.size, oracle.size);
        for (let k = 0; k < 20; k++) {
          const id = rng.int(nextId + 5);
          assert.equal(index.has(id), oracle.has(id), `has(${id})`);
        }
      }
    }
    assert.ok(index.stats().segments.length >= 1);
    assert.equal(index.size, oracle.size);
    for (const q of queries(rng, pool, 6)) for (const r of [0, 16, 31, 64]) assert.deepEqual(index.search(q, r), oracle.search(q, r));
    const id = live[0];
    assert.ok(index.get(id) !== undefined);
    assert.deepEqual(index.search(index.get(id) as Uint8Array, 0).some((m) => m.id === id), true);
  });

  it('compactAsync merges in a worker while searches and writes continue', async () => {
    const rng = new Rng(7);
    const hashes = randomHashes(rng, 5000);
    const ids = Array.from({ length: 5000 }, (_, i) => i);
    const { index, oracle } = build(hashes, ids, { tailCapacity: 128, autoMergeRows: 0 });
    for (let i = 0; i < 2000; i += 3) {
      index.remove(i);
      oracle.remove(i);
    }
    for (let i = 0; i < 300; i++) {
      index.add(5000 + i, row(hashes, i));
      oracle.add(5000 + i, row(hashes, i));
    }
    const before = index.stats().segments.length;
    assert.ok(before > 1);
    const done = index.compactAsync();
    assert.equal(index.compactAsync(), done, 'a second call joins the running compaction');
    assert.throws(() => index.compact(), { code: 'VIGIL_ERR_CONFLICT' });
    // Writes while the worker runs: removals of rows it is copying must survive the swap.
    for (let i = 2000; i < 2300; i++) {
      index.remove(i);
      oracle.remove(i);
    }
    index.add(9999, row(hashes, 4000));
    oracle.add(9999, row(hashes, 4000));
    const q = row(hashes, 2100);
    assert.deepEqual(index.search(q, 31), oracle.search(q, 31));
    await done;
    const after = index.stats();
    assert.ok(after.segments.length <= 2, `segments after compaction: ${after.segments.length}`);
    assert.equal(after.segments[0].dead, 0);
    assert.equal(index.size, oracle.size);
    for (const qq of queries(rng, hashes, 20)) assert.deepEqual(index.search(qq, 31), oracle.search(qq, 31));
    for (let i = 2000; i < 2300; i++) assert.equal(index.has(i), false);
  });
});

describe('HammingIndex256 compaction policy', () => {
  it('compactAsync leaves a large clean segment alone unless asked for a full merge', async () => {
    const rng = new Rng(12);
    const hashes = randomHashes(rng, 6000);
    const ids = Array.from({ length: 5000 }, (_, i) => i);
    const { index, oracle } = build(hashes.subarray(0, 5000 * 32), ids, { tailCapacity: 100, autoMergeRows: 0 });
    const big = index.stats().segments[0];
    for (let i = 5000; i < 6000; i++) {
      index.add(i, row(hashes, i));
      oracle.add(i, row(hashes, i));
    }
    index.remove(5);
    oracle.remove(5);
    assert.ok(index.stats().segments.length >= 10);
    assert.equal(index.needsCompaction, true);
    await index.compactAsync();
    let st = index.stats();
    assert.equal(st.segments.length, 2);
    assert.deepEqual(st.segments.find((s) => s.rows === big.rows)?.dead, 1, 'the large segment was kept, with its tombstone');
    assert.equal(index.needsCompaction, false);
    await index.compactAsync({ full: true });
    st = index.stats();
    assert.deepEqual(st.segments.map((s) => [s.rows, s.dead]), [[5999, 0]]);
    for (const q of queries(rng, hashes, 10)) assert.deepEqual(index.search(q, 31), oracle.search(q, 31));
  });
});

describe('HammingIndex256 persistence', () => {
  const rng = new Rng(8);
  const hashes = clusteredHashes(rng, 3000);
  const ids = Array.from({ length: 3000 }, (_, i) => i + 1);
  const { index, oracle } = build(hashes, ids);
  for (let i = 1; i < 400; i += 4) {
    index.remove(i);
    oracle.remove(i);
  }
  for (let i = 0; i < 100; i++) {
    index.add(50000 + i, row(hashes, i));
    oracle.add(50000 + i, row(hashes, i));
  }
  index.remove(50003);
  oracle.remove(50003);
  const file = join(dir, 'pdq.vidx');
  index.save(file);

  it('round-trips segments, tail and tombstones', () => {
    const loaded = HammingIndex256.load(file);
    assert.equal(loaded.size, oracle.size);
    assert.deepEqual(loaded.stats().segments, index.stats().segments);
    for (const q of queries(rng, hashes, 20)) for (const r of [0, 20, 31, 50]) assert.deepEqual(loaded.search(q, r), oracle.search(q, r));
    assert.equal(loaded.has(50003), false);
    assert.equal(loaded.has(50004), true);
    // Still writable after loading.
    loaded.remove(50004);
    loaded.add(50003, row(hashes, 7));
    assert.equal(loaded.has(50003), true);
    assert.equal(loaded.has(50004), false);
  });

  function expectCorrupt(bytes: Uint8Array, pattern: RegExp): void {
    const bad = join(dir, `bad-${Math.random().toString(36).slice(2)}.vidx`);
    writeFileSync(bad, bytes);
    assert.throws(
      () => HammingIndex256.load(bad),
      (err: unknown) => err instanceof VigilError && err.code === 'VIGIL_ERR_INDEX_CORRUPT' && pattern.test(err.message),
    );
  }

  it('refuses a truncated file', () => {
    const good = readFileSync(file);
    expectCorrupt(good.subarray(0, good.length - 1), /truncated/);
    expectCorrupt(good.subarray(0, 100), /truncated/);
    expectCorrupt(good.subarray(0, 10), /truncated|shorter/);
    expectCorrupt(new Uint8Array(0), /shorter/);
    const t = join(dir, 'trunc.vidx');
    writeFileSync(t, good);
    truncateSync(t, statSync(t).size - 4096);
    assert.throws(() => HammingIndex256.load(t), { code: 'VIGIL_ERR_INDEX_CORRUPT' });
  });

  it('refuses a flipped bit anywhere in the data or the header', () => {
    const good = readFileSync(file);
    for (const pos of [30, 200, Math.floor(good.length / 3), Math.floor(good.length / 2), good.length - 3]) {
      const bad = Uint8Array.from(good);
      bad[pos] ^= 0x10;
      expectCorrupt(bad, /CRC|JSON|malformed|outside/);
    }
  });

  it('refuses an unknown version, a wrong magic and a different index kind', () => {
    const good = readFileSync(file);
    const v2 = Uint8Array.from(good);
    new DataView(v2.buffer).setUint32(8, 2, true);
    expectCorrupt(v2, /version 2 is unknown/);
    const magic = Uint8Array.from(good);
    magic[0] = 0x58;
    expectCorrupt(magic, /magic/);
    expectCorrupt(new TextEncoder().encode('not an index at all, just some text that is long enough'), /magic/);
  });

  it('reports a missing file as unreadable', () => {
    assert.throws(() => HammingIndex256.load(join(dir, 'nope.vidx')), { code: 'VIGIL_ERR_UNREADABLE' });
  });
});

describe('HammingIndex256 sharing between threads', () => {
  it('a shared view searches the same memory, sees removals, and is read-only', () => {
    const rng = new Rng(9);
    const hashes = randomHashes(rng, 2000);
    const ids = Array.from({ length: 2000 }, (_, i) => i);
    const { index, oracle } = build(hashes, ids, { tailCapacity: 64 });
    index.add(7777, row(hashes, 5));
    oracle.add(7777, row(hashes, 5));
    const view = HammingIndex256.fromShared(index.toShared());
    assert.equal(view.isWritable, false);
    assert.equal(view.size, index.size);
    assert.deepEqual(view.search(row(hashes, 5), 10), oracle.search(row(hashes, 5), 10));
    index.remove(5);
    oracle.remove(5);
    assert.deepEqual(view.search(row(hashes, 5), 10), oracle.search(row(hashes, 5), 10));
    assert.equal(view.has(5), false);
    assert.equal(view.has(7777), true);
    assert.throws(() => view.add(1, row(hashes, 1)), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.equal(view.isStale(), false);
    for (let i = 0; i < 100; i++) index.add(8000 + i, row(hashes, i));
    assert.equal(view.isStale(), true, 'the tail froze into a segment the view does not have');
    const fresh = HammingIndex256.fromShared(index.toShared());
    assert.equal(fresh.isStale(), false);
    assert.equal(fresh.has(8099), true);
  });

  it('a worker thread queries through a posted handle without copying the arrays', async () => {
    const rng = new Rng(10);
    const hashes = randomHashes(rng, 3000);
    const ids = Array.from({ length: 3000 }, (_, i) => i);
    const { index, oracle } = build(hashes, ids);
    const q = nearby(rng, row(hashes, 42), 5);
    const url = new URL('./hamming-index.js', import.meta.url).href.replace(/\.js$/, import.meta.url.endsWith('.ts') ? '.ts' : '.js');
    const api = import.meta.url.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : '';
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        if (workerData.api) (await import(workerData.api)).register();
        const { HammingIndex256 } = await import(workerData.url);
        const view = HammingIndex256.fromShared(workerData.handle);
        parentPort.postMessage(view.search(workerData.q, 31));
      })().catch((e) => parentPort.postMessage({ error: String(e) }));`;
    const worker = new Worker(code, { eval: true, workerData: { url, api, handle: index.toShared(), q } });
    const result = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    assert.deepEqual(result, oracle.search(q, 31));
  });
});

describe('HammingIndex256 argument checks', () => {
  const index = new HammingIndex256();
  const h = new Uint8Array(32);
  it('rejects malformed hashes, ids and radii', () => {
    assert.throws(() => index.add(1, new Uint8Array(31)), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.add(-1, h), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.add(2 ** 32, h), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.add(1.5, h), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.search(h, -1), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.search(h, 257), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.search(h, 3.5), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.search(h, 3, { strategy: 'fast' as SearchStrategy }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => new HammingIndex256({ tailCapacity: 0 }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => HammingIndex256.fromShared(null as unknown as ReturnType<HammingIndex256['toShared']>), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => HammingIndex256.fromShared({ format: 'other' } as unknown as ReturnType<HammingIndex256['toShared']>), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.searchDihedral([new Uint8Array(32), new Uint8Array(8)], 31), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.save(''), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  });

  it('rejects duplicate ids, and a batch with a duplicate adds nothing', () => {
    index.add(1, h);
    assert.throws(() => index.add(1, h), { code: 'VIGIL_ERR_CONFLICT' });
    assert.throws(() => index.addMany([2, 3, 2], new Uint8Array(96)), { code: 'VIGIL_ERR_CONFLICT' });
    assert.throws(() => index.addMany(Uint32Array.from({ length: 20000 }, (_, i) => i % 19999), new Uint8Array(20000 * 32)), { code: 'VIGIL_ERR_CONFLICT' });
    assert.throws(() => index.addMany([5, 1], new Uint8Array(64)), { code: 'VIGIL_ERR_CONFLICT' });
    assert.throws(() => index.addMany([5, 6], new Uint8Array(63)), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.equal(index.size, 1);
    assert.equal(index.has(2), false);
    assert.equal(index.has(5), false);
  });
});
