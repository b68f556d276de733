/**
 * A `vigil exchange fetch` process killed (SIGKILL) in the middle of a fetch: the next fetch resumes from the
 * checkpoint of the last page it applied and ends with the same bank as an uninterrupted fetch. A real process,
 * because the kill is the point.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hex, md5Of, pdqOf, startNcmecServer, type NcmecServer } from '../src/exchanges/_test-servers.js';
import { loadConfig } from '../src/app/config.js';
import { createVigil } from '../src/app/vigil.js';
import { runVigil } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';
import { vigilNodeArgs } from './helpers/vigil-process.js';

const T0 = 1_750_000_000;
let server: NcmecServer;
let dir: string;
before(async () => {
  dir = tempDir('exchange-kill');
  server = await startNcmecServer({ user: 'k', password: 'kill-test-pw', pageSize: 3 });
  for (let i = 0; i < 14; i++) server.entries.set(String(i), { id: String(i), member: 5, ts: T0 + ((i * 5) % 14), kind: 'image', fingerprints: { md5: md5Of(i), sha1: hex(`k${i}`, 20), pdq: pdqOf(i) } });
});
after(() => server.close());

test('SIGKILL mid-fetch, then fetch again: the same bank as an uninterrupted fetch', async () => {
  const db = join(dir, 'vigil.db');
  const env = { ...process.env, CREDS: JSON.stringify({ user: 'k', password: 'kill-test-pw' }), VIGIL_EVIDENCE_DIR: join(dir, 'evidence'), VIGIL_EXCHANGE_FETCH_INTERVAL_MS: '0', VIGIL_EXCHANGE_ALLOW_PRIVATE_NETWORKS: 'true' };
  const run = (...args: string[]) => runVigil(['--db', db, ...args], env);
  const config = JSON.stringify({ environment: 'https://exttest.cybertip.org/hashsharing', base_url: `${server.url}/hashsharing` });
  assert.equal((await run('exchange', 'credentials', 'ncmec', '--env', 'CREDS')).status, 0);
  for (const name of ['KILLED', 'CLEAN']) assert.equal((await run('exchange', 'add', name, '--api', 'ncmec', '--api-config', config)).status, 0);
  assert.equal((await run('exchange', 'fetch', 'CLEAN')).status, 0);

  // The child fetches KILLED; the server hangs on its 4th page request, and the child is killed there.
  let hung!: () => void;
  const hanging = new Promise<void>((resolve) => (hung = resolve));
  let requests = 0;
  server.fault = () => {
    if (++requests < 4) return undefined;
    hung();
    return 'hang';
  };
  const child = spawn(process.execPath, vigilNodeArgs(['--db', db, 'exchange', 'fetch', 'KILLED']), { env, stdio: 'ignore' });
  await hanging;
  child.kill('SIGKILL');
  await once(child, 'exit');
  server.fault = () => undefined;

  const mid = JSON.parse((await run('exchange', 'status', 'KILLED', '--json')).stdout) as { lastRun: { pages: number }; upToDate: boolean; checkpoint: { next?: string } };
  assert.equal(mid.lastRun.pages, 3);
  assert.equal(mid.upToDate, false);
  assert.match(mid.checkpoint.next ?? '', /start=10/);
  const resumed = await run('exchange', 'fetch', 'KILLED', '--json');
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal((JSON.parse(resumed.stdout) as { pages: number }[])[0]!.pages, 2);

  const vigil = await createVigil(loadConfig({ env: { VIGIL_EVIDENCE_DIR: join(dir, 'evidence') }, flags: { database: { url: db }, log: { level: 'silent' } } }));
  try {
    const contents = async (bank: string) => {
      const out: string[] = [];
      for await (const s of vigil.store.listSignals(bank)) out.push(`${s.type}:${s.value}:${s.sourceId}:${JSON.stringify(s.labels)}:${JSON.stringify({ ...s.metadata, exchange: undefined })}`);
      return out.sort();
    };
    const clean = await contents('CLEAN');
    assert.equal(clean.length, 42);
    assert.deepEqual(await contents('KILLED'), clean);
  } finally {
    await vigil.close();
  }
});
