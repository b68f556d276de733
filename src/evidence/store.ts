/**
 * Evidence preserved at rest: each item streamed through AES-256-GCM chunks under its own data key, which a
 * master key (by id, from a key ring) wraps. Memory per item is one chunk, whatever its size. Reads verify
 * every chunk and, at the end, the size and SHA-256; rotation re-wraps data keys without touching bodies.
 */
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VigilError } from '../core/errors.js';
import type { BlobStore } from './blob-store.js';
import { decodeHeader, DEFAULT_CHUNK, integrityError, ITEM_ID, OpenStream, SealStream, sealHeader, unwrapDataKey, type Header } from './format.js';
import type { KeyRing } from './keyring.js';
import type { EvidenceMeta } from './types.js';

export interface RotationResult {
  /** Items now wrapped by `keyId` that were not before. */
  rewrapped: number;
  /** Items already under `keyId`. */
  unchanged: number;
  failed: { id: string; code: string; message: string }[];
  keyId: string;
}

function metaOf(id: string, h: Header): EvidenceMeta {
  return { id, keyId: h.keyId, sha256: h.sha256.toString('hex'), size: h.size };
}

export class EvidenceStore {
  constructor(readonly blobs: BlobStore, readonly keys: KeyRing, private readonly chunkSize = DEFAULT_CHUNK) {}

  /** Streams `source` in, sealed under the active master key; visible only once complete. */
  async put(source: Readable | AsyncIterable<Uint8Array>, id: string = randomUUID()): Promise<EvidenceMeta> {
    if (!ITEM_ID.test(id)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected an evidence id of letters, digits, "_" or "-" (1–80)');
    const { id: keyId, key } = this.keys.active;
    const writer = await this.blobs.create(id);
    const seal = new SealStream(id, this.chunkSize);
    try {
      await pipeline(source, seal, writer.body);
      const { size, sha256 } = seal.result!;
      await writer.commit(sealHeader(id, { chunkSize: this.chunkSize, size, sha256, baseNonce: seal.baseNonce }, keyId, key, seal.dataKey));
      return { id, keyId, sha256: sha256.toString('hex'), size };
    } catch (err) {
      await writer.abort();
      throw err;
    } finally {
      seal.dataKey.fill(0);
    }
  }

  private async header(id: string): Promise<{ raw: Buffer; header: Header }> {
    if (!ITEM_ID.test(id)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected an evidence id of letters, digits, "_" or "-" (1–80)');
    const raw = await this.blobs.readHeader(id);
    if (!raw) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No evidence ${id}`);
    return { raw, header: decodeHeader(id, raw) };
  }

  /** The item's metadata, its header authenticated (the data key unwrapped, then dropped). */
  async stat(id: string): Promise<EvidenceMeta> {
    const { header } = await this.header(id);
    unwrapDataKey(id, header, this.keys.get(header.keyId)).fill(0);
    return metaOf(id, header);
  }

  /**
   * The plaintext as a stream: each chunk authenticated before it is released, the size and SHA-256
   * (`expectedSha256`: the record's, hex) checked before the stream ends; any failure errors the stream
   * with VIGIL_ERR_EVIDENCE_INTEGRITY. A bad header or unknown key fails here, before any byte.
   */
  async open(id: string, expectedSha256?: string): Promise<Readable> {
    const { header } = await this.header(id);
    const expected = expectedSha256 === undefined ? undefined : Buffer.from(expectedSha256, 'hex');
    if (expected && !expected.equals(header.sha256)) throw integrityError(id, 'the SHA-256 in its header does not match its record');
    const dataKey = unwrapDataKey(id, header, this.keys.get(header.keyId));
    const out = new PassThrough();
    pipeline(this.blobs.readBody(id), new OpenStream(id, header, dataKey, expected), out)
      .catch((err: unknown) => {
        const code = (err as NodeJS.ErrnoException).code;
        out.destroy(code === 'ENOENT' ? integrityError(id, 'its body is missing', err) : (err as Error));
      })
      .finally(() => dataKey.fill(0));
    return out;
  }

  /** Whole item in memory: for small items and tests only. */
  async read(id: string, expectedSha256?: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of await this.open(id, expectedSha256)) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }

  /** Reads the whole item, discarding the plaintext: throws when anything fails its check. */
  async verify(id: string, expectedSha256?: string): Promise<EvidenceMeta> {
    const meta = await this.stat(id);
    for await (const _ of await this.open(id, expectedSha256)) { /* drain */ }
    return meta;
  }

  async delete(id: string): Promise<void> {
    if (!ITEM_ID.test(id)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected an evidence id of letters, digits, "_" or "-" (1–80)');
    await this.blobs.delete(id);
  }

  ids(): AsyncIterable<string> {
    return this.blobs.ids();
  }

  /** Re-wraps one item's data key under `keyId` (default: the active key). True when the header changed. */
  async rewrap(id: string, keyId = this.keys.active.id): Promise<boolean> {
    const target = this.keys.get(keyId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const { raw, header } = await this.header(id);
      if (header.keyId === keyId) return false;
      const dataKey = unwrapDataKey(id, header, this.keys.get(header.keyId));
      try {
        const next = sealHeader(id, header, keyId, target, dataKey);
        if (await this.blobs.replaceHeader(id, next, raw)) return true;
      } finally {
        dataKey.fill(0);
      }
    }
    throw new VigilError('VIGIL_ERR_CONFLICT', `Evidence ${id} kept changing while its key was re-wrapped`);
  }

  /** Re-wraps every item under `keyId` (default: the active key); an item that fails is reported, not fatal. */
  async rotate(keyId = this.keys.active.id, onItem?: (id: string, changed: boolean) => void): Promise<RotationResult> {
    this.keys.get(keyId);
    const result: RotationResult = { rewrapped: 0, unchanged: 0, failed: [], keyId };
    for await (const id of this.ids()) {
      try {
        const changed = await this.rewrap(id, keyId);
        if (changed) result.rewrapped++;
        else result.unchanged++;
        onItem?.(id, changed);
      } catch (err) {
        result.failed.push({ id, code: (err as VigilError).code ?? 'VIGIL_ERR_INTERNAL', message: (err as Error).message });
      }
    }
    return result;
  }

  close(): Promise<void> {
    return this.blobs.close();
  }
}

/** A readable of `bytes` for callers holding a buffer (tests, small items). */
export function bufferSource(bytes: Uint8Array): Readable {
  return Readable.from([Buffer.from(bytes)]);
}
