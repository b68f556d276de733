/**
 * The review UI end to end in a real browser: Playwright (playwright-core) driving the system's Chromium
 * (Debian's `chromium`, found on the PATH; never downloaded), against `vigil serve` with its demo (benign
 * pictures standing in for matched items). Screenshots of the queue and of a blurred item go to
 * test-output/review-e2e/ (ignored by git).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createReadStream } from 'node:fs';
import { seedReviewItem } from '../src/app/_review-seed.js';
import { signMedia } from '../src/service/web/routes.js';
import { SHARED } from './helpers/shared.js';
import { startService, type RunningService } from '../src/service/serve.js';
import { tempDir } from './helpers/temp.js';
import { bounded, CHROMIUM_ARGS, systemChromium } from './helpers/chromium.js';

// The few browser globals the page functions below use (the project compiles without the DOM library).
interface HTMLImageElement { complete: boolean; naturalWidth: number; getAttribute(name: string): string | null }
declare const document: { getElementById(id: string): HTMLImageElement | null; body: { dataset: Record<string, string | undefined> } };
declare function getComputedStyle(el: unknown): { filter: string };

const OUT = resolve('test-output/review-e2e');
// axe-core's browser bundle, injected through the DevTools protocol (the page's CSP forbids inline script).
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
interface AxeResult { violations: { id: string; impact?: string | null; help: string; nodes: { target: unknown[] }[] }[] }
declare const axe: { run(context: unknown, options: unknown): Promise<AxeResult> };
const checked: string[] = [];

/** No serious or critical accessibility violation on the page as it is now (WCAG 2.x A/AA and best practice). */
async function checkA11y(page: Page, name: string): Promise<void> {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 3).join(', ')}`), [], `accessibility of ${name}`);
  checked.push(name);
}
const PASSWORD = 'correct horse battery';


let service: RunningService;
let browser: Browser;
let demo: { name: string; password: string };
let videoItem: number;

before(async () => {
  mkdirSync(OUT, { recursive: true });
  const dir = tempDir('vigil-review-e2e-');
  service = await startService({ storeUrl: join(dir, 'vigil.db'), port: 0, demoDir: join(dir, 'demo'), hashThreads: 1 });
  demo = service.demo!.reviewer!;
  const users = service.ctx.vigil.users;
  await users.createNow({ name: 'bob', role: 'reviewer', childSafety: true, password: PASSWORD }, { actor: 'test' });
  await users.createNow({ name: 'nocs', role: 'reviewer', childSafety: false, password: PASSWORD }, { actor: 'test' });
  await users.createNow({ name: 'carl', role: 'reviewer', childSafety: true, password: PASSWORD }, { actor: 'test' });
  // A benign conformance video (a chair) as a matched item of its own account, last in the queue.
  const v = service.ctx.vigil;
  const stored = await (await v.evidence()).put(createReadStream(join(SHARED, 'conformance/vpdq/videos/chair-20-sd-bar.mp4')));
  const signal = (await v.store.listSignals(service.demo!.bank).next()).value!;
  videoItem = await v.db.transaction((tx) => seedReviewItem(tx, v.records, {
    contentId: 'e2e-video-1', accountId: 'video-account', priority: 1, signals: [signal], evidenceId: stored.id,
    evidence: { keyId: stored.keyId, sha256: stored.sha256, size: stored.size, mediaType: 'mp4' }, at: new Date().toISOString(),
  }));
  browser = await chromium.launch({ executablePath: systemChromium(), headless: true, args: CHROMIUM_ARGS });
});


after(async () => {
  console.log(`axe checked: ${checked.join('; ')}`);
  await bounded('closing the browser', browser?.close());
  await bounded('closing the service', service?.close());
  // Every result is reported by now; a stray handle of the browser's (its pipes) must not keep this file's
  // process alive (seen intermittently with Debian's Chromium): exit once the event loop has had its chance.
  setTimeout(() => process.exit(process.exitCode ?? 0), 5_000).unref();
});

async function signIn(name: string, password: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: service.url });
  // A step that cannot happen fails the test instead of hanging the suite.
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  await page.goto('/review');
  assert.match(page.url(), /\/review\/login$/);
  await page.getByLabel('Sign-in name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return { context, page };
}

async function auditActions(subject: string): Promise<string[]> {
  return (await service.ctx.audit.list({ subject, limit: 100 })).map((e) => e.action);
}

test('a reviewer signs in, sees blurred items, reveals one, confirms one, marks one false positive', async () => {
  const bad = await signIn(demo.name, 'not the password at all');
  assert.match(await bad.page.locator('.flash').innerText(), /Wrong sign-in name or password/);
  await checkA11y(bad.page, 'sign-in (with an error)');
  await bad.context.close();

  const { context, page } = await signIn(demo.name, demo.password);
  assert.match(page.url(), /\/review\/queue$/);
  const rows = page.locator('#queue tbody tr');
  assert.equal(await rows.count(), 4, 'one job per account: two accounts of two demo pictures each, one hash-only submission, one video');
  assert.match(await rows.first().innerText(), /DEMO_BENIGN_SAMPLES/);
  await page.screenshot({ path: join(OUT, 'queue.png') });
  await checkA11y(page, 'queue');

  // Keyboard: J selects the first job, Enter opens it, C claims all of its items.
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/review\/jobs\/a[\w-]+$/);
  const jobUrl = page.url();
  assert.equal(await page.locator('#job-items tbody tr').count(), 2);
  await page.keyboard.press('c');
  await page.waitForSelector('img.thumb');
  assert.equal(await page.locator('img.thumb').count(), 2, 'both items held, both previews blurred');
  assert.match(await page.locator('img.thumb').first().evaluate((el) => getComputedStyle(el).filter), /blur\(24px\).*grayscale\(1\)/);
  assert.match(await page.locator('main').innerText(), /Everything this account matched/);
  await page.screenshot({ path: join(OUT, 'job.png') });
  await checkA11y(page, 'job (claimed)');
  const jobItems = (await service.ctx.records.getReviewItem(1))!;
  assert.equal(jobItems.state, 'claimed', 'the job claim claimed item 1');

  await page.goto('/review/items/1');
  await page.waitForSelector('#media');
  const img = page.locator('#media');
  assert.equal(await img.getAttribute('data-blurred'), 'true');
  await page.waitForFunction(() => (document.getElementById('media') as HTMLImageElement).complete && (document.getElementById('media') as HTMLImageElement).naturalWidth > 0);
  const filter = await img.evaluate((el) => getComputedStyle(el).filter);
  assert.match(filter, /blur\(24px\)/);
  assert.match(filter, /grayscale\(1\)/);
  assert.ok(await img.evaluate((el) => (el as HTMLImageElement).naturalWidth <= 24), 'only a tiny preview before the reveal');
  assert.match(await page.locator('#explain').innerText(), /Rule block-known-match|Rule /);
  assert.equal(await page.locator('#viewed').innerText(), 'no');
  await page.screenshot({ path: join(OUT, 'item-blurred.png') });
  await checkA11y(page, 'item (claimed, blurred)');

  await page.keyboard.press('r');
  await page.waitForFunction(() => document.getElementById('media')!.getAttribute('data-blurred') === 'false');
  await page.waitForFunction(() => (document.getElementById('media') as HTMLImageElement).naturalWidth > 24);
  assert.match(await page.locator('#exposure').innerText(), /revealed this session: 1/);
  await checkA11y(page, 'item (revealed)');
  assert.ok((await auditActions('review_item:1')).includes('review.revealed'));

  await page.keyboard.press('1');
  await page.waitForURL(/\/review\/jobs\/a[\w-]+\?done=1/);
  assert.equal(page.url().split('?')[0], jobUrl, 'back to the job');
  assert.match(await page.locator('.flash').innerText(), /confirmed A1/);
  // Item 3 of this job is still held: given back with the job.
  await page.keyboard.press('u');
  await page.waitForURL(/\/review\/queue$/);
  assert.equal((await service.ctx.records.getReviewItem(3))!.state, 'open');
  const one = (await service.ctx.records.getReviewItem(1))!;
  assert.equal(one.classification, 'A1');
  const decided = (await service.ctx.audit.list({ subject: 'review_item:1', action: 'review.decided' }))[0];
  assert.equal(decided.details.fileViewedByPerson, true);

  // False positive on item 2 (not revealed): the signal gets the opinion, the audit log both entries.
  await page.goto('/review/items/2');
  await page.getByRole('button', { name: /Claim/ }).click();
  await page.getByRole('button', { name: /False positive/ }).click();
  await page.waitForURL(/\/review\/jobs\/a[\w-]+\?done=2/);
  const item2 = await service.ctx.vigil.review.item((await service.ctx.vigil.users.getByName(demo.name))!, 2);
  assert.equal(item2.item.outcome, 'false_positive');
  const signalId = item2.matches[0].signalId;
  assert.deepEqual((await service.ctx.store.listOpinions(signalId)).map((o) => o.kind), ['false_positive']);
  assert.ok((await service.ctx.audit.list({ subject: `signal:${signalId}` })).some((e) => e.action === 'signal.opinion'));
  const fp = (await service.ctx.audit.list({ subject: 'review_item:2', action: 'review.decided' }))[0];
  assert.equal(fp.details.fileViewedByPerson, false, 'nobody revealed item 2');
  await page.goto('/review/items/2');
  assert.match(await page.locator('#explain').innerText(), /false_positive by user:/);
  await checkA11y(page, 'item (decided)');
  await page.goto('/review/prefs');
  await checkA11y(page, 'wellness settings');

  // The hash-only item shows hashes, never an image.
  const hashOnly = (await service.ctx.vigil.review.queue((await service.ctx.vigil.users.getByName(demo.name))!)).find((e) => e.hashOnly)!;
  await page.goto(`/review/items/${hashOnly.item.id}`);
  await page.getByRole('button', { name: /Claim/ }).click();
  await page.waitForSelector('#hash-only');
  assert.equal(await page.locator('img').count(), 0);
  assert.match(await page.locator('#hash-only').innerText(), /[0-9a-f]{32}/);
  await checkA11y(page, 'item (hashes only)');

  // A decision for the whole job: every item of the account the reviewer holds.
  await page.locator('#job-link').click();
  await page.getByRole('button', { name: /^B2/ }).click();
  await page.waitForURL(/\/review\/jobs\/a[\w-]+\?done=job/);
  assert.match(await page.locator('.flash').innerText(), /confirmed, 1 items/);
  await page.waitForSelector('#job-done');
  await checkA11y(page, 'job (done)');
  assert.equal((await service.ctx.records.getReviewItem(hashOnly.item.id))!.classification, 'B2');
  await context.close();
});

test('a video is a contact sheet of sampled frames: blurred and greyscale, revealed like a picture, never played', async () => {
  const { context, page } = await signIn('bob', PASSWORD);
  await page.goto(`/review/items/${videoItem}`);
  await page.getByRole('button', { name: /Claim/ }).click();
  await page.waitForSelector('#media.sheet');
  assert.equal(await page.locator('video, audio').count(), 0, 'no player');
  await page.waitForFunction(() => (document.getElementById('media') as HTMLImageElement).complete && (document.getElementById('media') as HTMLImageElement).naturalWidth > 0);
  assert.match(await page.locator('#media').evaluate((el) => getComputedStyle(el).filter), /blur\(24px\).*grayscale\(1\)/);
  assert.ok(await page.locator('#media').evaluate((el) => (el as HTMLImageElement).naturalWidth <= 24), 'only a tiny preview before the reveal');
  await page.screenshot({ path: join(OUT, 'video-blurred.png') });
  await checkA11y(page, 'item (video, blurred)');
  await page.keyboard.press('r');
  await page.waitForFunction(() => document.getElementById('media')!.getAttribute('data-blurred') === 'false');
  await page.waitForFunction(() => (document.getElementById('media') as HTMLImageElement).naturalWidth > 500, undefined, { timeout: 30_000 });
  assert.match(await page.locator('#media').evaluate((el) => getComputedStyle(el).filter), /grayscale\(1\)/, 'greyscale even when revealed');
  const revealed = (await service.ctx.audit.list({ subject: `review_item:${videoItem}`, action: 'review.revealed' }))[0];
  assert.ok(revealed, 'the reveal is audited');
  await page.keyboard.press('b');
  assert.equal(await page.locator('#media').getAttribute('data-blurred'), 'true');
  await context.close();
});

test('claims: a second reviewer cannot claim a claimed item; an expired claim returns to the queue', async () => {
  const a = await signIn(demo.name, demo.password);
  const b = await signIn('bob', PASSWORD);
  await a.page.goto('/review/items/3');
  await a.page.getByRole('button', { name: /Claim/ }).click();
  await a.page.waitForSelector('#media');
  await b.page.goto('/review/items/3');
  assert.match(await b.page.locator('main').innerText(), /Claimed by user:\d+/);
  await checkA11y(b.page, 'item (claimed by someone else)');
  const status = await b.page.evaluate(async () => (await fetch('/review/items/3/claim', { method: 'POST', headers: { 'x-csrf-token': document.body.dataset.csrf!, accept: 'application/json' } })).status);
  assert.equal(status, 409);
  await b.page.goto('/review/queue');
  assert.doesNotMatch(await b.page.locator('main').innerText(), /demo-account-1/, 'every pending item of that account is held');
  // The lease runs out (moved into the past rather than waited for).
  await service.ctx.vigil.db.k.updateTable('review_items').set({ lease_until: new Date(Date.now() - 1000).toISOString() }).where('id', '=', 3).execute();
  await b.page.goto('/review/queue');
  assert.match(await b.page.locator('#queue').innerText(), /demo-account-1/);
  await b.page.goto('/review/items/3');
  await b.page.getByRole('button', { name: /Claim/ }).click();
  await b.page.waitForSelector('#media');
  await a.context.close();
  await b.context.close();
});

test('media URLs: refused without a session, with another reviewer\'s session, after expiry; no-store when allowed', async () => {
  const a = await signIn(demo.name, demo.password);
  const b = await signIn('bob', PASSWORD);
  await a.page.goto('/review/items/4');
  await a.page.getByRole('button', { name: /Claim/ }).click();
  const url = (await a.page.locator('#media').getAttribute('data-preview'))!;
  const ok = await a.context.request.get(url);
  assert.equal(ok.status(), 200);
  assert.equal(ok.headers()['cache-control'], 'no-store');
  assert.equal(ok.headers()['content-type'], 'image/png');
  assert.equal((await fetch(service.url + url)).status, 401, 'no session');
  assert.equal((await b.context.request.get(url)).status(), 403, "another reviewer's session");
  assert.equal((await a.context.request.get(url.replace(/v=preview/, 'v=full'))).status(), 403, 'a preview link is not a reveal link');
  // Expired: a link signed with this session's own key, its time already past.
  const session = await service.ctx.vigil.db.k.selectFrom('web_sessions').select('media_key').where('user_id', '=', (await service.ctx.vigil.users.getByName(demo.name))!.id).where('ended_at', 'is', null).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
  const exp = Date.now() - 1000;
  const expired = `/review/media/4?v=preview&exp=${exp}&sig=${signMedia(Buffer.from(session.media_key, 'base64url'), 4, 'preview', exp)}`;
  assert.equal((await a.context.request.get(expired)).status(), 403);
  // Released: the link stops working though it has not expired.
  await a.page.getByRole('button', { name: /Release/ }).click();
  assert.equal((await a.context.request.get(url)).status(), 409);
  await a.context.close();
  await b.context.close();
});

test('CSRF, lock-out, sign-out everywhere, and the child-safety grant', async () => {
  const a = await signIn(demo.name, demo.password);
  assert.equal((await a.context.request.post('/review/items/4/claim', { form: {} })).status(), 403, 'no CSRF token');
  assert.equal((await a.context.request.post('/review/items/4/claim', { form: { csrf: 'forged' } })).status(), 403, 'wrong token');
  const csrf = (await a.page.evaluate(() => document.body.dataset.csrf))!;
  assert.equal((await a.context.request.post('/review/items/4/claim', { form: { csrf }, headers: { origin: 'https://evil.example' } })).status(), 403, 'cross-origin');
  assert.equal((await a.context.request.post('/review/items/4/claim', { form: { csrf }, maxRedirects: 0 })).status(), 303);

  for (let i = 0; i < 5; i++) await (await signIn('carl', 'wrong password ' + i)).context.close();
  const locked = await signIn('carl', PASSWORD);
  assert.match(await locked.page.locator('.flash').innerText(), /locked/);
  await locked.context.close();

  const nocs = await signIn('nocs', PASSWORD);
  assert.match(await nocs.page.locator('main').innerText(), /no review queues/);
  await checkA11y(nocs.page, 'queue (no permission)');
  const res = await nocs.page.goto('/review/items/1');
  assert.equal(res!.status(), 403);
  await checkA11y(nocs.page, 'error page');
  // The check itself can fail: an image without a text alternative is a critical violation.
  await nocs.page.evaluate(() => (document as unknown as { querySelector(s: string): { insertAdjacentHTML(p: string, h: string): void } }).querySelector('main').insertAdjacentHTML('beforeend', '<img src="/review/assets/none.png">'));
  await assert.rejects(checkA11y(nocs.page, 'a page broken on purpose'), /image-alt \(critical\)/);
  await nocs.context.close();

  const other = await signIn(demo.name, demo.password);
  await a.page.goto('/review/queue');
  await a.page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await a.page.waitForURL(/\/review\/login$/);
  await other.page.goto('/review/queue');
  assert.match(other.page.url(), /\/review\/login$/, 'the other session ended too');
  await a.context.close();
  await other.context.close();
});
