/**
 * A hash-only client of the Vigil service for devices: typed requests and results, retries that keep the
 * idempotency key (contentId + the hashes: a retried submission returns the first decision and never repeats
 * an action), and private checks of exact digests through k-anonymity range lookups.
 */
import type { DihedralName } from '../signals/pdq/pdq.js';
import type { ImageHashes } from './hash.js';
import { rangePrefix, rangeTag, RANGE_PREFIX_DEFAULT, RANGE_TYPES, type RangeType } from './range.js';

export type Verdict = 'allow' | 'review' | 'block';

/** The hashes POST /v1/content accepts (the service's ClientHashes). */
export interface ClientHashes {
  md5?: string;
  sha1?: string;
  sha256?: string;
  pdq?: (string | { hash: string; quality?: number; view?: string; dihedral?: Partial<Record<DihedralName, string>> })[];
  vpdq?: string[];
}

export interface SubmitRequest {
  /** Your id for the content; also the idempotency key's first half. Generated when omitted. */
  contentId?: string;
  accountId?: string;
  context?: Record<string, unknown>;
  hashes: ClientHashes;
}

/** The decision as a device key sees it (bank names, list values and rule ids are not shown to devices). */
export interface ContentDecision {
  contentId: string;
  fingerprint: string;
  verdict: Verdict;
  matches: { signalType: string; distance: number; bankKind: 'block' | 'allow'; bank?: string; value?: string }[];
  fired: { ruleId: string }[];
  actions: { type: string; ruleId: string; status: string }[];
  rulesVersion: string;
  decisionId: number | null;
  replayed: boolean;
  late: boolean;
  createdAt: string;
}

export class VigilApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'VigilApiError';
  }
}

type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{ status: number; headers: { get(name: string): string | null }; json(): Promise<unknown> }>;

export interface VigilClientOptions {
  /** The service's base URL, e.g. https://vigil.example.org (no trailing path). */
  baseUrl: string;
  /** A device key (scope "device"): it can submit hashes and range lookups, nothing else. */
  apiKey: string;
  /** Attempts after the first on a network error, 429 or 5xx (default 3). */
  retries?: number;
  /** First backoff (doubled per attempt, or the server's Retry-After), ms (default 500). */
  backoffMs?: number;
  fetch?: FetchLike;
  /** Injectable wait (tests). */
  sleep?: (ms: number) => Promise<void>;
  /** Hex digits sent in a range lookup (default 5 = 20 bits). */
  rangePrefixLength?: number;
}

export interface CheckOptions {
  contentId?: string;
  accountId?: string;
  context?: Record<string, unknown>;
  /**
   * Private exact digests (default true): each digest is first checked through a range lookup and sent
   * only when a listed digest equals it. PDQ is always sent whole (a near match cannot be found by prefix).
   */
  privateDigests?: boolean;
}

export interface CheckResult {
  decision: ContentDecision;
  /** Exactly the JSON body posted to /v1/content. */
  sent: SubmitRequest & { contentId: string };
  /** The range lookups made: type, the prefix sent, candidates received and whether one equalled the digest. */
  ranges: { type: RangeType; prefix: string; candidates: number; hit: boolean }[];
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string; getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  const bytes = c!.getRandomValues!(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class VigilClient {
  private readonly base: string;
  private readonly fetch: FetchLike;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: VigilClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    // Called unbound: a browser's fetch refuses any `this` but the window.
    this.fetch = options.fetch ?? ((url, init) => (globalThis.fetch as unknown as FetchLike)(url, init));
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** POST /v1/content with JSON hashes; retried with the same contentId and hashes. */
  async submitHashes(request: SubmitRequest): Promise<ContentDecision> {
    const body = { ...request, contentId: request.contentId ?? randomId() };
    return (await this.call('POST', '/v1/content', body)) as ContentDecision;
  }

  /** The one-way tags of every listed digest of `type` whose hex starts with `prefix`. */
  async range(type: RangeType, prefix: string): Promise<string[]> {
    const out = (await this.call('GET', `/v1/range/${type}/${encodeURIComponent(prefix)}`)) as { candidates: string[] };
    return out.candidates;
  }

  /** Whether a listed digest equals `hex`, without sending it: a range lookup and a local comparison. */
  async digestListed(type: RangeType, hex: string): Promise<{ prefix: string; candidates: number; hit: boolean }> {
    const prefix = rangePrefix(hex, this.options.rangePrefixLength ?? RANGE_PREFIX_DEFAULT);
    const [candidates, tag] = await Promise.all([this.range(type, prefix), rangeTag(type, hex)]);
    return { prefix, candidates: candidates.length, hit: candidates.includes(tag) };
  }

  /** Hashes from HashPool.hash (or `{ vpdq }` from a supported hashVideo) → the decision, sending only what `options` allows. */
  async check(hashes: ImageHashes & { vpdq?: string[] }, options: CheckOptions = {}): Promise<CheckResult> {
    const sent: ClientHashes = {};
    const ranges: CheckResult['ranges'] = [];
    for (const type of RANGE_TYPES) {
      const hex = hashes[type];
      if (!hex) continue;
      if (options.privateDigests === false) {
        sent[type] = hex;
        continue;
      }
      const r = await this.digestListed(type, hex);
      ranges.push({ type, ...r });
      if (r.hit) sent[type] = hex;
    }
    if (hashes.vpdq?.length) sent.vpdq = hashes.vpdq;
    if (hashes.pdq) sent.pdq = [{ hash: hashes.pdq, ...(hashes.quality !== undefined ? { quality: hashes.quality } : {}), ...(hashes.dihedral ? { dihedral: hashes.dihedral } : {}) }];
    const body: SubmitRequest & { contentId: string } = {
      contentId: options.contentId ?? randomId(),
      ...(options.accountId ? { accountId: options.accountId } : {}),
      ...(options.context ? { context: options.context } : {}),
      hashes: sent,
    };
    const decision = await this.submitHashes(body);
    return { decision, sent: body, ranges };
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const retries = this.options.retries ?? 3;
    let wait = this.options.backoffMs ?? 500;
    for (let attempt = 0; ; attempt++) {
      let status = 0;
      let retryAfter: string | null = null;
      let failure: Error;
      try {
        const res = await this.fetch(this.base + path, {
          method,
          headers: { authorization: `Bearer ${this.options.apiKey}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        status = res.status;
        const json = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
        if (status >= 200 && status < 300) return json;
        retryAfter = res.headers.get('retry-after');
        failure = new VigilApiError(status, json.error?.code ?? `HTTP_${status}`, json.error?.message ?? `HTTP ${status}`);
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      }
      const retryable = status === 0 || RETRYABLE.has(status);
      if (!retryable || attempt >= retries) throw failure;
      const seconds = retryAfter !== null ? Number(retryAfter) : NaN;
      await this.sleep(Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : wait);
      wait *= 2;
    }
  }
}
