/**
 * Where sealed evidence lives: a header (small, rewritten on key rotation) and a body (the sealed chunks,
 * written once, streamed in and out). The blob store knows nothing of keys or plaintext; an item becomes
 * visible only when its writer commits, so a crash mid-write leaves nothing readable.
 */
import type { Readable, Writable } from 'node:stream';

export interface BlobWriter {
  /** Where the body streams to. */
  readonly body: Writable;
  /** After `body` finished: stores the header and makes the item visible, durably. */
  commit(header: Buffer): Promise<void>;
  /** Drops everything written so far. */
  abort(): Promise<void>;
}

export interface BlobStore {
  readonly kind: 'folder' | 'postgres';
  /** Starts a new item; fails with VIGIL_ERR_CONFLICT at commit (or before) when `id` exists. */
  create(id: string): Promise<BlobWriter>;
  /** The item's header, or undefined when there is no such item. */
  readHeader(id: string): Promise<Buffer | undefined>;
  /** The item's body as a stream (bounded read-ahead). */
  readBody(id: string): Readable;
  /** Replaces the header if it still equals `expected`; false when it changed meanwhile or is gone. */
  replaceHeader(id: string, header: Buffer, expected: Buffer): Promise<boolean>;
  delete(id: string): Promise<void>;
  /** Every committed item id. */
  ids(): AsyncIterable<string>;
  close(): Promise<void>;
}
