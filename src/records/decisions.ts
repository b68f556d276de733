/**
 * The decision domain's repository (tables in schema.ts), on either engine. Writes take the caller's `Tx`: the
 * pipeline writes a decision, its rows, incident, review item, report draft, jobs and audit entry in one unit
 * of work. Reads take the database (or a `Tx` to see the unit's own writes).
 *
 * Only content with a block-bank match (or that a rule acted on) is ever recorded here; unmatched content
 * leaves nothing but, with retention on, its hashes in `retained_hashes`.
 */
import type { Kysely } from 'kysely';
import type { BankMatch } from '../banks/matcher.js';
import { VigilError } from '../core/errors.js';
import type { ActionStatus, FiredRule, PlannedAction, Verdict } from '../rules/types.js';
import type { Tx, VigilDatabase } from '../state/database.js';
import type { StateSchema } from '../state/schema.js';
import type { DecisionsTable, IncidentState, ReviewOutcome, ReviewState, ReviewItemsTable, RetainedHashesTable } from './schema.js';

type K = Kysely<StateSchema>;

export interface ActionOutcome extends PlannedAction {
  status: ActionStatus;
  /** Why an action was skipped (e.g. preserve_evidence on a hash-only submission: there are no bytes). */
  note?: string;
  jobId?: number;
  reviewItemId?: number;
  reportDraftId?: number;
  evidenceId?: string;
}

export interface DecisionRecord {
  id: number;
  contentId: string;
  fingerprint: string;
  accountId: string | null;
  verdict: Verdict;
  late: boolean;
  md5: string | null;
  sha1: string | null;
  sha256: string | null;
  matches: BankMatch[];
  fired: FiredRule[];
  actions: ActionOutcome[];
  context: Record<string, unknown>;
  rulesVersion: string;
  evidenceId: string | null;
  actor: string;
  requestId: string | null;
  createdAt: string;
}

export type NewDecision = Omit<DecisionRecord, 'id' | 'actions' | 'requestId'> & { requestId?: string | null };

export interface ReviewItem {
  id: number;
  decisionId: number;
  incidentId: number | null;
  queue: string;
  priority: number;
  state: ReviewState;
  assignee: string | null;
  claimedAt: string | null;
  leaseUntil: string | null;
  outcome: ReviewOutcome | null;
  classification: string | null;
  note: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  createdAt: string;
}

export interface RetainedHashes {
  id: number;
  contentId: string;
  fingerprint: string;
  accountId: string | null;
  context: Record<string, unknown>;
  query: string;
  createdAt: string;
  expiresAt: string;
  checkedSeq: number;
}

function reviewItemOf(r: ReviewItemsTable): ReviewItem {
  return {
    id: Number(r.id), decisionId: Number(r.decision_id), incidentId: r.incident_id === null ? null : Number(r.incident_id), queue: r.queue,
    priority: Number(r.priority), state: r.state as ReviewState, assignee: r.assignee, claimedAt: r.claimed_at, leaseUntil: r.lease_until,
    outcome: r.outcome as ReviewOutcome | null, classification: r.classification, note: r.note, decidedBy: r.decided_by, decidedAt: r.decided_at,
    createdAt: r.created_at,
  };
}

function retainedOf(r: RetainedHashesTable): RetainedHashes {
  return {
    id: Number(r.id), contentId: r.content_id, fingerprint: r.fingerprint, accountId: r.account_id, context: JSON.parse(r.context) as Record<string, unknown>,
    query: r.query, createdAt: r.created_at, expiresAt: r.expires_at, checkedSeq: Number(r.checked_seq),
  };
}

const MAX_PAGE = 1000;

export class DecisionRecords {
  constructor(private readonly db: VigilDatabase) {}

  private k(tx?: Tx): K {
    return tx?.k ?? this.db.k;
  }

  /** Decision rows with their match, rule and action rows, in id order. */
  private async assemble(rows: DecisionsTable[], tx?: Tx): Promise<DecisionRecord[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => Number(r.id));
    const k = this.k(tx);
    const [matches, rules, actions] = await Promise.all([
      k.selectFrom('decision_matches').select(['decision_id', 'detail']).where('decision_id', 'in', ids).orderBy('decision_id').orderBy('ordinal').execute(),
      k.selectFrom('decision_rules').select(['decision_id', 'detail']).where('decision_id', 'in', ids).orderBy('decision_id').orderBy('ordinal').execute(),
      k.selectFrom('decision_actions').select(['decision_id', 'detail']).where('decision_id', 'in', ids).orderBy('decision_id').orderBy('ordinal').execute(),
    ]);
    const group = <T>(list: { decision_id: number; detail: string }[]) => {
      const by = new Map<number, T[]>();
      for (const r of list) {
        const id = Number(r.decision_id);
        let l = by.get(id);
        if (!l) by.set(id, (l = []));
        l.push(JSON.parse(r.detail) as T);
      }
      return by;
    };
    const m = group<BankMatch>(matches);
    const f = group<FiredRule>(rules);
    const a = group<ActionOutcome>(actions);
    return rows.map((r) => {
      const id = Number(r.id);
      return {
        id, contentId: r.content_id, fingerprint: r.fingerprint, accountId: r.account_id, verdict: r.verdict as Verdict, late: Number(r.late) === 1,
        md5: r.md5, sha1: r.sha1, sha256: r.sha256, matches: m.get(id) ?? [], fired: f.get(id) ?? [], actions: a.get(id) ?? [],
        context: JSON.parse(r.context) as Record<string, unknown>, rulesVersion: r.rules_version, evidenceId: r.evidence_id, actor: r.actor,
        requestId: r.request_id, createdAt: r.created_at,
      };
    });
  }

  async findDecision(contentId: string, fingerprint: string, tx?: Tx): Promise<DecisionRecord | undefined> {
    const rows = await this.k(tx).selectFrom('decisions').selectAll().where('content_id', '=', contentId).where('fingerprint', '=', fingerprint).execute();
    return (await this.assemble(rows, tx))[0];
  }

  async getDecision(id: number, tx?: Tx): Promise<DecisionRecord | undefined> {
    const rows = await this.k(tx).selectFrom('decisions').selectAll().where('id', '=', id).execute();
    return (await this.assemble(rows, tx))[0];
  }

  async decisionsForContent(contentId: string): Promise<DecisionRecord[]> {
    return this.assemble(await this.db.k.selectFrom('decisions').selectAll().where('content_id', '=', contentId).orderBy('id').execute());
  }

  async listDecisions(filter: { afterId?: number; limit?: number; verdict?: string; accountId?: string } = {}): Promise<DecisionRecord[]> {
    let q = this.db.k.selectFrom('decisions').selectAll().where('id', '>', filter.afterId ?? 0);
    if (filter.verdict) q = q.where('verdict', '=', filter.verdict);
    if (filter.accountId) q = q.where('account_id', '=', filter.accountId);
    return this.assemble(await q.orderBy('id').limit(Math.min(filter.limit ?? 100, MAX_PAGE)).execute());
  }

  async accountHistory(accountId: string, tx?: Tx): Promise<{ priorMatchedDecisions: number; priorBlocks: number }> {
    const row = await this.k(tx).selectFrom('decisions')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>(eb.case().when('verdict', '=', 'block').then(1).else(0).end()).as('blocks')])
      .where('account_id', '=', accountId).executeTakeFirstOrThrow();
    return { priorMatchedDecisions: Number(row.n), priorBlocks: Number(row.blocks ?? 0) };
  }

  /** Inserts unless (content id, fingerprint) exists; undefined on that conflict (a concurrent twin won). */
  async insertDecision(tx: Tx, d: NewDecision): Promise<number | undefined> {
    const row = await tx.k.insertInto('decisions').values({
      content_id: d.contentId, fingerprint: d.fingerprint, account_id: d.accountId, verdict: d.verdict, late: d.late ? 1 : 0,
      md5: d.md5, sha1: d.sha1, sha256: d.sha256, context: JSON.stringify(d.context), rules_version: d.rulesVersion,
      evidence_id: d.evidenceId, actor: d.actor, request_id: d.requestId ?? null, created_at: d.createdAt,
    } as never).onConflict((oc) => oc.columns(['content_id', 'fingerprint']).doNothing()).returning('id').executeTakeFirst();
    if (!row) return undefined;
    const id = Number(row.id);
    if (d.matches.length > 0) {
      await tx.k.insertInto('decision_matches').values(d.matches.map((m, ordinal) => ({
        decision_id: id, ordinal, signal_id: m.signalId, bank: m.bank, signal_type: m.signalType, distance: m.distance, actionable: m.actionable ? 1 : 0, detail: JSON.stringify(m),
      }))).execute();
    }
    if (d.fired.length > 0) {
      await tx.k.insertInto('decision_rules').values(d.fired.map((f, ordinal) => ({ decision_id: id, ordinal, rule_id: f.ruleId, reason: f.reason, detail: JSON.stringify(f) }))).execute();
    }
    return id;
  }

  async setActions(tx: Tx, decisionId: number, actions: readonly ActionOutcome[]): Promise<void> {
    if (actions.length === 0) return;
    await tx.k.insertInto('decision_actions').values(actions.map((a, ordinal) => ({
      decision_id: decisionId, ordinal, type: a.type, status: a.status, rule_id: a.ruleId, note: a.note ?? null, job_id: a.jobId ?? null,
      review_item_id: a.reviewItemId ?? null, report_draft_id: a.reportDraftId ?? null, evidence_id: a.evidenceId ?? null, detail: JSON.stringify(a),
    }))).execute();
  }

  /** The incident reports are built from: the content, its account, where and when it was uploaded. */
  async openIncident(tx: Tx, i: { decisionId: number; contentId: string; accountId: string | null; ip: string | null; occurredAt: string; at: string }): Promise<number> {
    const row = await tx.k.insertInto('incidents').values({
      decision_id: i.decisionId, content_id: i.contentId, account_id: i.accountId, state: 'open', ip: i.ip, occurred_at: i.occurredAt, created_at: i.at, updated_at: i.at,
    } as never).returning('id').executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async openReviewItem(tx: Tx, r: { decisionId: number; incidentId: number | null; priority: number; at: string; queue?: string }): Promise<number> {
    const row = await tx.k.insertInto('review_items').values({
      decision_id: r.decisionId, incident_id: r.incidentId, queue: r.queue ?? 'child_safety', priority: r.priority, state: 'open', created_at: r.at, updated_at: r.at,
    } as never).returning('id').executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async openReportDraft(tx: Tx, r: { decisionId: number; incidentId: number | null; at: string }): Promise<number> {
    const row = await tx.k.insertInto('report_drafts').values({ decision_id: r.decisionId, incident_id: r.incidentId, state: 'draft', created_at: r.at, updated_at: r.at } as never)
      .returning('id').executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async recordEvidence(tx: Tx, e: { id: string; decisionId: number; keyId: string; sha256: string; size: number; mediaType: string | null; at: string; retainUntil: string | null }): Promise<void> {
    await tx.k.insertInto('evidence').values({
      id: e.id, decision_id: e.decisionId, key_id: e.keyId, sha256: e.sha256, size: e.size, media_type: e.mediaType, created_at: e.at,
      retain_until: e.retainUntil, legal_hold: 0, deleted_at: null,
    }).execute();
  }

  /** Open items, highest priority first, then oldest; claims whose lease ended count as open again. */
  async listReviewItems(filter: { state?: ReviewState; limit?: number; now?: string } = {}): Promise<ReviewItem[]> {
    const now = filter.now ?? new Date().toISOString();
    let q = this.db.k.selectFrom('review_items').selectAll();
    const state = filter.state ?? 'open';
    if (state === 'open') q = q.where((eb) => eb.or([eb('state', '=', 'open'), eb.and([eb('state', '=', 'claimed'), eb('lease_until', '<=', now)])]));
    else q = q.where('state', '=', state);
    const rows = await q.orderBy('priority', 'desc').orderBy('id').limit(Math.min(filter.limit ?? 100, MAX_PAGE)).execute();
    return rows.map(reviewItemOf);
  }

  async getReviewItem(id: number, tx?: Tx): Promise<ReviewItem | undefined> {
    const row = await this.k(tx).selectFrom('review_items').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? reviewItemOf(row) : undefined;
  }

  /**
   * Claims an item for `assignee` until `leaseUntil`: one statement that succeeds only if the item is open, its
   * previous claim expired, or the assignee already holds it — so two reviewers never hold the same item.
   */
  async claimReviewItem(tx: Tx, id: number, assignee: string, now: string, leaseUntil: string): Promise<ReviewItem> {
    const result = await tx.k.updateTable('review_items')
      .set({ state: 'claimed', assignee, claimed_at: now, lease_until: leaseUntil, updated_at: now })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('state', '=', 'open'), eb.and([eb('state', '=', 'claimed'), eb.or([eb('lease_until', '<=', now), eb('assignee', '=', assignee)])])]))
      .executeTakeFirst();
    const item = await this.getReviewItem(id, tx);
    if (!item) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No review item ${id}`);
    if (Number(result.numUpdatedRows) === 0) {
      throw new VigilError('VIGIL_ERR_CONFLICT', item.state === 'decided' ? `Review item ${id} is already decided` : `Review item ${id} is claimed by someone else until ${item.leaseUntil}`);
    }
    return item;
  }

  /** Records the outcome; only the holder of a live claim may decide (escalation re-opens it for a senior). */
  async decideReviewItem(tx: Tx, id: number, d: { by: string; outcome: ReviewOutcome; classification?: string | null; note?: string | null; now: string }): Promise<ReviewItem> {
    const reopen = d.outcome === 'escalated' || d.outcome === 'skipped';
    const result = await tx.k.updateTable('review_items')
      .set({
        state: reopen ? 'open' : 'decided', outcome: d.outcome, classification: d.classification ?? null, note: d.note ?? null,
        decided_by: d.by, decided_at: d.now, updated_at: d.now, assignee: null, lease_until: null,
        ...(d.outcome === 'escalated' ? { queue: 'senior' } : {}),
      })
      .where('id', '=', id).where('state', '=', 'claimed').where('assignee', '=', d.by).where('lease_until', '>', d.now)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) {
      const item = await this.getReviewItem(id, tx);
      if (!item) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No review item ${id}`);
      throw new VigilError('VIGIL_ERR_CONFLICT', `Review item ${id} must be claimed by ${d.by} (with a live lease) before it is decided`);
    }
    return (await this.getReviewItem(id, tx))!;
  }

  /** Gives a claim back (the holder only): the item is open again for anyone. */
  async releaseReviewItem(tx: Tx, id: number, by: string, now: string): Promise<boolean> {
    const r = await tx.k.updateTable('review_items').set({ state: 'open', assignee: null, claimed_at: null, lease_until: null, updated_at: now })
      .where('id', '=', id).where('state', '=', 'claimed').where('assignee', '=', by).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** A reviewer's verdict on the incident: confirmed (to be reported) or dismissed (a false positive). */
  async setIncidentState(tx: Tx, id: number, state: IncidentState, at: string): Promise<void> {
    await tx.k.updateTable('incidents').set({ state, updated_at: at }).where('id', '=', id).execute();
  }

  async countOpen(): Promise<{ reviewItems: number; reportDrafts: number }> {
    const review = await this.db.k.selectFrom('review_items').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '<>', 'decided').executeTakeFirstOrThrow();
    const drafts = await this.db.k.selectFrom('report_drafts').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', 'draft').executeTakeFirstOrThrow();
    return { reviewItems: Number(review.n), reportDrafts: Number(drafts.n) };
  }

  async retain(tx: Tx, r: Omit<RetainedHashes, 'id' | 'checkedSeq'>, checkedSeq: number): Promise<void> {
    await tx.k.insertInto('retained_hashes').values({
      content_id: r.contentId, fingerprint: r.fingerprint, account_id: r.accountId, context: JSON.stringify(r.context), query: r.query,
      created_at: r.createdAt, expires_at: r.expiresAt, checked_seq: checkedSeq,
    } as never).onConflict((oc) => oc.columns(['content_id', 'fingerprint']).doUpdateSet((eb) => ({ expires_at: eb.ref('excluded.expires_at') }))).execute();
  }

  /** Retained hashes not yet checked against the store as of `seq`, oldest first. */
  async retainedBefore(seq: number, afterId: number, limit: number): Promise<RetainedHashes[]> {
    const rows = await this.db.k.selectFrom('retained_hashes').selectAll().where('checked_seq', '<', seq).where('id', '>', afterId).orderBy('id').limit(limit).execute();
    return rows.map(retainedOf);
  }

  /** Ids and positions of the retained hashes behind `seq`, oldest first: the rows themselves are read once, to index them. */
  async retainedPositionsBefore(seq: number, afterId: number, limit: number): Promise<{ id: number; checkedSeq: number }[]> {
    const rows = await this.db.k.selectFrom('retained_hashes').select(['id', 'checked_seq']).where('checked_seq', '<', seq).where('id', '>', afterId).orderBy('id').limit(limit).execute();
    return rows.map((r) => ({ id: Number(r.id), checkedSeq: Number(r.checked_seq) }));
  }

  async retainedByIds(ids: readonly number[]): Promise<RetainedHashes[]> {
    if (ids.length === 0) return [];
    return (await this.db.k.selectFrom('retained_hashes').selectAll().where('id', 'in', [...ids]).orderBy('id').execute()).map(retainedOf);
  }

  /** Every retained hash after `afterId` (to build the retained-hash index), in pages. */
  async retainedPage(afterId: number, limit: number): Promise<RetainedHashes[]> {
    return (await this.db.k.selectFrom('retained_hashes').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute()).map(retainedOf);
  }

  async getRetained(id: number): Promise<RetainedHashes | undefined> {
    const row = await this.db.k.selectFrom('retained_hashes').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? retainedOf(row) : undefined;
  }

  async markRetainedChecked(ids: readonly number[], seq: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db.k.updateTable('retained_hashes').set({ checked_seq: seq }).where('id', 'in', [...ids]).execute();
  }

  async dropRetained(tx: Tx, id: number): Promise<void> {
    await tx.k.deleteFrom('retained_hashes').where('id', '=', id).execute();
  }

  async purgeExpired(now: string): Promise<number> {
    const r = await this.db.k.deleteFrom('retained_hashes').where('expires_at', '<=', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async countRetained(): Promise<number> {
    return Number((await this.db.k.selectFrom('retained_hashes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  }

  /** When a setting last changed (another process may have changed it). */
  async settingUpdatedAt(key: string): Promise<string | undefined> {
    return (await this.db.k.selectFrom('settings').select('updated_at').where('key', '=', key).executeTakeFirst())?.updated_at;
  }

  async getSetting(key: string): Promise<string | undefined> {
    return (await this.db.k.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())?.value;
  }

  async setSetting(tx: Tx, key: string, value: string, at: string): Promise<void> {
    await tx.k.insertInto('settings').values({ key, value, updated_at: at })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at })).execute();
  }
}
