/**
 * A local CyberTipline ("ispws") for tests and the benchmark: the documented endpoints (status, submit, upload,
 * fileinfo, finish, retract), HTTP Basic auth, XSD element order and required fields checked (4100 when wrong),
 * and failures injected per step: a time-out (no answer), a 5xx, an NCMEC error code, or the connection dropped
 * after the server committed the request. Benign bytes only: it stores what it receives in memory.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { FILE_DETAILS_ORDER, INCIDENT_SUMMARY_ORDER, IP_CAPTURE_ORDER, PERSON_REPORTED_ORDER, REPORT_ORDER } from '../../src/reports/documents.js';
import { parseXml, type ParsedXml } from '../../src/reports/xml.js';

export type Step = 'status' | 'submit' | 'upload' | 'fileinfo' | 'finish' | 'retract';
export type Fault = { kind: 'timeout' } | { kind: 'http'; status: number } | { kind: 'code'; code: number; description?: string } | { kind: 'drop-after-commit' } | { kind: 'reset' };

export interface FakeReport {
  id: string;
  xml: string;
  parsed: ParsedXml;
  state: 'open' | 'finished' | 'retracted';
  files: { fileId: string; name: string; md5: string; size: number; details?: ParsedXml }[];
}

/** True when `names` follows `order` (a subsequence: optional elements may be missing, repeats allowed). */
export function inOrder(names: readonly string[], order: readonly string[]): boolean {
  let at = 0;
  for (const n of names) {
    const i = order.indexOf(n, at);
    if (i < 0) return false;
    at = i;
  }
  return true;
}

export class FakeNcmec {
  readonly reports = new Map<string, FakeReport>();
  readonly calls: { step: Step; at: number }[] = [];
  private faults: { step: Step; fault: Fault }[] = [];
  private nextId = 7_000_000;
  private readonly app = Fastify({ logger: false, bodyLimit: 256 * 1024 * 1024 });
  url = '';

  constructor(private readonly o: { username?: string; password?: string; latencyMs?: number } = {}) {}

  /** The next `times` calls of `step` fail with `fault`. */
  fail(step: Step, fault: Fault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push({ step, fault });
  }

  finished(): FakeReport[] {
    return [...this.reports.values()].filter((r) => r.state === 'finished');
  }

  async start(): Promise<this> {
    const app = this.app;
    app.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string' }, (_r, body, done) => done(null, body));
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_r, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))));
    await app.register(multipart, { limits: { fileSize: 256 * 1024 * 1024, files: 1 } });
    const route = (step: Step, method: 'GET' | 'POST', handler: (req: FastifyRequest) => Promise<string> | string) => {
      app.route({
        method, url: `/ispws/${step}`,
        handler: async (req, reply) => {
          this.calls.push({ step, at: Date.now() });
          if (!this.authorised(req)) return this.send(reply, 401, response(2000, 'Authentication required'));
          if (this.o.latencyMs) await new Promise((r) => setTimeout(r, this.o.latencyMs));
          const i = this.faults.findIndex((f) => f.step === step);
          const fault = i >= 0 ? this.faults.splice(i, 1)[0]!.fault : undefined;
          if (fault?.kind === 'timeout') return reply.hijack(); // never answers; the socket closes with the server
          if (fault?.kind === 'reset') {
            req.raw.socket.destroy();
            return reply.hijack();
          }
          if (fault?.kind === 'http') return this.send(reply, fault.status, '<html>Service Unavailable</html>');
          if (fault?.kind === 'code') return this.send(reply, 200, response(fault.code, fault.description ?? 'Injected'));
          const body = await handler(req);
          if (fault?.kind === 'drop-after-commit') {
            req.raw.socket.destroy();
            return reply.hijack();
          }
          return this.send(reply, 200, body);
        },
      });
    };
    route('status', 'GET', () => response(0, 'Success'));
    route('submit', 'POST', (req) => {
      const xml = String(req.body ?? '');
      let parsed: ParsedXml;
      try {
        parsed = parseXml(xml);
      } catch {
        return response(4110, 'Malformed XML');
      }
      const problem = checkReport(parsed);
      if (problem) return response(4100, `Validation failed: ${problem}`);
      const id = String(this.nextId++);
      this.reports.set(id, { id, xml, parsed, state: 'open', files: [] });
      return response(0, 'Success', `<reportId>${id}</reportId>`);
    });
    route('upload', 'POST', async (req) => {
      let id: string | undefined;
      let file: { name: string; md5: string; size: number } | undefined;
      for await (const part of req.parts()) {
        if (part.type === 'field' && part.fieldname === 'id') id = String(part.value);
        else if (part.type === 'file' && part.fieldname === 'file') {
          const md5 = createHash('md5');
          let size = 0;
          for await (const chunk of part.file) {
            md5.update(chunk as Buffer);
            size += (chunk as Buffer).length;
          }
          if (part.file.truncated) return response(4200, 'Malformed file');
          file = { name: part.filename, md5: md5.digest('hex'), size };
        }
      }
      const report = id ? this.reports.get(id) : undefined;
      if (!report) return response(5001, 'Report does not exist');
      if (report.state !== 'open') return response(report.state === 'finished' ? 5102 : 5101, `Report already ${report.state}`);
      if (!file) return response(4000, 'Invalid request: no file');
      const fileId = createHash('md5').update(`${id}:${report.files.length}`).digest('hex');
      report.files.push({ fileId, ...file });
      return response(0, 'Success', `<reportId>${id}</reportId><fileId>${fileId}</fileId><hash>${file.md5}</hash>`);
    });
    route('fileinfo', 'POST', (req) => {
      let parsed: ParsedXml;
      try {
        parsed = parseXml(String(req.body ?? ''));
      } catch {
        return response(4110, 'Malformed XML');
      }
      if (parsed.root !== 'fileDetails' || !inOrder(parsed.order, FILE_DETAILS_ORDER)) return response(4100, `Validation failed: fileDetails children out of order (${parsed.order.join(', ')})`);
      for (const required of ['reportId', 'fileId', 'fileViewedByEsp']) if (!parsed.first[required]) return response(4100, `Validation failed: ${required} is required`);
      const report = this.reports.get(parsed.first.reportId!);
      if (!report) return response(5001, 'Report does not exist');
      if (report.state !== 'open') return response(report.state === 'finished' ? 5102 : 5101, `Report already ${report.state}`);
      const file = report.files.find((f) => f.fileId === parsed.first.fileId);
      if (!file) return response(5002, 'File does not exist');
      file.details = parsed;
      return response(0, 'Success', `<reportId>${report.id}</reportId>`);
    });
    route('finish', 'POST', (req) => {
      const id = (req.body as Record<string, string> | undefined)?.id;
      const report = id ? this.reports.get(id) : undefined;
      if (!report) return response(5001, 'Report does not exist');
      if (report.state === 'finished') return response(5102, 'Report already finished');
      if (report.state === 'retracted') return response(5101, 'Report already retracted');
      report.state = 'finished';
      return `<?xml version="1.0" encoding="UTF-8"?><reportDoneResponse><responseCode>0</responseCode><reportId>${report.id}</reportId><files>${report.files.map((f) => `<fileId>${f.fileId}</fileId>`).join('')}</files></reportDoneResponse>`;
    });
    route('retract', 'POST', (req) => {
      const id = (req.body as Record<string, string> | undefined)?.id;
      const report = id ? this.reports.get(id) : undefined;
      if (!report) return response(5001, 'Report does not exist');
      if (report.state === 'finished') return response(5102, 'Report already finished');
      if (report.state === 'retracted') return response(5101, 'Report already retracted');
      report.state = 'retracted';
      return response(0, 'Success', `<reportId>${report.id}</reportId>`);
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    this.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/ispws`;
    return this;
  }

  private authorised(req: FastifyRequest): boolean {
    const expected = `Basic ${Buffer.from(`${this.o.username ?? 'esp'}:${this.o.password ?? 'secret'}`).toString('base64')}`;
    return req.headers.authorization === expected;
  }

  private send(reply: FastifyReply, status: number, body: string): FastifyReply {
    return reply.code(status).header('content-type', 'text/xml').header('request-id', `req-${this.calls.length}`).send(body);
  }

  async close(): Promise<void> {
    this.app.server.closeAllConnections();
    await this.app.close();
  }
}

function response(code: number, description: string, extra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?><reportResponse><responseCode>${code}</responseCode><responseDescription>${description}</responseDescription>${extra}</reportResponse>`;
}

/** The submit checks NCMEC's XSD makes: sequence order at each level that Vigil writes, and required fields. */
function checkReport(p: ParsedXml): string | undefined {
  if (p.root !== 'report') return `root is ${p.root}, expected report`;
  if (!inOrder(p.order, REPORT_ORDER)) return `report children out of order (${p.order.join(', ')})`;
  const summary = p.childrenOf['report/incidentSummary'] ?? [];
  if (!inOrder(summary, INCIDENT_SUMMARY_ORDER)) return `incidentSummary children out of order (${summary.join(', ')})`;
  if (!summary.includes('incidentType') || !summary.includes('incidentDateTime')) return 'incidentSummary needs incidentType and incidentDateTime';
  const person = p.childrenOf['report/personOrUserReported'] ?? [];
  if (!inOrder(person, PERSON_REPORTED_ORDER)) return `personOrUserReported children out of order (${person.join(', ')})`;
  const ip = p.childrenOf['report/personOrUserReported/ipCaptureEvent'] ?? [];
  if (!inOrder(ip, IP_CAPTURE_ORDER)) return 'ipCaptureEvent children out of order';
  if (!(p.childrenOf['report/reporter/reportingPerson'] ?? []).includes('email')) return 'reporter/reportingPerson/email is required';
  if (Number.isNaN(Date.parse(p.first.incidentDateTime ?? ''))) return 'incidentDateTime is not an xs:dateTime';
  return undefined;
}
