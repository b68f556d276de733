/**
 * The demo for a fresh clone: a few synthetic, benign pictures (gradients and shapes, drawn here) written to
 * a folder, a bank holding their hashes (standing in for a real list, which operators load themselves), and
 * an admin API key, so `npm start` shows a match end to end in one command.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Vigil } from '../app/vigil.js';
import sharp from 'sharp';
import type { ApiKeyStore } from '../auth/keys.js';
import type { FileHashRecord } from '../hashing/hash-file.js';
import type { ListItem } from '../lists/types.js';
import type { Store } from '../store/types.js';

export const DEMO_BANK = 'DEMO_BENIGN_SAMPLES';

const PICTURES: Record<string, string> = {
  'sunset.png': `<rect width="640" height="480" fill="url(#g)"/><defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#1d2b64"/><stop offset="1" stop-color="#f8cdda"/></linearGradient></defs><circle cx="420" cy="300" r="90" fill="#ffb347"/><rect y="360" width="640" height="120" fill="#2c3e50"/>`,
  'mountains.png': `<rect width="640" height="480" fill="#87ceeb"/><polygon points="0,480 180,140 360,480" fill="#4b6043"/><polygon points="220,480 430,90 640,480" fill="#65755a"/><polygon points="395,155 430,90 465,155" fill="#ffffff"/>`,
  'checkers.png': Array.from({ length: 48 }, (_, i) => `<rect x="${(i % 8) * 80}" y="${Math.floor(i / 8) * 80}" width="80" height="80" fill="${(i + Math.floor(i / 8)) % 2 ? '#222' : '#e8e8e8'}"/>`).join(''),
  'balloons.png': `<rect width="640" height="480" fill="#fdf6e3"/>${[['#e74c3c', 150, 200], ['#3498db', 300, 150], ['#2ecc71', 450, 230], ['#f1c40f', 240, 320]].map(([c, x, y]) => `<ellipse cx="${x}" cy="${y}" rx="55" ry="70" fill="${c}"/><line x1="${x}" y1="${Number(y) + 70}" x2="${x}" y2="470" stroke="#555" stroke-width="2"/>`).join('')}`,
};

/** Writes the demo pictures (once) and returns their paths. */
export async function writeDemoPictures(dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const paths: string[] = [];
  for (const [name, body] of Object.entries(PICTURES)) {
    const path = join(dir, name);
    if (!existsSync(path)) await sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">${body}</svg>`)).png().toFile(path);
    paths.push(path);
  }
  return paths;
}

/** Creates the demo bank from the pictures' MD5 and PDQ when the store has no banks yet. */
export async function ensureDemoBank(store: Store, paths: string[], hashFile: (path: string) => Promise<FileHashRecord>): Promise<boolean> {
  if ((await store.listBanks()).length > 0) return false;
  await store.createBank({ name: DEMO_BANK, description: 'Hashes of synthetic benign demo pictures (vigil-demo/), standing in for a real hash list', kind: 'block', source: 'Vigil demo' });
  const items: ListItem[] = [];
  for (const [i, path] of paths.entries()) {
    const r = await hashFile(path);
    if (!r.md5 || !r.pdq) continue;
    items.push({ kind: 'record', line: i + 1, record: { signals: [{ type: 'md5', value: r.md5 }, { type: 'pdq', value: r.pdq }], labels: { tags: ['demo'] }, sourceId: `demo-${i + 1}`, fileName: path.split('/').pop()! } });
  }
  await store.importList(DEMO_BANK, items, { format: 'demo', fileName: 'vigil-demo' });
  return true;
}

/** How long the demo admin key lives: a demo, not a deployment's credential. */
export const DEMO_KEY_DAYS = 30;

export interface DemoKey {
  /** Where the secret is kept (0600). */
  file: string;
  /** The secret: only when the key was created by this call, so it is printed once. */
  secret?: string;
  expiresAt: string | null;
  /** The kept key no longer authenticates (expired or revoked). */
  expired?: boolean;
}

/**
 * The demo admin key: created once, only when no other key exists (a deployment with real keys gets no
 * demo key), expiring after DEMO_KEY_DAYS days, its secret kept in `<dir>/demo-api-key` (0600). The secret
 * is returned only when created here; later starts get where it is kept.
 */
export async function ensureDemoKey(keys: ApiKeyStore, dir: string, now: () => Date = () => new Date()): Promise<DemoKey | undefined> {
  const file = join(dir, 'demo-api-key');
  if (existsSync(file)) {
    const key = await keys.authenticate(readFileSync(file, 'utf8').trim());
    return key ? { file, expiresAt: key.expiresAt } : { file, expiresAt: null, expired: true };
  }
  if ((await keys.list()).length > 0) return undefined;
  const expiresAt = new Date(now().getTime() + DEMO_KEY_DAYS * 86_400_000).toISOString();
  const { secret } = await keys.createNow({ name: 'demo', scopes: ['admin'], expiresAt }, { actor: 'system:demo' });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return { file, secret, expiresAt };
}

export const DEMO_REVIEWER = 'demo-reviewer';

/**
 * The review demo: a reviewer with the child-safety grant (only when nobody has an account yet; the password
 * is kept in `<dir>/demo-reviewer-password`, 0600) and, on a store with no review items, the demo pictures
 * submitted through the pipeline as two accounts' uploads — benign pictures standing in for matched items —
 * plus one hash-only submission.
 */
export async function ensureDemoReview(vigil: Vigil, dir: string, paths: readonly string[]): Promise<{ name: string; password: string } | undefined> {
  const file = join(dir, 'demo-reviewer-password');
  let login: { name: string; password: string } | undefined;
  if (existsSync(file) && (await vigil.users.getByName(DEMO_REVIEWER))) {
    login = { name: DEMO_REVIEWER, password: readFileSync(file, 'utf8').trim() };
  } else if ((await vigil.users.list()).length === 0) {
    const password = randomBytes(12).toString('base64url');
    await vigil.users.createNow({ name: DEMO_REVIEWER, displayName: 'Demo reviewer', role: 'senior_reviewer', childSafety: true, password }, { actor: 'system:demo' });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, password + '\n', { mode: 0o600 });
    login = { name: DEMO_REVIEWER, password };
  }
  if ((await vigil.records.listReviewItems({ state: 'open', limit: 1 })).length === 0 && (await vigil.records.countOpen()).reviewItems === 0) {
    for (const [i, path] of paths.entries()) {
      await vigil.pipeline.submitFile({ contentId: `demo-upload-${i + 1}`, accountId: `demo-account-${(i % 2) + 1}`, actor: 'system:demo', context: { surface: 'demo', uploadedAt: new Date().toISOString() } }, path);
    }
    const first = await vigil.hashFile(paths[0]);
    if (first.md5) await vigil.pipeline.submitHashes({ contentId: 'demo-hash-only-1', accountId: 'demo-account-3', actor: 'system:demo', context: { surface: 'demo (client-side hashing)' } }, { md5: first.md5 });
  }
  return login;
}

/**
 * The client demo's device key (/demo/client): scope 'device' only, kept in `<dir>/demo-device-key` (0600).
 * Created only beside a live demo admin key (a demo, not a deployment with keys of its own); expires with it.
 */
export async function ensureDemoDeviceKey(keys: ApiKeyStore, dir: string, demoKey: DemoKey | undefined, now: () => Date = () => new Date()): Promise<string | undefined> {
  const file = join(dir, 'demo-device-key');
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    return (await keys.authenticate(secret)) ? secret : undefined;
  }
  if (!demoKey || demoKey.expired) return undefined;
  const expiresAt = demoKey.expiresAt ?? new Date(now().getTime() + DEMO_KEY_DAYS * 86_400_000).toISOString();
  const { secret } = await keys.createNow({ name: 'demo-device', scopes: ['device'], expiresAt }, { actor: 'system:demo' });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}
