/**
 * Local HTTP servers shaped like the programs' documented endpoints, for tests and the benchmark: NCMEC hash
 * sharing v2, StopNCII FetchHashes, ThreatExchange threat_updates, a published file. Each serves entries in a
 * scrambled (not time) order, pages, and can be told to fail a request: 429, 500, a connection dropped mid-body,
 * malformed XML/JSON, an XML entity bomb. Benign data only: the hashes are digests of numbers.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = '429' | '500' | 'drop' | 'malformed' | 'entity' | 'hang' | undefined;

export interface FakeServer {
  url: string;
  server: Server;
  /** Requests seen (method, path+query, authorization header). */
  requests: { method: string; url: string; auth: string | undefined; body: string }[];
  /** Decides the fault of the n-th request (0-based) to a data endpoint. */
  fault: (n: number, path: string) => Fault;
  close(): Promise<void>;
}

export const hex = (seed: string, bytes: number) => createHash('sha256').update(seed).digest('hex').repeat(2).slice(0, bytes * 2);
export const md5Of = (i: number) => createHash('md5').update(`benign-${i}`).digest('hex');
export const pdqOf = (i: number) => hex(`pdq-${i}`, 32);

async function start(handler: (req: IncomingMessage, res: ServerResponse, body: string, s: FakeServer) => void | Promise<void>): Promise<FakeServer> {
  const s: FakeServer = {
    url: '', requests: [], fault: () => undefined,
    server: createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        s.requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', auth: req.headers.authorization, body });
        void Promise.resolve(handler(req, res, body, s)).catch(() => res.destroy());
      });
    }),
    close: () => new Promise<void>((resolve) => { s.server.closeAllConnections(); s.server.close(() => resolve()); }),
  };
  await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
  s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
  return s;
}

/** Answers `body`, unless the fault says otherwise. True when it answered normally. */
function answer(res: ServerResponse, fault: Fault, type: string, body: string): boolean {
  if (fault === 'hang') return false; // never answers (a process is killed meanwhile)
  if (fault === '429') {
    res.writeHead(429, { 'retry-after': '1' }).end('slow down');
    return false;
  }
  if (fault === '500') {
    res.writeHead(500).end('oops');
    return false;
  }
  if (fault === 'drop') {
    // Half the page, then the connection goes.
    res.writeHead(200, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)) });
    res.write(body.slice(0, Math.floor(body.length / 2)));
    setImmediate(() => res.destroy());
    return false;
  }
  res.writeHead(200, { 'content-type': type }).end(body);
  return true;
}

// ---- NCMEC hash sharing v2 ----

export interface NcmecEntry {
  id: string;
  member: number;
  /** Unix seconds of the last change (an update or the deletion). */
  ts: number;
  kind: 'image' | 'video';
  deleted?: boolean;
  classification?: string;
  fingerprints: Record<string, string>;
}

export interface NcmecServer extends FakeServer {
  entries: Map<string, NcmecEntry>;
  pageSize: number;
  feedback: { path: string; body: string }[];
}

const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** A fixed scramble of ids, so pages are not in time order. */
const scramble = (id: string) => createHash('md5').update(id).digest('hex');

export function ncmecEntryXml(e: NcmecEntry): string {
  const member = `<member id="${e.member}">Member ${e.member}</member>`;
  if (e.deleted) return `<deleted${e.kind === 'image' ? 'Image' : 'Video'}>${member}<id>${e.id}</id><timestamp>${iso(e.ts)}</timestamp></deleted${e.kind === 'image' ? 'Image' : 'Video'}>`;
  const fps = Object.entries(e.fingerprints).map(([k, v]) => (v.startsWith('/') ? `<${k} rel="self" href="${v}"/>` : `<${k}>${v}</${k}>`)).join('');
  return `<${e.kind}>${member}<timestamp>${iso(e.ts)}</timestamp><id>${e.id}</id>${e.classification ? `<classification>${e.classification}</classification>` : ''}<fingerprints>${fps}</fingerprints></${e.kind}>`;
}

export function ncmecPageXml(list: NcmecEntry[], next: string | undefined): string {
  const part = (kind: 'image' | 'video') => {
    const xs = list.filter((e) => e.kind === kind);
    const max = xs.length ? Math.max(...xs.map((e) => e.ts)) : undefined;
    return `<${kind}s count="${xs.length}"${max !== undefined ? ` maxTimestamp="${iso(max)}"` : ''}>${xs.map(ncmecEntryXml).join('')}</${kind}s>`;
  };
  const paging = next ? `<paging><next>${next.replace(/&/g, '&amp;')}</next></paging>` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">${part('image')}${part('video')}${paging}</queryResult>`;
}

export async function startNcmecServer(o: { user: string; password: string; pageSize?: number; prefix?: string }): Promise<NcmecServer> {
  const expected = `Basic ${Buffer.from(`${o.user}:${o.password}`).toString('base64')}`;
  const prefix = o.prefix ?? '/hashsharing';
  let dataRequests = 0;
  const s = (await start((req, res, body, srv) => {
    const me = srv as NcmecServer;
    if (req.headers.authorization !== expected) return void res.writeHead(401).end();
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'PUT' && url.pathname.startsWith(`${prefix}/v2/entries/`) && url.pathname.endsWith('/feedback')) {
      const fault = me.fault(dataRequests++, url.pathname);
      if (answer(res, fault === 'drop' ? '500' : fault, 'application/xml', '')) me.feedback.push({ path: url.pathname.slice(prefix.length), body });
      return;
    }
    if (url.pathname !== `${prefix}/v2/entries`) return void res.writeHead(404).end();
    const from = Date.parse(url.searchParams.get('from') ?? '') / 1000;
    const to = Date.parse(url.searchParams.get('to') ?? '') / 1000;
    const start = Number(url.searchParams.get('start') ?? 1);
    const size = Number(url.searchParams.get('size') ?? me.pageSize);
    const window = [...me.entries.values()].filter((e) => e.ts >= from && e.ts <= to).sort((a, b) => (scramble(a.id) < scramble(b.id) ? -1 : 1));
    const page = window.slice(start - 1, start - 1 + size);
    const more = start - 1 + size < window.length;
    const next = more ? `/v2/entries?from=${iso(from)}&to=${iso(to)}&start=${start + size}&size=${size}&max=${window.length}` : undefined;
    const fault = me.fault(dataRequests++, url.pathname);
    let xml = ncmecPageXml(page, next);
    if (fault === 'malformed') xml = xml.slice(0, xml.length - 20) + '<images><oops>';
    if (fault === 'entity') xml = xml.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>').replace(/<classification>[^<]*<\/classification>/, '<classification>&b;</classification>');
    answer(res, fault === 'malformed' || fault === 'entity' ? undefined : fault, 'application/xml', xml);
  })) as NcmecServer;
  s.entries = new Map();
  s.pageSize = o.pageSize ?? 1000;
  s.feedback = [];
  return s;
}

// ---- StopNCII ----

export interface StopNciiRecord { hashValue: string; signalType: string; hashStatus: string; lastModtimestamp: number }

export interface StopNciiServer extends FakeServer {
  records: StopNciiRecord[];
  pageSize: number;
  feedback: unknown[];
}

export async function startStopNciiServer(o: { subscriptionKey: string; functionKey: string }): Promise<StopNciiServer> {
  let n = 0;
  const s = (await start((req, res, body, srv) => {
    const me = srv as StopNciiServer;
    if (req.headers['ocp-apim-subscription-key'] !== o.subscriptionKey || req.headers['x-functions-key'] !== o.functionKey) return void res.writeHead(401).end();
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v1/SubmitFeedback' && req.method === 'POST') {
      me.feedback.push(JSON.parse(body));
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    }
    if (url.pathname !== '/v1/FetchHashes') return void res.writeHead(404).end();
    const startTs = Number(url.searchParams.get('startTimestamp') ?? 0);
    const offset = Number(url.searchParams.get('nextPageToken') ?? 0);
    const size = Math.min(me.pageSize, Number(url.searchParams.get('pageSize') ?? me.pageSize));
    const all = me.records.filter((r) => r.lastModtimestamp >= startTs).sort((a, b) => (scramble(a.hashValue) < scramble(b.hashValue) ? -1 : 1));
    const page = all.slice(offset, offset + size);
    const more = offset + size < all.length;
    const max = all.reduce((m, r) => Math.max(m, r.lastModtimestamp), startTs);
    const fault = me.fault(n++, url.pathname);
    const json = JSON.stringify({ count: page.length, hasMoreRecords: more, nextPageToken: more ? String(offset + size) : null, nextSetTimestamp: max, hashRecords: page });
    answer(res, fault === 'malformed' ? undefined : fault, 'application/json', fault === 'malformed' ? json.slice(0, -3) : json);
  })) as StopNciiServer;
  s.records = [];
  s.pageSize = 800;
  s.feedback = [];
  return s;
}

// ---- ThreatExchange ----

export interface TeUpdate { id: string; indicator: string; type: string; last_updated: number; should_delete?: boolean; tags?: string[]; descriptor?: string }

export interface TeServer extends FakeServer {
  updates: TeUpdate[];
  pageSize: number;
  reactions: { descriptor: string; body: string }[];
}

export async function startThreatExchangeServer(o: { token: string; privacyGroup: number }): Promise<TeServer> {
  let n = 0;
  const s = (await start((req, res, body, srv) => {
    const me = srv as TeServer;
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('access_token') !== o.token) return void res.writeHead(401).end();
    const reaction = /^\/v18\.0\/([^/]+)\/reactions$/.exec(url.pathname);
    if (reaction && req.method === 'POST') {
      me.reactions.push({ descriptor: reaction[1]!, body });
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
    }
    if (url.pathname !== `/v18.0/${o.privacyGroup}/threat_updates`) return void res.writeHead(404).end();
    const from = Number(url.searchParams.get('start_time'));
    const to = Number(url.searchParams.get('stop_time'));
    const after = Number(url.searchParams.get('after') ?? 0);
    const all = me.updates.filter((u) => u.last_updated >= from && u.last_updated < to).sort((a, b) => (scramble(a.id) < scramble(b.id) ? -1 : 1));
    const page = all.slice(after, after + me.pageSize);
    let next: string | undefined;
    if (after + me.pageSize < all.length) {
      const u = new URL(`${me.url}${url.pathname}${url.search}`);
      u.searchParams.set('after', String(after + me.pageSize));
      next = u.href; // carries the access token, as the Graph API's links do
    }
    const data = page.map((u) => ({ id: u.id, indicator: u.indicator, type: u.type, last_updated: u.last_updated, should_delete: u.should_delete ?? false, tags: u.tags ?? [], ...(u.descriptor ? { descriptors: { data: [{ id: u.descriptor, owner: { id: '77', name: 'Benign Org' } }] } } : {}) }));
    const json = JSON.stringify({ data, paging: next ? { next } : {} });
    const fault = me.fault(n++, url.pathname);
    answer(res, fault === 'malformed' ? undefined : fault, 'application/json', fault === 'malformed' ? `{"data": [${json}` : json);
  })) as TeServer;
  s.updates = [];
  s.pageSize = 2;
  s.reactions = [];
  return s;
}

// ---- A published file ----

export interface FileServer extends FakeServer {
  body: string;
  etag: string;
}

export async function startFileServer(path: string): Promise<FileServer> {
  let n = 0;
  const s = (await start((req, res, _body, srv) => {
    const me = srv as FileServer;
    if (new URL(req.url ?? '/', 'http://x').pathname !== path) return void res.writeHead(404).end();
    if (req.headers['if-none-match'] === me.etag) return void res.writeHead(304).end();
    res.setHeader('etag', me.etag);
    answer(res, me.fault(n++, path), 'text/plain', me.body);
  })) as FileServer;
  s.body = '';
  s.etag = '"0"';
  return s;
}
