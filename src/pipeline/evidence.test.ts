import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EvidenceVault } from './evidence.js';
import { tempDir } from '../../test/helpers/temp.js';

const dir = () => tempDir('evidence');

test('sealed evidence round-trips, is not stored in clear, and is private to its owner', async () => {
  const vault = new EvidenceVault(join(dir(), 'ev'), randomBytes(32));
  const content = Buffer.from('benign test picture bytes '.repeat(100));
  const sealed = await vault.seal(content);
  const onDisk = readFileSync(sealed.path);
  assert.equal(onDisk.includes(content.subarray(0, 26)), false);
  assert.equal(statSync(sealed.path).mode & 0o777, 0o600);
  assert.deepEqual(await vault.open(sealed.id), content);
  assert.deepEqual(readdirSync(vault.dir), [`${sealed.id}.enc`]);
});

test('a flipped bit, a swapped file or a wrong master key fails authentication', async () => {
  const key = randomBytes(32);
  const vault = new EvidenceVault(join(dir(), 'ev'), key);
  const a = await vault.seal(Buffer.from('first'), 'a');
  const b = await vault.seal(Buffer.from('second'), 'b');
  const bytes = readFileSync(a.path);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(a.path, bytes);
  await assert.rejects(vault.open('a'), { code: 'VIGIL_ERR_CORRUPT_MEDIA' });
  writeFileSync(a.path, readFileSync(b.path)); // b's file under a's id: the id is authenticated data
  await assert.rejects(vault.open('a'), { code: 'VIGIL_ERR_CORRUPT_MEDIA' });
  await assert.rejects(new EvidenceVault(vault.dir, randomBytes(32)).open('b'), { code: 'VIGIL_ERR_CORRUPT_MEDIA' });
  assert.deepEqual(await vault.open('b'), Buffer.from('second'));
});

test('master key: from the environment, else generated once into a 0600 file and reused', () => {
  const d = dir();
  const file = join(d, 'key');
  const first = EvidenceVault.masterKeyFrom(undefined, file);
  assert.equal(first.generated, true);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const second = EvidenceVault.masterKeyFrom(undefined, file);
  assert.equal(second.generated, false);
  assert.deepEqual(second.key, first.key);
  const env = randomBytes(32);
  assert.deepEqual(EvidenceVault.masterKeyFrom(env.toString('base64'), file).key, env);
  assert.throws(() => EvidenceVault.masterKeyFrom('c2hvcnQ=', file), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  assert.throws(() => new EvidenceVault(join(d, 'x'), randomBytes(16)), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
});

test('evidence ids cannot escape the vault folder', async () => {
  const vault = new EvidenceVault(join(dir(), 'ev'), randomBytes(32));
  await assert.rejects(vault.seal(Buffer.from('x'), '../escape'), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
});
