import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { appendKeyToFile, KeyRing, loadOrCreateKeyFile } from './keyring.js';
import { evidenceConfigFromEnv, keyRingOf, openEvidenceStore } from './open.js';
import { bufferSource } from './store.js';

const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-evkeys-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const b64 = () => randomBytes(32).toString('base64');

test('key text: id:base64 entries by line or comma, the last active unless named; bad entries named', () => {
  const [a, b] = [b64(), b64()];
  const ring = new KeyRing(KeyRing.parse(`# keys\nk1:${a}\n k2:${b} \n`, 'file'));
  assert.deepEqual([ring.ids, ring.active.id], [['k1', 'k2'], 'k2']);
  assert.equal(new KeyRing(KeyRing.parse(`k1:${a},k2:${b}`, 'env'), 'k1').active.id, 'k1');
  assert.equal(new KeyRing(KeyRing.parse(a, 'env')).active.id, 'default', 'a bare key (single-key releases) is "default"');
  assert.throws(() => KeyRing.parse('k1:c2hvcnQ=', 'VIGIL_EVIDENCE_KEYS'), { code: 'VIGIL_ERR_INVALID_ARGUMENT', message: /VIGIL_EVIDENCE_KEYS entry "k1"/ });
  assert.throws(() => new KeyRing(KeyRing.parse(`k1:${a}`, 'env'), 'k9'), { code: 'VIGIL_ERR_INVALID_ARGUMENT', message: /"k9" is not among/ });
  assert.throws(() => new KeyRing(KeyRing.parse(`k1:${a},k1:${b}`, 'env')), { message: /given twice/ });
  assert.throws(() => new KeyRing(KeyRing.parse(`bad id:${a}`, 'env')), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  assert.throws(() => ring.get('k3'), { code: 'VIGIL_ERR_EVIDENCE_KEY_UNKNOWN' });
});

test('key file: generated once (0600), reused, appended to on rotation; a single-key file still reads', () => {
  const file = join(dir(), 'evidence.key');
  const first = loadOrCreateKeyFile(file);
  assert.equal(first.generated, true);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const again = loadOrCreateKeyFile(file);
  assert.deepEqual([again.generated, again.keys], [false, first.keys]);
  const id = appendKeyToFile(file);
  const ring = new KeyRing(loadOrCreateKeyFile(file).keys);
  assert.deepEqual([ring.ids, ring.active.id], [[first.keys[0].id, id], id]);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(join(file, '..')), ['evidence.key'], 'no temp file left');
  const legacy = join(dir(), 'old.key');
  writeFileSync(legacy, b64() + '\n', { mode: 0o600 });
  assert.equal(new KeyRing(loadOrCreateKeyFile(legacy).keys).active.id, 'default');
});

test('configuration: environment keys win; PostgreSQL needs configured keys; a generated demo key warns', async () => {
  const d = dir();
  const k = b64();
  const config = evidenceConfigFromEnv({ VIGIL_EVIDENCE_KEYS: `prod-1:${k}` }, join(d, 'ev'));
  assert.deepEqual(config, { location: join(d, 'ev'), keys: `prod-1:${k}` });
  assert.equal(keyRingOf(config).ring.active.id, 'prod-1');
  assert.deepEqual(keyRingOf(config).warnings, []);
  assert.equal(evidenceConfigFromEnv({ VIGIL_EVIDENCE_KEY: k }, 'x').keys, k, 'the single-key variable still works');
  assert.throws(() => keyRingOf({ location: 'postgres://db/vigil' }), { code: 'VIGIL_ERR_INVALID_ARGUMENT', message: /VIGIL_EVIDENCE_KEYS/ });
  const demo = await openEvidenceStore({ location: join(d, 'demo', 'vigil-evidence') });
  assert.match(demo.warnings.join('\n'), /generated in .*vigil-evidence\.key.*not a stolen disk/);
  await demo.store.put(bufferSource(Buffer.from('benign')), 'x');
  assert.deepEqual(await (await openEvidenceStore({ location: join(d, 'demo', 'vigil-evidence') })).store.read('x'), Buffer.from('benign'));
});

test('processes starting at once on a fresh folder agree on one generated key (no EEXIST)', { timeout: 60_000 }, async () => {
  const file = join(dir(), 'race.key');
  const module = fileURLToPath(new URL('./keyring.ts', import.meta.url));
  const script = `const { loadOrCreateKeyFile } = await import(${JSON.stringify(module)}); process.stdout.write(loadOrCreateKeyFile(${JSON.stringify(file)}).keys[0].key.toString('hex'));`;
  const run = () =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (err += d));
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
    });
  const keys = await Promise.all([run(), run(), run(), run()]);
  assert.equal(new Set(keys).size, 1, 'one key for all');
  assert.equal(keys[0], Buffer.from(readFileSync(file, 'utf8').trim().split(':')[1], 'base64').toString('hex'));
});
