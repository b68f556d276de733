/**
 * Arachnid Shield (Canadian Centre for Child Protection), a matcher run by someone else: `POST /v1/pdq/` looks up
 * PDQ hashes (base64) and `POST /v1/media/` a file's bytes (exact SHA-1 and perceptual matches), HTTP Basic. It
 * answers the local index's query (`match(MatchQuery)`, the PDQ hash of each view as stored) with remote matches
 * that carry the remote classification. `no-known-match` is not "safe": it only means no match.
 * Wired in by pipeline/remote.ts (docs/exchanges.md, "Remote matchers").
 */
import type { MatchQuery } from '../banks/matcher.js';
import { VigilError } from '../core/errors.js';
import { basicAuth, parseJson, request, type HttpOptions } from './http.js';

export interface RemoteMatch {
  matcher: 'arachnid-shield';
  /** What was looked up: a PDQ hash (hex) or the media's SHA-256. */
  signalType: 'pdq' | 'sha256';
  value: string;
  /** `csam`, `harmful-abusive-material`, or `test` (the service's integration value). */
  classification: string;
  matchType: 'exact' | 'near' | null;
  view?: string;
  /** The service's answer for this item, as given. */
  remote: Record<string, unknown>;
}

const NO_MATCH = 'no-known-match';

export class ArachnidShieldMatcher {
  private readonly base: string;
  private readonly auth: string;

  constructor(o: { username: string; password: string; baseUrl?: string }, private readonly http: HttpOptions = {}) {
    this.base = (o.baseUrl ?? 'https://shield.projectarachnid.com').replace(/\/+$/, '');
    this.auth = basicAuth(o.username, o.password);
  }

  /** The PDQ hashes of the query's views (each view's own orientation), one request. */
  async match(query: MatchQuery): Promise<RemoteMatch[]> {
    const byHash = new Map<string, { hex: string; view: string }>();
    for (const q of query.pdq ?? []) {
      const h = q.hashes[0];
      if (h) byHash.set(Buffer.from(h).toString('base64'), { hex: Buffer.from(h).toString('hex'), view: q.view });
    }
    if (byHash.size === 0) return [];
    const response = await request(`${this.base}/v1/pdq/`, { method: 'POST', headers: { authorization: this.auth, 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ hashes: [...byHash.keys()] }) }, this.http);
    const json = parseJson(response.body, 'Arachnid Shield /v1/pdq/') as { scanned_hashes?: Record<string, Record<string, unknown>> };
    if (!json || typeof json.scanned_hashes !== 'object' || json.scanned_hashes === null) throw new VigilError('VIGIL_ERR_LIST_FORMAT', 'Arachnid Shield /v1/pdq/ answered without scanned_hashes');
    const out: RemoteMatch[] = [];
    for (const [b64, r] of Object.entries(json.scanned_hashes)) {
      const mine = byHash.get(b64);
      const classification = String(r?.classification ?? NO_MATCH);
      if (!mine || classification === NO_MATCH) continue;
      out.push({ matcher: 'arachnid-shield', signalType: 'pdq', value: mine.hex, view: mine.view, classification, matchType: matchType(r.match_type), remote: r });
    }
    return out;
  }

  /** A file's bytes (image or video), scanned by the service; the file is not retained by this endpoint. */
  async matchMedia(bytes: Uint8Array, contentType: string): Promise<RemoteMatch[]> {
    const response = await request(`${this.base}/v1/media/`, { method: 'POST', headers: { authorization: this.auth, 'content-type': contentType, accept: 'application/json' }, body: bytes }, { maxBytes: 1024 * 1024, ...this.http });
    const r = parseJson(response.body, 'Arachnid Shield /v1/media/') as Record<string, unknown>;
    const classification = String(r?.classification ?? NO_MATCH);
    if (classification === NO_MATCH) return [];
    return [{ matcher: 'arachnid-shield', signalType: 'sha256', value: String(r.sha256_hex ?? ''), classification, matchType: matchType(r.match_type), remote: r }];
  }
}

function matchType(v: unknown): RemoteMatch['matchType'] {
  return v === 'exact' || v === 'near' ? v : null;
}
