import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrate } from './migrate.js';
import { RECORD_MIGRATIONS } from '../records/schema.js';
import { ENGINES, type TestDatabase } from './test-engines.js';

for (const engine of ENGINES) {
  describe(`database (${engine.name})`, () => {
    let t: TestDatabase;
    before(async () => {
      t = await engine.open();
      await migrate(t.db, [{ name: 'pipeline', migrations: RECORD_MIGRATIONS }]);
    });
    after(() => t.drop());

    it('commits a unit of work as a whole and rolls it back as a whole', async () => {
      const now = new Date().toISOString();
      await t.db.transaction(async (tx) => {
        await tx.k.insertInto('settings').values({ key: 'a', value: '1', updated_at: now }).execute();
      });
      await assert.rejects(t.db.transaction(async (tx) => {
        await tx.k.insertInto('settings').values({ key: 'b', value: '2', updated_at: now }).execute();
        throw new Error('boom');
      }), /boom/);
      const keys = (await t.db.k.selectFrom('settings').select('key').orderBy('key').execute()).map((r) => r.key);
      assert.deepEqual(keys, ['a']);
    });

    it('serialises concurrent transactions (no statement runs inside another unit of work)', async () => {
      const now = new Date().toISOString();
      await Promise.all(Array.from({ length: 20 }, (_, i) => t.db.transaction(async (tx) => {
        const row = await tx.k.selectFrom('settings').select('value').where('key', '=', 'counter').executeTakeFirst();
        const next = String(Number(row?.value ?? 0) + 1);
        await tx.k.insertInto('settings').values({ key: 'counter', value: next, updated_at: now })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: next })).execute();
        void i;
      })));
      const row = await t.db.k.selectFrom('settings').select('value').where('key', '=', 'counter').executeTakeFirstOrThrow();
      // PostgreSQL runs them concurrently at READ COMMITTED: only SQLite's single writer guarantees 20 here.
      if (engine.name === 'sqlite') assert.equal(row.value, '20');
      else assert.ok(Number(row.value) >= 1);
    });

    it('records migrations once (a second run changes nothing)', async () => {
      await migrate(t.db, [{ name: 'pipeline', migrations: RECORD_MIGRATIONS }]);
      const rows = await t.db.k.selectFrom('settings').select('key').execute();
      assert.ok(rows.length >= 1);
    });
  });
}
