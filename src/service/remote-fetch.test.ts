/**
 * Remote fetch: public addresses (IPv4, IPv6, names) are fetched; private ones are refused, as literals and
 * after DNS resolution, with the check made on the address the socket connects to.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fetchRemote, isPublicAddress } from './remote-fetch.js';

const PUBLIC = ['1.1.1.1', '8.8.8.8', '93.184.216.34', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:1.1.1.1', '64:ff9b::808:808', '2002:0808:0808::1'];
const PRIVATE = [
  '0.0.0.0', '0.1.2.3', '10.0.0.1', '100.64.0.1', '100.127.255.254', '127.0.0.1', '127.255.255.254', '169.254.169.254', '172.16.0.1', '172.31.255.255', '192.168.1.1',
  '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1', '192.0.2.1', '198.18.0.1',
  '::', '::1', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '2001:db8::1',
  '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::127.0.0.1', '::10.0.0.1', '::ffff:0:127.0.0.1',
  '64:ff9b::7f00:1', '64:ff9b::a00:1', '64:ff9b:1::808:808', '2002:7f00:1::1', '2002:c0a8:101::1',
  '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo whose client is 127.0.0.1 (XOR-ed)
];

test('isPublicAddress: public unicast IPv4/IPv6 (and forms embedding a public IPv4) pass', () => {
  for (const a of PUBLIC) assert.equal(isPublicAddress(a), true, a);
});

test('isPublicAddress: private, loopback, link-local, CGNAT, multicast, reserved, ULA, mapped, compatible, NAT64, 6to4, Teredo are refused', () => {
  for (const a of PRIVATE) assert.equal(isPublicAddress(a), false, a);
  assert.equal(isPublicAddress('not-an-address'), false);
});

describe('fetchRemote against a local server', () => {
  let server: Server;
  let port: number;
  let v6 = true;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/redirect') return void res.writeHead(302, { location: 'http://127.0.0.1/' }).end();
      const body = `hello ${req.url}`;
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': Buffer.byteLength(body) }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '::', resolve)).catch(() => (v6 = false));
    if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const text = async (stream: NodeJS.ReadableStream) => {
    let s = '';
    for await (const chunk of stream) s += String(chunk);
    return s;
  };
  // The test's stand-in for "the public internet": the loopback addresses of this machine.
  const loopbackIsPublic = (a: string) => a === '127.0.0.1' || a === '::1' || isPublicAddress(a);
  const resolver = (answers: Record<string, { address: string; family: number }[]>): LookupFunction => (hostname, _options, callback) => {
    const found = answers[hostname];
    if (!found) return callback(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }), '', 0);
    (callback as unknown as (e: null, a: typeof found) => void)(null, found);
  };

  test('public IPv4 and IPv6 literals are fetched', async () => {
    const v4 = await fetchRemote(`http://127.0.0.1:${port}/a.png`, { maxBytes: 1000, isAllowedAddress: loopbackIsPublic });
    assert.equal(v4.headers['content-type'], 'image/png');
    assert.equal(await text(v4), 'hello /a.png');
    if (v6) assert.equal(await text(await fetchRemote(`http://[::1]:${port}/b.png`, { maxBytes: 1000, isAllowedAddress: loopbackIsPublic })), 'hello /b.png');
  });

  test('a name resolving to public addresses is fetched (v4 and v6)', async () => {
    const lookup = resolver({ 'public.example': [{ address: '127.0.0.1', family: 4 }], 'public6.example': [{ address: '::1', family: 6 }] });
    assert.equal(await text(await fetchRemote(`http://public.example:${port}/c.png`, { maxBytes: 1000, isAllowedAddress: loopbackIsPublic, lookup })), 'hello /c.png');
    if (v6) assert.equal(await text(await fetchRemote(`http://public6.example:${port}/d.png`, { maxBytes: 1000, isAllowedAddress: loopbackIsPublic, lookup })), 'hello /d.png');
  });

  test('every private literal is refused before connecting (403 VIGIL_ERR_FORBIDDEN)', async () => {
    for (const a of PRIVATE) {
      const url = a.includes(':') ? `http://[${a}]:${port}/x` : `http://${a}:${port}/x`;
      await assert.rejects(fetchRemote(url, { maxBytes: 1000 }), (err: { code: string }) => err.code === 'VIGIL_ERR_FORBIDDEN', url);
    }
  });

  test('a name resolving to any private address is refused at connect time (DNS rebinding included)', async () => {
    const answers: Record<string, { address: string; family: number }[]> = {};
    for (const [i, a] of PRIVATE.entries()) answers[`h${i}.example`] = [{ address: a, family: a.includes(':') ? 6 : 4 }];
    answers['mixed.example'] = [{ address: '1.1.1.1', family: 4 }, { address: '10.0.0.1', family: 4 }];
    const lookup = resolver(answers);
    for (const host of Object.keys(answers)) {
      await assert.rejects(fetchRemote(`http://${host}:${port}/x`, { maxBytes: 1000, lookup }), (err: { code: string }) => err.code === 'VIGIL_ERR_FORBIDDEN', host);
    }
    // Rebinding: only the first answer is allowed, any later one is not. One lookup, made by the connection
    // itself, is checked and connected to (a check-then-fetch would resolve twice and reach the second).
    let calls = 0;
    const onlyFirst = (a: string) => a === '127.0.0.1';
    const rebinding: LookupFunction = (hostname, options, callback) => resolver({ [hostname]: [{ address: calls++ === 0 ? '127.0.0.1' : '127.0.0.2', family: 4 }] })(hostname, options, callback);
    assert.equal(await text(await fetchRemote(`http://rebind.example:${port}/r`, { maxBytes: 1000, isAllowedAddress: onlyFirst, lookup: rebinding })), 'hello /r');
    assert.equal(calls, 1, 'one lookup, made by the connection itself');
    await assert.rejects(fetchRemote(`http://rebind.example:${port}/r`, { maxBytes: 1000, isAllowedAddress: onlyFirst, lookup: rebinding }), (err: { code: string }) => err.code === 'VIGIL_ERR_FORBIDDEN');
  });

  test('allowPrivateNetworks lets the operator fetch from private hosts; redirects, other schemes and oversize files are refused', async () => {
    assert.equal(await text(await fetchRemote(`http://127.0.0.1:${port}/e`, { maxBytes: 1000, allowPrivateNetworks: true })), 'hello /e');
    await assert.rejects(fetchRemote(`http://127.0.0.1:${port}/redirect`, { maxBytes: 1000, allowPrivateNetworks: true }), (err: { code: string }) => err.code === 'VIGIL_ERR_UNREADABLE');
    await assert.rejects(fetchRemote('file:///etc/passwd', { maxBytes: 1000 }), (err: { code: string }) => err.code === 'VIGIL_ERR_INVALID_ARGUMENT');
    await assert.rejects(fetchRemote(`http://127.0.0.1:${port}/big`, { maxBytes: 3, allowPrivateNetworks: true }), (err: { code: string }) => err.code === 'VIGIL_ERR_PAYLOAD_TOO_LARGE');
    await assert.rejects(fetchRemote(`http://nowhere.example:${port}/x`, { maxBytes: 1000, lookup: resolver({}) }), (err: { code: string }) => err.code === 'VIGIL_ERR_UNREADABLE');
  });
});
