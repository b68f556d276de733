/**
 * Files the service creates are private (0600): a SQLite database is created here first, so SQLite gives its
 * WAL and shared-memory files the same mode. An existing file is left as the operator set it.
 */
import { closeSync, openSync } from 'node:fs';

export function createPrivateFile(path: string): void {
  if (path === ':memory:' || path === '' || path.startsWith('file:')) return;
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
