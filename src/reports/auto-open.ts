/**
 * When a report opens. By default only a person's confirmation in the review queue opens one. A rule's
 * `report_draft` action opens a report at once only where the operator allowed it: an exact match (distance
 * 0) in a bank named in `reporting.autoOpenBanks` — lists people have verified item by item — of content the
 * server itself hashed and preserved. Hashes a client sent (a device, an end-to-end-encrypted app) never open a
 * report by themselves: anyone holding a listed file's hashes could otherwise have a report filed about any
 * account id they chose.
 */
import type { Tx } from '../state/database.js';

export async function autoOpenAllowed(tx: Tx, decisionId: number, banks: readonly string[]): Promise<{ allowed: boolean; bank?: string }> {
  if (banks.length === 0) return { allowed: false };
  const decision = await tx.k.selectFrom('decisions').select('evidence_id').where('id', '=', decisionId).executeTakeFirst();
  if (!decision || decision.evidence_id === null) return { allowed: false };
  const hit = await tx.k.selectFrom('decision_matches').select('bank').where('decision_id', '=', decisionId)
    .where('distance', '=', 0).where('actionable', '=', 1).where('bank', 'in', [...banks]).limit(1).executeTakeFirst();
  return hit ? { allowed: true, bank: hit.bank } : { allowed: false };
}
