/**
 * The evidence format (version 2): a small header and a body of AES-256-GCM chunks, each sealed on its own
 * so a reader authenticates every chunk before releasing its plaintext and never holds more than one.
 *
 * Header: "VGEV" | version u8 | reserved u8 | chunk size u32 | plaintext size u64 | SHA-256 of the plaintext
 * (32) | base nonce (8) | key-id length u8 | key id | wrap nonce (12) | wrapped data key (32) | wrap tag (16).
 * The data key is wrapped by a master key with the item id and every header field before the wrap as
 * associated data: a header moved to another item, or an edited size, digest or key id, fails to unwrap.
 * Re-wrapping (key rotation) rewrites only the header; the body is untouched.
 *
 * Body chunk i: nonce = base nonce ‖ i (u32), associated data = item id and a last-chunk flag, so dropping,
 * reordering or truncating chunks, or moving a body to another item, fails authentication. Every chunk but
 * the last holds exactly `chunkSize` plaintext bytes; the last holds 0…chunkSize.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { VigilError } from '../core/errors.js';

const MAGIC = Buffer.from('VGEV');
const VERSION = 2;
export const TAG = 16;
export const DATA_KEY = 32;
const WRAP_NONCE = 12;
const BASE_NONCE = 8;
export const DEFAULT_CHUNK = 64 * 1024;
const MAX_CHUNK = 16 * 1024 * 1024;
const MAX_CHUNKS = 2 ** 32;
export const ITEM_ID = /^[A-Za-z0-9_-]{1,80}$/;
export const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface Header {
  chunkSize: number;
  size: number;
  sha256: Buffer;
  baseNonce: Buffer;
  keyId: string;
  wrapNonce: Buffer;
  wrappedKey: Buffer;
  wrapTag: Buffer;
}

export function integrityError(id: string, why: string, cause?: unknown): VigilError {
  return new VigilError('VIGIL_ERR_EVIDENCE_INTEGRITY', `Evidence ${id} failed its integrity check: ${why}`, cause === undefined ? undefined : { cause });
}

/** The header bytes up to and including the key id: what the wrap authenticates. */
function headerPrefix(h: Pick<Header, 'chunkSize' | 'size' | 'sha256' | 'baseNonce' | 'keyId'>): Buffer {
  const keyId = Buffer.from(h.keyId, 'utf8');
  const fixed = Buffer.alloc(MAGIC.length + 2 + 4 + 8);
  MAGIC.copy(fixed, 0);
  fixed.writeUInt8(VERSION, 4);
  fixed.writeUInt32BE(h.chunkSize, 6);
  fixed.writeBigUInt64BE(BigInt(h.size), 10);
  return Buffer.concat([fixed, h.sha256, h.baseNonce, Buffer.from([keyId.length]), keyId]);
}

function wrapAad(itemId: string, prefix: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`vigil-evidence-key\0${itemId}\0`), prefix]);
}

export function encodeHeader(h: Header): Buffer {
  return Buffer.concat([headerPrefix(h), h.wrapNonce, h.wrappedKey, h.wrapTag]);
}

export function decodeHeader(itemId: string, bytes: Buffer): Header {
  const bad = (why: string) => integrityError(itemId, `header ${why}`);
  if (bytes.length < 59 || !bytes.subarray(0, 4).equals(MAGIC)) throw bad('is not an evidence header');
  if (bytes[4] !== VERSION) throw bad(`has unknown version ${bytes[4]}`);
  const chunkSize = bytes.readUInt32BE(6);
  const size = Number(bytes.readBigUInt64BE(10));
  const idLength = bytes[58];
  const end = 59 + idLength + WRAP_NONCE + DATA_KEY + TAG;
  if (bytes.length !== end || chunkSize === 0 || chunkSize > MAX_CHUNK || !Number.isSafeInteger(size)) throw bad('is malformed');
  let at = 59 + idLength;
  return {
    chunkSize, size,
    sha256: bytes.subarray(18, 50),
    baseNonce: bytes.subarray(50, 58),
    keyId: bytes.subarray(59, at).toString('utf8'),
    wrapNonce: bytes.subarray(at, (at += WRAP_NONCE)),
    wrappedKey: bytes.subarray(at, (at += DATA_KEY)),
    wrapTag: bytes.subarray(at, at + TAG),
  };
}

/** Wraps `dataKey` under `masterKey` (id `keyId`) into a header for `itemId`. */
export function sealHeader(itemId: string, fields: Pick<Header, 'chunkSize' | 'size' | 'sha256' | 'baseNonce'>, keyId: string, masterKey: Buffer, dataKey: Buffer): Buffer {
  const prefix = headerPrefix({ ...fields, keyId });
  const wrapNonce = randomBytes(WRAP_NONCE);
  const cipher = createCipheriv('aes-256-gcm', masterKey, wrapNonce).setAAD(wrapAad(itemId, prefix));
  const wrappedKey = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  return Buffer.concat([prefix, wrapNonce, wrappedKey, cipher.getAuthTag()]);
}

/** The data key, or an integrity error when the header was altered, moved, or the master key is wrong. */
export function unwrapDataKey(itemId: string, h: Header, masterKey: Buffer): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', masterKey, h.wrapNonce).setAAD(wrapAad(itemId, headerPrefix(h))).setAuthTag(h.wrapTag);
    return Buffer.concat([decipher.update(h.wrappedKey), decipher.final()]);
  } catch (err) {
    throw integrityError(itemId, `its data key did not unwrap under master key "${h.keyId}" (header altered or moved, or a different key under that id)`, err);
  }
}

function chunkNonce(base: Buffer, index: number): Buffer {
  const nonce = Buffer.alloc(12);
  base.copy(nonce, 0);
  nonce.writeUInt32BE(index, 8);
  return nonce;
}

function chunkAad(itemId: string, last: boolean): Buffer {
  return Buffer.from(`vigil-evidence-chunk\0${itemId}\0${last ? 1 : 0}`);
}

/** Collects stream pieces and hands out exact-size slices without copying more than once. */
class Pending {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  take(n: number): Buffer {
    const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.length);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.parts = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return out;
  }
}

export interface SealResult {
  size: number;
  sha256: Buffer;
}

/** Plaintext in, sealed chunks out. Holds at most one chunk (plus what is being written); `result` after 'end'. */
export class SealStream extends Transform {
  readonly dataKey = randomBytes(DATA_KEY);
  readonly baseNonce = randomBytes(BASE_NONCE);
  private readonly pending = new Pending();
  private readonly hash: Hash = createHash('sha256');
  private index = 0;
  private size = 0;
  result?: SealResult;

  constructor(private readonly itemId: string, readonly chunkSize = DEFAULT_CHUNK) {
    super();
  }

  private seal(plain: Buffer, last: boolean): void {
    if (this.index >= MAX_CHUNKS) throw new VigilError('VIGIL_ERR_FILE_TOO_LARGE', 'The evidence is larger than the format allows (2^32 chunks)');
    const cipher = createCipheriv('aes-256-gcm', this.dataKey, chunkNonce(this.baseNonce, this.index++)).setAAD(chunkAad(this.itemId, last));
    this.push(Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.hash.update(chunk);
      this.size += chunk.length;
      this.pending.push(chunk);
      // Strictly more than a chunk: only then is this one known not to be the last.
      while (this.pending.length > this.chunkSize) this.seal(this.pending.take(this.chunkSize), false);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.seal(this.pending.take(this.pending.length), true);
      this.result = { size: this.size, sha256: this.hash.digest() };
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}

/**
 * Sealed chunks in, verified plaintext out. Each chunk is authenticated before it is released; at the end
 * the size and SHA-256 are compared with the header (and the caller's expected digest), and a mismatch
 * fails the stream before it ends, so a consumer never sees a successful end on altered evidence.
 */
export class OpenStream extends Transform {
  private readonly pending = new Pending();
  private readonly hash: Hash = createHash('sha256');
  private readonly frame: number;
  private index = 0;
  private size = 0;

  constructor(private readonly itemId: string, private readonly header: Header, private readonly dataKey: Buffer, private readonly expectedSha256?: Buffer) {
    super();
    this.frame = header.chunkSize + TAG;
  }

  private open(sealed: Buffer, last: boolean): void {
    if (sealed.length < TAG) throw integrityError(this.itemId, 'the body is truncated');
    const at = sealed.length - TAG;
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.dataKey, chunkNonce(this.header.baseNonce, this.index)).setAAD(chunkAad(this.itemId, last)).setAuthTag(sealed.subarray(at));
      plain = Buffer.concat([decipher.update(sealed.subarray(0, at)), decipher.final()]);
    } catch (err) {
      throw integrityError(this.itemId, `chunk ${this.index} failed authentication (altered, reordered, truncated or from another item)`, err);
    }
    this.index++;
    this.size += plain.length;
    if (this.size > this.header.size) throw integrityError(this.itemId, 'the body is longer than its header says');
    this.hash.update(plain);
    this.push(plain);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.pending.push(chunk);
      while (this.pending.length > this.frame) this.open(this.pending.take(this.frame), false);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.open(this.pending.take(this.pending.length), true);
      if (this.size !== this.header.size) throw integrityError(this.itemId, `${this.size} bytes read, the header says ${this.header.size}`);
      const digest = this.hash.digest();
      if (!digest.equals(this.header.sha256)) throw integrityError(this.itemId, 'the SHA-256 of the content does not match its header');
      if (this.expectedSha256 && !digest.equals(this.expectedSha256)) throw integrityError(this.itemId, 'the SHA-256 of the content does not match its record');
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}
