import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { VigilError } from '../core/errors.js';
import { DIGEST_BYTES, ExactIndex, type DigestAlgorithm } from './exact-index.js';
import { Rng } from './_test-data.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-exact-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function digest(alg: DigestAlgorithm, n: number): Uint8Array {
  return new Uint8Array(createHash(alg).update(`benign test content ${n}`).digest());
}

/** Reference: a Map keyed by hex. */
class Oracle {
  private readonly byId = new Map<number, string>();
  add(id: number, d: Uint8Array): void {
    this.byId.set(id, Buffer.from(d).toString('hex'));
  }
  remove(id: number): boolean {
    return this.byId.delete(id);
  }
  lookup(d: Uint8Array): number[] {
    const hex = Buffer.from(d).toString('hex');
    return [...this.byId].filter(([, h]) => h === hex).map(([id]) => id).sort((a, b) => a - b);
  }
  get size(): number {
    return this.byId.size;
  }
}

describe('ExactIndex', () => {
  for (const alg of ['md5', 'sha1', 'sha256'] as const) {
    it(`${alg}: add/remove/lookup interleaved match a Map, through growth and compaction`, () => {
      const rng = new Rng(alg.length);
      const index = new ExactIndex(alg, { initialCapacity: 8 });
      const oracle = new Oracle();
      const live: number[] = [];
      for (let step = 0; step < 4000; step++) {
        const op = rng.int(10);
        if (op < 6 || live.length === 0) {
          const id = step;
          const d = digest(alg, rng.int(1500)); // repeats: one digest under several ids
          index.add(id, d);
          oracle.add(id, d);
          live.push(id);
        } else if (op < 8) {
          const k = rng.int(live.length);
          const id = live[k];
          live[k] = live[live.length - 1];
          live.pop();
          assert.equal(index.remove(id), true);
          assert.equal(oracle.remove(id), true);
          assert.equal(index.remove(id), false);
        } else {
          const d = digest(alg, rng.int(1700));
          assert.deepEqual(index.lookup(d), oracle.lookup(d));
        }
        if (step === 2500) index.compact();
      }
      assert.equal(index.size, oracle.size);
      for (let n = 0; n < 1700; n += 7) assert.deepEqual(index.lookup(digest(alg, n)), oracle.lookup(digest(alg, n)));
      assert.equal(index.has(live[0]), true);
    });
  }

  it('addMany, then save/load round-trip', () => {
    const n = 5000;
    const ids = Uint32Array.from({ length: n }, (_, i) => i * 3);
    const digests = new Uint8Array(n * 32);
    for (let i = 0; i < n; i++) digests.set(digest('sha256', i % 4000), i * 32);
    const index = new ExactIndex('sha256');
    index.addMany(ids, digests);
    index.remove(3);
    const file = join(dir, 'sha.vidx');
    index.save(file);
    const loaded = ExactIndex.load(file);
    assert.equal(loaded.algorithm, 'sha256');
    assert.equal(loaded.size, n - 1);
    assert.deepEqual(loaded.lookup(digest('sha256', 1)), [4000 * 3 + 3]);
    assert.deepEqual(loaded.lookup(digest('sha256', 2)), [6, 4002 * 3]);
    assert.deepEqual(loaded.lookup(digest('sha256', 4001)), []);
    loaded.add(3, digest('sha256', 1));
    assert.deepEqual(loaded.lookup(digest('sha256', 1)), [3, 12003]);

    const good = readFileSync(file);
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, good.length - 10), /truncated/],
      [good.subarray(0, 5), /shorter/],
      [(() => { const b = Uint8Array.from(good); b[good.length - 100] ^= 1; return b; })(), /CRC/],
      [(() => { const b = Uint8Array.from(good); new DataView(b.buffer).setUint32(8, 99, true); return b; })(), /version 99/],
    ];
    for (const [bytes, re] of cases) {
      const bad = join(dir, 'bad.vidx');
      writeFileSync(bad, bytes);
      assert.throws(() => ExactIndex.load(bad), (e: unknown) => e instanceof VigilError && e.code === 'VIGIL_ERR_INDEX_CORRUPT' && re.test(e.message));
    }
  });

  it('refuses to load a Hamming index file as an exact index', async () => {
    const { HammingIndex256 } = await import('./hamming-index.js');
    const h = new HammingIndex256();
    h.add(1, new Uint8Array(32));
    const file = join(dir, 'pdq.vidx');
    h.save(file);
    assert.throws(() => ExactIndex.load(file), (e: unknown) => e instanceof VigilError && e.code === 'VIGIL_ERR_INDEX_CORRUPT' && /vigil\.hamming256/.test(e.message));
  });

  it('shared views look up the same tables and go stale after a rehash', () => {
    const index = new ExactIndex('md5', { initialCapacity: 16 });
    index.add(1, digest('md5', 1));
    const view = ExactIndex.fromShared(index.toShared());
    assert.deepEqual(view.lookup(digest('md5', 1)), [1]);
    index.remove(1);
    assert.deepEqual(view.lookup(digest('md5', 1)), []);
    assert.throws(() => view.add(2, digest('md5', 2)), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.equal(view.isStale(), false);
    for (let i = 0; i < 100; i++) index.add(100 + i, digest('md5', i));
    assert.equal(view.isStale(), true);
  });

  it('validates arguments', () => {
    const index = new ExactIndex('sha1');
    assert.equal(DIGEST_BYTES.sha1, 20);
    assert.throws(() => index.add(1, new Uint8Array(32)), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.lookup(new Uint8Array(16)), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => index.add(-1, new Uint8Array(20)), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => new ExactIndex('crc32' as DigestAlgorithm), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    index.add(1, new Uint8Array(20));
    assert.throws(() => index.add(1, new Uint8Array(20)), { code: 'VIGIL_ERR_CONFLICT' });
    assert.throws(() => index.addMany([2, 2], new Uint8Array(40)), { code: 'VIGIL_ERR_CONFLICT' });
    assert.equal(index.size, 1);
  });
});
