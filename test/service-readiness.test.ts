/**
 * Matching that cannot go stale silently: /readyz answers 503 once the indexes lag the change feed by more
 * than `matching.maxLagMs` (a store that fails every sync), counts the failures, and recovers with the store.
 * The clock is injected: no waiting.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestService, type TestService } from './_service.js';

let t: TestService;
let offset = 0;
before(async () => {
  // The poll is an hour apart: only the test's syncs run.
  t = await startTestService({ now: () => new Date(Date.now() + offset), pollMs: 3_600_000 });
});
after(() => t.close());

const readyz = async () => {
  const res = await t.service.app.inject({ method: 'GET', url: '/readyz' });
  return { status: res.statusCode, body: res.json<{ ready: boolean }>() };
};
const metric = async (name: string) => {
  const res = await t.service.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${await t.key(['admin'])}` } });
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(res.body)?.[1]);
};

test('/readyz fails when the index lags the feed beyond matching.maxLagMs, and recovers with the store', async () => {
  const { matcher, vigil } = t.service.ctx;
  const maxLagMs = vigil.config.matching.maxLagMs;
  assert.equal((await readyz()).status, 200);

  // The store fails every read of the change feed; time passes beyond the allowed lag.
  const store = vigil.store;
  const changesSince = store.changesSince.bind(store);
  store.changesSince = () => Promise.reject(new Error('connection refused'));
  offset += maxLagMs + 1;
  await assert.rejects(matcher.sync(), /connection refused/);
  const stale = await readyz();
  assert.equal(stale.status, 503);
  assert.equal(stale.body.ready, false);
  assert.equal(matcher.health.syncErrors, 1);
  assert.equal(matcher.health.lastError, 'connection refused');
  assert.ok((await metric('vigil_index_lag_seconds')) > maxLagMs / 1000);
  assert.equal(await metric('vigil_index_sync_errors'), 1);

  // The store comes back: the next sync catches up and the service is ready again.
  store.changesSince = changesSince;
  await matcher.sync();
  assert.equal((await readyz()).status, 200);
  assert.ok((await metric('vigil_index_lag_seconds')) < maxLagMs / 1000);
});
