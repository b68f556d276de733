// Two processes over one database (an API process and a long-running worker): the worker delivers webhooks
// to the endpoints of the rules in force now, not those it loaded at start-up.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuditLog } from '../audit/log.js';
import { COMPONENTS } from '../app/vigil.js';
import { DecisionRecords } from '../records/decisions.js';
import { migrate } from '../state/migrate.js';
import { ENGINES, type TestDatabase } from '../state/test-engines.js';
import { storeOver } from '../store/store.js';
import { RulesState } from './rules-state.js';

const rules = (url: string) => ({
  version: 1,
  webhooks: { platform: { url, secretEnv: 'HOOK_SECRET' } },
  rules: [{ id: 'notify', description: 'tell the platform', when: {}, then: [{ type: 'notify', webhook: 'platform' }] }],
});

for (const engine of ENGINES) describe(`rules state across processes (${engine.name})`, () => {
  let t: TestDatabase;
  before(async () => {
    t = await engine.open();
    await storeOver(t.db);
    await migrate(t.db, COMPONENTS);
  });
  after(() => t.drop());

  test("a worker's webhook endpoints follow rules changed by another process", async () => {
    const open = () => RulesState.load({ db: t.db, records: new DecisionRecords(t.db), audit: new AuditLog(t.db), secrets: { HOOK_SECRET: 's3cret' } });
    const api = await open();
    await api.replace(rules('https://hooks.example.org/v1'), { actor: 'admin' });
    const worker = await open();
    assert.equal((await worker.freshEndpoint('platform'))?.url, 'https://hooks.example.org/v1');

    await api.replace(rules('https://hooks.example.org/v2'), { actor: 'admin' });
    assert.equal(worker.endpoint('platform')?.url, 'https://hooks.example.org/v1', 'the copy loaded before the change');
    assert.deepEqual(await worker.freshEndpoint('platform'), { name: 'platform', url: 'https://hooks.example.org/v2', secret: 's3cret' });
    assert.equal(await worker.freshEndpoint('nobody'), undefined);
  });
});
