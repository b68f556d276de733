/**
 * Opens the store named by a URL: a file path or `sqlite:PATH` for the embedded default, or
 * `postgres://…` / `postgresql://…` for PostgreSQL. The one place that picks an implementation.
 */
import { openDatabase, type OpenDatabaseOptions, type VigilDatabase } from '../state/database.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './types.js';

export const DEFAULT_STORE_URL = 'vigil.db';

export async function openStore(url: string = DEFAULT_STORE_URL, options: OpenDatabaseOptions = {}): Promise<Store> {
  const db = await openDatabase(url, options);
  try {
    return await storeOver(db, { ownsDatabase: true });
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** The store over a database someone else opened (createVigil); closing the store leaves the database open. */
export async function storeOver(db: VigilDatabase, options: { ownsDatabase?: boolean } = {}): Promise<Store> {
  if (db.engine === 'postgres') {
    const { PostgresStore } = await import('./postgres-store.js');
    return PostgresStore.over(db, options);
  }
  return SqliteStore.over(db, options);
}
