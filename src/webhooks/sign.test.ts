import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SIGNATURE_HEADER, signPayload, verifySignature } from './sign.js';

const SECRET = 'whsec_test_only_not_a_real_secret';
const BODY = '{"id":"evt_1","type":"decision.block","data":{"n":1}}';
const T = 1_700_000_000;

const hmac = (secret: string, message: string) => createHmac('sha256', secret).update(message).digest('hex');

describe('webhook signatures', () => {
  it('signs t=<seconds>,v1=<HMAC-SHA256(secret, "t.body")> (known answer)', () => {
    assert.equal(SIGNATURE_HEADER, 'vigil-signature');
    assert.equal(signPayload(SECRET, BODY, T), `t=${T},v1=${hmac(SECRET, `${T}.${BODY}`)}`);
    assert.equal(signPayload(SECRET, BODY, T + 0.9), signPayload(SECRET, BODY, T), 'whole seconds');
    // A literal vector (cross-checked with Python's hmac module), so the scheme cannot drift with the helper.
    assert.equal(signPayload('secret', 'body', 1), 't=1,v1=842b24d9575dee4b6ec460b7e3af7d683501d84fe6279102340787c79d2e2bab');
  });

  it('verifies a good signature over a string or the raw bytes', () => {
    const header = signPayload(SECRET, BODY, T);
    assert.equal(verifySignature(SECRET, BODY, header, { nowSec: T }), true);
    assert.equal(verifySignature(SECRET, Buffer.from(BODY), header, { nowSec: T }), true);
    assert.equal(verifySignature(SECRET, BODY, ` t=${T} , v1=${hmac(SECRET, `${T}.${BODY}`).toUpperCase()} `, { nowSec: T }), true);
  });

  it('rejects a tampered body, signature or timestamp, and the wrong secret', () => {
    const header = signPayload(SECRET, BODY, T);
    assert.equal(verifySignature(SECRET, BODY.replace('1', '2'), header, { nowSec: T }), false);
    const sig = header.split('v1=')[1];
    const flipped = sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0');
    assert.equal(verifySignature(SECRET, BODY, `t=${T},v1=${flipped}`, { nowSec: T }), false);
    assert.equal(verifySignature(SECRET, BODY, header.replace(`t=${T}`, `t=${T + 1}`), { nowSec: T }), false);
    assert.equal(verifySignature('another-secret', BODY, header, { nowSec: T }), false);
    assert.equal(verifySignature('', BODY, `t=${T},v1=${hmac('', `${T}.${BODY}`)}`, { nowSec: T }), false, 'an empty secret never verifies');
  });

  it('rejects timestamps outside the tolerance, both ways (replay window)', () => {
    const header = signPayload(SECRET, BODY, T);
    assert.equal(verifySignature(SECRET, BODY, header, { nowSec: T + 300 }), true);
    assert.equal(verifySignature(SECRET, BODY, header, { nowSec: T + 301 }), false);
    assert.equal(verifySignature(SECRET, BODY, header, { nowSec: T - 301 }), false);
    assert.equal(verifySignature(SECRET, BODY, header, { nowSec: T + 1000, toleranceSec: 1000 }), true);
    assert.equal(verifySignature(SECRET, BODY, header), false, 'the real clock is far from 2023');
    assert.equal(verifySignature(SECRET, BODY, signPayload(SECRET, BODY, Date.now() / 1000)), true);
  });

  it('accepts any of several v1 entries and secrets (rotation)', () => {
    const header = signPayload(['new-secret', 'old-secret'], BODY, T);
    assert.equal(header.split(',').length, 3);
    assert.equal(verifySignature('old-secret', BODY, header, { nowSec: T }), true);
    assert.equal(verifySignature('new-secret', BODY, header, { nowSec: T }), true);
    assert.equal(verifySignature(['unknown', 'new-secret'], BODY, signPayload('new-secret', BODY, T), { nowSec: T }), true);
    assert.equal(verifySignature('third', BODY, header, { nowSec: T }), false);
    assert.equal(verifySignature('new-secret', BODY, `t=${T},v0=abc,v2=def,${header.split(',')[1]}`, { nowSec: T }), true, 'unknown schemes ignored');
  });

  it('rejects malformed headers', () => {
    const v1 = hmac(SECRET, `${T}.${BODY}`);
    for (const h of [undefined, null, '', 'garbage', `v1=${v1}`, `t=${T}`, `t=abc,v1=${v1}`, `t=${T},t=${T},v1=${v1}`, `t=${T},v1=${v1.slice(2)}`, `t=-${T},v1=${v1}`, `t=${T};v1=${v1}`]) {
      assert.equal(verifySignature(SECRET, BODY, h, { nowSec: T }), false, String(h));
    }
    assert.throws(() => signPayload('', BODY, T), /secret/);
    assert.throws(() => signPayload([], BODY, T), /secret/);
    assert.throws(() => signPayload(SECRET, BODY, Number.NaN), /timestampSec/);
  });
});
