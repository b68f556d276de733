/**
 * List imports run as jobs (issue #22, §2): 202 with a job to poll, progress, the parsing on a worker
 * thread, and the service answering while an import is known to be mid-way; format errors name what the
 * client sent, never a server path (§4).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { ListItem } from '../src/lists/types.js';
import { startTestService, type TestService } from './_service.js';

let t: TestService;
let curator: string;
before(async () => {
  t = await startTestService();
  curator = await t.key(['curate']);
});
after(() => t.close());

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const auth = () => ({ authorization: `Bearer ${curator}` });

test('an import answers 202 with a job; /healthz answers while the import is mid-way; the job reports progress and its result', async () => {
  const rows = 20_000;
  const list = Array.from({ length: rows }, (_, i) => md5(`benign-${i}`)).join('\n');
  // The store is paused after the first batch of items, so the import is known to be mid-way.
  const store = t.service.ctx.store;
  const importList = store.importList.bind(store);
  let midway!: () => void;
  const reached = new Promise<void>((resolve) => (midway = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  store.importList = (bank, items, options) =>
    importList(bank, (async function* () {
      let n = 0;
      for await (const item of items as AsyncIterable<ListItem>) {
        if (++n === 1) {
          midway();
          await released;
        }
        yield item;
      }
    })(), options);
  try {
    const res = await t.service.app.inject({ method: 'POST', url: '/v1/banks/IMPORT_JOB_BANK/import?format=plain&create=true&fileName=benign.txt', headers: { ...auth(), 'content-type': 'text/plain' }, payload: list });
    assert.equal(res.statusCode, 202, res.body);
    const job = res.json() as { id: string; state: string };
    assert.equal(res.headers.location, `/v1/banks/IMPORT_JOB_BANK/imports/${job.id}`);
    await reached;
    const health = await t.service.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    const running = (await t.service.app.inject({ method: 'GET', url: `/v1/banks/IMPORT_JOB_BANK/imports/${job.id}`, headers: auth() })).json() as { state: string; progress: { rows: number; totalBytes: number } };
    assert.equal(running.state, 'running');
    assert.equal(running.progress.totalBytes, Buffer.byteLength(list));
    release();
    await t.service.ctx.imports!.whenDone(job.id);
    const done = (await t.service.app.inject({ method: 'GET', url: `/v1/banks/IMPORT_JOB_BANK/imports/${job.id}`, headers: auth() })).json() as { state: string; result: { inserted: number }; progress: { bytesRead: number; totalBytes: number } };
    assert.equal(done.state, 'done');
    assert.equal(done.result.inserted, rows);
    assert.equal(done.progress.bytesRead, done.progress.totalBytes);
  } finally {
    store.importList = importList;
  }
});

test('an undetectable list format names the client\'s file, never the server\'s temp path', async () => {
  const res = await t.service.app.inject({ method: 'POST', url: '/v1/banks/IMPORT_JOB_BANK/import?fileName=notes.bin', headers: { ...auth(), 'content-type': 'application/octet-stream' }, payload: Buffer.from([0, 1, 2, 3, 255, 254, 7, 9]) });
  assert.equal(res.statusCode, 400);
  const message = (res.json() as { error: { message: string } }).error.message;
  assert.match(message, /"notes\.bin"/);
  assert.doesNotMatch(message, /vigil-uploads|\/tmp\/|[0-9a-f]{8}-[0-9a-f]{4}-/);
  const anonymous = await t.service.app.inject({ method: 'POST', url: '/v1/banks/IMPORT_JOB_BANK/import', headers: { ...auth(), 'content-type': 'application/octet-stream' }, payload: Buffer.from([0, 1, 2, 3]) });
  assert.match((anonymous.json() as { error: { message: string } }).error.message, /the uploaded list/);
});

test('an unknown job is 404', async () => {
  const res = await t.service.app.inject({ method: 'GET', url: '/v1/banks/IMPORT_JOB_BANK/imports/nope', headers: auth() });
  assert.equal(res.statusCode, 404);
});
