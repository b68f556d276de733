/**
 * Decisions and review outcomes are covered by the audit chain through their entries: every decision row is
 * written with a `decision.created` entry in the same unit of work (details.decisionId, verdict,
 * rulesVersion, evidenceId; subject content:<contentId>), and a review outcome with a `review.decided` entry
 * (subject review_item:<id>, details.reviewItemId and outcome). The chain proves those entries unchanged; this
 * cross-check proves the rows still agree with them: a decision row without its entry (inserted behind
 * Vigil's back), with a different verdict, content, rules version or evidence (edited), an entry whose row
 * is gone (deleted), or a review outcome that no entry records.
 */
import type { VigilDatabase } from '../state/database.js';

export interface CrossCheckResult {
  ok: boolean;
  decisions: number;
  reviewOutcomes: number;
  /** At most `maxProblems` problems, each naming the row (and the entry). */
  problems: string[];
}

interface Expected {
  seq: number;
  subject: string | null;
  verdict: unknown;
  rulesVersion: unknown;
  evidenceId: unknown;
}

const PAGE = 5000;

async function entries(db: VigilDatabase, action: string, each: (e: { seq: number; subject: string | null; details: Record<string, unknown> }) => void): Promise<void> {
  let after = 0;
  for (;;) {
    const rows = await db.k.selectFrom('audit_log').select(['seq', 'subject', 'details']).where('action', '=', action).where('seq', '>', after).orderBy('seq').limit(PAGE).execute();
    for (const r of rows) {
      let details: Record<string, unknown> = {};
      try {
        details = JSON.parse(r.details) as Record<string, unknown>;
      } catch {
        // the chain check reports an unreadable entry; here it records nothing
      }
      each({ seq: r.seq, subject: r.subject, details });
    }
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1]!.seq;
  }
}

export async function crossCheckDecisions(db: VigilDatabase, options: { maxProblems?: number } = {}): Promise<CrossCheckResult> {
  const max = options.maxProblems ?? 20;
  const problems: string[] = [];
  const problem = (text: string) => void (problems.length < max && problems.push(text));

  const expected = new Map<number, Expected>();
  await entries(db, 'decision.created', (e) => {
    const id = e.details.decisionId;
    // Entries of unrecorded (allowed, unmatched) content carry no decision id: nothing to cross-check.
    if (typeof id === 'number') expected.set(id, { seq: e.seq, subject: e.subject, verdict: e.details.verdict, rulesVersion: e.details.rulesVersion, evidenceId: e.details.evidenceId ?? null });
  });

  let decisions = 0;
  let afterId = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = await db.k.selectFrom('decisions').select(['id', 'content_id', 'verdict', 'rules_version', 'evidence_id']).where('id', '>', afterId).orderBy('id').limit(PAGE).execute();
    for (const d of rows) {
      decisions++;
      const e = expected.get(d.id);
      if (!e) {
        problem(`decision ${d.id} has no decision.created audit entry (written outside Vigil)`);
        continue;
      }
      expected.delete(d.id);
      const differs = [
        e.subject !== `content:${d.content_id}` ? 'content id' : '',
        e.verdict !== d.verdict ? 'verdict' : '',
        e.rulesVersion !== undefined && e.rulesVersion !== d.rules_version ? 'rules version' : '',
        (e.evidenceId ?? null) !== (d.evidence_id ?? null) ? 'evidence' : '',
      ].filter(Boolean);
      if (differs.length > 0) problem(`decision ${d.id}: its ${differs.join(', ')} differ${differs.length === 1 ? 's' : ''} from audit entry ${e.seq} (the row was edited)`);
    }
    if (rows.length < PAGE) break;
    afterId = rows[rows.length - 1]!.id;
  }
  for (const [id, e] of expected) problem(`decision ${id}, recorded by audit entry ${e.seq}, is missing (the row was deleted)`);

  const outcomes = new Map<number, { seq: number; outcome: unknown }>();
  await entries(db, 'review.decided', (e) => {
    const id = e.details.reviewItemId;
    if (typeof id === 'number') outcomes.set(id, { seq: e.seq, outcome: e.details.outcome });
  });
  let reviewOutcomes = 0;
  let afterItem = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = await db.k.selectFrom('review_items').select(['id', 'outcome']).where('outcome', 'is not', null).where('id', '>', afterItem).orderBy('id').limit(PAGE).execute();
    for (const r of rows) {
      reviewOutcomes++;
      const e = outcomes.get(r.id);
      if (!e) problem(`review item ${r.id}: its outcome "${r.outcome}" has no review.decided audit entry (written outside Vigil)`);
      else if (e.outcome !== r.outcome) problem(`review item ${r.id}: its outcome "${r.outcome}" differs from audit entry ${e.seq} ("${String(e.outcome)}"; the row was edited)`);
    }
    if (rows.length < PAGE) break;
    afterItem = rows[rows.length - 1]!.id;
  }
  return { ok: problems.length === 0, decisions, reviewOutcomes, problems };
}
