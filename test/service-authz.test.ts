/**
 * Every route of the OpenAPI document (the HMA routes included) called with no key and with a key of each
 * scope: the answer must be what ONE table says — 401 without a key, 403 without the scope, and past
 * authorisation (never 401/403, never a 5xx) with it. Reads of bank hash values need curate and are
 * audited (data.accessed). Benign data only.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { hasScope, SCOPES, type Scope } from '../src/auth/keys.js';
import { startTestService, type TestService } from './_service.js';
import { DEVICE_ROUTES, ROUTE_SCOPES } from './helpers/route-scopes.js';

/** The one table: each operation and the scope it needs (null: public). */
const REQUIRED = ROUTE_SCOPES;

let t: TestService;
const keys = new Map<Scope, string>();

before(async () => {
  t = await startTestService();
  for (const scope of SCOPES) keys.set(scope, await t.key([scope]));
});
after(() => t.close());

test('every route × no key and every scope: the status the table says', async () => {
  const spec = (await t.service.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
  const operations: string[] = [];
  for (const [path, ops] of Object.entries(spec.paths)) for (const method of Object.keys(ops)) if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) operations.push(`${method.toUpperCase()} ${path}`);
  assert.deepEqual(operations.sort(), Object.keys(REQUIRED).sort(), 'the table covers exactly the routes of the spec (a new route needs a row)');

  const wrong: string[] = [];
  for (const operation of operations) {
    const [method, path] = operation.split(' ') as [string, string];
    const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'id' ? '1' : 'AUTHZ_NONE'));
    const required = REQUIRED[operation]!;
    for (const caller of ['none', ...SCOPES] as const) {
      const key = caller === 'none' ? undefined : keys.get(caller);
      const res = await t.service.app.inject({ method: method as 'GET', url, headers: key ? { authorization: `Bearer ${key}` } : {} });
      // A device key reaches the device routes and nothing else.
      const granted = caller === 'device' ? DEVICE_ROUTES.has(operation) : caller !== 'none' && hasScope({ scopes: [caller] }, required ?? 'admin');
      const expected = required === null ? 'allowed' : caller === 'none' ? 401 : granted ? 'allowed' : 403;
      const ok = expected === 'allowed' ? res.statusCode !== 401 && res.statusCode !== 403 && res.statusCode < 500 : res.statusCode === expected;
      if (!ok) wrong.push(`${operation} as ${caller}: ${res.statusCode}, expected ${expected} (${res.body.slice(0, 120)})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('signal values are read with curate only, and each read is audited as data.accessed', async () => {
  const curator = keys.get('curate')!;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  assert.equal((await t.service.app.inject({ method: 'POST', url: '/v1/banks', headers: auth(curator), payload: { name: 'AUTHZ_BANK' } })).statusCode, 201);
  const added = await t.service.app.inject({ method: 'POST', url: '/v1/banks/AUTHZ_BANK/signals', headers: auth(curator), payload: { type: 'md5', value: '0123456789abcdef0123456789abcdef' } });
  const id = (added.json() as { id: number }).id;
  for (const url of [`/v1/signals/${id}`, `/c/bank/AUTHZ_BANK/content/${id}`]) {
    assert.equal((await t.service.app.inject({ url, headers: auth(keys.get('lookup')!) })).statusCode, 403, `${url} with lookup`);
    const before = (await t.service.ctx.audit.list({ action: 'data.accessed', subject: `signal:${id}` })).length;
    const read = await t.service.app.inject({ url, headers: auth(curator) });
    assert.equal(read.statusCode, 200, url);
    assert.match(read.body, /0123456789abcdef0123456789abcdef/);
    const entries = await t.service.ctx.audit.list({ action: 'data.accessed', subject: `signal:${id}` });
    assert.equal(entries.length, before + 1, `${url} is audited`);
    assert.match(entries.at(-1)!.actor, /^key:k_/);
    assert.ok(entries.at(-1)!.requestId, 'the entry names the request');
  }
  const exported = await t.service.app.inject({ url: '/v1/banks/AUTHZ_BANK/export', headers: auth(curator) });
  assert.equal(exported.statusCode, 200);
  assert.equal((await t.service.ctx.audit.list({ action: 'data.accessed', subject: 'bank:AUTHZ_BANK' })).length, 1, 'an export is audited');
});
