/**
 * Evidence preserved at rest, encrypted: each item gets its own AES-256-GCM data key, wrapped (AES-256-GCM)
 * by the operator's master key, so rotating the master key re-wraps keys without touching the content, and
 * one leaked data key exposes one file. Only matched content is ever written here.
 *
 * File layout: magic "VGEV1", wrapped key (12 IV + 32 key + 16 tag), content IV (12), tag (16), ciphertext.
 * Associated data binds each file to its evidence id, so files cannot be swapped between records.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VigilError } from '../core/errors.js';

const MAGIC = Buffer.from('VGEV1');
const IV = 12;
const TAG = 16;
const KEY = 32;

export interface SealedEvidence {
  id: string;
  path: string;
  bytes: number;
}

export class EvidenceVault {
  private readonly masterKey: Buffer;

  /** `masterKey`: 32 bytes (e.g. from VIGIL_EVIDENCE_KEY, base64). */
  constructor(readonly dir: string, masterKey: Uint8Array) {
    if (masterKey.length !== KEY) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a 32-byte evidence master key but received ${masterKey.length} bytes`);
    this.masterKey = Buffer.from(masterKey);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /**
   * The master key from VIGIL_EVIDENCE_KEY (base64 of 32 bytes), or one generated on first use into
   * `keyFile` (mode 0600). A generated key beside the data protects a copied evidence folder, not a
   * stolen disk: production sets the variable from a secrets manager.
   */
  static masterKeyFrom(env: string | undefined, keyFile: string): { key: Buffer; generated: boolean } {
    if (env) {
      const key = Buffer.from(env, 'base64');
      if (key.length !== KEY) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected VIGIL_EVIDENCE_KEY to be the base64 of 32 bytes');
      return { key, generated: false };
    }
    if (existsSync(keyFile)) {
      const key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
      if (key.length !== KEY) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected ${keyFile} to hold the base64 of 32 bytes`);
      return { key, generated: false };
    }
    const key = randomBytes(KEY);
    writeFileSync(keyFile, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(keyFile, 0o600);
    return { key, generated: true };
  }

  /** Encrypts and writes atomically (temp file + rename): a crash leaves no half-written evidence. */
  async seal(content: Uint8Array, id: string = randomUUID()): Promise<SealedEvidence> {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected an evidence id of letters, digits, "_" or "-"');
    const dataKey = randomBytes(KEY);
    const aad = Buffer.from(id);
    const keyIv = randomBytes(IV);
    const wrap = createCipheriv('aes-256-gcm', this.masterKey, keyIv).setAAD(aad);
    const wrapped = Buffer.concat([keyIv, wrap.update(dataKey), wrap.final(), wrap.getAuthTag()]);
    const iv = randomBytes(IV);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv).setAAD(aad);
    const body = Buffer.concat([cipher.update(content), cipher.final()]);
    const path = join(this.dir, `${id}.enc`);
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, Buffer.concat([MAGIC, wrapped, iv, cipher.getAuthTag(), body]), { mode: 0o600 });
    await rename(temp, path);
    return { id, path, bytes: content.length };
  }

  /** Decrypts; throws VIGIL_ERR_CORRUPT_MEDIA when the file was altered or the key is wrong. */
  async open(id: string): Promise<Buffer> {
    const file = await readFile(join(this.dir, `${id}.enc`));
    const aad = Buffer.from(id);
    try {
      if (!file.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not an evidence file');
      let at = MAGIC.length;
      const keyIv = file.subarray(at, (at += IV));
      const wrappedKey = file.subarray(at, (at += KEY));
      const keyTag = file.subarray(at, (at += TAG));
      const iv = file.subarray(at, (at += IV));
      const tag = file.subarray(at, (at += TAG));
      const unwrap = createDecipheriv('aes-256-gcm', this.masterKey, keyIv).setAAD(aad).setAuthTag(keyTag);
      const dataKey = Buffer.concat([unwrap.update(wrappedKey), unwrap.final()]);
      const decipher = createDecipheriv('aes-256-gcm', dataKey, iv).setAAD(aad).setAuthTag(tag);
      return Buffer.concat([decipher.update(file.subarray(at)), decipher.final()]);
    } catch (err) {
      throw new VigilError('VIGIL_ERR_CORRUPT_MEDIA', `Evidence ${id} failed authentication (altered file or wrong master key)`, { cause: err });
    }
  }

  async discard(id: string): Promise<void> {
    await rm(join(this.dir, `${id}.enc`), { force: true });
  }
}
