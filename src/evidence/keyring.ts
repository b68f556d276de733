/**
 * Evidence master keys: several, each with an id; the active one wraps new data keys, all of them unwrap.
 * Text form (configuration value or key file): entries `id:base64-of-32-bytes`, one a line or comma
 * separated; a bare base64 entry is the key `default` (the form of the single-key releases). The active key
 * is named explicitly or is the last entry, so appending a key and re-wrapping (`vigil evidence rotate-key`)
 * is a rotation.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { VigilError } from '../core/errors.js';
import { KEY_ID } from './format.js';

export const LEGACY_KEY_ID = 'default';
const KEY_BYTES = 32;

export interface MasterKey {
  id: string;
  key: Buffer;
}

export class KeyRing {
  private readonly byId = new Map<string, Buffer>();
  readonly active: MasterKey;

  constructor(keys: readonly MasterKey[], activeId?: string) {
    if (keys.length === 0) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected at least one evidence master key');
    for (const { id, key } of keys) {
      if (!KEY_ID.test(id)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected an evidence key id of letters, digits, ".", "_" or "-" (1–64) but received ${JSON.stringify(id.slice(0, 80))}`);
      if (key.length !== KEY_BYTES) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected evidence key "${id}" to be 32 bytes but it has ${key.length}`);
      const known = this.byId.get(id);
      if (known && !known.equals(key)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Evidence key id "${id}" is given twice with different keys`);
      this.byId.set(id, key);
    }
    const id = activeId ?? keys[keys.length - 1].id;
    const key = this.byId.get(id);
    if (!key) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `The active evidence key "${id}" is not among the configured keys (${this.ids.join(', ')})`);
    this.active = { id, key };
  }

  get ids(): string[] {
    return [...this.byId.keys()];
  }

  get(id: string): Buffer {
    const key = this.byId.get(id);
    if (!key) throw new VigilError('VIGIL_ERR_EVIDENCE_KEY_UNKNOWN', `Evidence is wrapped by master key "${id}", which is not configured (configured: ${this.ids.join(', ')})`);
    return key;
  }

  /** Parses the text form; `source` names where it came from in error messages. */
  static parse(text: string, source: string): MasterKey[] {
    return text
      .split(/[\n,]/)
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0 && !entry.startsWith('#'))
      .map((entry) => {
        const colon = entry.indexOf(':');
        const id = colon < 0 ? LEGACY_KEY_ID : entry.slice(0, colon).trim();
        const value = colon < 0 ? entry : entry.slice(colon + 1).trim();
        const key = Buffer.from(value, 'base64');
        if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || key.length !== KEY_BYTES) {
          throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected ${source} entry "${id}" to be the base64 of 32 bytes`);
        }
        return { id, key };
      });
  }
}

export function newKeyId(now = new Date()): string {
  return `key-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;
}

/** Writes `text` to `path` via a fsynced temp file; `exclusive`: fail with EEXIST instead of replacing. */
function writePrivateFile(path: string, text: string, exclusive: boolean): void {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    // link() fails if the name exists, so two processes creating the file at once agree on one winner,
    // and neither ever reads a half-written file.
    if (exclusive) linkSync(temp, path);
    else renameSync(temp, path);
  } finally {
    if (exclusive) unlinkSync(temp);
  }
}

/**
 * The key file's keys, generating the file with one new key when it does not exist. Safe when several
 * processes start at once (`vigil serve --workers N`): exactly one creates it, all read the same key.
 */
export function loadOrCreateKeyFile(path: string): { keys: MasterKey[]; generated: boolean } {
  const read = () => KeyRing.parse(readFileSync(path, 'utf8'), path);
  try {
    return { keys: read(), generated: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    writePrivateFile(path, `${newKeyId()}:${randomBytes(KEY_BYTES).toString('base64')}\n`, true);
    return { keys: read(), generated: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { keys: read(), generated: false };
  }
}

/** Appends a new key to the key file (atomically) and returns its id; it becomes the active key. */
export function appendKeyToFile(path: string): string {
  const current = readFileSync(path, 'utf8');
  const id = newKeyId();
  writePrivateFile(path, `${current.replace(/\n?$/, '\n')}${id}:${randomBytes(KEY_BYTES).toString('base64')}\n`, false);
  return id;
}
