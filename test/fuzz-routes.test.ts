/**
 * Property-based fuzzing (fast-check) of the HTTP front doors: JSON bodies (any JSON value, deep or odd,
 * `__proto__` keys included) to every JSON route, and multipart bodies (random fields, parts, boundaries and
 * bytes) to the upload routes. The property: every answer is a 2xx or a 4xx in the one error shape — never a
 * 5xx, never a stack trace, and the service keeps answering. FUZZ_RUNS per route (default 40; `npm run fuzz`).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { startTestService, type TestService } from './_service.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
let t: TestService;
let admin = '';

before(async () => {
  t = await startTestService();
  admin = await t.key(['admin']);
  await t.service.app.inject({ method: 'POST', url: '/v1/banks', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'FUZZ_BANK' } });
});
after(() => t.close());

/** JSON routes taken from the app's own OpenAPI document, with their path parameters filled in. */
function jsonRoutes(): { method: string; url: string }[] {
  const spec = t.service.app.swagger() as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, unknown> } }>> };
  const out: { method: string; url: string }[] = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!op.requestBody?.content?.['application/json']) continue;
      out.push({ method: method.toUpperCase(), url: path.replace(/\{name\}/g, 'FUZZ_BANK').replace(/\{[^}]+\}/g, '1') });
    }
  }
  return out;
}

function assertAnswered(status: number, body: string, what: string): void {
  assert.ok(status < 500, `${what} answered ${status}: ${body.slice(0, 300)}`);
  assert.doesNotMatch(body, /\n\s+at .*\(.*:\d+:\d+\)/, `${what}: a stack trace in the answer`);
  if (status >= 400) assert.ok((JSON.parse(body) as { error?: { code?: string } }).error?.code?.startsWith('VIGIL_ERR_'), `${what}: ${body.slice(0, 200)}`);
}

const jsonValue = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }),
  fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'prototype', 'hashes', 'contentId', 'pdq', 'md5', 'rules', 'kind', 'name', 'limit'), fc.jsonValue({ maxDepth: 3 })),
);

test('JSON routes: any JSON body is a 2xx or a clear 4xx, never a 5xx', async () => {
  const routes = jsonRoutes();
  assert.ok(routes.length >= 8, `found ${routes.length} JSON routes`);
  for (const route of routes) {
    await fc.assert(
      fc.asyncProperty(jsonValue, async (value) => {
        const res = await t.service.app.inject({ method: route.method as 'POST', url: route.url, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, payload: JSON.stringify(value) });
        assertAnswered(res.statusCode, res.body, `${route.method} ${route.url}`);
      }),
      { numRuns: RUNS },
    );
  }
});

test('multipart upload routes: random parts, fields, boundaries and bytes never give a 5xx', async () => {
  const part = fc.record({
    name: fc.oneof(fc.constantFrom('file', 'photo', 'video', 'contentId', 'context', 'accountId'), fc.string({ maxLength: 12 })),
    filename: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    body: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('{"__proto__":{"x":1}}', '{"a":[[[[[]]]]]}', '')),
  });
  const routes = ['/v1/content', '/h/hash', '/m/lookup', '/c/bank/FUZZ_BANK/content'];
  for (const url of routes) {
    await fc.assert(
      fc.asyncProperty(fc.array(part, { maxLength: 5 }), fc.boolean(), fc.uint8Array({ maxLength: 64 }), async (parts, broken, noise) => {
        const boundary = 'fuzzboundary';
        const chunks = parts.map((p) => `--${boundary}\r\nContent-Disposition: form-data; name="${p.name.replace(/"/g, '')}"${p.filename !== undefined ? `; filename="${p.filename.replace(/"/g, '')}"` : ''}\r\n\r\n${p.body}\r\n`);
        const payload = Buffer.concat([Buffer.from(chunks.join('')), Buffer.from(noise), Buffer.from(broken ? '' : `--${boundary}--\r\n`)]);
        const res = await t.service.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${admin}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload });
        assertAnswered(res.statusCode, res.body, `POST ${url}`);
      }),
      { numRuns: RUNS },
    );
  }
  const health = await t.service.app.inject({ url: '/healthz' });
  assert.equal(health.statusCode, 200, 'the service still answers');
});
