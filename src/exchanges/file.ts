/**
 * A list published as a file at a URL (any format `vigil bank import` reads), fetched on the schedule with
 * If-None-Match / If-Modified-Since: an unchanged file costs one 304. The file is the whole list, so it is one
 * snapshot page: signals of the bank that it no longer lists are deleted. Also another Vigil's bank: its
 * `GET /v1/banks/NAME/export` with an API key (curate scope) is such a file.
 */
import { createHash } from 'node:crypto';
import { VigilError } from '../core/errors.js';
import { detectListFormat, getListFormat, type ListFormatName } from '../lists/registry.js';
import type { ListItem } from '../lists/types.js';
import { describeUrl, request, type HttpOptions } from './http.js';
import type { Checkpoint, ExchangeClient, ExchangeItem, ExchangePage } from './types.js';

export interface FileSourceOptions {
  url: string;
  format?: string;
  headers?: Record<string, string>;
  api: string;
  /** Largest file read, default 512 MiB. */
  maxBytes?: number;
}

interface FileCheckpoint {
  etag?: string;
  lastModified?: string;
  sha256?: string;
}

export function itemOfRecord(item: ListItem): ExchangeItem {
  if (item.kind === 'error') return { kind: 'error', message: `line ${item.line}: ${item.message}` };
  const r = item.record;
  const first = r.signals[0];
  const key = r.sourceId ?? (first ? `${first.type}:${first.value}` : `line:${item.line}`);
  if (r.deleted) return { kind: 'delete', key };
  const m = r.metadata ?? {};
  return {
    kind: 'update', key, signals: r.signals, labels: r.labels,
    provenance: {
      entryId: key,
      ...(m.memberId !== undefined ? { member: String(m.memberId) } : {}),
      ...(r.labels.industryCategory ? { classification: r.labels.industryCategory } : r.labels.ukCategory ? { classification: r.labels.ukCategory } : {}),
      ...(typeof m.timestamp === 'string' ? { timestamp: m.timestamp } : {}),
    },
  };
}

export class FileSourceClient implements ExchangeClient {
  readonly api: string;

  constructor(private readonly o: FileSourceOptions, private readonly http: HttpOptions = {}) {
    this.api = o.api;
    const u = URL.canParse(o.url) ? new URL(o.url) : undefined;
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'A file exchange needs an http(s) URL (local files: `vigil bank import`)');
  }

  async *fetch(checkpoint: Checkpoint, signal?: AbortSignal): AsyncGenerator<ExchangePage> {
    const cp = (checkpoint ?? {}) as FileCheckpoint;
    const headers: Record<string, string> = { ...this.o.headers };
    if (cp.etag) headers['if-none-match'] = cp.etag;
    if (cp.lastModified) headers['if-modified-since'] = cp.lastModified;
    const response = await request(this.o.url, { headers, ...(signal ? { signal } : {}) }, { maxBytes: this.o.maxBytes ?? 512 * 1024 * 1024, ...this.http });
    if (response.status === 304) return;
    const sha256 = createHash('sha256').update(response.body).digest('hex');
    const next: FileCheckpoint = { sha256, ...(response.headers.get('etag') ? { etag: response.headers.get('etag')! } : {}), ...(response.headers.get('last-modified') ? { lastModified: response.headers.get('last-modified')! } : {}) };
    if (sha256 === cp.sha256) return;
    const name = (this.o.format ?? detectListFormat(response.body, new URL(this.o.url).pathname)) as ListFormatName | undefined;
    if (!name) throw new VigilError('VIGIL_ERR_LIST_FORMAT', `${describeUrl(this.o.url)}: cannot tell the list format; set the exchange's format`);
    const format = getListFormat(name);
    if (format.input !== 'stream') throw new VigilError('VIGIL_ERR_LIST_FORMAT', `${name} lists cannot be fetched by URL`);
    const body = response.body;
    async function* items(): AsyncGenerator<ExchangeItem> {
      for await (const item of format.input === 'stream' ? format.read([body]) : []) yield itemOfRecord(item);
    }
    yield { items: items(), checkpoint: next as Checkpoint, snapshot: true };
  }
}
