/**
 * Opens the store named by a URL: a file path or `sqlite:PATH` for the embedded default, or
 * `postgres://…` / `postgresql://…` for PostgreSQL. The one place that picks an implementation.
 */
import { VigilError } from '../core/errors.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './types.js';

export const DEFAULT_STORE_URL = 'vigil.db';

export async function openStore(url: string = DEFAULT_STORE_URL, options: { schema?: string } = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { PostgresStore } = await import('./postgres-store.js');
    return PostgresStore.open(url, options.schema);
  }
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (path === '') throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a SQLite file path or a postgres:// URL for the store');
  return new SqliteStore(path);
}
