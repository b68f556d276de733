/**
 * StopNCII (https://api.stopncii.org/v1): `GET /FetchHashes?startTimestamp=&pageSize=&nextPageToken=` pages with
 * `hasMoreRecords`; the last page's `nextSetTimestamp` starts the next fetch. A record replaces any earlier one
 * of the same (signalType, hashValue); `Withdrawn` and `Deleted` records are deletions. ImagePDQ becomes a PDQ
 * signal and VideoMD5 an MD5 one; other types are counted as row errors. Feedback: `POST /SubmitFeedback`.
 */
import { VigilError } from '../core/errors.js';
import { normalizeSignal } from '../lists/_values.js';
import type { SignalTypeName } from '../signals/registry.js';
import { parseJson, request, type HttpOptions } from './http.js';
import type { Checkpoint, ExchangeClient, ExchangeFeedback, ExchangeItem, ExchangePage } from './types.js';

export interface StopNciiCredentials {
  fetch_function_key: string;
  subscription_key: string;
  base_url_override?: string;
  feedback_function_key?: string;
}

const TYPES: Record<string, SignalTypeName> = { ImagePDQ: 'pdq', VideoMD5: 'md5' };
const GONE = new Set(['Withdrawn', 'Deleted']);

interface Cp { start: number; token?: string }

export class StopNciiClient implements ExchangeClient {
  readonly api = 'stop_ncii';
  private readonly base: string;

  constructor(private readonly creds: StopNciiCredentials, private readonly http: HttpOptions & { pageSize?: number } = {}) {
    this.base = (creds.base_url_override ?? 'https://api.stopncii.org/v1').replace(/\/+$/, '');
  }

  private headers(functionKey: string): Record<string, string> {
    return { 'Ocp-Apim-Subscription-Key': this.creds.subscription_key, 'x-functions-key': functionKey, accept: 'application/json' };
  }

  async *fetch(checkpoint: Checkpoint, signal?: AbortSignal): AsyncGenerator<ExchangePage> {
    const cp = (checkpoint ?? { start: 0 }) as unknown as Cp;
    let token = cp.token;
    for (;;) {
      const url = `${this.base}/FetchHashes?startTimestamp=${cp.start}&pageSize=${this.http.pageSize ?? 800}${token ? `&nextPageToken=${encodeURIComponent(token)}` : ''}`;
      const response = await request(url, { headers: this.headers(this.creds.fetch_function_key), ...(signal ? { signal } : {}) }, this.http);
      const json = parseJson(response.body, 'StopNCII FetchHashes') as { hashRecords?: unknown; hasMoreRecords?: unknown; nextPageToken?: unknown; nextSetTimestamp?: unknown };
      if (!json || typeof json !== 'object' || !Array.isArray(json.hashRecords)) throw new VigilError('VIGIL_ERR_LIST_FORMAT', 'StopNCII FetchHashes answered without hashRecords');
      const items = json.hashRecords.map((r: unknown) => toItem(r));
      const more = json.hasMoreRecords === true && typeof json.nextPageToken === 'string' && json.nextPageToken !== '';
      const next: Cp = more ? { start: cp.start, token: json.nextPageToken as string } : { start: Number.isFinite(Number(json.nextSetTimestamp)) ? Number(json.nextSetTimestamp) : cp.start };
      yield { items, checkpoint: next as unknown as Checkpoint };
      if (!more) return;
      token = next.token;
    }
  }

  async feedback(f: ExchangeFeedback): Promise<void> {
    const body = { count: 1, hashFeedbacks: [{ hashValue: f.signal.value, tags: [], feedbackValue: f.verdict === 'confirmed' ? 'Blocked' : 'NotBlocked' }] };
    await request(`${this.base}/SubmitFeedback`, { method: 'POST', headers: { ...this.headers(this.creds.feedback_function_key ?? this.creds.fetch_function_key), 'content-type': 'application/json' }, body: JSON.stringify(body) }, this.http);
  }
}

function toItem(raw: unknown): ExchangeItem {
  const r = (raw ?? {}) as Record<string, unknown>;
  const type = typeof r.signalType === 'string' ? r.signalType : '';
  const value = typeof r.hashValue === 'string' ? r.hashValue : '';
  if (!type || !value) return { kind: 'error', message: 'a hash record without signalType or hashValue' };
  const key = `${type}:${value}`;
  if (GONE.has(String(r.hashStatus))) return { kind: 'delete', key };
  const ours = TYPES[type];
  if (!ours) return { kind: 'error', key, message: `signal type ${type} is not matched by Vigil` };
  try {
    const ts = Number(r.lastModtimestamp);
    return {
      kind: 'update', key, signals: [{ type: ours, value: normalizeSignal(ours, value) }], labels: {},
      provenance: { entryId: value, ...(typeof r.hashStatus === 'string' ? { classification: r.hashStatus } : {}), ...(Number.isFinite(ts) && ts > 0 ? { timestamp: new Date(ts * 1000).toISOString() } : {}) },
    };
  } catch (err) {
    return { kind: 'error', key, message: (err as Error).message };
  }
}
