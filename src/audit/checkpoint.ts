/**
 * Checkpoints of the audit chain's head kept OUTSIDE the database: whoever can rewrite the database (edit an
 * entry and recompute every later hash, or cut the tail) cannot rewrite what was already written here.
 *
 * A checkpoint is {seq, hash, at, keyId} signed with Ed25519 by a key the database never holds (a PEM file
 * named in the configuration). The service appends one per interval (when the head moved), at start and at
 * stop, and `vigil audit checkpoint` on demand; each is one JSON line appended to a 0600 file and, when
 * configured, POSTed to a webhook (another machine's copy). `verifyAgainstCheckpoints` then proves the
 * chain still holds every checkpointed entry unchanged: an entry below the latest checkpoint missing
 * (truncation) or a checkpointed hash that differs (a recomputed chain) fails, naming the first entry that
 * can be bad (just after the last checkpoint that still matches).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify as verifySignature, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { VigilError } from '../core/errors.js';
import type { VigilDatabase } from '../state/database.js';
import { canonicalJson } from '../core/canonical-json.js';
import { ChainChecker, GENESIS_HASH, type AuditAnchor, type AuditLog, type AuditVerifyResult } from './log.js';

export interface Checkpoint {
  seq: number;
  hash: string;
  /** ISO 8601, when it was taken. */
  at: string;
  /** First 16 hex digits of SHA-256 of the public key (SPKI DER): which key signed it. */
  keyId: string;
  /** Ed25519 signature (base64) of CONTEXT + canonicalJson({at, hash, keyId, seq}). */
  signature: string;
}

const CONTEXT = 'vigil-audit-checkpoint-v1\n';
const HEX64 = /^[0-9a-f]{64}$/;

/** A new Ed25519 key pair as PEM (PKCS#8 private, SPKI public). */
export function generateCheckpointKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new VigilError('VIGIL_ERR_INVALID_CONFIG', `audit checkpoint key ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The signing key (an Ed25519 private key PEM). */
export function loadSigningKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readKeyFile(file));
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError('VIGIL_ERR_INVALID_CONFIG', `audit checkpoint key ${file}: not a PEM private key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new VigilError('VIGIL_ERR_INVALID_CONFIG', `audit checkpoint key ${file}: an Ed25519 key is needed, not ${key.asymmetricKeyType}`);
  return key;
}

/** The verifying key: an Ed25519 public key PEM, or the private key file (its public half is used). */
export function loadVerifyKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(readKeyFile(file));
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError('VIGIL_ERR_INVALID_CONFIG', `audit checkpoint key ${file}: not a PEM key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new VigilError('VIGIL_ERR_INVALID_CONFIG', `audit checkpoint key ${file}: an Ed25519 key is needed, not ${key.asymmetricKeyType}`);
  return key;
}

export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

function signedText(c: Omit<Checkpoint, 'signature'>): Buffer {
  return Buffer.from(CONTEXT + canonicalJson({ at: c.at, hash: c.hash, keyId: c.keyId, seq: c.seq }), 'utf8');
}

export function signCheckpoint(head: AuditAnchor, key: KeyObject, at: Date = new Date()): Checkpoint {
  const body = { seq: head.seq, hash: head.hash, at: at.toISOString(), keyId: keyIdOf(key) };
  return { ...body, signature: sign(null, signedText(body), key).toString('base64') };
}

export function checkpointSignatureValid(c: Checkpoint, publicKey: KeyObject): boolean {
  try {
    return verifySignature(null, signedText(c), publicKey, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}

/** Appends one line (the file is created 0600) and syncs it to disk before returning. */
export function appendCheckpoint(file: string, c: Checkpoint): void {
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, JSON.stringify(c) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface CheckpointFile {
  /** Sound checkpoints in file order. */
  checkpoints: Checkpoint[];
  /** Lines that are not a checkpoint signed by the key, or that contradict an earlier one. */
  problems: string[];
}

/** Reads and checks every line: shape, signature, and that seqs never go back nor a seq change its hash. */
export function readCheckpoints(file: string, publicKey: KeyObject): CheckpointFile {
  if (!existsSync(file)) return { checkpoints: [], problems: [] };
  const checkpoints: Checkpoint[] = [];
  const problems: string[] = [];
  const keyId = keyIdOf(publicKey);
  readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
    if (text.trim() === '') return;
    const line = i + 1;
    let c: Checkpoint;
    try {
      c = JSON.parse(text) as Checkpoint;
    } catch {
      problems.push(`checkpoint line ${line}: not JSON`);
      return;
    }
    if (!c || typeof c !== 'object' || !Number.isSafeInteger(c.seq) || c.seq < 0 || typeof c.hash !== 'string' || !HEX64.test(c.hash) || typeof c.at !== 'string' || typeof c.keyId !== 'string' || typeof c.signature !== 'string') {
      problems.push(`checkpoint line ${line}: not a checkpoint`);
      return;
    }
    if (c.keyId !== keyId) {
      problems.push(`checkpoint line ${line}: signed by key ${c.keyId}, not ${keyId} (pass that key's file)`);
      return;
    }
    if (!checkpointSignatureValid(c, publicKey)) {
      problems.push(`checkpoint line ${line}: bad signature (the line was edited or forged)`);
      return;
    }
    const prev = checkpoints[checkpoints.length - 1];
    if (prev && (c.seq < prev.seq || (c.seq === prev.seq && c.hash !== prev.hash))) {
      problems.push(`checkpoint line ${line}: seq ${c.seq} contradicts the earlier checkpoint at seq ${prev.seq} (the log was rewritten between them)`);
    }
    checkpoints.push(c);
  });
  return { checkpoints, problems };
}

export interface CheckpointVerifyResult extends AuditVerifyResult {
  /** The latest sound checkpoint, if any. */
  checkpoint?: { seq: number; hash: string; at: string };
  checkpoints: number;
}

/**
 * One pass over the chain in seq order: the chain's own checks (ChainChecker) and, at each checkpointed
 * seq, the checkpoint's hash. The first checkpoint that differs proves a recomputed chain; the entries up to
 * the checkpoint before it are proven sound (a hash chain), so the first bad entry is the one just after.
 * A checkpoint beyond the end of the log proves truncation.
 */
export async function verifyAgainstCheckpoints(db: VigilDatabase, file: CheckpointFile, options: { batchSize?: number } = {}): Promise<CheckpointVerifyResult> {
  const byseq = new Map<number, Checkpoint>();
  for (const c of file.checkpoints) if (!byseq.has(c.seq)) byseq.set(c.seq, c);
  const sorted = [...byseq.values()].sort((a, b) => a.seq - b.seq);
  const latest = sorted[sorted.length - 1];
  const base = { checkpoints: sorted.length, ...(latest ? { checkpoint: { seq: latest.seq, hash: latest.hash, at: latest.at } } : {}) };
  const checker = new ChainChecker(undefined);
  let good: Checkpoint | undefined;
  const rewritten = (bad: Checkpoint, headSeq: number, what: string): CheckpointVerifyResult => {
    const goodSeq = good?.seq ?? 0;
    return {
      ok: false, entries: goodSeq, headSeq: goodSeq, headHash: good?.hash ?? GENESIS_HASH, firstBadSeq: goodSeq + 1,
      problem: `${what}: ${headSeq < bad.seq ? `the log ends at entry ${headSeq} but the checkpoint of ${bad.at} records entry ${bad.seq}` : `entry ${bad.seq}'s hash differs from the checkpoint of ${bad.at}: the chain was recomputed from an entry after ${goodSeq} up to ${bad.seq}`}` +
        `${good ? ` (entries up to ${goodSeq}, checkpointed ${good.at}, are sound)` : ''}`,
      ...base,
    };
  };
  const batchSize = options.batchSize ?? 5000;
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = await db.k.selectFrom('audit_log').selectAll().where('seq', '>', after).orderBy('seq').limit(batchSize).execute();
    for (const row of rows) {
      const bad = checker.check(row);
      if (bad) return { ...bad, ...base };
      const c = byseq.get(row.seq);
      if (c) {
        if (c.hash !== row.hash) return rewritten(c, row.seq, 'rewritten');
        good = c;
      }
    }
    if (rows.length < batchSize) break;
    after = rows[rows.length - 1]!.seq;
  }
  const result = checker.finish();
  if (latest && latest.seq > result.headSeq) return rewritten(sorted.find((c) => c.seq > result.headSeq)!, result.headSeq, 'truncated');
  if (file.problems.length > 0) return { ...result, ok: false, firstBadSeq: result.headSeq + 1, problem: `checkpoint file: ${file.problems.join('; ')}`, ...base };
  return { ...result, ...base };
}

export interface CheckpointerOptions {
  audit: AuditLog;
  file: string;
  key: KeyObject;
  /** POSTed each checkpoint as JSON (e.g. a log collector on another machine). */
  webhookUrl?: string;
  intervalMs?: number;
  now?: () => Date;
  fetch?: typeof fetch;
  onError?: (err: unknown) => void;
}

/** Writes checkpoints periodically (when the head moved) and on demand. */
export class AuditCheckpointer {
  private timer: NodeJS.Timeout | undefined;
  private last: AuditAnchor | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: CheckpointerOptions) {}

  /** Checkpoints the head now (even when unchanged unless `ifMoved`); returns it, or undefined when skipped. */
  checkpoint(options: { ifMoved?: boolean } = {}): Promise<Checkpoint | undefined> {
    const run = async () => {
      const head = await this.o.audit.head();
      if (options.ifMoved && this.last && this.last.seq === head.seq && this.last.hash === head.hash) return undefined;
      const c = signCheckpoint(head, this.o.key, (this.o.now ?? (() => new Date()))());
      appendCheckpoint(this.o.file, c);
      this.last = head;
      if (this.o.webhookUrl) await this.post(c);
      return c;
    };
    const result = this.running.then(run);
    this.running = result.catch(() => undefined);
    return result;
  }

  start(): void {
    const interval = this.o.intervalMs ?? 60_000;
    this.timer ??= setInterval(() => {
      this.checkpoint({ ifMoved: true }).catch((err: unknown) => this.o.onError?.(err));
    }, interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.checkpoint({ ifMoved: true });
  }

  /** A webhook that fails is reported, not retried: the file holds the checkpoint, and the next one follows. */
  private async post(c: Checkpoint): Promise<void> {
    try {
      const res = await (this.o.fetch ?? fetch)(this.o.webhookUrl!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(c), signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      this.o.onError?.(new VigilError('VIGIL_ERR_INTERNAL', `audit checkpoint webhook ${this.o.webhookUrl}: ${(err as Error).message}`));
    }
  }
}
