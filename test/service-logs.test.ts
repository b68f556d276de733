/**
 * One logger for requests and background work: the HTTP layer logs through the core's pino logger
 * (`vigil.log`), so a request line and a background line come out of the same logger in the same format.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { startTestService } from './_service.js';

test('requests and background work log through the one pino logger of the core', async () => {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info', base: { service: 'vigil' } }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const t = await startTestService({ logger: true, log });
  try {
    assert.equal(t.service.ctx.vigil.log, log);
    assert.equal((await t.service.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    // The first index snapshot is written on the next turn of the event loop after the background work starts.
    await new Promise((resolve) => setImmediate(resolve));
    const request = lines.find((l) => (l.req as { url?: string } | undefined)?.url === '/healthz');
    const background = lines.find((l) => l.msg === 'index snapshot written');
    assert.ok(request, 'the request is logged');
    assert.ok(background, 'background work is logged');
    for (const line of [request, background]) {
      assert.equal(line.service, 'vigil');
      assert.equal(typeof line.time, 'number');
      assert.equal(typeof line.level, 'number');
    }
  } finally {
    await t.close();
  }
});
