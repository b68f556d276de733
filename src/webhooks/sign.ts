/**
 * Webhook signatures, Stripe-style: `vigil-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 *
 * How a receiver stays replay-safe:
 *  1. verify over the raw request body bytes (not re-serialised JSON) with {@link verifySignature}; it checks
 *     the HMAC in constant time and rejects a timestamp outside the tolerance (default ±300 s), so a captured
 *     request cannot be replayed later;
 *  2. dedupe on the `vigil-delivery-id` header (the event id, stable across retries) for at least the
 *     tolerance window: delivery is at-least-once, so the same event can arrive twice, and a replay inside the
 *     window is then a harmless duplicate.
 *
 * Secret rotation: while an endpoint has previous secrets, each delivery carries one v1 entry per secret, so a
 * receiver still on the old secret and one already on the new secret both verify.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { invalidArgument } from '../core/errors.js';

export const SIGNATURE_HEADER = 'vigil-signature';

const DEFAULT_TOLERANCE_SEC = 300;

function hmacHex(secret: string, timestampSec: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestampSec}.`).update(body).digest('hex');
}

/** The header value for `body` at `timestampSec`: one v1 entry per secret (several during a rotation). */
export function signPayload(secret: string | readonly string[], body: string | Uint8Array, timestampSec: number): string {
  const t = Math.floor(timestampSec);
  if (!Number.isFinite(t) || t < 0) throw invalidArgument('unix seconds', 'timestampSec', timestampSec);
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s === '')) {
    throw invalidArgument('one or more non-empty secrets', 'secret', '(redacted)');
  }
  return [`t=${t}`, ...secrets.map((s) => `v1=${hmacHex(s, t, body)}`)].join(',');
}

/**
 * True when some v1 entry matches some secret and the timestamp is within `toleranceSec` of now (either
 * direction: a sender's clock may run ahead). Unknown schemes (v0, v2…) are ignored for forward compatibility.
 */
export function verifySignature(
  secret: string | readonly string[],
  body: string | Uint8Array,
  header: string | null | undefined,
  options: { toleranceSec?: number; nowSec?: number } = {},
): boolean {
  if (typeof header !== 'string') return false;
  let t: number | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || t !== undefined) return false;
      t = Number(value);
    } else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) {
      candidates.push(Buffer.from(value, 'hex'));
    }
  }
  if (t === undefined || candidates.length === 0) return false;
  const tolerance = options.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > tolerance) return false;
  // An empty secret would sign with a key anyone knows.
  const secrets = (typeof secret === 'string' ? [secret] : secret).filter((s) => typeof s === 'string' && s !== '');
  let ok = false;
  // No early exit: the time taken must not reveal which entry or secret matched.
  for (const s of secrets) {
    const expected = Buffer.from(hmacHex(s, t, body), 'hex');
    for (const c of candidates) ok = timingSafeEqual(expected, c) || ok;
  }
  return ok;
}
