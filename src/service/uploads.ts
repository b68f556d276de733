/**
 * Uploads stream into a private folder (0700, one sub-folder per process), bounded in size, are hashed
 * and removed at once: unmatched content is never kept. Matched content is kept only as sealed evidence.
 *
 * A crash must not leave an upload readable: on Linux the file is unlinked as soon as it is created and
 * reached through `/proc/<pid>/fd/<fd>` (hashing threads and ffmpeg open that path), so its bytes vanish
 * with the process. Elsewhere, or if the process dies in the instant before the unlink, start-up removes
 * the sub-folders of processes that no longer run.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, open, readdir, rm, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import type { MultipartFile } from '@fastify/multipart';
import { VigilError } from '../core/errors.js';
import { multipartError } from './http-errors.js';

const PROC_FD = process.platform === 'linux' && existsSync(`/proc/${process.pid}/fd`);

export function defaultUploadBase(): string {
  return join(tmpdir(), `vigil-uploads-${process.getuid?.() ?? 'user'}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This process's upload folder under `base`, after removing those of processes that died. */
export async function openUploadDir(base: string): Promise<string> {
  await mkdir(base, { recursive: true, mode: 0o700 });
  await chmod(base, 0o700);
  for (const name of await readdir(base)) {
    const pid = Number(name);
    if (!/^\d+$/.test(name) || pid === process.pid || alive(pid)) continue;
    await rm(join(base, name), { recursive: true, force: true });
  }
  const dir = join(base, String(process.pid));
  await rm(dir, { recursive: true, force: true }); // a dead process that had our pid
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

export interface SavedUpload {
  path: string;
  bytes: number;
  remove(): Promise<void>;
}

/** Streams to a temp file; on any failure (too large, client gone) nothing is left behind. */
export async function saveUpload(tempDir: string, source: Readable, maxBytes: number): Promise<SavedUpload> {
  const file = join(tempDir, randomUUID());
  const handle: FileHandle = await open(file, 'wx+', 0o600);
  let linked = true;
  const remove = async () => {
    // Closing after a failed write may fail again; the file is removed either way, the first error stands.
    await handle.close().catch(() => undefined);
    if (linked) await rm(file, { force: true });
    linked = false;
  };
  let bytes = 0;
  try {
    if (PROC_FD) {
      await unlink(file);
      linked = false;
    }
    const limit = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > maxBytes) done(new VigilError('VIGIL_ERR_PAYLOAD_TOO_LARGE', `The upload is larger than the ${maxBytes}-byte limit`));
        else done(null, chunk);
      },
    });
    await pipeline(source, limit, createWriteStream('', { fd: handle.fd, autoClose: false }));
    // @fastify/multipart truncates at its own limit and flags the stream instead of failing it.
    if ((source as Readable & { truncated?: boolean }).truncated) throw new VigilError('VIGIL_ERR_PAYLOAD_TOO_LARGE', `The upload is larger than the ${maxBytes}-byte limit`);
    if (bytes === 0) throw new VigilError('VIGIL_ERR_EMPTY_FILE', 'The upload has zero bytes');
    return { path: PROC_FD ? `/proc/${process.pid}/fd/${handle.fd}` : file, bytes, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

export async function withUpload<T>(tempDir: string, source: Readable, maxBytes: number, fn: (path: string, bytes: number) => Promise<T>): Promise<T> {
  const upload = await saveUpload(tempDir, source, maxBytes);
  try {
    return await fn(upload.path, upload.bytes);
  } finally {
    await upload.remove();
  }
}

/**
 * A multipart request's fields and its one file, saved to `tempDir` within `maxBytes` (fields, then one file).
 * A second file or a broken body removes what was saved and throws the request's error; the caller removes the
 * upload when done with it.
 */
export async function receiveUpload(request: FastifyRequest, tempDir: string, maxBytes: number): Promise<{ fields: Record<string, unknown>; upload: SavedUpload | undefined }> {
  const fields: Record<string, unknown> = {};
  let upload: SavedUpload | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (upload) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected exactly one file');
        upload = await saveUpload(tempDir, (part as MultipartFile).file, maxBytes);
      } else {
        fields[part.fieldname] = part.value;
      }
    }
  } catch (err) {
    await upload?.remove();
    throw multipartError(err);
  }
  return { fields, upload };
}
