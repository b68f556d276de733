/**
 * npm run bench:exchange [-- --entries N] [--page N] [--quick] — entries/s applied from a local NCMEC-shaped
 * server (GET /v2/entries, XML, Basic auth, pages of 1,000 via <paging><next>, entries out of time order, each
 * with an MD5 and a PDQ of a number: benign stand-ins) through the exchange fetcher (parse, import + checkpoint +
 * audit per page, one transaction each), next to a plain file import of the same entries (the same XML as one
 * file, `BankService.importFile`) in the same run, on SQLite; and the time until the last entry is matchable (a
 * new matcher's sync of the change feed after the fetch). Default 1,000,000 entries; --quick: 50,000. The server
 * runs in the same process (it costs the fetch some CPU).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/audit/log.js';
import { BankService } from '../src/app/banks.js';
import { COMPONENTS } from '../src/app/vigil.js';
import { createDigestIndex, loadDigestIndex } from '../src/banks/digest-index.js';
import { BankMatcher } from '../src/banks/matcher.js';
import { ExchangeConfigs } from '../src/exchanges/config.js';
import { ExchangeFetcher } from '../src/exchanges/fetcher.js';
import { NcmecClient } from '../src/exchanges/ncmec.js';
import { ncmecEntryXml, type NcmecEntry } from '../src/exchanges/_test-servers.js';
import { openDatabase } from '../src/state/database.js';
import { migrate } from '../src/state/migrate.js';
import { storeOver } from '../src/store/store.js';
import { environment, fmt } from './_common.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const QUICK = process.argv.includes('--quick');
const ENTRIES = Number(arg('entries') ?? (QUICK ? 50_000 : 1_000_000));
const PAGE = Number(arg('page') ?? 1000);
const T0 = Date.parse('2026-01-01T00:00:00Z') / 1000;
const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

const entry = (i: number): NcmecEntry => ({
  id: String(i), member: 1 + (i % 3), ts: T0 + ((i * 7919) % ENTRIES), kind: 'image', classification: 'A1',
  fingerprints: { md5: createHash('md5').update(`benign-${i}`).digest('hex'), pdq: createHash('sha256').update(`pdq-${i}`).digest('hex') },
});

/** Page k: entries [start, start+size) in a scrambled order; one XML document. */
function page(start: number, size: number, to: number): string {
  const ids: number[] = [];
  for (let i = start; i < Math.min(ENTRIES, start + size); i++) ids.push(i);
  ids.sort((a, b) => ((a * 2654435761) % 1000) - ((b * 2654435761) % 1000));
  const xs = ids.map(entry);
  const max = Math.max(...xs.map((e) => e.ts));
  const next = start + size < ENTRIES ? `<paging><next>/v2/entries?from=${iso(T0)}&amp;to=${iso(to)}&amp;start=${start + size}&amp;size=${size}</next></paging>` : '';
  return `<?xml version="1.0" encoding="UTF-8"?><queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><images count="${xs.length}" maxTimestamp="${iso(max)}">${xs.map(ncmecEntryXml).join('')}</images>${next}</queryResult>`;
}

async function openCore(dir: string) {
  const db = await openDatabase(join(dir, 'vigil.db'));
  const store = await storeOver(db);
  await migrate(db, COMPONENTS);
  const audit = new AuditLog(db);
  const banks = new BankService({ db, store, audit });
  return { db, store, audit, banks };
}

async function matchableAfter(core: Awaited<ReturnType<typeof openCore>>, lastMd5: string): Promise<number> {
  const t = performance.now();
  const matcher = new BankMatcher(core.store, { digestIndex: createDigestIndex, loadDigestIndex, pollMs: 60_000 });
  await matcher.warm();
  const hits = await matcher.match({ md5: lastMd5 });
  if (hits.length === 0) throw new Error('the last entry is not matchable');
  matcher.stop();
  return (performance.now() - t) / 1000;
}

const auth = `Basic ${Buffer.from('bench:benign').toString('base64')}`;
const server = createServer((req, res) => {
  if (req.headers.authorization !== auth) return void res.writeHead(401).end();
  const url = new URL(req.url ?? '/', 'http://x');
  const start = Number(url.searchParams.get('start') ?? 0);
  const to = Date.parse(url.searchParams.get('to') ?? '') / 1000;
  res.writeHead(200, { 'content-type': 'application/xml' }).end(page(start, Number(url.searchParams.get('size') ?? PAGE), to));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hashsharing`;
const lastMd5 = entry(ENTRIES - 1).fingerprints.md5!;

console.log(`bench:exchange — ${fmt(ENTRIES, 0)} NCMEC entries (MD5 + PDQ each) in pages of ${PAGE}; SQLite`);
console.log(environment());
console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

// 1. The exchange: fetch through the fetcher from the local server.
const dirA = mkdtempSync(join(tmpdir(), 'vigil-bench-exchange-'));
const a = await openCore(dirA);
const configs = new ExchangeConfigs(a.db, Buffer.alloc(32, 7), a.audit);
const bank = await a.banks.createBank('bench', { name: 'NCMEC_BENCH' });
await configs.create('bench', { name: 'NCMEC_BENCH', api: 'ncmec', bankId: bank.id, enabled: true, config: { environment: 'https://exttest.cybertip.org/hashsharing', base_url: base } });
const now = (T0 + ENTRIES + 10) * 1000;
const fetcher = new ExchangeFetcher({
  db: a.db, store: a.store, audit: a.audit, configs,
  clientFor: (e) => new NcmecClient(e.config as { environment: string; base_url: string }, { user: 'bench', password: 'benign' }, { now: () => now }),
  now: () => now,
});
let t = performance.now();
const result = await fetcher.fetch('NCMEC_BENCH', 'bench');
const fetchSeconds = (performance.now() - t) / 1000;
if (!result.ok) throw new Error(result.error);
const exchangeMatchable = await matchableAfter(a, lastMd5);
await a.db.close();

// 2. The baseline: the same entries as one NCMEC XML file, imported.
const dirB = mkdtempSync(join(tmpdir(), 'vigil-bench-exchange-file-'));
const file = join(dirB, 'entries.xml');
const out = createWriteStream(file);
out.write('<?xml version="1.0" encoding="UTF-8"?><queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><images>');
for (let i = 0; i < ENTRIES; i += PAGE) {
  let chunk = '';
  for (let j = i; j < Math.min(ENTRIES, i + PAGE); j++) chunk += ncmecEntryXml(entry(j));
  if (!out.write(chunk)) await once(out, 'drain');
}
out.end('</images></queryResult>');
await once(out, 'finish');
const b = await openCore(dirB);
t = performance.now();
const imported = await b.banks.importFile('bench', 'NCMEC_FILE', file, { create: true, format: 'ncmec-xml' });
const fileSeconds = (performance.now() - t) / 1000;
const fileMatchable = await matchableAfter(b, lastMd5);
await b.db.close();
server.close();
rmSync(dirA, { recursive: true, force: true });
rmSync(dirB, { recursive: true, force: true });

const exRate = ENTRIES / fetchSeconds;
const fileRate = ENTRIES / fileSeconds;
console.log(`exchange fetch: ${fmt(exRate, 0)} entries/s (${fmt(fetchSeconds)} s, ${result.pages} pages, ${fmt(result.added, 0)} signals added); matchable ${fmt(fetchSeconds + exchangeMatchable)} s after the fetch began (new matcher sync ${fmt(exchangeMatchable)} s)`);
console.log(`file import (baseline): ${fmt(fileRate, 0)} entries/s (${fmt(fileSeconds)} s, ${fmt(imported.inserted, 0)} signals); matchable ${fmt(fileSeconds + fileMatchable)} s after the import began (sync ${fmt(fileMatchable)} s)`);
console.log(`ratio exchange / file: ${fmt(exRate / fileRate, 2)}×`);
console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
