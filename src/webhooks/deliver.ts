/**
 * Webhook delivery as queue jobs: `webhookJob` builds the job (pass it to `queue.enqueue(tx, …)` in the same
 * transaction as the decision that caused it), `webhookHandler` is the worker's handler for {@link WEBHOOK_QUEUE}.
 *
 * One POST per attempt, JSON body = the event, signed (see sign.ts). 2xx is delivered. Redirects are not
 * followed (the endpoint is pinned to its configured URL, so a compromised or misconfigured receiver cannot
 * bounce deliveries to an internal address) and count as failures. 410 Gone and an unknown endpoint dead-letter
 * at once; anything else (other statuses, timeouts, network errors) is retried with backoff. Delivery is
 * at-least-once: receivers dedupe on `vigil-delivery-id`, the event id, which every retry repeats.
 */
import { invalidArgument, VigilError } from '../core/errors.js';
import type { Job, NewJob } from '../queue/types.js';
import { permanentError } from '../queue/worker.js';
import { SIGNATURE_HEADER, signPayload } from './sign.js';

export interface WebhookEndpoint {
  name: string;
  url: string;
  secret: string;
  /** Also signed with these during a rotation (one v1 entry each), until receivers have the new secret. */
  previousSecrets?: readonly string[];
  /** Default 10 s; keep it well under the worker's lease. */
  timeoutMs?: number;
}

export interface WebhookEvent {
  /** Stable across retries: receivers dedupe on it. */
  id: string;
  /** e.g. 'decision.block', 'account.disable', 'content.hold'. */
  type: string;
  createdAt: string;
  data: unknown;
}

export interface WebhookJobPayload {
  endpoint: string;
  event: WebhookEvent;
}

export const WEBHOOK_QUEUE = 'webhook';
export const DELIVERY_ID_HEADER = 'vigil-delivery-id';
export const EVENT_HEADER = 'vigil-event';
export const ATTEMPT_HEADER = 'vigil-attempt';
export const USER_AGENT = 'vigil/0.1';

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_ATTEMPTS = 12;
const SNIPPET_CHARS = 200;
const SNIPPET_READ_BYTES = 4096;
const MAX_RETRY_AFTER_SEC = 3600;

export function webhookJob(endpointName: string, event: WebhookEvent, options: { priority?: number; maxAttempts?: number } = {}): NewJob {
  if (typeof endpointName !== 'string' || endpointName === '') throw invalidArgument('a non-empty endpoint name', 'endpointName', endpointName);
  if (typeof event?.id !== 'string' || event.id === '') throw invalidArgument('a non-empty string', 'event.id', event?.id);
  if (typeof event.type !== 'string' || event.type === '') throw invalidArgument('a non-empty string', 'event.type', event.type);
  const payload: WebhookJobPayload = { endpoint: endpointName, event };
  return {
    queue: WEBHOOK_QUEUE,
    idempotencyKey: `webhook:${endpointName}:${event.id}`,
    payload,
    priority: options.priority ?? 0,
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
  };
}

function parsePayload(payload: unknown): WebhookJobPayload | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { endpoint, event } = payload as Partial<WebhookJobPayload>;
  if (typeof endpoint !== 'string' || typeof event !== 'object' || event === null) return undefined;
  if (typeof event.id !== 'string' || typeof event.type !== 'string') return undefined;
  return { endpoint, event };
}

function failed(message: string, options?: { cause?: unknown }): VigilError {
  return new VigilError('VIGIL_ERR_WEBHOOK_FAILED', message, options);
}

/** The start of the response body, one line, at most 200 characters, for the dead-letter view. */
async function bodySnippet(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < SNIPPET_READ_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.byteLength;
    }
  } catch {
    // A body cut off mid-way still gives a useful prefix.
  } finally {
    // Releasing a body we stopped reading: the receiver's answer is already decided.
    reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > SNIPPET_CHARS ? `${text.slice(0, SNIPPET_CHARS - 1)}…` : text;
}

/** Retry-After as delta-seconds or an HTTP date, capped at 1 h; undefined when absent or unparsable. */
function retryAfterSec(value: string | null, nowSec: number): number | undefined {
  if (!value) return undefined;
  const secs = /^\d+$/.test(value.trim()) ? Number(value.trim()) : (Date.parse(value) / 1000) - nowSec;
  // The 1 s floor keeps "Retry-After: 0" from turning retries into a tight loop.
  return Number.isFinite(secs) ? Math.min(Math.max(1, Math.ceil(secs)), MAX_RETRY_AFTER_SEC) : undefined;
}

function errorText(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return `network error: ${cause.code}`;
  if (cause && typeof cause.message === 'string') return `network error: ${cause.message}`;
  return `network error: ${err instanceof Error ? err.message : String(err)}`;
}

export function webhookHandler(
  resolveEndpoint: (name: string) => WebhookEndpoint | undefined | Promise<WebhookEndpoint | undefined>,
  options: { fetch?: typeof fetch; nowSec?: () => number } = {},
): (job: Job) => Promise<void> {
  const doFetch = options.fetch ?? fetch;
  const nowSec = options.nowSec ?? (() => Math.floor(Date.now() / 1000));
  return async (job: Job): Promise<void> => {
    const payload = parsePayload(job.payload);
    if (!payload) throw permanentError(new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Job ${job.id} is not a webhook delivery (payload shape)`));
    const endpoint = await resolveEndpoint(payload.endpoint);
    if (!endpoint) throw permanentError(new VigilError('VIGIL_ERR_NOT_FOUND', `No webhook endpoint named "${payload.endpoint}"`));
    let url: URL;
    try {
      url = new URL(endpoint.url);
    } catch (err) {
      throw permanentError(new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Webhook "${endpoint.name}" has an invalid URL`, { cause: err }));
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw permanentError(new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Webhook "${endpoint.name}" URL must be http(s), not ${url.protocol}`));
    }
    const body = JSON.stringify(payload.event);
    const timeoutMs = endpoint.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
      throw permanentError(new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Webhook "${endpoint.name}" timeoutMs must be a positive integer`));
    }
    const now = nowSec();
    // The URL never goes into messages: it may carry a token.
    const who = `Webhook "${endpoint.name}"`;
    let res: Response;
    try {
      res = await doFetch(url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          [SIGNATURE_HEADER]: signPayload([endpoint.secret, ...(endpoint.previousSecrets ?? [])], body, now),
          [DELIVERY_ID_HEADER]: payload.event.id,
          [EVENT_HEADER]: payload.event.type,
          [ATTEMPT_HEADER]: String(job.attempts + 1),
        },
      });
    } catch (err) {
      const text = errorText(err);
      throw failed(`${who}: ${text === 'timed out' ? `timed out after ${timeoutMs} ms` : text}`, { cause: err });
    }
    if (res.status >= 200 && res.status < 300) {
      // A 2xx needs no body: releasing it cannot change the delivery's outcome.
      await res.body?.cancel().catch(() => undefined);
      return;
    }
    const snippet = await bodySnippet(res);
    const detail = snippet ? `: ${snippet}` : '';
    if (res.status >= 300 && res.status < 400) {
      const location = (res.headers.get('location') ?? '').slice(0, 100);
      throw failed(`${who}: HTTP ${res.status} redirect not followed${location ? ` (location ${location})` : ''}${detail}`);
    }
    const err = failed(`${who}: HTTP ${res.status}${detail}`);
    if (res.status === 410) throw permanentError(err);
    if (res.status === 429 || res.status === 503) {
      const after = retryAfterSec(res.headers.get('retry-after'), now);
      if (after !== undefined) throw Object.assign(err, { retryAt: (now + after) * 1000 });
    }
    throw err;
  };
}
