// Remote matchers through the service: a fake Arachnid Shield, the API's answer and the metric.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { startTestService, type TestService } from './_service.js';

// Benign stand-in: a PDQ the fake service "knows", answered with its integration value `test`.
const KNOWN = Buffer.alloc(32, 0x5a);
let up = true;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (!up) return void res.writeHead(503).end();
    const { hashes } = JSON.parse(Buffer.concat(chunks).toString()) as { hashes: string[] };
    const scanned = Object.fromEntries(hashes.map((h) => [h, h === KNOWN.toString('base64') ? { classification: 'test', match_type: 'near' } : { classification: 'no-known-match', match_type: null }]));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ scanned_hashes: scanned }));
  });
});
let t: TestService;
let key = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await startTestService({ remoteMatchers: { arachnid: { enabled: true, baseUrl, username: 'u', password: 'shield-secret', timeoutMs: 10_000 } } });
  key = await t.key(['submit', 'admin']);
});
after(async () => {
  await t.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function submit(contentId: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${t.url}/v1/content`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify({ contentId, hashes: { pdq: [KNOWN.toString('hex')] } }) });
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>;
}

test('POST /v1/content: remote matches and the remote check in the answer; a failure counted', async () => {
  const hit = await submit('remote-1');
  assert.deepEqual(hit.remote, [{ matcher: 'arachnid', status: 'ok', matches: 1 }]);
  const [m] = hit.matches as { bank: string; remote: unknown; labels: unknown }[];
  assert.equal(m!.bank, 'remote:arachnid');
  assert.deepEqual(m!.remote, { matcher: 'arachnid-shield', classification: 'test', matchType: 'near' });
  assert.equal(hit.verdict, 'review', 'the default rules: a near remote match is medium confidence, reviewed');
  up = false;
  const down = await submit('remote-2');
  assert.equal((down.remote as { status: string }[])[0]!.status, 'failed');
  const metrics = await (await fetch(`${t.url}/metrics`, { headers: { 'x-api-key': key } })).text();
  assert.match(metrics, /vigil_remote_checks_total\{matcher="arachnid",status="ok"\} 1/);
  assert.match(metrics, /vigil_remote_checks_total\{matcher="arachnid",status="failed"\} 1/);
  assert.ok(!metrics.includes('shield-secret'));
});
