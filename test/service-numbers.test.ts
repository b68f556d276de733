/**
 * Every numeric parameter of every route (walked from the app's own OpenAPI document) against the numbers
 * an attacker sends: non-finite, negative, fractional and huge. None may reach the database as a value it
 * cannot store: the answer is a 4xx (or a normal answer), never a 500 (issue #22, §3).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestService, type TestService } from './_service.js';

interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header';
  schema?: { type?: string | string[] };
}
type Spec = { paths: Record<string, Record<string, { parameters?: Parameter[] }>> };

const HOSTILE_NUMBERS = ['-1e309', '1e309', '-Infinity', 'Infinity', 'NaN', '-1', '0', '1.5', '-0.5', '1e3', '99999999999999999999', '9007199254740993', '0x10', ''];

let t: TestService;
let admin: string;
before(async () => {
  t = await startTestService();
  admin = await t.key(['admin']);
});
after(() => t.close());

const isNumeric = (p: Parameter) => {
  const type = p.schema?.type;
  return type === 'integer' || type === 'number' || (Array.isArray(type) && (type.includes('integer') || type.includes('number')));
};

test('no numeric parameter of any route answers 500 to a hostile number', async () => {
  await t.service.app.ready();
  const spec = t.service.app.swagger() as unknown as Spec;
  let tried = 0;
  const failures: string[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const params = op.parameters ?? [];
      for (const target of params.filter(isNumeric)) {
        for (const value of HOSTILE_NUMBERS) {
          let url = path;
          const query = new URLSearchParams();
          for (const p of params) {
            const v = p === target ? value : isNumeric(p) ? '1' : 'x';
            if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(v));
            else if (p.in === 'query' && p === target) query.set(p.name, v);
          }
          const qs = query.toString();
          const res = await t.service.app.inject({ method: method.toUpperCase() as 'GET', url: qs ? `${url}?${qs}` : url, headers: { authorization: `Bearer ${admin}` } });
          tried++;
          if (res.statusCode >= 500) failures.push(`${method.toUpperCase()} ${url}?${qs} → ${res.statusCode} ${res.body.slice(0, 200)}`);
        }
      }
    }
  }
  assert.ok(tried > 100, `only ${tried} requests: the spec walk found too few numeric parameters`);
  assert.deepEqual(failures, []);
});
