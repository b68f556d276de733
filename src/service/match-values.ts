/**
 * A near perceptual match's `value` is the bank's own hash, not the caller's: a key that may only submit or
 * look up could collect a list's PDQ values by probing with nearby hashes. Those values are given only to
 * callers that may read signal values (`curate`, as export and the signal routes require). An exact match's
 * value is what the caller sent, so it stays.
 */
import type { FastifyRequest } from 'fastify';
import type { BankMatch } from '../banks/matcher.js';
import { callerHolds } from './auth.js';

export function visibleMatches(request: FastifyRequest, matches: BankMatch[]): BankMatch[] {
  if (callerHolds(request, 'curate') || matches.every((m) => m.distance === 0)) return matches;
  return matches.map((m) => {
    if (m.distance === 0) return m;
    const { value: _bankValue, ...rest } = m;
    return rest as BankMatch;
  });
}

/** The same for a result that carries matches (a content decision). */
export function withVisibleMatches<T extends { matches: BankMatch[] }>(request: FastifyRequest, result: T): T {
  const matches = visibleMatches(request, result.matches);
  return matches === result.matches ? result : { ...result, matches };
}
