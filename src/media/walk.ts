/**
 * Recursive file listing for `vigil hash` and later triage: streams entries (fs.opendir) so a directory
 * of any size costs constant memory, follows symbolic links (seized media and mounts use them) but
 * never loops, and reports every problem as an entry instead of throwing.
 */
import { opendir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VigilError } from '../core/errors.js';

export type WalkEntry = { kind: 'file'; path: string; bytes: number; mtimeMs?: number; ctimeMs?: number } | { kind: 'error'; path: string; error: VigilError };

function fsError(path: string, err: unknown): VigilError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ELOOP') return new VigilError('VIGIL_ERR_SYMLINK_LOOP', `Symbolic-link loop at ${path}`, { cause: err });
  const reason = code === 'ENOENT' ? 'does not exist (or is a dangling link)' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error)?.message ?? String(err);
  return new VigilError('VIGIL_ERR_UNREADABLE', `Cannot read ${path}: ${reason}`, { cause: err });
}

/**
 * Yields every regular file under the given paths (files are yielded as given). Directories are
 * identified by device+inode, so a link back to an ancestor is reported once as VIGIL_ERR_SYMLINK_LOOP.
 */
export async function* walkFiles(paths: Iterable<string>): AsyncGenerator<WalkEntry> {
  const seenDirs = new Set<string>();
  for (const root of paths) yield* walkOne(root, seenDirs);
}

async function* walkOne(path: string, seenDirs: Set<string>): AsyncGenerator<WalkEntry> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    yield { kind: 'error', path, error: fsError(path, err) };
    return;
  }
  if (info.isFile()) {
    yield { kind: 'file', path, bytes: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs };
    return;
  }
  if (!info.isDirectory()) {
    yield { kind: 'error', path, error: new VigilError('VIGIL_ERR_UNREADABLE', `Not a regular file or directory: ${path}`) };
    return;
  }
  const key = `${info.dev}:${info.ino}`;
  if (seenDirs.has(key)) {
    let target = path;
    try {
      target = await realpath(path);
    } catch {
      // keep the path as given
    }
    yield { kind: 'error', path, error: new VigilError('VIGIL_ERR_SYMLINK_LOOP', `Directory already visited (symbolic-link loop or duplicate): ${path} → ${target}`) };
    return;
  }
  seenDirs.add(key);
  let dir;
  try {
    dir = await opendir(path);
  } catch (err) {
    yield { kind: 'error', path, error: fsError(path, err) };
    return;
  }
  // Entries stream in directory order (not sorted): memory stays constant even for a directory of
  // millions of files. One open handle per level of depth.
  try {
    for await (const entry of dir) yield* walkOne(join(path, entry.name), seenDirs);
  } catch (err) {
    yield { kind: 'error', path, error: fsError(path, err) };
  }
}
