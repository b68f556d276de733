import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestService, type TestService } from './_service.js';

let t: TestService;
before(async () => {
  t = await startTestService({ demo: true });
});
after(() => t.close());

test('demo: an upload of a demo picture is blocked, with matches, fired rule and actions; a retry replays', async () => {
  const secret = readFileSync(join(t.dir, 'demo', 'demo-api-key'), 'utf8').trim();
  const form = new FormData();
  form.set('contentId', 'c-1');
  form.set('accountId', 'a-1');
  form.set('file', new Blob([readFileSync(join(t.dir, 'demo', 'sunset.png'))]), 'sunset.png');
  const first = await fetch(`${t.url}/v1/content`, { method: 'POST', headers: { authorization: `Bearer ${secret}` }, body: form });
  assert.equal(first.status, 200);
  const body = (await first.json()) as { verdict: string; matches: { signalType: string }[]; fired: { ruleId: string }[]; actions: { type: string; status: string }[]; replayed: boolean; decisionId: number };
  assert.equal(body.verdict, 'block');
  assert.deepEqual(body.matches.map((m) => m.signalType).sort(), ['md5', 'pdq']);
  assert.ok(body.fired.length > 0);
  assert.ok(body.actions.some((a) => a.type === 'preserve_evidence' && a.status === 'done'));
  assert.equal(body.replayed, false);
  const again = await fetch(`${t.url}/v1/content`, { method: 'POST', headers: { authorization: `Bearer ${secret}` }, body: form });
  const replay = (await again.json()) as { replayed: boolean; decisionId: number };
  assert.equal(replay.replayed, true);
  assert.equal(replay.decisionId, body.decisionId);
});

test('a port in use is a clear usage error, and nothing is left running', async () => {
  const port = Number(new URL(t.url).port);
  await assert.rejects(startTestService({ port }), (err: Error & { code?: string }) => err.code === 'VIGIL_ERR_INVALID_ARGUMENT' && /EADDRINUSE/.test(err.message));
});
