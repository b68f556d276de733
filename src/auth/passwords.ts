/**
 * Password hashes for people (not API keys): scrypt (Node's crypto, RFC 7914), a random 16-byte salt per
 * hash, and the parameters stored with the hash — 'scrypt$N$r$p$salt$hash', base64url — so they can be
 * raised later and old hashes still verify (and are re-hashed at the next sign-in). Defaults follow OWASP's
 * password storage guidance for scrypt (N=2^17, r=8, p=1: 128 MiB and a few hundred milliseconds a hash).
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { invalidArgument } from '../core/errors.js';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 1024;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const FORMAT = /^scrypt\$(\d{1,8})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9_-]{22})\$([A-Za-z0-9_-]{43})$/; // 16-byte salt, 32-byte hash

/** Bounds for parameters read back from the database: a tampered row must not make a hash cost minutes or gigabytes. */
function checkParams({ N, r, p }: ScryptParams): boolean {
  return Number.isSafeInteger(N) && N >= 2 ** 10 && N <= 2 ** 20 && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16;
}

function derive(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, length, { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Length only, as NIST SP 800-63B advises (no composition rules); NFKC so the same text typed anywhere matches. */
export function checkPasswordPolicy(password: unknown): string {
  if (typeof password !== 'string' || [...password].length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw invalidArgument(`a password of ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`, 'password', '(hidden)');
  }
  return password;
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  checkPasswordPolicy(password);
  if (!checkParams(params)) throw invalidArgument('scrypt parameters N (a power of 2, 2^10–2^20), r (1–32), p (1–16)', 'scrypt', params);
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, params, HASH_BYTES);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export function paramsOf(stored: string): ScryptParams | undefined {
  const m = FORMAT.exec(stored);
  if (!m) return undefined;
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  return checkParams(params) ? params : undefined;
}

/** Constant-time comparison; false (never an exception) for a wrong password or a malformed stored hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH || typeof stored !== 'string') return false;
  const params = paramsOf(stored);
  if (!params) return false;
  const m = FORMAT.exec(stored)!;
  const expected = Buffer.from(m[5], 'base64url');
  const actual = await derive(password, Buffer.from(m[4], 'base64url'), params, expected.length);
  return timingSafeEqual(actual, expected);
}
