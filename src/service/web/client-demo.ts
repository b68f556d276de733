/**
 * /demo/client (demo mode only): pick a picture, it is hashed in the page (a worker of the client SDK), only
 * hashes go to the server — exact digests through range lookups first — and the decision comes back; the page
 * shows exactly what was sent. Authenticated with the demo's device key, which the page carries: a demo on
 * 127.0.0.1, not a deployment (docs/client.md).
 */
import type { FastifyInstance } from 'fastify';
import { clientBundles, type ClientBundles } from './client-bundle.js';

export interface ClientDemoOptions {
  /** The demo device key's secret (scope 'device' only). */
  deviceKey: string;
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

function page(key: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil — client-side hashing demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:.75rem;overflow:auto;font-size:13px}
#verdict{font-size:1.4rem;font-weight:600}.block{color:#b00020}.allow{color:#1b7f3b}.review{color:#a15c00}</style></head>
<body data-key="${escapeAttr(key)}">
<h1>Client-side hashing</h1>
<p>Pick a picture. It is hashed <strong>in this page</strong> (MD5, SHA-1, SHA-256 and PDQ, in a Web Worker); the picture itself never
leaves the browser. Exact digests are checked privately first (only a 5-digit prefix is sent; see <em>Range lookups</em>), then the
hashes below are posted to <code>POST /v1/content</code> with a device key. The demo bank holds the demo pictures in <code>vigil-demo/</code>.</p>
<label>Picture or MP4 video: <input type="file" id="file" accept="image/*,video/mp4,video/quicktime"></label>
<p id="status" role="status">Ready.</p>
<p id="verdict" data-testid="verdict"></p>
<h2>Hashed in the page</h2><pre id="hashes" data-testid="hashes"></pre>
<h2>Range lookups (what the server saw of the exact digests)</h2><pre id="ranges" data-testid="ranges"></pre>
<h2>Exactly what was sent to POST /v1/content</h2><pre id="sent" data-testid="sent"></pre>
<h2>The decision</h2><pre id="decision" data-testid="decision"></pre>
<script type="module" src="/demo/client/app.js"></script>
</body></html>`;
}

const APP = `import * as sdk from '/demo/client/client.js';
const { HashPool, VigilClient } = sdk;
const pool = new HashPool({ workerUrl: '/demo/client/worker.js', size: 2 });
const client = new VigilClient({ baseUrl: location.origin, apiKey: document.body.dataset.key });
const $ = (id) => document.getElementById(id);
window.vigilDemo = { pool, client, sdk };
async function videoHashes(file) {
  const r = await sdk.hashVideo(file);
  if (!r.supported) throw new Error('this browser cannot hash the video here: ' + r.reason);
  return { vpdq: r.vpdq };
}
$('file').addEventListener('change', async () => {
  const file = $('file').files[0];
  if (!file) return;
  for (const id of ['verdict', 'hashes', 'ranges', 'sent', 'decision']) $(id).textContent = '';
  document.body.dataset.state = 'hashing';
  $('status').textContent = 'Hashing ' + file.name + ' in a worker…';
  try {
    const started = performance.now();
    const video = file.type.startsWith('video/') || /\\.(mp4|m4v|mov)$/i.test(file.name);
    const hashes = video ? await videoHashes(file) : await pool.hash(file);
    $('hashes').textContent = JSON.stringify(hashes, null, 2) + '\\n(' + Math.round(performance.now() - started) + ' ms)';
    $('status').textContent = 'Asking the server…';
    const result = await client.check(hashes, { contentId: 'demo-client-' + crypto.randomUUID() });
    $('ranges').textContent = JSON.stringify(result.ranges, null, 2);
    $('sent').textContent = JSON.stringify(result.sent, null, 2);
    $('decision').textContent = JSON.stringify(result.decision, null, 2);
    $('verdict').textContent = 'Verdict: ' + result.decision.verdict;
    $('verdict').className = result.decision.verdict;
    $('status').textContent = 'Done.';
    document.body.dataset.state = 'done';
  } catch (err) {
    $('status').textContent = 'Failed: ' + err.message;
    document.body.dataset.state = 'failed';
  }
});
document.body.dataset.state = 'ready';
`;

export function clientDemoRoutes(app: FastifyInstance, options: ClientDemoOptions): void {
  const html = page(options.deviceKey);
  const security = { 'content-security-policy': "default-src 'self'; script-src 'self'; worker-src 'self'; style-src 'unsafe-inline'; img-src 'self' blob: data:", 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
  app.get('/demo/client', { schema: { hide: true } }, async (_request, reply) => reply.headers(security).type('text/html; charset=utf-8').send(html));
  app.get('/demo/client/app.js', { schema: { hide: true } }, async (_request, reply) => reply.headers(security).type('text/javascript; charset=utf-8').send(APP));
  for (const name of ['client.js', 'worker.js', 'video.js'] as const satisfies readonly (keyof ClientBundles)[]) {
    app.get(`/demo/client/${name}`, { schema: { hide: true } }, async (_request, reply) => reply.headers(security).type('text/javascript; charset=utf-8').send((await clientBundles())[name]));
  }
}
