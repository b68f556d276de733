/**
 * Review items written straight through the records repository, for tests and benchmarks that need many
 * items without hashing files: a decision with its matches and fired rule, an incident and a review item,
 * as the pipeline writes them. The matches name real signals (of benign test hashes) so opinions work.
 */
import type { BankMatch } from '../banks/matcher.js';
import type { DecisionRecords } from '../records/decisions.js';
import type { Tx } from '../state/database.js';
import type { Signal } from '../store/types.js';

export interface SeedItem {
  contentId: string;
  accountId?: string | null;
  priority?: number;
  signals: readonly Signal[];
  /** An evidence id already stored (none: a hash-only submission). */
  evidenceId?: string | null;
  /** The stored file's facts (defaults for items whose bytes are never read). */
  evidence?: { keyId: string; sha256: string; size: number; mediaType?: string | null };
  at: string;
  queue?: string;
}

export function matchOf(s: Signal, distance = 0): BankMatch {
  return {
    signalId: s.id, bank: s.bankName, bankKind: 'block', signalType: s.type, value: s.value, distance, labels: s.labels,
    sourceId: s.sourceId, fileName: s.fileName, provenance: { source: 'test list', importId: s.importId }, status: s.status, actionable: true, downranked: false, confidence: 'high',
    ...(s.type === 'pdq' ? { view: 'original', dihedral: 'identity' as BankMatch['dihedral'] } : {}),
  };
}

/** Writes one matched decision and its open review item; returns the item's id. */
export async function seedReviewItem(tx: Tx, records: DecisionRecords, s: SeedItem): Promise<number> {
  const decisionId = await records.insertDecision(tx, {
    contentId: s.contentId, fingerprint: `fp-${s.contentId}`, accountId: s.accountId ?? null, verdict: 'block', late: false,
    md5: null, sha1: null, sha256: null, matches: s.signals.map((x) => matchOf(x)),
    fired: [{ ruleId: 'block-known', description: 'An actionable match in a block bank', reason: `${s.signals[0]?.type ?? 'md5'} distance 0 in block bank ${s.signals[0]?.bankName ?? '?'}`, matches: s.signals.map((x) => x.id) }],
    context: { surface: 'test' }, rulesVersion: 'test', evidenceId: s.evidenceId ?? null, actor: 'test', createdAt: s.at,
  });
  if (decisionId === undefined) throw new Error(`duplicate seed ${s.contentId}`);
  if (s.evidenceId) {
    await records.recordEvidence(tx, { id: s.evidenceId, decisionId, keyId: s.evidence?.keyId ?? 'test', sha256: s.evidence?.sha256 ?? '0'.repeat(64), size: s.evidence?.size ?? 0, mediaType: s.evidence?.mediaType ?? 'png', at: s.at, retainUntil: null });
  }
  const incidentId = await records.openIncident(tx, { decisionId, contentId: s.contentId, accountId: s.accountId ?? null, ip: null, occurredAt: s.at, at: s.at });
  return records.openReviewItem(tx, { decisionId, incidentId, priority: s.priority ?? 50, at: s.at, ...(s.queue ? { queue: s.queue } : {}) });
}
