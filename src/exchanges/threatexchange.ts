/**
 * Meta ThreatExchange: `GET /{privacy_group}/threat_updates` per privacy group (the bulk sync endpoint), paged by
 * `paging.next`. Updates are not in time order, so the window [start, stop) advances only once the pager is
 * exhausted. `should_delete` is a deletion. The access token goes in the query string of each request but never
 * into a stored checkpoint (it is stripped from the next link) nor a message. Feedback is a reaction on the
 * entry's descriptor: HELPFUL for a confirmation, DISAGREE_WITH_TAGS for a false positive (HMA's convention).
 */
import { VigilError } from '../core/errors.js';
import { normalizeSignal } from '../lists/_values.js';
import type { SignalTypeName } from '../signals/registry.js';
import { parseJson, request, type HttpOptions } from './http.js';
import type { Checkpoint, ExchangeClient, ExchangeFeedback, ExchangeItem, ExchangePage } from './types.js';

const TYPES: Record<string, SignalTypeName> = { HASH_PDQ: 'pdq', HASH_MD5: 'md5', HASH_SHA1: 'sha1', HASH_SHA256: 'sha256' };

interface Cp { start: number; stop?: number; next?: string }

export class ThreatExchangeClient implements ExchangeClient {
  readonly api = 'fb_threatexchange';
  private readonly base: string;

  constructor(private readonly config: { privacy_group: number; base_url?: string }, private readonly creds: { api_token: string }, private readonly http: HttpOptions & { now?: () => number } = {}) {
    this.base = (config.base_url ?? 'https://graph.facebook.com/v18.0').replace(/\/+$/, '');
  }

  private withToken(url: string): string {
    const u = new URL(url);
    if (u.origin !== new URL(this.base).origin) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'ThreatExchange paging link leaves the Graph API host');
    u.searchParams.set('access_token', this.creds.api_token);
    return u.href;
  }

  async *fetch(checkpoint: Checkpoint, signal?: AbortSignal): AsyncGenerator<ExchangePage> {
    const cp = (checkpoint ?? { start: 0 }) as unknown as Cp;
    const stop = cp.stop ?? Math.floor((this.http.now?.() ?? Date.now()) / 1000);
    let next: string | undefined = cp.next ?? `${this.base}/${this.config.privacy_group}/threat_updates?types=${Object.keys(TYPES).join(',')}&start_time=${cp.start}&stop_time=${stop}&limit=1000&fields=id,indicator,type,last_updated,should_delete,tags,descriptors%7Bid,owner%7D`;
    while (next) {
      const response = await request(this.withToken(next), { ...(signal ? { signal } : {}) }, this.http);
      const json = parseJson(response.body, 'ThreatExchange threat_updates') as { data?: unknown; paging?: { next?: unknown } };
      if (!json || !Array.isArray(json.data)) throw new VigilError('VIGIL_ERR_LIST_FORMAT', 'ThreatExchange threat_updates answered without data');
      const items = json.data.map((d: unknown) => toItem(d));
      const link = typeof json.paging?.next === 'string' ? new URL(json.paging.next) : undefined;
      link?.searchParams.delete('access_token');
      next = link?.href;
      yield { items, checkpoint: (next ? { start: cp.start, stop, next } : { start: stop }) as unknown as Checkpoint };
    }
  }

  async feedback(f: ExchangeFeedback): Promise<void> {
    const descriptor = f.provenance.refs?.descriptorId;
    if (!descriptor) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'This ThreatExchange entry names no descriptor to react to');
    const reaction = f.verdict === 'confirmed' ? 'HELPFUL' : 'DISAGREE_WITH_TAGS';
    await request(this.withToken(`${this.base}/${encodeURIComponent(descriptor)}/reactions`), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `reaction=${reaction}` }, this.http);
  }
}

function toItem(raw: unknown): ExchangeItem {
  const d = (raw ?? {}) as Record<string, unknown>;
  const id = d.id === undefined ? '' : String(d.id);
  const type = String(d.type ?? '');
  if (!id) return { kind: 'error', message: 'an update without id' };
  const key = `${type}:${id}`;
  if (d.should_delete === true) return { kind: 'delete', key };
  const ours = TYPES[type];
  if (!ours) return { kind: 'error', key, message: `indicator type ${type} is not matched by Vigil` };
  try {
    const tags = Array.isArray(d.tags) ? d.tags.map(String) : [];
    const descriptors = (d.descriptors as { data?: { id?: unknown; owner?: { id?: unknown; name?: unknown } }[] } | undefined)?.data ?? [];
    const first = descriptors[0];
    const updated = Number(d.last_updated);
    return {
      kind: 'update', key, signals: [{ type: ours, value: normalizeSignal(ours, String(d.indicator ?? '')) }], labels: tags.length ? { tags } : {},
      provenance: {
        entryId: id,
        ...(first?.owner?.id !== undefined ? { member: String(first.owner.id) } : {}),
        ...(first?.owner?.name !== undefined ? { memberName: String(first.owner.name) } : {}),
        ...(tags.length ? { classification: tags.join(',') } : {}),
        ...(Number.isFinite(updated) ? { timestamp: new Date(updated * 1000).toISOString() } : typeof d.last_updated === 'string' ? { timestamp: d.last_updated } : {}),
        ...(first?.id !== undefined ? { refs: { descriptorId: String(first.id) } } : {}),
      },
    };
  } catch (err) {
    return { kind: 'error', key, message: (err as Error).message };
  }
}
