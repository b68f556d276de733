import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ArachnidShieldMatcher } from './arachnid-shield.js';

// Benign stand-ins: one hash the fake service "knows" (answered with the integration value `test`), one it does not.
const KNOWN = Buffer.alloc(32, 0x5a);
const OTHER = Buffer.alloc(32, 0x13);
const auth = `Basic ${Buffer.from('shield-user:shield-pass').toString('base64')}`;
let url = '';
let calls = 0;
const bodies: string[] = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    calls++;
    if (req.headers.authorization !== auth) return void res.writeHead(401).end();
    if (calls === 1) return void res.writeHead(429, { 'retry-after': '0' }).end();
    const body = Buffer.concat(chunks);
    bodies.push(req.url === '/v1/pdq/' ? body.toString() : `${req.headers['content-type']}:${body.length}`);
    if (req.url === '/v1/pdq/') {
      const { hashes } = JSON.parse(body.toString()) as { hashes: string[] };
      const scanned = Object.fromEntries(hashes.map((h) => [h, h === KNOWN.toString('base64') ? { classification: 'test', match_type: 'near', near_match_details: [] } : { classification: 'no-known-match', match_type: null }]));
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ scanned_hashes: scanned }));
    }
    if (req.url === '/v1/media/') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sha1_base32: 'X', sha256_hex: 'ab'.repeat(32), classification: 'test', match_type: 'exact', size_bytes: body.length, near_match_details: [] }));
    res.writeHead(404).end();
  });
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('Arachnid Shield: PDQ lookups by view (429 retried), media scans, remote classification kept', async () => {
  const shield = new ArachnidShieldMatcher({ username: 'shield-user', password: 'shield-pass', baseUrl: url }, { sleep: async () => undefined });
  const hits = await shield.match({ pdq: [{ view: 'original', quality: 100, hashes: [KNOWN] }, { view: 'trimmed', quality: 100, hashes: [OTHER] }] });
  assert.deepEqual(hits.map((h) => [h.signalType, h.value, h.view, h.classification, h.matchType]), [['pdq', KNOWN.toString('hex'), 'original', 'test', 'near']]);
  assert.deepEqual(JSON.parse(bodies[0]!), { hashes: [KNOWN.toString('base64'), OTHER.toString('base64')] });
  const media = await shield.matchMedia(Buffer.from('benign bytes'), 'image/jpeg');
  assert.equal(media[0]!.classification, 'test');
  assert.equal(media[0]!.matchType, 'exact');
  assert.equal(bodies[1], 'image/jpeg:12');
  assert.deepEqual(await shield.match({}), []);
  const wrong = new ArachnidShieldMatcher({ username: 'shield-user', password: 'nope', baseUrl: url });
  await assert.rejects(wrong.match({ pdq: [{ view: 'original', quality: 100, hashes: [KNOWN] }] }), (err: Error) => /401 \(check the exchange credentials\)/.test(err.message) && !err.message.includes('nope'));
});
