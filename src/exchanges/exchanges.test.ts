import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { AuditLog } from '../audit/log.js';
import { BankService } from '../app/banks.js';
import { COMPONENTS } from '../app/vigil.js';
import { createDigestIndex, loadDigestIndex } from '../banks/digest-index.js';
import { BankMatcher } from '../banks/matcher.js';
import { SqlJobQueue } from '../queue/sql-queue.js';
import { migrate } from '../state/migrate.js';
import { ENGINES, type TestDatabase } from '../state/test-engines.js';
import { storeOver } from '../store/store.js';
import type { Store } from '../store/types.js';
import { createExchangeClient } from './clients.js';
import { ExchangeConfigs } from './config.js';
import { ExchangeFeedbackQueue, EXCHANGE_FEEDBACK_QUEUE } from './feedback.js';
import { ExchangeFetcher } from './fetcher.js';
import { ExchangeScheduler } from './scheduler.js';
import { hex, md5Of, pdqOf, startFileServer, startNcmecServer, startStopNciiServer, startThreatExchangeServer, type NcmecEntry, type NcmecServer } from './_test-servers.js';

const PASSWORD = 'pw-s3cret-never-shown';
const T0 = Date.parse('2026-01-01T00:00:00Z') / 1000;

/** Ten benign entries: images with md5+sha1+pdq (+ a PhotoDNA), timestamps not in id order, one video with only a TMK link. */
function ncmecEntries(): NcmecEntry[] {
  const out: NcmecEntry[] = [];
  for (let i = 0; i < 9; i++) {
    out.push({ id: String(100 + i), member: i % 2 ? 1 : 2, ts: T0 + ((i * 7) % 9) * 60, kind: 'image', classification: i % 3 ? 'A1' : 'B2', fingerprints: { md5: md5Of(i), sha1: hex(`sha1-${i}`, 20), pdq: pdqOf(i), ...(i === 0 ? { pdna: Array.from({ length: 144 }, (_, k) => (k * 7 + i) % 256).join(',') } : {}) } });
  }
  out.push({ id: '900', member: 1, ts: T0 + 30, kind: 'video', fingerprints: { md5: md5Of(900), 'tmk-pdqf': '/v2/entries/900/fingerprints/TMK_PDQF' } });
  return out;
}

for (const engine of ENGINES) describe(`exchanges (${engine.name})`, () => {
  let t: TestDatabase;
  let store: Store;
  let audit: AuditLog;
  let configs: ExchangeConfigs;
  let banks: BankService;
  let fetcher: ExchangeFetcher;
  let matcher: BankMatcher;
  let clock = (T0 + 3600) * 1000;
  const logs: string[] = [];
  const log = { error: (o: object, m: string) => void logs.push(JSON.stringify({ ...o, m })), info: (o: object, m: string) => void logs.push(JSON.stringify({ ...o, m })) };
  const http = { sleep: async () => undefined, now: () => clock };
  const servers: { close(): Promise<void> }[] = [];
  let n = 0;

  before(async () => {
    t = await engine.open();
    store = await storeOver(t.db);
    await migrate(t.db, COMPONENTS);
    audit = new AuditLog(t.db);
    configs = new ExchangeConfigs(t.db, randomBytes(32), audit);
    matcher = new BankMatcher(store, { digestIndex: createDigestIndex, loadDigestIndex, pollMs: 60_000 });
    banks = new BankService({ db: t.db, store, audit, onChange: () => matcher.sync() });
    fetcher = new ExchangeFetcher({ db: t.db, store, audit, configs, clientFor: (e, c) => createExchangeClient(e, c, http), onChange: () => matcher.sync(), now: () => clock, log });
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  after(async () => {
    matcher.stop();
    await t.drop();
  });

  async function addExchange(api: string, config: Record<string, unknown>): Promise<string> {
    const name = `EX_${++n}`;
    const bank = await banks.createBank('test', { name, source: `exchange:${api}` });
    await configs.create('test', { name, api, bankId: bank.id, enabled: true, config });
    return name;
  }
  async function ncmec(pageSize = 3): Promise<{ server: NcmecServer; name: string }> {
    const server = await startNcmecServer({ user: 'u', password: PASSWORD, pageSize });
    servers.push(server);
    for (const e of ncmecEntries()) server.entries.set(e.id, e);
    await configs.setCredentials('test', 'ncmec', { user: 'u', password: PASSWORD });
    const name = await addExchange('ncmec', { environment: 'https://exttest.cybertip.org/hashsharing', base_url: `${server.url}/hashsharing`, feedback: 'on', negative_reason_id: 'guid-fp-1' });
    return { server, name };
  }
  const contents = async (bank: string) => {
    const out: string[] = [];
    for await (const s of store.listSignals(bank)) out.push(`${s.type}:${s.value}:${s.sourceId}:${JSON.stringify(s.labels)}:${JSON.stringify(s.metadata)}`.replace(/"exchange":"EX_\d+",/, ''));
    return out.sort();
  };

  test('NCMEC: pages out of time order, keeps provenance, trusts maxTimestamp only at the end, audits', async () => {
    const { server, name } = await ncmec();
    const r = await fetcher.fetch(name, 'cli:tester');
    assert.equal(r.ok, true, r.error);
    assert.equal(r.pages, 4);
    assert.equal(r.skipped, 0);
    // 9 images × 3 (+1 PhotoDNA) + the video's MD5.
    assert.equal(r.added, 9 * 3 + 1 + 1);
    assert.ok(server.requests.every((q) => q.auth === `Basic ${Buffer.from(`u:${PASSWORD}`).toString('base64')}`));
    const [signal] = await store.findSignals('md5', md5Of(0));
    assert.equal(signal!.sourceId, '2-100');
    assert.deepEqual(signal!.labels, { industryCategory: 'B2' });
    assert.equal(signal!.metadata.exchange, name);
    assert.equal(signal!.metadata.member, '2');
    assert.equal(signal!.metadata.entryId, '100');
    assert.equal(signal!.metadata.classification, 'B2');
    assert.equal(signal!.metadata.timestamp, new Date(T0 * 1000).toISOString().replace('.000', ''));
    assert.equal((await store.findSignals('photodna', Array.from({ length: 144 }, (_, k) => (k * 7) % 256).join(','))).length, 1);
    const [video] = await store.findSignals('md5', md5Of(900));
    assert.deepEqual(video!.metadata.otherFingerprints, { 'tmk-pdqf': '/v2/entries/900/fingerprints/TMK_PDQF' });
    const status = await fetcher.status(name);
    assert.equal(status.upToDate, true);
    assert.deepEqual(status.checkpoint, { from: T0 + 8 * 60 });
    assert.equal(status.total.added, 29);
    const actions = (await sql<{ action: string }>`SELECT action FROM audit_log WHERE subject = ${`exchange:${name}`} ORDER BY seq`.execute(t.db.k)).rows.map((x) => x.action);
    assert.deepEqual(actions, ['exchange.created', 'exchange.page_applied', 'exchange.page_applied', 'exchange.page_applied', 'exchange.page_applied', 'exchange.fetched']);
    // The next fetch asks from the largest timestamp.
    server.requests.length = 0;
    await fetcher.fetch(name, 'cli:tester');
    assert.match(server.requests[0]!.url, new RegExp(`from=${encodeURIComponent(new Date((T0 + 480) * 1000).toISOString().replace('.000', ''))}`));
  });

  test('NCMEC: a published deletion and an update take effect within one sync, in the matcher too', async () => {
    const { server, name } = await ncmec();
    await fetcher.fetch(name, 'test');
    await matcher.warm();
    assert.equal((await matcher.match({ md5: md5Of(3) })).length >= 1, true);
    clock += 3600_000;
    server.entries.set('103', { ...server.entries.get('103')!, deleted: true, ts: T0 + 7100 });
    // Entry 104 now lists only its MD5: its SHA-1 and PDQ go.
    server.entries.set('104', { ...server.entries.get('104')!, ts: T0 + 7150, fingerprints: { md5: md5Of(4) } });
    const r = await fetcher.fetch(name, 'test');
    assert.equal(r.ok, true, r.error);
    assert.equal(r.deleted, 5);
    assert.deepEqual((await store.findSignals('md5', md5Of(3))).filter((s) => s.bankName === name), []);
    assert.deepEqual((await matcher.match({ md5: md5Of(3) })).filter((m) => m.bank === name), []);
    assert.equal((await store.findSignals('md5', md5Of(4))).filter((s) => s.bankName === name).length, 1);
    assert.deepEqual((await store.findSignals('pdq', pdqOf(4))).filter((s) => s.bankName === name), []);
  });

  test('NCMEC: 429, 5xx and a connection dropped mid-page are retried; the bank ends the same', async () => {
    const clean = await ncmec();
    await fetcher.fetch(clean.name, 'test');
    const faulty = await ncmec();
    const faults = ['429', '500', 'drop', undefined, 'drop'] as const;
    faulty.server.fault = (i) => faults[i];
    const r = await fetcher.fetch(faulty.name, 'test');
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(await contents(faulty.name), await contents(clean.name));
  });

  test('NCMEC: malformed XML fails the fetch loudly; the next fetch resumes from the last page applied', async () => {
    const clean = await ncmec();
    await fetcher.fetch(clean.name, 'test');
    const broken = await ncmec();
    broken.server.fault = (i) => (i === 2 ? 'malformed' : undefined);
    const r = await fetcher.fetch(broken.name, 'test');
    assert.equal(r.ok, false);
    assert.equal(r.pages, 2);
    assert.match(r.error!, /Malformed XML/);
    const status = await fetcher.status(broken.name);
    assert.equal(status.consecutiveFailures, 1);
    assert.match(status.lastError!, /Malformed XML/);
    assert.ok(logs.some((l) => l.includes('EXCHANGE FETCH FAILED') && l.includes(broken.name)));
    assert.match(JSON.stringify(status.checkpoint), /start=7/);
    broken.server.fault = () => undefined;
    broken.server.requests.length = 0;
    const resumed = await fetcher.fetch(broken.name, 'test');
    assert.equal(resumed.ok, true);
    assert.match(broken.server.requests[0]!.url, /start=7/);
    assert.deepEqual(await contents(broken.name), await contents(clean.name));
    assert.equal((await fetcher.status(broken.name)).consecutiveFailures, 0);
  });

  test('NCMEC: a fetch killed after any page resumes to the same bank as an uninterrupted one', async () => {
    const clean = await ncmec(2);
    await fetcher.fetch(clean.name, 'test');
    for (const stopAfter of [1, 3]) {
      const killed = await ncmec(2);
      const first = await fetcher.fetch(killed.name, 'test', { maxPages: stopAfter });
      assert.equal(first.partial, true);
      assert.equal((await fetcher.status(killed.name)).upToDate, false);
      // A deletion published meanwhile is honoured too.
      const rest = await fetcher.fetch(killed.name, 'test');
      assert.equal(rest.ok, true);
      assert.deepEqual(await contents(killed.name), await contents(clean.name));
    }
  });

  test('NCMEC: an entity-expansion page applies the other entries and refuses the entity', async () => {
    const { server, name } = await ncmec(100);
    server.fault = (i) => (i === 0 ? 'entity' : undefined);
    const r = await fetcher.fetch(name, 'test');
    assert.equal(r.ok, true, r.error);
    assert.equal(r.errors, 1);
    assert.equal(r.added, 29 - 3);
    const all = await contents(name);
    assert.ok(!all.some((s) => s.includes('aaaa')));
  });

  test('NCMEC: a paging link to another host is refused (the credentials stay home)', async () => {
    const { server, name } = await ncmec();
    const inner = server.server.listeners('request')[0] as (...a: unknown[]) => void;
    server.server.removeAllListeners('request');
    server.server.on('request', (req: { url: string }, res: { writeHead: (s: number, h: object) => { end: (b: string) => void } }) => {
      res.writeHead(200, { 'content-type': 'application/xml' }).end('<queryResult><images count="0"/><paging><next>http://evil.example/v2/entries</next></paging></queryResult>');
      void inner;
    });
    const r = await fetcher.fetch(name, 'test');
    assert.equal(r.ok, false);
    assert.match(r.error!, /leaves/);
  });

  test('StopNCII: pages by token, Withdrawn and Deleted remove, feedback values', async () => {
    const server = await startStopNciiServer({ subscriptionKey: 'sub-key-secret', functionKey: 'fn-key-secret' });
    servers.push(server);
    server.pageSize = 2;
    for (let i = 0; i < 5; i++) server.records.push({ hashValue: pdqOf(i), signalType: 'ImagePDQ', hashStatus: 'Active', lastModtimestamp: T0 + 10 - i });
    server.records.push({ hashValue: md5Of(50), signalType: 'VideoMD5', hashStatus: 'Active', lastModtimestamp: T0 });
    server.records.push({ hashValue: 'x', signalType: 'Text', hashStatus: 'Active', lastModtimestamp: T0 });
    await configs.setCredentials('test', 'stop_ncii', { subscription_key: 'sub-key-secret', fetch_function_key: 'fn-key-secret', base_url_override: `${server.url}/v1` });
    const name = await addExchange('stop_ncii', { feedback: 'on' });
    server.fault = (i) => (i === 1 ? '500' : i === 2 ? 'drop' : undefined);
    const r = await fetcher.fetch(name, 'test');
    assert.equal(r.ok, true, r.error);
    assert.equal(r.added, 6);
    assert.equal(r.errors, 1);
    assert.deepEqual((await fetcher.status(name)).checkpoint, { start: T0 + 10 });
    server.records[1] = { ...server.records[1]!, hashStatus: 'Withdrawn', lastModtimestamp: T0 + 20 };
    server.records[2] = { ...server.records[2]!, hashStatus: 'Deleted', lastModtimestamp: T0 + 20 };
    const again = await fetcher.fetch(name, 'test');
    assert.equal(again.deleted, 2);
    assert.deepEqual((await store.findSignals('pdq', pdqOf(1))).filter((s) => s.bankName === name), []);
    const client = createExchangeClient((await configs.get(name))!, await configs.credentials('stop_ncii'), http);
    await client.feedback!({ verdict: 'false_positive', key: `ImagePDQ:${pdqOf(0)}`, signal: { type: 'pdq', value: pdqOf(0) }, provenance: { entryId: pdqOf(0) } });
    assert.deepEqual(server.feedback, [{ count: 1, hashFeedbacks: [{ hashValue: pdqOf(0), tags: [], feedbackValue: 'NotBlocked' }] }]);
    server.fault = () => 'malformed';
    const bad = await fetcher.fetch(name, 'test');
    assert.equal(bad.ok, false);
    assert.match(bad.error!, /malformed JSON/);
  });

  test('ThreatExchange: threat_updates per privacy group, should_delete, the token never stored, reactions', async () => {
    const server = await startThreatExchangeServer({ token: 'APP|te-secret-token', privacyGroup: 4242 });
    servers.push(server);
    for (let i = 0; i < 5; i++) server.updates.push({ id: `ind-${i}`, indicator: pdqOf(i), type: 'HASH_PDQ', last_updated: T0 + 100 - i, tags: ['benign_test'], descriptor: `desc-${i}` });
    await configs.setCredentials('test', 'fb_threatexchange', { api_token: 'APP|te-secret-token' });
    const name = await addExchange('fb_threatexchange', { privacy_group: 4242, base_url: `${server.url}/v18.0`, feedback: 'on' });
    const first = await fetcher.fetch(name, 'test', { maxPages: 1 });
    assert.equal(first.added, 2);
    const cp = JSON.stringify((await fetcher.status(name)).checkpoint);
    assert.match(cp, /after=2/);
    assert.doesNotMatch(cp, /te-secret-token/);
    const rest = await fetcher.fetch(name, 'test');
    assert.equal(rest.ok, true, rest.error);
    assert.equal(rest.added, 3);
    const [s] = (await store.findSignals('pdq', pdqOf(2))).filter((x) => x.bankName === name);
    assert.equal(s!.metadata.member, '77');
    clock += 3600_000;
    server.updates.push({ id: 'ind-2', indicator: pdqOf(2), type: 'HASH_PDQ', last_updated: Math.floor(clock / 1000) - 10, should_delete: true });
    server.updates.splice(2, 1);
    const del = await fetcher.fetch(name, 'test');
    assert.equal(del.deleted, 1);
    const client = createExchangeClient((await configs.get(name))!, await configs.credentials('fb_threatexchange'), http);
    await client.feedback!({ verdict: 'false_positive', key: 'HASH_PDQ:ind-1', signal: { type: 'pdq', value: pdqOf(1) }, provenance: { entryId: 'ind-1', refs: { descriptorId: 'desc-1' } } });
    assert.deepEqual(server.reactions, [{ descriptor: 'desc-1', body: 'reaction=DISAGREE_WITH_TAGS' }]);
  });

  test('file/URL: ETag answers 304, a changed file is a snapshot (missing entries deleted)', async () => {
    const server = await startFileServer('/list.txt');
    servers.push(server);
    server.body = [0, 1, 2].map((i) => `pdq ${pdqOf(i)}`).join('\n') + '\n';
    server.etag = '"v1"';
    const name = await addExchange('file', { url: `${server.url}/list.txt`, format: 'threatexchange' });
    const r = await fetcher.fetch(name, 'test');
    assert.equal(r.added, 3);
    const again = await fetcher.fetch(name, 'test');
    assert.equal(again.pages, 0);
    assert.equal(server.requests.length, 2);
    server.body = [1, 2, 3].map((i) => `pdq ${pdqOf(i)}`).join('\n') + '\n';
    server.etag = '"v2"';
    const changed = await fetcher.fetch(name, 'test');
    assert.equal(changed.added, 1);
    assert.equal(changed.deleted, 1);
    assert.deepEqual((await store.findSignals('pdq', pdqOf(0))).filter((s) => s.bankName === name), []);
  });

  test('feedback: a false positive on an exchange signal is queued, audited, retried and sent with the reason id', async () => {
    const { server, name } = await ncmec();
    await fetcher.fetch(name, 'test');
    const queue = new SqlJobQueue(t.db);
    const feedback = new ExchangeFeedbackQueue({ configs, queue, audit, clientFor: (e, c) => createExchangeClient(e, c, http) });
    banks.onOpinion = (tx, s, k, a) => feedback.onOpinion(tx, s, k, a);
    try {
      const [signal] = (await store.findSignals('md5', md5Of(1))).filter((s) => s.bankName === name);
      await banks.addOpinion({ actor: 'user:rev', requestId: 'r1' }, signal!.id, { kind: 'false_positive', reason: 'benign test picture' });
      const [job] = await queue.list({ queue: EXCHANGE_FEEDBACK_QUEUE, state: 'pending' });
      assert.ok(job);
      const queued = (await sql<{ actor: string; request_id: string }>`SELECT actor, request_id FROM audit_log WHERE action = 'exchange.feedback_queued'`.execute(t.db.k)).rows;
      assert.deepEqual(queued.map((q) => [q.actor, q.request_id]), [['user:rev', 'r1']]);
      server.fault = (i) => (i === 0 ? '500' : undefined);
      // One 500: retried within the attempt (a job whose attempts all fail goes back to the queue with backoff).
      await feedback.handler(job!);
      assert.deepEqual(server.feedback.map((f) => f.path), ['/v2/entries/1/101/MD5/feedback']);
      assert.match(server.feedback[0]!.body, /<negative><reasonIds><guid>guid-fp-1<\/guid><\/reasonIds><\/negative>/);
      assert.equal((await sql`SELECT 1 FROM audit_log WHERE action = 'exchange.feedback_sent'`.execute(t.db.k)).rows.length, 1);
      // A signal of an exchange without feedback on: nothing queued.
      const file = await startFileServer('/l.txt');
      servers.push(file);
      file.body = `md5 ${md5Of(77)}\n`;
      const quiet = await addExchange('file', { url: `${file.url}/l.txt` });
      await fetcher.fetch(quiet, 'test');
      const [other] = (await store.findSignals('md5', md5Of(77))).filter((s) => s.bankName === quiet);
      await banks.addOpinion('user:rev', other!.id, { kind: 'confirmed' });
      assert.equal((await queue.list({ queue: EXCHANGE_FEEDBACK_QUEUE })).length, 1);
    } finally {
      banks.onOpinion = undefined;
    }
  });

  test('scheduler: one process per exchange (DB lease), due by the last attempt', async () => {
    const { name } = await ncmec();
    assert.equal(await fetcher.acquireLease(name, 'other-process', 60_000), true);
    const a = new ExchangeScheduler({ fetcher, configs, intervalMs: 60_000, owner: 'me', now: () => clock });
    assert.ok(!(await a.tick()).some((r) => r.exchange === name));
    await fetcher.releaseLease(name, 'other-process');
    assert.ok((await a.tick()).some((r) => r.exchange === name && r.ok));
    // Just fetched: not due again until the interval has passed.
    assert.ok(!(await a.tick()).some((r) => r.exchange === name));
    clock += 60_000;
    assert.ok((await a.tick()).some((r) => r.exchange === name));
    await a.stop();
  });

  test('credentials never reach logs, status, audit, checkpoints or imports', async () => {
    const { server, name } = await ncmec();
    server.fault = () => '500';
    await fetcher.fetch(name, 'test');
    server.fault = () => undefined;
    await fetcher.fetch(name, 'test');
    const dump = JSON.stringify({
      logs,
      status: await fetcher.status(name),
      audit: (await sql`SELECT * FROM audit_log`.execute(t.db.k)).rows,
      sync: (await sql`SELECT * FROM exchange_sync`.execute(t.db.k)).rows,
      exchanges: (await sql`SELECT name, api, config FROM exchanges`.execute(t.db.k)).rows,
      imports: (await sql`SELECT * FROM imports`.execute(t.db.k)).rows,
    });
    for (const secret of [PASSWORD, Buffer.from(`u:${PASSWORD}`).toString('base64'), 'te-secret-token', 'sub-key-secret', 'fn-key-secret']) assert.ok(!dump.includes(secret), secret);
  });
});
