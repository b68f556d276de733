/**
 * The CyberTipline ("ispws") client: submit, upload, fileinfo, finish, retract, status. HTTP Basic credentials
 * come from configuration and are never logged or kept in errors; a response is a failure when either the
 * HTTP status or NCMEC's `responseCode` says so (HTTP 200 can carry a non-zero code). Every response is
 * returned (body, Request-ID) so the caller keeps it with the report.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseXml, type ParsedXml } from './xml.js';

export interface NcmecConfig {
  /** https://exttest.cybertip.org/ispws (test) or https://report.cybertip.org/ispws (production). */
  baseUrl: string;
  username: string;
  password: string;
  /** Per request; an upload gets this plus one second per MB. */
  timeoutMs: number;
}

/** Failure classes for the person who must act. Persisted: add, never rename. */
export const FAILURE_CLASSES = ['credentials', 'rate_limit', 'timeout', 'ncmec_server', 'rejected', 'invalid_report', 'configuration', 'media'] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

export interface NcmecResponse {
  step: string;
  httpStatus: number | null;
  responseCode: number | null;
  requestId: string | null;
  body: string;
  parsed?: ParsedXml;
}

/** A failed call, classified. `ambiguous`: the request may have reached NCMEC and been committed. */
export class NcmecError extends Error {
  constructor(
    message: string,
    readonly failure: FailureClass,
    readonly retryable: boolean,
    readonly ambiguous: boolean,
    readonly response: NcmecResponse | null,
  ) {
    super(message);
    this.name = 'NcmecError';
  }
}

/** What NCMEC's codes and HTTP statuses mean for whoever must act (codes: formats.md §1.2). */
export function classify(httpStatus: number | null, code: number | null): { failure: FailureClass; retryable: boolean } {
  if (code === 2000 || code === 3000 || code === 3100 || code === 3300 || httpStatus === 401 || httpStatus === 403) return { failure: 'credentials', retryable: false };
  if (httpStatus === 429) return { failure: 'rate_limit', retryable: true };
  if (code === 4000 || code === 4100 || code === 4110) return { failure: 'invalid_report', retryable: false };
  if (code === 4200) return { failure: 'media', retryable: false };
  if (code === 1000 || code === 1100 || code === 1110 || code === 1111 || code === 1300) return { failure: 'ncmec_server', retryable: true };
  if (httpStatus !== null && (httpStatus >= 500 || httpStatus === 408)) return { failure: 'ncmec_server', retryable: true };
  // 5001 (the unfinished report expired at NCMEC): a retry starts it again.
  if (code === 5001) return { failure: 'rejected', retryable: true };
  return { failure: 'rejected', retryable: false };
}

export class NcmecClient {
  private readonly auth: string;

  constructor(private readonly config: NcmecConfig, private readonly fetchImpl: typeof fetch = fetch) {
    this.auth = `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}`;
  }

  /** Never the credentials: what a log line or a support ticket may show. */
  toJSON(): { baseUrl: string } {
    return { baseUrl: this.config.baseUrl };
  }

  private async call(step: string, path: string, init: { method: string; body?: string | Readable; contentType?: string; timeoutMs?: number }): Promise<NcmecResponse> {
    const url = `${this.config.baseUrl.replace(/\/+$/, '')}${path}`;
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: init.method,
        headers: { authorization: this.auth, ...(init.contentType ? { 'content-type': init.contentType } : {}) },
        ...(init.body === undefined ? {} : typeof init.body === 'string' ? { body: init.body } : { body: Readable.toWeb(init.body) as ReadableStream, duplex: 'half' }),
        redirect: 'error',
        signal: AbortSignal.timeout(init.timeoutMs ?? this.config.timeoutMs),
      } as RequestInit);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
      // A body stream that failed (evidence that did not verify) surfaces here too: it is the media's fault.
      const media = (e.cause as { code?: string } | undefined)?.code === 'VIGIL_ERR_EVIDENCE_INTEGRITY' || (err as { code?: string }).code === 'VIGIL_ERR_EVIDENCE_INTEGRITY';
      if (media) throw new NcmecError(`${step}: the evidence failed its integrity check while it was sent`, 'media', false, true, null);
      // Refused connections never reached NCMEC; anything else may have been committed before the line dropped.
      const refused = e.cause?.code === 'ECONNREFUSED' || e.cause?.code === 'ENOTFOUND';
      throw new NcmecError(`${step}: ${timedOut ? 'timed out' : `connection failed (${e.cause?.code ?? e.message})`}`, timedOut ? 'timeout' : 'ncmec_server', true, !refused, null);
    }
    let body: string;
    try {
      body = await res.text();
    } catch (err) {
      throw new NcmecError(`${step}: the response was cut off (${(err as Error).message})`, 'ncmec_server', true, true, null);
    }
    const response: NcmecResponse = { step, httpStatus: res.status, responseCode: null, requestId: res.headers.get('request-id'), body: body.slice(0, 64 * 1024) };
    try {
      response.parsed = parseXml(body);
      const code = response.parsed.first.responseCode;
      response.responseCode = code !== undefined && /^\d+$/.test(code) ? Number(code) : null;
    } catch {
      // A non-XML body (a proxy's error page): the HTTP status decides.
    }
    if (res.status >= 300 || response.responseCode !== 0) {
      const { failure, retryable } = classify(res.status, response.responseCode);
      const description = response.parsed?.first.responseDescription;
      throw new NcmecError(`${step}: HTTP ${res.status}${response.responseCode !== null ? `, NCMEC code ${response.responseCode}` : ''}${description ? ` (${description})` : ''}`, failure, retryable, false, response);
    }
    return response;
  }

  status(): Promise<NcmecResponse> {
    return this.call('status', '/status', { method: 'GET' });
  }

  /** Opens a report; its id is `response.parsed.first.reportId`. */
  async submit(xml: string): Promise<NcmecResponse & { reportId: string }> {
    const r = await this.call('submit', '/submit', { method: 'POST', body: xml, contentType: 'text/xml; charset=utf-8' });
    const reportId = r.parsed?.first.reportId;
    if (!reportId) throw new NcmecError('submit: success without a reportId', 'ncmec_server', true, true, r);
    return { ...r, reportId };
  }

  /**
   * Streams one file as multipart/form-data (fields `id` and `file`) without holding it in memory; the MD5 of
   * what was sent is compared with the `hash` NCMEC computed of what it received.
   */
  async upload(reportId: string, fileName: string, content: Readable, size: number): Promise<NcmecResponse & { fileId: string; md5: string }> {
    const boundary = `vigil-${randomBytes(12).toString('hex')}`;
    const md5 = createHash('md5');
    const safeName = fileName.replace(/["\r\n\\]/g, '_');
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="id"\r\n\r\n${reportId}\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${safeName}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
      for await (const chunk of content) {
        md5.update(chunk as Buffer);
        yield chunk as Buffer;
      }
      yield Buffer.from(`\r\n--${boundary}--\r\n`);
    }
    const r = await this.call('upload', '/upload', { method: 'POST', body: Readable.from(body()), contentType: `multipart/form-data; boundary=${boundary}`, timeoutMs: this.config.timeoutMs + Math.ceil(size / 1e6) * 1000 });
    const fileId = r.parsed?.first.fileId;
    const sent = md5.digest('hex');
    if (!fileId) throw new NcmecError('upload: success without a fileId', 'ncmec_server', true, true, r);
    const received = r.parsed?.first.hash?.toLowerCase();
    if (received && received !== sent) throw new NcmecError(`upload: NCMEC received a file with MD5 ${received}, sent ${sent}`, 'ncmec_server', true, true, r);
    return { ...r, fileId, md5: sent };
  }

  fileInfo(xml: string): Promise<NcmecResponse> {
    return this.call('fileinfo', '/fileinfo', { method: 'POST', body: xml, contentType: 'text/xml; charset=utf-8' });
  }

  finish(reportId: string): Promise<NcmecResponse> {
    return this.call('finish', '/finish', { method: 'POST', body: new URLSearchParams({ id: reportId }).toString(), contentType: 'application/x-www-form-urlencoded' });
  }

  retract(reportId: string): Promise<NcmecResponse> {
    return this.call('retract', '/retract', { method: 'POST', body: new URLSearchParams({ id: reportId }).toString(), contentType: 'application/x-www-form-urlencoded' });
  }
}
