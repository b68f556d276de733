/**
 * Uploads go to a private temp folder (0700), bounded in size while they stream, are hashed from there and
 * removed at once: unmatched content is never kept. Matched content is kept only as sealed evidence.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VigilError } from '../core/errors.js';

export interface SavedUpload {
  path: string;
  bytes: number;
  remove(): Promise<void>;
}

/** Streams to a temp file; on any failure (too large, client gone) nothing is left behind. */
export async function saveUpload(tempDir: string, source: Readable, maxBytes: number): Promise<SavedUpload> {
  const path = join(tempDir, randomUUID());
  const remove = () => rm(path, { force: true });
  let bytes = 0;
  try {
    const limit = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > maxBytes) done(new VigilError('VIGIL_ERR_PAYLOAD_TOO_LARGE', `The upload is larger than the ${maxBytes}-byte limit`));
        else done(null, chunk);
      },
    });
    await pipeline(source, limit, createWriteStream(path, { mode: 0o600 }));
    // @fastify/multipart truncates at its own limit and flags the stream instead of failing it.
    if ((source as Readable & { truncated?: boolean }).truncated) throw new VigilError('VIGIL_ERR_PAYLOAD_TOO_LARGE', `The upload is larger than the ${maxBytes}-byte limit`);
    if (bytes === 0) throw new VigilError('VIGIL_ERR_EMPTY_FILE', 'The upload has zero bytes');
    return { path, bytes, remove };
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
