/**
 * What the matcher is asked: built from a file hashed here (an upload) or from hashes a client computed on
 * the device (end-to-end-encrypted apps send hashes, never content). Both become the same MatchQuery.
 */
import { createHash } from 'node:crypto';
import { pdqQueriesOf, type MatchQuery } from '../banks/matcher.js';
import type { FileHashRecord } from '../hashing/hash-file.js';
import { VigilError } from '../core/errors.js';
import { hash256FromHex, isHash256Hex } from '../signals/pdq/hash256.js';
import { DIHEDRAL_NAMES, type DihedralName } from '../signals/pdq/pdq.js';
import { normalizeHexSignal } from '../signals/registry.js';
import { parseVpdqCompactFeature } from '../signals/vpdq/format.js';

/** Hashes as a client sends them (POST /v1/content without a file, /v1/lookup items). */
export interface ClientHashes {
  md5?: string;
  sha1?: string;
  sha256?: string;
  /** PDQ of the picture, optionally of derived views, with the 7 other orientations when the client has them. */
  pdq?: (string | { hash: string; quality?: number; view?: string; dihedral?: Partial<Record<DihedralName, string>> })[];
  /** vPDQ frame features as "hex,quality,timestamp" (HMA's compact form). */
  vpdq?: string[];
}

/** Quality assumed when a client omits it: the client's hasher already applied its own threshold. */
const UNKNOWN_QUALITY = 100;

export function matchQueryOfRecord(record: FileHashRecord): MatchQuery {
  const vpdq = record.vpdq?.map((f) => parseVpdqCompactFeature(f));
  const vpdqViews = record.vpdqViews ? [{ view: 'unletterboxed', features: record.vpdqViews.unletterboxed.map((f) => parseVpdqCompactFeature(f)) }] : [];
  return {
    ...(record.md5 ? { md5: record.md5 } : {}),
    ...(record.sha1 ? { sha1: record.sha1 } : {}),
    ...(record.sha256 ? { sha256: record.sha256 } : {}),
    pdq: pdqQueriesOf(record),
    ...(vpdq ? { vpdq } : {}),
    vpdqViews,
  };
}

/** Validates client hashes (throws VIGIL_ERR_INVALID_HASH naming the field) and builds the query. */
export function matchQueryOfClientHashes(hashes: ClientHashes): MatchQuery {
  const query: MatchQuery = {};
  for (const type of ['md5', 'sha1', 'sha256'] as const) {
    const value = hashes[type];
    if (value === undefined) continue;
    try {
      query[type] = normalizeHexSignal(type, value);
    } catch (err) {
      throw new VigilError('VIGIL_ERR_INVALID_HASH', `hashes.${type}: ${(err as Error).message}`);
    }
  }
  if (hashes.pdq) {
    query.pdq = hashes.pdq.map((item, i) => {
      const entry = typeof item === 'string' ? { hash: item } : item;
      const hex = (h: string, where: string) => {
        if (typeof h !== 'string' || !isHash256Hex(h)) throw new VigilError('VIGIL_ERR_INVALID_HASH', `hashes.pdq[${i}]${where}: expected 64 hexadecimal digits`);
        return hash256FromHex(h);
      };
      const others = DIHEDRAL_NAMES.slice(1).map((n) => entry.dihedral?.[n]);
      const all = others.every((h) => h !== undefined);
      return {
        view: entry.view ?? 'original',
        quality: entry.quality ?? UNKNOWN_QUALITY,
        hashes: [hex(entry.hash, ''), ...(all ? others.map((h, k) => hex(h!, `.dihedral.${DIHEDRAL_NAMES[k + 1]}`)) : [])],
      };
    });
  }
  if (hashes.vpdq) {
    query.vpdq = hashes.vpdq.map((f, i) => {
      try {
        return parseVpdqCompactFeature(f, `hashes.vpdq[${i}]`);
      } catch (err) {
        throw new VigilError('VIGIL_ERR_INVALID_HASH', (err as Error).message);
      }
    });
  }
  if (!query.md5 && !query.sha1 && !query.sha256 && !query.pdq?.length && !query.vpdq?.length) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected at least one hash (md5, sha1, sha256, pdq or vpdq)');
  }
  return query;
}

/**
 * The idempotency fingerprint of a submission: its SHA-256 when known (the (content id, SHA-256)
 * key), else a digest of the canonical hashes, so a client's retry of the same hashes is recognised too.
 */
export function fingerprintOf(query: MatchQuery): string {
  if (query.sha256) return query.sha256;
  const canonical = JSON.stringify({
    md5: query.md5 ?? null,
    sha1: query.sha1 ?? null,
    pdq: (query.pdq ?? []).map((q) => Buffer.from(q.hashes[0]).toString('hex')),
    vpdq: (query.vpdq ?? []).map((f) => `${Buffer.from(f.hash).toString('hex')}@${f.timestamp}`),
  });
  return `h:${createHash('sha256').update(canonical).digest('hex')}`;
}

/** A query stored for retroactive matching: hashes only, JSON-safe. */
export function serializeQuery(query: MatchQuery): string {
  return JSON.stringify({
    ...query,
    pdq: query.pdq?.map((q) => ({ ...q, hashes: q.hashes.map((h) => Buffer.from(h).toString('hex')) })),
    vpdq: query.vpdq?.map((f) => ({ ...f, hash: Buffer.from(f.hash).toString('hex') })),
    vpdqViews: query.vpdqViews?.map((v) => ({ view: v.view, features: v.features.map((f) => ({ ...f, hash: Buffer.from(f.hash).toString('hex') })) })),
  });
}

export function deserializeQuery(json: string): MatchQuery {
  type Stored = Omit<MatchQuery, 'pdq' | 'vpdq' | 'vpdqViews'> & {
    pdq?: { view: string; quality: number; hashes: string[]; timestamp?: number }[];
    vpdq?: { hash: string; quality: number; timestamp: number }[];
    vpdqViews?: { view: string; features: { hash: string; quality: number; timestamp: number }[] }[];
  };
  const stored = JSON.parse(json) as Stored;
  const feature = (f: { hash: string; quality: number; timestamp: number }) => ({ ...f, hash: hash256FromHex(f.hash) });
  return {
    ...stored,
    pdq: stored.pdq?.map((q) => ({ ...q, hashes: q.hashes.map(hash256FromHex) })),
    vpdq: stored.vpdq?.map(feature),
    vpdqViews: stored.vpdqViews?.map((v) => ({ view: v.view, features: v.features.map(feature) })),
  };
}
