/**
 * What the matcher is asked: built from a file hashed here (an upload) or from hashes a client computed on
 * the device (end-to-end-encrypted apps send hashes, never content). Both become the same MatchQuery.
 */
import { createHash } from 'node:crypto';
import { exactValues, type MatchQuery, type PdqQuery, type QueryValues, type VideoView } from '../banks/matcher.js';
import type { FileHashRecord } from '../hashing/hash-file.js';
import { RECORD_QUERIES } from '../hashing/signal-hashers.js';
import { VigilError } from '../core/errors.js';
import { hash256FromHex, isHash256Hex } from '../signals/pdq/hash256.js';
import { DIHEDRAL_NAMES, type DihedralName } from '../signals/pdq/pdq.js';
import { signalTypes, type IndexKind, type SignalType, type SignalTypeName } from '../signals/registry.js';
import type { VpdqFeature } from '../signals/vpdq/hasher.js';
import { parseVpdqCompactFeature } from '../signals/vpdq/format.js';

/** A 256-bit photo hash as a client sends it: hex, or with its view, quality and the 7 other orientations. */
export type ClientPhotoHash = string | { hash: string; quality?: number; view?: string; dihedral?: Partial<Record<DihedralName, string>> };

/**
 * Hashes as a client sends them (POST /v1/content without a file, /v1/lookup items), keyed by signal type
 * name in the form of the type's index kind: an exact digest as hex, 256-bit photo hashes as a list
 * (ClientPhotoHash), a video as its frame features "hex,quality,timestamp" (HMA's compact form).
 */
export interface ClientHashes {
  [type: string]: string | ClientPhotoHash[] | string[] | undefined;
  md5?: string;
  sha1?: string;
  sha256?: string;
  /** PDQ of the picture, optionally of derived views, with the 7 other orientations when the client has them. */
  pdq?: ClientPhotoHash[];
  /** vPDQ frame features as "hex,quality,timestamp" (HMA's compact form). */
  vpdq?: string[];
}

/** Quality assumed when a client omits it: the client's hasher already applied its own threshold. */
const UNKNOWN_QUALITY = 100;

/** The locally matched types (what clients may send), in registry order; recomputed only when types are registered. */
let localFrom: readonly SignalType<SignalTypeName>[] | undefined;
let local: SignalType<SignalTypeName>[] = [];
function localTypes(): SignalType<SignalTypeName>[] {
  const all = signalTypes();
  if (all !== localFrom) [localFrom, local] = [all, all.filter((t) => t.index !== 'none')];
  return local;
}

export function matchQueryOfRecord(record: FileHashRecord): MatchQuery {
  const query: MatchQuery = {};
  const fields = record as unknown as Record<string, unknown>;
  for (const t of localTypes()) {
    const own = RECORD_QUERIES[t.name];
    if (own) Object.assign(query, own(record));
    else if (t.index === 'exact-digest' && typeof fields[t.name] === 'string' && fields[t.name] !== '') (query as Record<string, QueryValues>)[t.name] = fields[t.name] as string;
  }
  return query;
}

/** Per index kind: a client's values of one type → the type's query values (throws naming the field). */
const CLIENT_VALUES: { readonly [K in Exclude<IndexKind, 'none'>]: (t: SignalType, value: unknown) => QueryValues } = {
  'exact-digest': (t, value) => {
    try {
      return t.parse(String(value));
    } catch (err) {
      throw new VigilError('VIGIL_ERR_INVALID_HASH', `hashes.${t.name}: ${(err as Error).message}`);
    }
  },
  hamming256: (t, value) =>
    (value as ClientPhotoHash[]).map((item, i): PdqQuery => {
      const entry = typeof item === 'string' ? { hash: item } : item;
      const hex = (h: string, where: string) => {
        if (typeof h !== 'string' || !isHash256Hex(h)) throw new VigilError('VIGIL_ERR_INVALID_HASH', `hashes.${t.name}[${i}]${where}: expected 64 hexadecimal digits`);
        return hash256FromHex(h);
      };
      const others = DIHEDRAL_NAMES.slice(1).map((n) => entry.dihedral?.[n]);
      const all = others.every((h) => h !== undefined);
      return {
        view: entry.view ?? 'original',
        quality: entry.quality ?? UNKNOWN_QUALITY,
        hashes: [hex(entry.hash, ''), ...(all ? others.map((h, k) => hex(h!, `.dihedral.${DIHEDRAL_NAMES[k + 1]}`)) : [])],
      };
    }),
  'vpdq-frames': (t, value) =>
    (value as string[]).map((f, i) => {
      try {
        return parseVpdqCompactFeature(f, `hashes.${t.name}[${i}]`);
      } catch (err) {
        throw new VigilError('VIGIL_ERR_INVALID_HASH', (err as Error).message);
      }
    }),
};

/** Validates client hashes (throws VIGIL_ERR_INVALID_HASH naming the field) and builds the query. */
export function matchQueryOfClientHashes(hashes: ClientHashes): MatchQuery {
  const query: MatchQuery = {};
  let any = false;
  const types = localTypes();
  for (const t of types) {
    const value = hashes[t.name];
    if (value === undefined || t.index === 'none') continue;
    const values = CLIENT_VALUES[t.index](t, value);
    (query as Record<string, QueryValues>)[t.name] = values;
    any ||= values.length > 0;
  }
  if (!any) {
    const names = types.map((t) => t.name);
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected at least one hash (${names.slice(0, -1).join(', ')} or ${names.at(-1)})`);
  }
  return query;
}

/**
 * The idempotency fingerprint of a submission: its SHA-256 when known (the (content id, SHA-256)
 * key), else a digest of the canonical hashes, so a client's retry of the same hashes is recognised too.
 */
export function fingerprintOf(query: MatchQuery): string {
  if (query.sha256) return query.sha256;
  const canonical: Record<string, unknown> = {
    md5: query.md5 ?? null,
    sha1: query.sha1 ?? null,
    pdq: (query.pdq ?? []).map((q) => Buffer.from(q.hashes[0]).toString('hex')),
    vpdq: (query.vpdq ?? []).map((f) => `${Buffer.from(f.hash).toString('hex')}@${f.timestamp}`),
  };
  // Other registered types, when present (the built-ins' fingerprints stay those recorded before).
  for (const t of localTypes()) {
    if (t.name in canonical || t.name === 'sha256' || query[t.name] === undefined) continue;
    canonical[t.name] = t.index === 'exact-digest' ? exactValues(query, t.name) : hexOf(t.index, query[t.name]);
  }
  return `h:${createHash('sha256').update(JSON.stringify(canonical)).digest('hex')}`;
}

const hex = (h: Uint8Array | string) => (typeof h === 'string' ? h : Buffer.from(h).toString('hex'));
const unhex = (h: Uint8Array | string) => (typeof h === 'string' ? hash256FromHex(h) : h);

/** A type's query values with their hashes as hex (JSON-safe), or back. */
function hexOf(kind: IndexKind, v: QueryValues | undefined, back = false): unknown {
  const conv: (h: Uint8Array | string) => Uint8Array | string = back ? unhex : hex;
  if (v === undefined) return undefined;
  if (kind === 'hamming256') return (v as PdqQuery[]).map((q) => ({ ...q, hashes: (q.hashes as (Uint8Array | string)[]).map(conv) }));
  if (kind === 'vpdq-frames') return (v as VpdqFeature[]).map((f) => ({ ...f, hash: conv(f.hash as Uint8Array | string) }));
  return v;
}

/** A query stored for retroactive matching: hashes only, JSON-safe (hashes as hex; a video's views under `<type>Views`). */
export function serializeQuery(query: MatchQuery): string {
  return JSON.stringify(convert(query, false));
}

export function deserializeQuery(json: string): MatchQuery {
  return convert(JSON.parse(json) as MatchQuery, true);
}

function convert(query: MatchQuery, back: boolean): MatchQuery {
  const out: Record<string, unknown> = { ...query };
  for (const t of localTypes()) {
    if (query[t.name] !== undefined) out[t.name] = hexOf(t.index, query[t.name], back);
    const views = query[`${t.name}Views`] as VideoView[] | undefined;
    if (t.index === 'vpdq-frames' && views !== undefined) out[`${t.name}Views`] = views.map((v) => ({ view: v.view, features: hexOf(t.index, v.features, back) }));
  }
  return out as MatchQuery;
}
