/**
 * HTTP for exchange clients: bounded bodies, a timeout per attempt, and retries of what a program's API is known
 * to answer under load (429 with Retry-After, 5xx, a connection dropped mid-body). Errors name the host and path
 * only: query strings (ThreatExchange's access token) and headers (Basic auth, subscription keys) never reach a
 * message or a log.
 */
import { VigilError } from '../core/errors.js';

export interface HttpOptions {
  /** Injected in tests (a local server); default the global fetch. */
  fetch?: typeof fetch;
  /** Waits between retries; tests inject one that resolves at once (no sleeps in tests). */
  sleep?: (ms: number) => Promise<void>;
  /** Attempts per request (default 5). */
  attempts?: number;
  /** Per attempt, default 60 s. */
  timeoutMs?: number;
  /** Largest body read, default 64 MiB. */
  maxBytes?: number;
  /** Longest wait between attempts (a Retry-After above it is capped), default 60 s. */
  maxDelayMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** host + path: what an error may say about a URL. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

async function readBounded(response: Response, maxBytes: number, where: string): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes) throw new VigilError('VIGIL_ERR_PAYLOAD_TOO_LARGE', `${where} answered more than ${maxBytes} bytes`);
  if (!response.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new VigilError('VIGIL_ERR_PAYLOAD_TOO_LARGE', `${where} answered more than ${maxBytes} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/**
 * One request with retries. Answers 2xx and 304 (and, with `accept`, other statuses the caller handles); 429 and
 * 5xx and network failures are retried with backoff; any other status fails at once (permanent: wrong credentials,
 * a bad request).
 */
export async function request(url: string, init: RequestInit, options: HttpOptions & { accept?: (status: number) => boolean } = {}): Promise<HttpResponse> {
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? defaultSleep;
  const attempts = options.attempts ?? 5;
  const maxDelay = options.maxDelayMs ?? 60_000;
  const where = describeUrl(url);
  let last: Error | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let wait = Math.min(maxDelay, 500 * 2 ** (attempt - 1));
    try {
      // No redirects: a credential must not follow a Location to another host.
      const response = await doFetch(url, { ...init, redirect: 'manual', signal: AbortSignal.any([AbortSignal.timeout(options.timeoutMs ?? 60_000), ...(init.signal ? [init.signal] : [])]) });
      const { status } = response;
      if ((status >= 200 && status < 300) || status === 304 || options.accept?.(status)) {
        return { status, headers: response.headers, body: await readBounded(response, options.maxBytes ?? 64 * 1024 * 1024, where) };
      }
      await response.body?.cancel().catch(() => undefined);
      if (status === 429 || status >= 500) {
        last = new VigilError(status === 429 ? 'VIGIL_ERR_RATE_LIMITED' : 'VIGIL_ERR_UNAVAILABLE', `${where} answered ${status}`);
        const after = retryAfterMs(response.headers.get('retry-after'));
        if (after !== undefined) wait = Math.min(maxDelay, after);
      } else {
        const code = status === 401 || status === 403 ? 'VIGIL_ERR_FORBIDDEN' : status === 404 ? 'VIGIL_ERR_NOT_FOUND' : 'VIGIL_ERR_INVALID_ARGUMENT';
        throw new VigilError(code, `${where} answered ${status}${status === 401 || status === 403 ? ' (check the exchange credentials)' : ''}`);
      }
    } catch (err) {
      if (err instanceof VigilError && err.code !== 'VIGIL_ERR_UNAVAILABLE' && err.code !== 'VIGIL_ERR_RATE_LIMITED') throw err;
      // A refused address (exchanges/public-fetch.ts) is the operator's policy, not a failure to retry.
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof VigilError && cause.code === 'VIGIL_ERR_FORBIDDEN') throw new VigilError('VIGIL_ERR_FORBIDDEN', `${where}: ${cause.message}`);
      if (init.signal?.aborted) throw new VigilError('VIGIL_ERR_CANCELLED', `Fetching ${where} was cancelled`);
      // undici's messages carry no URL; say only what failed.
      last = err instanceof VigilError ? err : new VigilError('VIGIL_ERR_UNAVAILABLE', `${where}: ${(err as Error).name === 'TimeoutError' ? 'timed out' : `connection failed (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`}`);
    }
    if (attempt < attempts) await sleep(wait);
  }
  throw new VigilError(last instanceof VigilError ? last.code : 'VIGIL_ERR_UNAVAILABLE', `${last?.message ?? where} (after ${attempts} attempts)`);
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Parses JSON, as a format error naming the place. */
export function parseJson(body: Buffer, where: string): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw new VigilError('VIGIL_ERR_LIST_FORMAT', `${where} answered malformed JSON (${(err as Error).message})`);
  }
}
