/**
 * NCMEC hash sharing API v2 (XML, HTTP Basic). `GET /v2/entries?from=&to=` pages through `<paging><next>`; the
 * entries are not in time order, so a page's `maxTimestamp` is trusted only once the pager is exhausted: until
 * then the checkpoint is the window and the next link, after it the window's new start. MD5, SHA-1, PhotoDNA and
 * PDQ fingerprints become signals; video fingerprints (TMK+PDQF, Videntifier, NetClean, scene-sensitive hashes)
 * are kept with the entry's provenance. Pages are parsed by lists/ncmec-xml.ts (saxes; entities never expanded).
 */
import { VigilError } from '../core/errors.js';
import { readNcmecXml, type NcmecPaging } from '../lists/ncmec-xml.js';
import type { ListItem } from '../lists/types.js';
import { basicAuth, describeUrl, request, type HttpOptions } from './http.js';
import type { Checkpoint, ExchangeClient, ExchangeFeedback, ExchangeItem, ExchangePage } from './types.js';

export interface NcmecConfig {
  environment: string;
  only_esp_ids?: number[];
  /** Feedback reason GUID sent with a false positive (NCMEC requires one; see GET /v2/feedback/{TYPE}/reasons). */
  negative_reason_id?: string;
  /** Another base URL (a test server). */
  base_url?: string;
}

export interface NcmecCheckpoint {
  /** Start of the window being fetched (unix seconds). */
  from: number;
  /** End of the window while paging (unix seconds). */
  to?: number;
  /** The pager's next link while paging. */
  next?: string;
  /** Largest maxTimestamp seen in this window so far (trusted once the pager is exhausted). */
  maxTs?: number;
}

const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const FEEDBACK_TYPES: Record<string, string> = { md5: 'MD5', sha1: 'SHA1', photodna: 'PDNA', pdq: 'PDQ' };
const NS = 'https://hashsharing.ncmec.org/hashsharing/v2';

export function toExchangeItem(item: ListItem, keep?: (member: string) => boolean): ExchangeItem | undefined {
  if (item.kind === 'error') return { kind: 'error', message: `line ${item.line}: ${item.message}` };
  const r = item.record;
  const key = r.sourceId!;
  if (r.deleted) return { kind: 'delete', key };
  const m = r.metadata ?? {};
  const member = String(m.memberId);
  if (keep && !keep(member)) return undefined;
  const others = { ...(m.otherFingerprints as Record<string, string> | undefined), ...(m.fingerprintLinks as Record<string, string> | undefined) };
  return {
    kind: 'update', key, signals: r.signals, labels: r.labels,
    provenance: {
      entryId: String(m.entryId), member,
      ...(m.memberName ? { memberName: String(m.memberName) } : {}),
      ...(m.classification ? { classification: String(m.classification) } : {}),
      ...(m.timestamp ? { timestamp: String(m.timestamp) } : {}),
      ...(Object.keys(others).length ? { otherFingerprints: others } : {}),
    },
  };
}

export class NcmecClient implements ExchangeClient {
  readonly api = 'ncmec';
  private readonly base: string;
  private readonly auth: string;

  constructor(private readonly config: NcmecConfig, credentials: { user: string; password: string }, private readonly http: HttpOptions & { now?: () => number } = {}) {
    this.base = (config.base_url ?? config.environment).replace(/\/+$/, '');
    this.auth = basicAuth(credentials.user, credentials.password);
  }

  private url(path: string): string {
    const url = /^[a-z][a-z0-9+.-]*:|^\/\//i.test(path) ? new URL(path, this.base) : new URL(this.base + path);
    // The pager's link must stay on the program's host: the credentials go with it.
    if (url.origin !== new URL(this.base).origin) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `NCMEC paging link leaves ${new URL(this.base).host}`);
    return url.href;
  }

  async *fetch(checkpoint: Checkpoint, signal?: AbortSignal): AsyncGenerator<ExchangePage> {
    const cp = (checkpoint ?? { from: 0 }) as unknown as NcmecCheckpoint;
    const nowS = Math.floor((this.http.now?.() ?? Date.now()) / 1000);
    const from = cp.from;
    const to = cp.to ?? nowS;
    let path: string | undefined = cp.next ?? `/v2/entries?from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`;
    let maxTs = cp.maxTs ?? from;
    const only = this.config.only_esp_ids?.length ? new Set(this.config.only_esp_ids.map(String)) : undefined;
    while (path) {
      const url = this.url(path);
      const response = await request(url, { headers: { authorization: this.auth, accept: 'application/xml' }, ...(signal ? { signal } : {}) }, this.http);
      let paging: NcmecPaging = { maxTimestamps: [] };
      const items: ExchangeItem[] = [];
      try {
        for await (const item of readNcmecXml([response.body], { onPaging: (p) => (paging = p) })) {
          const x = toExchangeItem(item, only ? (m) => only.has(m) : undefined);
          if (x) items.push(x);
        }
      } catch (err) {
        throw err instanceof VigilError ? new VigilError(err.code, `${describeUrl(url)}: ${err.message}`) : err;
      }
      for (const t of paging.maxTimestamps) {
        const s = Math.floor(Date.parse(t) / 1000);
        if (Number.isFinite(s)) maxTs = Math.max(maxTs, s);
      }
      if (paging.next === path) throw new VigilError('VIGIL_ERR_LIST_FORMAT', `${describeUrl(url)}: the pager's next link does not advance`);
      path = paging.next;
      // While paging: resume at the next link. Pager exhausted: the next window starts at the largest timestamp
      // seen (entries at it are fetched again: applying them twice changes nothing).
      const next: NcmecCheckpoint = path ? { from, to, next: path, maxTs } : { from: Math.min(maxTs, to) };
      yield { items, checkpoint: next as unknown as Checkpoint };
    }
  }

  async feedback(f: ExchangeFeedback): Promise<void> {
    const type = FEEDBACK_TYPES[f.signal.type];
    if (!type || !f.provenance.member) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `NCMEC takes no feedback on ${f.signal.type} signals`);
    let body: string;
    if (f.verdict === 'confirmed') body = `<feedbackSubmission xmlns="${NS}"><affirmative/></feedbackSubmission>`;
    else {
      const guid = this.config.negative_reason_id;
      if (!guid) throw new VigilError('VIGIL_ERR_INVALID_CONFIG', 'NCMEC negative feedback needs a reason: set the exchange\'s negative_reason_id (GET /v2/feedback/{TYPE}/reasons lists them)');
      body = `<feedbackSubmission xmlns="${NS}"><negative><reasonIds><guid>${escapeXml(guid)}</guid></reasonIds></negative></feedbackSubmission>`;
    }
    const path = `/v2/entries/${encodeURIComponent(f.provenance.member)}/${encodeURIComponent(f.provenance.entryId)}/${type}/feedback`;
    await request(this.url(path), { method: 'PUT', headers: { authorization: this.auth, 'content-type': 'application/xml' }, body }, this.http);
  }
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
