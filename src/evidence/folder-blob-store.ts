/**
 * Evidence in a folder (0700; files 0600): `<id>.body` and `<id>.head`. Both are written as
 * `<id>.<part>.<pid>.<random>.tmp`, fsynced, then renamed body first and header last: the header's rename
 * is the commit. Opening the store removes what a dead writer left: its temp files, and a body whose header
 * never landed. A live writer's files (its pid still runs) are left alone, so several processes can share
 * the folder.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { VigilError } from '../core/errors.js';
import type { BlobStore, BlobWriter } from './blob-store.js';
import { ITEM_ID } from './format.js';

const TEMP = /^([A-Za-z0-9_-]+)\.(body|head)\.(\d+)\.[0-9a-f]+\.tmp$/;

function checkId(id: string): void {
  if (!ITEM_ID.test(id)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected an evidence id of letters, digits, "_" or "-" (1–80)');
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function fsyncPath(path: string, flags = 'r'): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await (await open(path, 'r')).close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export class FolderBlobStore implements BlobStore {
  readonly kind = 'folder' as const;

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<FolderBlobStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const store = new FolderBlobStore(dir);
    await store.cleanUp();
    return store;
  }

  /** Removes what dead writers left behind; returns the names removed. */
  async cleanUp(): Promise<string[]> {
    const names = await readdir(this.dir);
    const present = new Set(names);
    const removed: string[] = [];
    const liveHeadTemps = new Set<string>();
    for (const name of names) {
      const m = TEMP.exec(name);
      if (!m) continue;
      if (alive(Number(m[3]))) {
        if (m[2] === 'head') liveHeadTemps.add(m[1]);
        continue;
      }
      await rm(join(this.dir, name), { force: true });
      removed.push(name);
    }
    for (const name of names) {
      const id = /^([A-Za-z0-9_-]+)\.body$/.exec(name)?.[1];
      // A body without its header was never committed (its writer died between the two renames).
      if (id && !present.has(`${id}.head`) && !liveHeadTemps.has(id)) {
        await rm(join(this.dir, name), { force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  private path(id: string, part: 'body' | 'head'): string {
    checkId(id);
    return join(this.dir, `${id}.${part}`);
  }

  private temp(id: string, part: 'body' | 'head'): string {
    return join(this.dir, `${id}.${part}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  }

  async create(id: string): Promise<BlobWriter> {
    const head = this.path(id, 'head');
    const body = this.path(id, 'body');
    if (await exists(head)) throw new VigilError('VIGIL_ERR_CONFLICT', `Evidence ${id} already exists`);
    const bodyTemp = this.temp(id, 'body');
    const stream = createWriteStream(bodyTemp, { flags: 'wx', mode: 0o600 });
    const abort = async () => {
      stream.destroy();
      await rm(bodyTemp, { force: true });
    };
    return {
      body: stream,
      abort,
      commit: async (header) => {
        if (!stream.writableFinished) await finished(stream);
        const headTemp = this.temp(id, 'head');
        try {
          const handle = await open(headTemp, 'wx', 0o600);
          try {
            await handle.writeFile(header);
            await handle.sync();
          } finally {
            await handle.close();
          }
          await fsyncPath(bodyTemp, 'r+');
          if (await exists(head)) throw new VigilError('VIGIL_ERR_CONFLICT', `Evidence ${id} already exists`);
          await rename(bodyTemp, body);
          await rename(headTemp, head);
          await fsyncPath(this.dir);
        } catch (err) {
          await rm(headTemp, { force: true });
          await abort();
          throw err;
        }
      },
    };
  }

  async readHeader(id: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(id, 'head'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  readBody(id: string): Readable {
    return createReadStream(this.path(id, 'body'));
  }

  async replaceHeader(id: string, header: Buffer, expected: Buffer): Promise<boolean> {
    const current = await this.readHeader(id);
    if (!current?.equals(expected)) return false;
    const temp = this.temp(id, 'head');
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(header);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path(id, 'head'));
      await fsyncPath(this.dir);
      return true;
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async delete(id: string): Promise<void> {
    // Header first: the item stops existing at once; a crash before the body goes leaves an orphan body
    // that the next start removes.
    await rm(this.path(id, 'head'), { force: true });
    await rm(this.path(id, 'body'), { force: true });
  }

  async *ids(): AsyncIterable<string> {
    for (const name of (await readdir(this.dir)).sort()) {
      const id = /^([A-Za-z0-9_-]+)\.head$/.exec(name)?.[1];
      if (id) yield id;
    }
  }

  async close(): Promise<void> {}
}
