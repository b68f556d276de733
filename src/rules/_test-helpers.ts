import type { BankMatch } from '../banks/matcher.js';

/** A benign stand-in match: an active PDQ match in a block bank, overridden per test. */
export function match(over: Partial<BankMatch> = {}): BankMatch {
  return {
    signalId: 1,
    bank: 'NCMEC',
    bankKind: 'block',
    signalType: 'pdq',
    value: '0'.repeat(64),
    distance: 4,
    labels: {},
    sourceId: null,
    fileName: null,
    provenance: { source: 'test', importId: null },
    status: 'active',
    actionable: true,
    downranked: false,
    confidence: 'high',
    ...over,
  };
}

export const quarantined = (over: Partial<BankMatch> = {}) => match({ status: 'quarantined', actionable: false, ...over });
export const suppressed = (over: Partial<BankMatch> = {}) => match({ status: 'false_positive', actionable: false, ...over });
export const downranked = (over: Partial<BankMatch> = {}) => match({ status: 'false_positive', actionable: true, downranked: true, ...over });
