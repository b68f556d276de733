/** Exchanges over the API (Vigil's /v1/exchanges and HMA's /c/exchange*) and the `vigil exchange` command. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hex, md5Of, pdqOf, startNcmecServer, type NcmecServer } from '../src/exchanges/_test-servers.js';
import { runVigil } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';
import { startTestService, type TestService } from './_service.js';

const PASSWORD = 'api-test-password-9f8e';
let t: TestService;
let ncmec: NcmecServer;
let admin: string;

before(async () => {
  t = await startTestService({ background: false });
  admin = await t.key(['admin']);
  ncmec = await startNcmecServer({ user: 'api-user', password: PASSWORD, pageSize: 2 });
  for (let i = 0; i < 5; i++) ncmec.entries.set(String(i), { id: String(i), member: 3, ts: 1_700_000_000 + i, kind: 'image', classification: 'A1', fingerprints: { md5: md5Of(i), sha1: hex(`s${i}`, 20), pdq: pdqOf(i) } });
});
after(async () => {
  await ncmec.close();
  await t.close();
});

const call = async (method: string, url: string, payload?: unknown, key = admin) => {
  const res = await t.service.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${key}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });
  return { status: res.statusCode, json: res.body ? (JSON.parse(res.body) as Record<string, unknown> & unknown[]) : undefined, body: res.body };
};

test('API: add, fetch, status (Vigil and HMA), another Vigil as a source, remove; credentials never answered', async () => {
  const bodies: string[] = [];
  const track = async (...a: Parameters<typeof call>) => {
    const r = await call(...a);
    bodies.push(r.body);
    return r;
  };
  assert.equal((await track('PUT', '/v1/exchange-apis/ncmec/credentials', { user: 'api-user', password: PASSWORD })).status, 200);
  const curate = await t.key(['curate']);
  assert.equal((await call('PUT', '/v1/exchange-apis/ncmec/credentials', { user: 'x', password: 'y' }, curate)).status, 403);
  const added = await track('POST', '/v1/exchanges', { name: 'NCMEC_TEST', api: 'ncmec', config: { environment: 'https://exttest.cybertip.org/hashsharing', base_url: `${ncmec.url}/hashsharing` } });
  assert.equal(added.status, 201, added.body);
  const hmaBefore = await track('GET', '/c/exchange/NCMEC_TEST/status');
  assert.equal(hmaBefore.json!.up_to_date, false);
  const fetched = await track('POST', '/v1/exchanges/NCMEC_TEST/fetch', {}, curate);
  assert.equal(fetched.status, 200, fetched.body);
  assert.equal(fetched.json!.ok, true);
  assert.equal(fetched.json!.added, 15);
  const list = await track('GET', '/v1/exchanges');
  assert.equal((list.json as unknown as { name: string; upToDate: boolean; total: { added: number } }[]).find((s) => s.name === 'NCMEC_TEST')?.total.added, 15);
  const hma = await track('GET', '/c/exchange/NCMEC_TEST/status');
  assert.equal(hma.json!.up_to_date, true);
  assert.equal(hma.json!.last_fetch_succeeded, true);
  assert.equal(hma.json!.fetched_items, 15);
  // Matchable through the service at once.
  const lookup = await call('POST', '/v1/lookup', { hashes: [{ type: 'md5', value: md5Of(2) }] });
  assert.match(lookup.body, /NCMEC_TEST/);

  // This service's bank, followed by another exchange as "another Vigil" (over its export route).
  await track('PUT', '/v1/exchange-apis/vigil/credentials', { api_key: admin });
  assert.equal((await track('POST', '/v1/exchanges', { name: 'MIRROR', api: 'vigil', config: { url: t.url, bank: 'NCMEC_TEST' } })).status, 201);
  const mirrored = await track('POST', '/v1/exchanges/MIRROR/fetch', {});
  assert.equal(mirrored.json!.ok, true, mirrored.body);
  assert.equal(mirrored.json!.added, 15);

  const one = await track('GET', '/v1/exchanges/NCMEC_TEST');
  assert.equal((one.json!.config as { base_url: string }).base_url, `${ncmec.url}/hashsharing`);
  assert.equal((await track('DELETE', '/v1/exchanges/MIRROR?deleteBank=true')).status, 200);
  assert.equal((await call('GET', '/v1/banks/MIRROR')).status, 404);
  assert.equal((await track('DELETE', '/c/exchange/NCMEC_TEST')).status, 200);
  assert.equal((await call('GET', '/v1/exchanges/NCMEC_TEST')).status, 404);
  for (const b of bodies) {
    assert.ok(!b.includes(PASSWORD), 'password in an answer');
    assert.ok(!b.includes(admin), 'API key in an answer');
  }
});

test('CLI: vigil exchange credentials|add|fetch|status|list|remove', async () => {
  const dir = tempDir('exchange-cli');
  const db = join(dir, 'vigil.db');
  const publicOnly = { ...process.env, NCMEC_CREDS: JSON.stringify({ user: 'api-user', password: PASSWORD }), VIGIL_EVIDENCE_DIR: join(dir, 'evidence') };
  // The test's program runs on 127.0.0.1: a private address, refused by default (see the first fetch below).
  const env = { ...publicOnly, VIGIL_EXCHANGE_ALLOW_PRIVATE_NETWORKS: 'true' };
  const run = (...args: string[]) => runVigil(['--db', db, ...args], env);
  const creds = await run('exchange', 'credentials', 'ncmec', '--env', 'NCMEC_CREDS');
  assert.equal(creds.status, 0, creds.stderr);
  assert.ok(!creds.stdout.includes(PASSWORD));
  const add = await run('exchange', 'add', 'NCMEC_CLI', '--api', 'ncmec', '--api-config', JSON.stringify({ environment: 'https://exttest.cybertip.org/hashsharing', base_url: `${ncmec.url}/hashsharing` }));
  assert.equal(add.status, 0, add.stderr);
  const refused = await runVigil(['--db', db, 'exchange', 'fetch', 'NCMEC_CLI'], publicOnly);
  assert.match(refused.stdout, /FAILED after 0 pages: .*127\.0\.0\.1 is a private address/);
  const partial = await run('exchange', 'fetch', 'NCMEC_CLI', '--max-pages', '1');
  assert.match(partial.stdout, /NCMEC_CLI: 1 pages, \+6 .*stopped early/);
  const rest = await run('exchange', 'fetch', 'NCMEC_CLI', '--json');
  assert.equal(rest.status, 0, rest.stderr);
  assert.equal((JSON.parse(rest.stdout) as { added: number }[])[0]!.added, 9);
  const status = await run('exchange', 'status', 'NCMEC_CLI');
  assert.match(status.stdout, /total \+15 −0/);
  ncmec.fault = () => '500';
  const failed = await run('exchange', 'fetch', 'NCMEC_CLI');
  ncmec.fault = () => undefined;
  assert.equal(failed.status, 1);
  assert.match(failed.stdout, /FAILED/);
  const list = await run('exchange', 'list');
  assert.match(list.stdout, /NCMEC_CLI\s+ncmec\s+yes\s+FAILING \(1\)/);
  const bad = await run('exchange', 'status', 'NCMEC_CLI');
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /FAILING/);
  for (const out of [creds, add, partial, rest, status, failed, list, bad]) assert.ok(!(out.stdout + out.stderr).includes(PASSWORD));
  assert.equal((await run('exchange', 'remove', 'NCMEC_CLI')).status, 0);
});
