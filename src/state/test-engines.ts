/**
 * Runs a test suite on both engines: a fresh SQLite file and a fresh PostgreSQL schema (127.0.0.1:5432, db
 * `test`, or VIGIL_TEST_POSTGRES_URL), each removed afterwards. PostgreSQL suites fail, not skip, when the
 * server is missing: CI starts it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type VigilDatabase } from './database.js';

export const TEST_POSTGRES_URL = process.env.VIGIL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestEngine {
  name: 'sqlite' | 'postgres';
  /** A fresh, empty database (tables come from the caller's migrations). */
  open(): Promise<TestDatabase>;
}

export interface TestDatabase {
  db: VigilDatabase;
  /** The URL another process (or a second connection) opens the same database with. */
  url: string;
  schema?: string;
  /** Closes and removes it. */
  drop(): Promise<void>;
}

export const ENGINES: readonly TestEngine[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-test-db-'));
      const url = join(dir, 'vigil.db');
      const db = await openDatabase(url);
      return { db, url, drop: async () => { await db.close(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'postgres',
    async open() {
      const schema = `t_${randomBytes(6).toString('hex')}`;
      const db = await openDatabase(TEST_POSTGRES_URL, { schema });
      return {
        db, url: TEST_POSTGRES_URL, schema,
        drop: async () => {
          await db.close();
          await dropTestSchema(schema);
        },
      };
    },
  },
];

/** Drops a test's PostgreSQL schema and everything in it. */
export async function dropTestSchema(schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await admin.end();
  }
}
