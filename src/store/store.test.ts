// One behaviour, two stores: the same suite runs against SQLite and PostgreSQL (127.0.0.1:5432, started by CI).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { ListItem, ListRecord } from '../lists/types.js';
import { STORE_COMPONENT } from './migrations.js';
import { PostgresStore } from './postgres-store.js';
import { openStore, storeOver } from './store.js';
import { openDatabase, type VigilDatabase } from '../state/database.js';
import type { Store } from './types.js';
import { tempDir } from '../../test/helpers/temp.js';

export const TEST_POSTGRES_URL = process.env.VIGIL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Deterministic benign stand-in hashes (not hashes of anything). */
export function fakeHex(n: number, length = 64): string {
  let s = '';
  let x = (n + 1) * 2654435761;
  while (s.length < length) {
    x = (Math.imul(x ^ (x >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    s += x.toString(16).padStart(8, '0');
  }
  return s.slice(0, length);
}

function rec(n: number, extra: Partial<ListRecord> = {}): ListItem {
  return { kind: 'record', line: n + 1, record: { signals: [{ type: 'pdq', value: fakeHex(n) }, { type: 'md5', value: fakeHex(n, 32) }], labels: { tags: ['benign-test'] }, sourceId: `src-${n}`, ...extra } };
}

async function* slowly(items: ListItem[], failAt?: number): AsyncGenerator<ListItem> {
  for (const [i, item] of items.entries()) {
    if (i === failAt) throw new Error('reader died mid-import');
    yield item;
  }
}

function storeSuite(name: string, open: () => Promise<{ store: Store; db: VigilDatabase; cleanup: () => Promise<void> }>): void {
  describe(name, () => {
    let store: Store;
    let db: VigilDatabase;
    let cleanup: () => Promise<void>;
    before(async () => ({ store, db, cleanup } = await open()));
    after(async () => cleanup());

    test('banks: create, get, list, update; duplicate and invalid names refused', async () => {
      const bank = await store.createBank({ name: 'benign-block', description: 'test list', source: 'unit test', thresholds: { pdq: 31 } });
      assert.equal(bank.kind, 'block');
      assert.equal(bank.enabled, true);
      assert.deepEqual(bank.thresholds, { pdq: 31 });
      await assert.rejects(store.createBank({ name: 'benign-block' }), { code: 'VIGIL_ERR_CONFLICT' });
      await assert.rejects(store.createBank({ name: '../etc' }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
      await assert.rejects(store.createBank({ name: 'x', thresholds: { md5: 3 } }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
      assert.equal(bank.degeneratePolicy, 'exact');
      assert.equal((await store.updateBank('benign-block', { degeneratePolicy: 'none' })).degeneratePolicy, 'none');
      assert.equal((await store.getBank('benign-block'))?.degeneratePolicy, 'none');
      await assert.rejects(store.updateBank('benign-block', { degeneratePolicy: 'loose' as never }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
      const disabled = await store.updateBank('benign-block', { enabled: false, falsePositivePolicy: 'downrank', degeneratePolicy: 'exact' });
      assert.equal(disabled.enabled, false);
      assert.equal(disabled.falsePositivePolicy, 'downrank');
      await store.updateBank('benign-block', { enabled: true, falsePositivePolicy: 'suppress' });
      await assert.rejects(store.updateBank('nope', { enabled: false }), { code: 'VIGIL_ERR_NOT_FOUND' });
      await store.createBank({ name: 'known-good', kind: 'allow' });
      assert.deepEqual((await store.listBanks()).map((b) => b.name), ['benign-block', 'known-good']);
      assert.equal((await store.getBankById(bank.id))?.name, 'benign-block');
    });

    test('import: counts, row errors kept with line numbers, idempotent re-import', async () => {
      const items: ListItem[] = [...Array.from({ length: 50 }, (_, i) => rec(i)), { kind: 'error', line: 99, code: 'VIGIL_ERR_LIST_ROW', message: 'bad hex' }];
      const first = await store.importList('benign-block', slowly(items), { fileName: 'list.txt', format: 'plain', batchSize: 7 });
      assert.equal(first.rows, 51);
      assert.equal(first.signals, 100);
      assert.equal(first.inserted, 100);
      assert.equal(first.errorCount, 1);
      assert.deepEqual(first.errors, [{ line: 99, message: 'bad hex' }]);
      const seq = await store.latestSeq();
      const again = await store.importList('benign-block', slowly(items));
      assert.equal(again.inserted, 0);
      assert.equal(again.updated, 0);
      assert.equal(again.unchanged, 100);
      assert.equal(await store.latestSeq(), seq, 'an unchanged re-import writes no change');
      const relabelled = await store.importList('benign-block', [rec(3, { labels: { ukCategory: 'C', tags: ['benign-test'] } })]);
      assert.equal(relabelled.updated, 2);
      const [signal] = await store.findSignals('pdq', fakeHex(3));
      assert.equal(signal.labels.ukCategory, 'C');
      assert.equal(signal.bankName, 'benign-block');
      assert.equal(signal.sourceId, 'src-3');
    });

    test('import that dies midway leaves the bank exactly as it was', async () => {
      const before = await store.bankStats('benign-block');
      const seq = await store.latestSeq();
      const items = Array.from({ length: 40 }, (_, i) => rec(1000 + i));
      await assert.rejects(store.importList('benign-block', slowly(items, 30), { batchSize: 5 }), /reader died/);
      assert.deepEqual(await store.bankStats('benign-block'), before);
      assert.equal(await store.latestSeq(), seq);
      assert.equal((await store.findSignals('pdq', fakeHex(1005))).length, 0);
    });

    test('deletions by value and by source id; re-adding restores', async () => {
      const r = await store.importList('benign-block', [
        { kind: 'record', line: 1, record: { signals: [{ type: 'pdq', value: fakeHex(1) }], labels: {}, deleted: true } },
        { kind: 'record', line: 2, record: { signals: [], labels: {}, sourceId: 'src-2', deleted: true } },
      ]);
      assert.equal(r.deleted, 3);
      assert.equal((await store.findSignals('pdq', fakeHex(1))).length, 0);
      assert.equal((await store.findSignals('md5', fakeHex(2, 32))).length, 0);
      const changes = await store.changesSince(0, 10_000);
      assert.ok(changes.some((c) => c.value === fakeHex(1) && c.deleted));
      const back = await store.importList('benign-block', [rec(1)]);
      assert.equal(back.updated, 1); // pdq came back; md5 of record 1 was never deleted (unchanged)
      assert.equal((await store.findSignals('pdq', fakeHex(1))).length, 1);
    });

    test('a hash listed again after its source was withdrawn in the same file stays', async () => {
      await store.createBank({ name: 'withdrawals' });
      await store.importList('withdrawals', [rec(500)]);
      const r = await store.importList('withdrawals', [
        { kind: 'record', line: 1, record: { signals: [], labels: {}, sourceId: 'src-500', deleted: true } },
        { kind: 'record', line: 2, record: { signals: [{ type: 'pdq', value: fakeHex(500) }], labels: {}, sourceId: 'src-500' } },
      ]);
      assert.equal(r.deleted, 1, 'only the md5 of the withdrawn source goes');
      assert.equal((await store.findSignals('pdq', fakeHex(500))).length, 1);
      assert.equal((await store.findSignals('md5', fakeHex(500, 32))).length, 0);
    });

    test('two imports at once each land in their own bank, whole', async () => {
      await store.createBank({ name: 'concurrent-a' });
      await store.createBank({ name: 'concurrent-b', kind: 'allow' });
      async function* slowItems(from: number, n: number) {
        for (let i = 0; i < n; i++) {
          await new Promise((resolve) => setImmediate(resolve));
          yield rec(from + i);
        }
      }
      const [a, b] = await Promise.all([
        store.importList('concurrent-a', slowItems(2000, 20), { batchSize: 3 }),
        store.importList('concurrent-b', slowItems(3000, 30), { batchSize: 4 }),
      ]);
      assert.equal(a.inserted, 40);
      assert.equal(b.inserted, 60);
      assert.deepEqual((await store.bankStats('concurrent-a')).byType, { md5: 20, pdq: 20 });
      assert.deepEqual((await store.bankStats('concurrent-b')).byType, { md5: 30, pdq: 30 });
    });

    test('unchanged re-imports spend no ids; the hashes of one record get consecutive ids', async () => {
      await store.createBank({ name: 'ids' });
      await store.importList('ids', [rec(970_700), rec(970_701)]);
      await store.importList('ids', [rec(970_700), rec(970_701)]);
      await store.importList('ids', [rec(970_702)]);
      const ids = [];
      for await (const s of store.listSignals('ids')) ids.push(s.id);
      assert.equal(ids.length, 6);
      assert.equal(ids[5] - ids[0], 5, `ids ${ids.join(',')}`);
    });

    test('into an empty bank: repeats, deletions and withdrawals in one file resolve as the last line says', async () => {
      await store.createBank({ name: 'fresh-mixed' });
      const pdq = (n: number) => ({ type: 'pdq' as const, value: fakeHex(n) });
      const r = await store.importList('fresh-mixed', [
        { kind: 'record', line: 1, record: { signals: [pdq(800)], labels: { tags: ['first'] } } },
        { kind: 'record', line: 2, record: { signals: [pdq(801)], labels: {}, sourceId: 'src-801' } },
        { kind: 'record', line: 3, record: { signals: [pdq(802)], labels: {} } },
        { kind: 'record', line: 4, record: { signals: [pdq(800)], labels: { tags: ['second'] } } },
        { kind: 'record', line: 5, record: { signals: [], labels: {}, sourceId: 'src-801', deleted: true } },
        { kind: 'record', line: 6, record: { signals: [pdq(802)], labels: {}, deleted: true } },
        { kind: 'record', line: 7, record: { signals: [pdq(803)], labels: {}, deleted: true } },
        { kind: 'record', line: 8, record: { signals: [pdq(803)], labels: {} } },
      ]);
      assert.equal(r.signals, 8);
      assert.equal(r.deleted, 1, 'the withdrawn source was inserted by this file, then withdrawn');
      assert.deepEqual((await store.findSignals('pdq', fakeHex(800))).map((s) => s.labels.tags), [['second']]);
      assert.equal((await store.findSignals('pdq', fakeHex(801))).length, 0);
      assert.equal((await store.findSignals('pdq', fakeHex(802))).length, 0);
      assert.equal((await store.findSignals('pdq', fakeHex(803))).length, 1);
      const stats = await store.bankStats('fresh-mixed');
      assert.equal(stats.active, 2);
      const again = await store.importList('fresh-mixed', [rec(804), rec(804)]);
      assert.equal(again.inserted, 2);
      assert.equal(again.unchanged, 2);
    });

    test('a large import into an empty bank lands whole, then re-imports as unchanged', async () => {
      await store.createBank({ name: 'fresh-large' });
      const n = 26_000;
      // Two hashes per record, 52,000 rows: past the size where SQLite rebuilds the key index afterwards.
      const items = (): ListItem[] => [...Array.from({ length: n }, (_, i) => rec(100_000 + i)), rec(100_000), rec(100_001)];
      const seq = await store.latestSeq();
      const first = await store.importList('fresh-large', items(), { batchSize: 7_000 });
      assert.equal(first.inserted, 2 * n);
      assert.equal(first.unchanged, 4, 'the two records listed twice');
      assert.equal(await store.latestSeq(), seq + 2 * n);
      assert.equal((await store.findSignals('md5', fakeHex(100_000 + n - 1, 32)))[0]?.bankName, 'fresh-large');
      const changes = await store.changesSince(seq, 3 * n);
      assert.equal(changes.length, 2 * n);
      // File order, a record listed again counting where it was last listed.
      assert.deepEqual(changes.slice(0, 2).map((c) => c.value), [fakeHex(100_002), fakeHex(100_002, 32)]);
      assert.deepEqual(changes.slice(-2).map((c) => c.value), [fakeHex(100_001), fakeHex(100_001, 32)]);
      const again = await store.importList('fresh-large', items());
      assert.deepEqual([again.inserted, again.updated, again.unchanged], [0, 0, 2 * n + 4]);
      assert.equal(await store.latestSeq(), seq + 2 * n);
      // The same hashes in another bank are separate signals.
      await store.createBank({ name: 'fresh-large-2' });
      assert.equal((await store.importList('fresh-large-2', items().slice(0, 10))).inserted, 20);
      assert.equal((await store.findSignals('pdq', fakeHex(100_005))).length, 2);
    });

    test('the first large import into an empty store lands whole and keeps the store consistent', async () => {
      // SQLite and PostgreSQL both build the key index after the rows on this path.
      const fresh = await open();
      try {
        const s = fresh.store;
        await s.createBank({ name: 'initial-load' });
        const items = Array.from({ length: 30_000 }, (_, i) => rec(200_000 + i));
        const r = await s.importList('initial-load', [...items, items[0]]);
        assert.deepEqual([r.inserted, r.unchanged], [60_000, 2]);
        assert.equal(await s.latestSeq(), 60_000);
        const changes = await s.changesSince(0, 100_000);
        assert.deepEqual([changes[0].value, changes[59_999].value], [fakeHex(200_001), fakeHex(200_000, 32)], 'file order, the repeat last');
        assert.deepEqual([changes[0].id, changes[59_999].id], [1, 60_000]);
        assert.equal((await s.findSignals('pdq', fakeHex(229_999)))[0]?.sourceId, 'src-229999');
        const again = await s.importList('initial-load', [...items.slice(0, 5), rec(300_000)]);
        assert.deepEqual([again.inserted, again.unchanged], [2, 10]);
        await s.createBank({ name: 'second' });
        assert.equal((await s.importList('second', items.slice(0, 3))).inserted, 6);
      } finally {
        await fresh.cleanup();
      }
    });

    test('a threshold patch for one type keeps the others', async () => {
      await store.createBank({ name: 'thresholds', thresholds: { pdq: 20, vpdq: 5 } });
      const updated = await store.updateBank('thresholds', { thresholds: { pdq: 25 } });
      assert.deepEqual(updated.thresholds, { pdq: 25, vpdq: 5 });
    });

    test('change feed: ordered, complete, pageable', async () => {
      const all = await store.changesSince(0, 100_000);
      assert.ok(all.length >= 100);
      for (let i = 1; i < all.length; i++) assert.ok(all[i].seq > all[i - 1].seq);
      const firstPage = await store.changesSince(0, 10);
      const rest = await store.changesSince(firstPage[firstPage.length - 1].seq, 100_000);
      assert.deepEqual([...firstPage, ...rest].map((c) => c.id), all.map((c) => c.id));
      assert.equal(await store.latestSeq(), all[all.length - 1].seq);
    });

    test('opinions: false positive changes status and is recorded; confirm restores', async () => {
      const [s] = await store.findSignals('pdq', fakeHex(10));
      const seq = await store.latestSeq();
      const fp = await store.addOpinion(s.id, { kind: 'false_positive', actor: 'reviewer-1', reason: 'a landscape' });
      assert.equal(fp.status, 'false_positive');
      assert.ok((await store.latestSeq()) > seq, 'status changes reach the change feed');
      const ok = await store.addOpinion(s.id, { kind: 'confirmed', actor: 'reviewer-2' });
      assert.equal(ok.status, 'active');
      assert.deepEqual((await store.listOpinions(s.id)).map((o) => [o.kind, o.actor]), [['false_positive', 'reviewer-1'], ['confirmed', 'reviewer-2']]);
      await assert.rejects(store.addOpinion(999_999, { kind: 'confirmed', actor: 'x' }), { code: 'VIGIL_ERR_NOT_FOUND' });
      await assert.rejects(store.addOpinion(s.id, { kind: 'nonsense' as 'confirmed', actor: 'x' }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    });

    test('match statistics and spike quarantine', async () => {
      await store.updateBank('benign-block', { spikeThreshold: 3 });
      const [s] = await store.findSignals('pdq', fakeHex(20));
      const at = new Date('2026-11-23T10:15:00Z');
      assert.deepEqual(await store.recordMatches([s.id, s.id, s.id], at), []);
      assert.deepEqual(await store.recordMatches([s.id], at), [s.id]);
      const after = await store.getSignal(s.id);
      assert.equal(after?.status, 'quarantined');
      assert.equal(after?.matchCount, 4);
      // A new hour starts a new count.
      const [t] = await store.findSignals('pdq', fakeHex(21));
      await store.recordMatches([t.id, t.id, t.id], at);
      assert.deepEqual(await store.recordMatches([t.id], new Date('2026-11-23T11:01:00Z')), []);
      const stats = await store.bankStats('benign-block');
      assert.equal(stats.quarantined, 1);
      assert.equal(stats.matches, 8);
      assert.ok(stats.byType.pdq! >= 49);
      assert.ok(stats.imports >= 3);
      await store.updateBank('benign-block', { spikeThreshold: 0 });
    });

    test('HMA semantics: enabledRatio, a deleted bank frees its name and keeps its history, content disabled until a time', async () => {
      const first = await store.createBank({ name: 'hma-bank', enabledRatio: 0.25 });
      assert.deepEqual([first.enabledRatio, first.deletedAt], [0.25, null]);
      assert.equal((await store.updateBank('hma-bank', { enabledRatio: 0.5 })).enabledRatio, 0.5);
      await assert.rejects(store.updateBank('hma-bank', { enabledRatio: 2 }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
      await store.importList('hma-bank', [rec(700)]);
      const [signal] = (await store.findSignals('pdq', fakeHex(700))).filter((x) => x.bankId === first.id);
      assert.equal(signal.disableUntilTs, null);
      assert.equal((await store.setSignalDisabledUntil(signal.id, 0)).disableUntilTs, 0);
      assert.equal((await store.setSignalDisabledUntil(signal.id, null)).disableUntilTs, null);
      await assert.rejects(store.setSignalDisabledUntil(99_999_999, 1), { code: 'VIGIL_ERR_NOT_FOUND' });

      const deleted = await store.deleteBank('hma-bank');
      assert.equal(deleted.enabled, false);
      assert.ok(deleted.deletedAt);
      assert.equal(await store.getBank('hma-bank'), undefined);
      assert.ok(!(await store.listBanks()).some((b) => b.name === 'hma-bank'));
      assert.deepEqual((await store.findSignals('pdq', fakeHex(700))).filter((x) => x.bankId === first.id), [], 'a deleted bank\'s signals are not found');
      assert.equal((await store.getBankById(first.id))?.deletedAt, deleted.deletedAt, 'kept under its id');
      assert.equal((await store.getSignal(signal.id))?.bankId, first.id, 'its signals kept too');
      await assert.rejects(store.deleteBank('hma-bank'), { code: 'VIGIL_ERR_NOT_FOUND' });

      const again = await store.createBank({ name: 'hma-bank' });
      assert.notEqual(again.id, first.id);
      assert.equal(again.enabledRatio, 1);
      await assert.rejects(store.createBank({ name: 'hma-bank' }), { code: 'VIGIL_ERR_CONFLICT' }, 'unique among live banks');
      await store.deleteBank('hma-bank');
    });

    test('listSignals pages through a bank in id order', async () => {
      const seen = [];
      for await (const s of store.listSignals('benign-block', { pageSize: 7 })) seen.push(s.id);
      assert.ok(seen.length >= 97);
      assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
      await assert.rejects(async () => {
        for await (const _ of store.listSignals('missing')) void _;
      }, { code: 'VIGIL_ERR_NOT_FOUND' });
    });

    test('a unit of work: bank, import and opinion commit or roll back with the caller', async () => {
      const latest = await store.latestSeq();
      await assert.rejects(db.transaction(async (tx) => {
        const s = store.in(tx);
        await s.createBank({ name: 'uow-rolled-back' });
        await s.importList('uow-rolled-back', [rec(980_700), rec(980_701)]);
        const [signal] = await s.findSignals('md5', fakeHex(980_700, 32));
        await s.addOpinion(signal!.id, { kind: 'false_positive', actor: 'test' });
        throw new Error('abandon');
      }), /abandon/);
      assert.equal(await store.getBank('uow-rolled-back'), undefined);
      assert.equal((await store.findSignals('md5', fakeHex(980_700, 32))).length, 0);
      assert.equal(await store.latestSeq(), latest);
      await db.transaction(async (tx) => {
        const s = store.in(tx);
        await s.createBank({ name: 'uow-committed' });
        await s.importList('uow-committed', [rec(980_702)]);
      });
      assert.equal((await store.findSignals('md5', fakeHex(980_702, 32)))[0]?.bankName, 'uow-committed');
    });
  });
}

storeSuite('SQLite store', async () => {
  const dir = tempDir('store');
  const db = await openDatabase(join(dir, 'test.db'));
  const store = await storeOver(db);
  return { store, db, cleanup: async () => { await db.close(); rmSync(dir, { recursive: true, force: true }); } };
});

storeSuite('PostgreSQL store', async () => {
  const schema = `vigil_test_${process.pid}_${Date.now() % 1e8}`;
  const db = await openDatabase(TEST_POSTGRES_URL, { schema });
  const store = (await storeOver(db)) as PostgresStore;
  return {
    store,
    db,
    cleanup: async () => {
      await store.dropSchema(schema);
      await db.close();
    },
  };
});

test('PostgreSQL: the initial load neither waits for nor disturbs a reader already in the table', async () => {
  const schema = `vigil_test_${process.pid}_${Date.now() % 1e8}_r`;
  const store = (await openStore(TEST_POSTGRES_URL, { schema })) as PostgresStore;
  const reader = new pg.Client({ connectionString: TEST_POSTGRES_URL, options: `-c search_path=${schema}` });
  await reader.connect();
  try {
    await store.createBank({ name: 'initial-load' });
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    assert.equal(Number((await reader.query('SELECT count(*) AS n FROM signals')).rows[0].n), 0);
    const r = await store.importList('initial-load', Array.from({ length: 30_000 }, (_, i) => rec(400_000 + i)));
    assert.equal(r.inserted, 60_000);
    assert.equal(Number((await reader.query('SELECT count(*) AS n FROM signals')).rows[0].n), 0, 'its snapshot still holds');
    assert.equal((await store.findSignals('md5', fakeHex(400_001, 32))).length, 1);
  } finally {
    await reader.query('ROLLBACK');
    await reader.end();
    await store.dropSchema(schema);
    await store.close();
  }
});

/** A store as version 1 of the schema left it, with a signal, an opinion and match statistics. */
const V1_ROWS = `
  INSERT INTO banks (id, name, kind, created_at, updated_at) VALUES (1, 'old-bank', 'block', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
  INSERT INTO imports (id, bank_id, started_at) VALUES (1, 1, '2026-01-01T00:00:00Z');
  INSERT INTO signals (id, bank_id, type, value, labels, source_id, import_id, seq, added_seq, added_at, updated_at)
    VALUES (7, 1, 'md5', '${fakeHex(900, 32)}', '{"tags":["benign-test"]}', 'src-900', 1, 3, 3, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
  INSERT INTO opinions (signal_id, kind, actor, created_at) VALUES (7, 'confirmed', 'reviewer', '2026-01-01T00:00:00Z');
  INSERT INTO signal_stats (signal_id, match_count) VALUES (7, 2);`;

async function checkMigratedStore(store: Store): Promise<void> {
  const [s] = await store.findSignals('md5', fakeHex(900, 32));
  assert.deepEqual([s.id, s.bankName, s.sourceId, s.matchCount], [7, 'old-bank', 'src-900', 2]);
  assert.equal((await store.listOpinions(7)).length, 1);
  const r = await store.importList('old-bank', [{ kind: 'record', line: 1, record: { signals: [{ type: 'md5', value: fakeHex(900, 32) }], labels: { tags: ['benign-test'] }, sourceId: 'src-900' } }, rec(901)]);
  assert.deepEqual([r.inserted, r.unchanged], [2, 1]);
  const bank = (await store.getBank('old-bank'))!;
  assert.deepEqual([bank.id, bank.enabledRatio, bank.deletedAt, s.disableUntilTs], [1, 1, null, null]);
}

test('SQLite: a version 1 store migrates with its signals, opinions and statistics', async () => {
  const path = join(tempDir('store'), 'v1.db');
  const db = new Database(path);
  db.exec(STORE_COMPONENT.migrations[0]!.sqlite);
  db.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
    INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00Z'); ${V1_ROWS}`);
  db.close();
  const store = await openStore(path);
  try {
    await checkMigratedStore(store);
    const check = new Database(path, { readonly: true });
    assert.equal((check.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'signals_key'").get() as { n: number }).n, 1);
    assert.deepEqual((check.prepare('PRAGMA foreign_key_list(opinions)').all() as { table: string }[]).map((f) => f.table), ['signals']);
    assert.deepEqual((check.prepare('PRAGMA foreign_key_list(signals)').all() as { table: string }[]).map((f) => f.table).sort(), ['banks', 'imports']);
    assert.deepEqual(check.prepare('PRAGMA foreign_key_check').all(), []);
    check.close();
  } finally {
    await store.close();
  }
});

test('PostgreSQL: a version 1 store migrates with its signals, opinions and statistics', async () => {
  const schema = `vigil_test_${process.pid}_${Date.now() % 1e8}_m`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  let store: PostgresStore | undefined;
  try {
    await admin.query(`CREATE SCHEMA ${schema}; SET search_path = ${schema}`);
    await admin.query(STORE_COMPONENT.migrations[0]!.postgres);
    await admin.query(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
      INSERT INTO schema_migrations (version) VALUES (1); ${V1_ROWS}; SELECT setval('signals_id_seq', 7), setval('signal_seq', 3), setval('imports_id_seq', 1), setval('banks_id_seq', 1)`);
    store = (await openStore(TEST_POSTGRES_URL, { schema })) as PostgresStore;
    await checkMigratedStore(store);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
    await store?.close();
  }
});
