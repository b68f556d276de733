// Exchange URLs are set over the API: the fetch exchange clients use refuses private addresses, literal or
// resolved, at connect time and on a redirect, without retrying; a public one (here: the policy told that the
// local test server is public) is fetched as before.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { request } from './http.js';
import { publicOnlyFetch } from './public-fetch.js';

let server: Server;
let port: number;
let hits = 0;
before(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/redirect') res.writeHead(302, { location: `http://127.0.0.1:${port}/list` }).end();
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('d41d8cd98f00b204e9800998ecf8427e\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const noSleep = async () => undefined;
// A name that resolves to the loopback address (as DNS rebinding would make it).
const rebinding = ((_host: string, _options: unknown, callback: (err: null, addresses: { address: string; family: number }[]) => void) => callback(null, [{ address: '127.0.0.1', family: 4 }])) as never;

test('a literal private address is refused at once, not retried', async () => {
  const before = hits;
  let sleeps = 0;
  await assert.rejects(request(`http://127.0.0.1:${port}/list`, {}, { fetch: publicOnlyFetch(), sleep: async () => void sleeps++ }), { code: 'VIGIL_ERR_FORBIDDEN' });
  assert.equal(hits, before, 'nothing reached the server');
  assert.equal(sleeps, 0, 'a refused address is not retried');
});

test('a name resolving to a private address is refused by the connection’s own lookup', async () => {
  const before = hits;
  await assert.rejects(request(`http://files.example:${port}/list`, {}, { fetch: publicOnlyFetch({ lookup: rebinding }), sleep: noSleep }), { code: 'VIGIL_ERR_FORBIDDEN', message: /private address/ });
  assert.equal(hits, before);
});

test('an address the policy allows is fetched; a redirect to a literal private address is refused', async () => {
  const fetchLoopback = publicOnlyFetch({ lookup: rebinding, isAllowedAddress: (a) => a === '127.0.0.1' });
  const ok = await request(`http://files.example:${port}/list`, {}, { fetch: fetchLoopback, sleep: noSleep });
  assert.equal(ok.body.toString(), 'd41d8cd98f00b204e9800998ecf8427e\n');
  // The raw fetch follows redirects (request() does not): the first connection is allowed, the redirect's
  // literal address is checked by the connector and refused.
  let allowOnce = 1;
  const firstOnly = publicOnlyFetch({ lookup: rebinding, isAllowedAddress: () => allowOnce-- > 0 });
  const before = hits;
  await assert.rejects(firstOnly(`http://files.example:${port}/redirect`), (err: Error) => /127\.0\.0\.1 is a private address/.test(String((err as { cause?: Error }).cause?.message)));
  assert.equal(hits, before + 1, 'only the redirecting request reached the server');
});
