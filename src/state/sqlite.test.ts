import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { migrateComponent, openStateDb } from './sqlite.js';
import { tempDir } from '../../test/helpers/temp.js';

test('component migrations apply once, in order, per component', () => {
  const path = join(tempDir('state'), 'state.db');
  const migrations = [
    { version: 2, description: 'b', sql: 'ALTER TABLE things ADD COLUMN b TEXT' },
    { version: 1, description: 'a', sql: 'CREATE TABLE things (a TEXT)' },
  ];
  let db = openStateDb(path);
  migrateComponent(db, 'things', migrations);
  db.close();
  db = openStateDb(path);
  migrateComponent(db, 'things', migrations); // a second run must not re-apply (ALTER would fail)
  migrateComponent(db, 'other', [{ version: 1, description: 'x', sql: 'CREATE TABLE others (x TEXT)' }]);
  const versions = db.prepare('SELECT component, version FROM component_versions ORDER BY component').all();
  assert.deepEqual(versions, [{ component: 'other', version: 1 }, { component: 'things', version: 2 }]);
  db.prepare('INSERT INTO things (a, b) VALUES (?, ?)').run('1', '2');
  db.close();
});
