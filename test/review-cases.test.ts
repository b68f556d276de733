/**
 * Categorising a triage case from the review UI (/review/cases): investigators only, CSRF-checked, audited
 * with the person and the request, and the category lands on the item or series (app.inject, no browser).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import { stateDirOf } from '../src/app/vigil.js';
import { CaseDb } from '../src/triage/case-db.js';
import { startTestService, type TestService } from './_service.js';

let t: TestService;
before(async () => {
  t = await startTestService();
});
after(async () => t?.close());

async function signIn(name: string, role: 'investigator' | 'reviewer'): Promise<{ cookie: string; csrf: string; id: number }> {
  const vigil = t.service.ctx.vigil;
  const user = await vigil.users.createNow({ name, role, childSafety: true, password: 'correct horse battery' }, { actor: 'test' });
  const { token, session } = await vigil.db.transaction((tx) => vigil.sessions.start(tx, user));
  return { cookie: `vigil_session=${token}`, csrf: session.csrf, id: user.id };
}

it('an investigator sets categories on items and series from the review UI; audited; others are refused', async () => {
  const vigil = t.service.ctx.vigil;
  const { config } = vigil;
  const location = { storeUrl: config.database.url, casesDir: join(stateDirOf(config), 'vigil-cases'), ...(config.database.schema ? { schema: config.database.schema } : {}) };
  const caseDb = await CaseDb.open(location, 'op-ui', { create: true });
  try {
    await caseDb.begin(['/media/x'], {}, new Date());
    await caseDb.write([
      { path: 'a.jpg', kind: 'file', status: 'unknown', type: 'image/jpeg', sha256: 'a'.repeat(64) },
      { path: 'b.jpg', kind: 'file', status: 'unknown', type: 'image/jpeg', sha256: 'b'.repeat(64) },
    ]);
    await sql`UPDATE triage_items SET series = 'series-aaaa' WHERE case_name = 'op-ui'`.execute(caseDb.db.k);
  } finally {
    await caseDb.close();
  }
  const inv = await signIn('ivy', 'investigator');
  const page = await t.service.app.inject({ method: 'GET', url: '/review/cases/op-ui', headers: { cookie: inv.cookie } });
  assert.equal(page.statusCode, 200, page.body);
  assert.match(page.body, /a\.jpg/);
  assert.match(page.body, /series-aaaa/);
  assert.match(page.body, /action="\/review\/cases\/op-ui\/categorise"/);

  const post = (who: { cookie: string }, body: string) =>
    t.service.app.inject({ method: 'POST', url: '/review/cases/op-ui/categorise', headers: { cookie: who.cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: body });
  assert.equal((await post(inv, `csrf=${inv.csrf}&target=item&id=a.jpg&vic=1&uk=`)).statusCode, 303);
  assert.equal((await post(inv, `csrf=${inv.csrf}&target=series&id=series-aaaa&uk=B`)).statusCode, 303);
  assert.equal((await post(inv, `target=item&id=b.jpg&vic=2`)).statusCode, 403, 'no CSRF token');
  assert.equal((await post(inv, `csrf=${inv.csrf}&target=item&id=a.jpg&vic=9`)).statusCode, 400, 'VIC is 0–4');
  const rev = await signIn('rex', 'reviewer');
  assert.equal((await post(rev, `csrf=${rev.csrf}&target=item&id=b.jpg&vic=2`)).statusCode, 403, 'a reviewer is not an investigator');
  assert.equal((await t.service.app.inject({ method: 'GET', url: '/review/cases/op-ui', headers: { cookie: rev.cookie } })).statusCode, 403);

  const reopened = await CaseDb.open(location, 'op-ui');
  try {
    const rows = new Map<string, { vicCategory?: number }>();
    for await (const r of reopened.items()) rows.set(r.path, r);
    assert.equal(rows.get('a.jpg')?.vicCategory, 1);
    assert.equal(rows.get('b.jpg')?.vicCategory, undefined);
    const s = (await sql<{ uk_category: string }>`SELECT uk_category FROM triage_series WHERE case_name = 'op-ui' AND series = 'series-aaaa'`.execute(reopened.db.k)).rows[0];
    assert.equal(s.uk_category, 'B');
  } finally {
    await reopened.close();
  }
  const entries = (await sql<{ action: string; actor: string }>`SELECT action, actor FROM audit_log WHERE action LIKE 'case.%' ORDER BY seq`.execute(vigil.db.k)).rows;
  assert.deepEqual(entries.map((e) => [e.action, e.actor]), [['case.item.categorised', `user:${inv.id}`], ['case.series.categorised', `user:${inv.id}`]]);
});
