import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getBit, hammingDistance256, hash256FromHex, hash256ToHex, setBit } from './hash256.js';

const A = 'f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22';
const B = 'b0a10efd71cc3f429413d48d0ffffe12e34e0e17ada952a9d29684210aa9e5af';

test('hex round-trips, lower-casing input', () => {
  assert.equal(hash256ToHex(hash256FromHex(A)), A);
  assert.equal(hash256ToHex(hash256FromHex(A.toUpperCase())), A);
});

test('malformed hex is refused with VIGIL_ERR_INVALID_HASH', () => {
  for (const bad of ['', A.slice(1), A + '0', A.replace('f', 'g'), ` ${A.slice(1)}`]) {
    assert.throws(() => hash256FromHex(bad), { code: 'VIGIL_ERR_INVALID_HASH' });
  }
});

test('distance is symmetric, zero on itself, and counts flipped bits', () => {
  const a = hash256FromHex(A);
  const b = hash256FromHex(B);
  assert.equal(hammingDistance256(a, a), 0);
  assert.equal(hammingDistance256(a, b), hammingDistance256(b, a));
  const c = hash256FromHex(A);
  for (const k of [0, 7, 8, 100, 255]) c[31 - (k >> 3)] ^= 1 << (k & 7);
  assert.equal(hammingDistance256(a, c), 5);
  assert.equal(hammingDistance256(new Uint8Array(32), new Uint8Array(32).fill(255)), 256);
});

test('bit k is (N >> k) & 1 of the hex read as a big-endian integer', () => {
  const h = new Uint8Array(32);
  setBit(h, 0);
  assert.equal(hash256ToHex(h), '0'.repeat(63) + '1');
  setBit(h, 255);
  assert.equal(hash256ToHex(h), '8' + '0'.repeat(62) + '1');
  const n = BigInt('0x' + A);
  const parsed = hash256FromHex(A);
  for (let k = 0; k < 256; k++) assert.equal(getBit(parsed, k), Number((n >> BigInt(k)) & 1n));
});
