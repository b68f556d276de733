import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deserializeQuery, fingerprintOf, matchQueryOfClientHashes, serializeQuery } from './query.js';

const PDQ = 'f'.repeat(16) + '0'.repeat(48);
const MD5 = 'D41D8CD98F00B204E9800998ECF8427E';

test('client hashes are validated and normalised; the error names the field', () => {
  const q = matchQueryOfClientHashes({ md5: MD5, pdq: [PDQ, { hash: PDQ, quality: 70, view: 'trimmed' }], vpdq: [`${PDQ},90,0.5`] });
  assert.equal(q.md5, MD5.toLowerCase());
  assert.equal(q.pdq?.length, 2);
  assert.equal(q.pdq?.[0].quality, 100);
  assert.equal(q.pdq?.[1].view, 'trimmed');
  assert.equal(q.vpdq?.[0].timestamp, 0.5);
  assert.throws(() => matchQueryOfClientHashes({ md5: 'zz' }), (e: Error & { code?: string }) => e.code === 'VIGIL_ERR_INVALID_HASH' && e.message.includes('hashes.md5'));
  assert.throws(() => matchQueryOfClientHashes({ pdq: ['abc'] }), /hashes\.pdq\[0\]/);
  assert.throws(() => matchQueryOfClientHashes({ vpdq: ['nonsense'] }), { code: 'VIGIL_ERR_INVALID_HASH' });
  assert.throws(() => matchQueryOfClientHashes({}), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
});

test('the fingerprint is the SHA-256 when known, else a stable digest of the hashes', () => {
  const sha256 = 'a'.repeat(64);
  assert.equal(fingerprintOf(matchQueryOfClientHashes({ sha256, md5: MD5 })), sha256);
  const a = fingerprintOf(matchQueryOfClientHashes({ md5: MD5, pdq: [PDQ] }));
  const b = fingerprintOf(matchQueryOfClientHashes({ pdq: [{ hash: PDQ.toUpperCase(), quality: 80 }], md5: MD5.toLowerCase() }));
  assert.equal(a, b);
  assert.match(a, /^h:[0-9a-f]{64}$/);
  assert.notEqual(a, fingerprintOf(matchQueryOfClientHashes({ md5: MD5 })));
});

test('a stored query round-trips for retroactive matching', () => {
  const q = matchQueryOfClientHashes({ sha1: 'b'.repeat(40), pdq: [PDQ], vpdq: [`${PDQ},90,1`] });
  const back = deserializeQuery(serializeQuery(q));
  assert.deepEqual(back.pdq?.[0].hashes.map((h) => Buffer.from(h).toString('hex')), [PDQ]);
  assert.equal(back.sha1, q.sha1);
  assert.deepEqual(Buffer.from(back.vpdq![0].hash).toString('hex'), PDQ);
});
