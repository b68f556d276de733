/**
 * The review workflow as application operations, shared by the web UI and any other adapter: the queue with
 * its context, claims (a lease: two reviewers never hold the same item, an abandoned claim expires),
 * decisions (confirm with a classification, false positive → an opinion on each matched signal, escalate,
 * skip with a reason), bulk decisions, reveals and wellness preferences.
 *
 * Every read checks the reader may see the item: child-safety items (queue `child_safety`, and `senior`,
 * where escalated child-safety items go) need the person's child-safety grant, whatever their role. Every
 * state change and every reveal writes its audit entry in the same unit of work. Whether a person saw an
 * item's file is recorded as a row per reveal (`review_views`) — never inferred from a decision.
 */
import type { AuditActor, AuditInput, AuditLog } from '../audit/log.js';
import { canSeeChildSafety, userHasScope, type User } from '../auth/users.js';
import type { SessionStore } from '../auth/sessions.js';
import type { BankMatch } from '../banks/matcher.js';
import { invalidArgument, VigilError } from '../core/errors.js';
import type { DecisionRecord, DecisionRecords, ReviewItem } from '../records/decisions.js';
import type { FiredRule } from '../rules/types.js';
import type { Tx, VigilDatabase } from '../state/database.js';
import type { Opinion, Store } from '../store/types.js';
import type { BankService } from './banks.js';
import { ReviewJobs } from './review-jobs.js';

/** Classification scales; each value is one key in the UI. Industry is always on; VIC and UK where used. */
export const SCALES = {
  industry: ['A1', 'A2', 'B1', 'B2'],
  vic: ['VIC0', 'VIC1', 'VIC2', 'VIC3', 'VIC4'],
  uk: ['UK-A', 'UK-B', 'UK-C'],
} as const;
export type Scale = keyof typeof SCALES;

export const CHILD_SAFETY_QUEUES = ['child_safety', 'senior'] as const;
export const MAX_BULK = 1000;
export const DEFAULT_LEASE_MS = 10 * 60_000;
const MAX_TEXT = 2000;

/** Wellness settings: the organisation sets minimums; a reviewer may only make them stricter. */
export interface WellnessPrefs {
  /** Blur radius of unrevealed media (CSS px); higher is stricter. */
  blurPx: number;
  /** Greyscale of media, revealed or not (0–100); higher is stricter. */
  greyscalePct: number;
  /** Minutes before the session-length reminder; lower is stricter. */
  sessionReminderMin: number;
}

export const ORG_WELLNESS: WellnessPrefs = { blurPx: 24, greyscalePct: 100, sessionReminderMin: 60 };

export type ReviewDecisionInput =
  | { outcome: 'confirmed'; classification: string; note?: string }
  | { outcome: 'false_positive'; reason: string; signalIds?: number[] }
  | { outcome: 'escalated'; note?: string }
  | { outcome: 'skipped'; reason: string };

/** The person acting, the web session they act in, and the request. */
export interface Reviewer {
  user: User;
  sessionId?: string | null;
  requestId?: string | null;
}

export interface QueueEntry {
  item: ReviewItem;
  contentId: string;
  accountId: string | null;
  createdAt: string;
  matches: Pick<BankMatch, 'signalId' | 'bank' | 'signalType' | 'distance' | 'labels' | 'provenance' | 'status'>[];
  rules: { ruleId: string; reason: string }[];
  /** No stored file: submitted as hashes only (or evidence not preserved). */
  hashOnly: boolean;
  /** Other open items of the same account. */
  accountOpen: number;
}

export interface ItemView {
  item: ReviewItem;
  decision: DecisionRecord;
  matches: BankMatch[];
  fired: FiredRule[];
  hashOnly: boolean;
  mediaType: string | null;
  opinions: Record<number, Opinion[]>;
  /** The account's other items (open or decided), newest first, at most 50. */
  accountItems: { id: number; state: string; outcome: string | null; priority: number; createdAt: string }[];
  viewedByPerson: boolean;
  heldByMe: boolean;
}

export interface ReviewServiceOptions {
  db: VigilDatabase;
  records: DecisionRecords;
  audit: AuditLog;
  banks: BankService;
  store: Store;
  sessions?: SessionStore;
  now?: () => Date;
  leaseMs?: number;
  scales?: readonly Scale[];
  wellness?: WellnessPrefs;
  /** Inside the confirmation's unit of work: opens the CyberTipline report (reports/, when reporting is set up). */
  onConfirmed?: (tx: Tx, item: ReviewItem, who: AuditActor) => Promise<void>;
}

export function actorOfUser(user: Pick<User, 'id'>): string {
  return `user:${user.id}`;
}

function auditActor(r: Reviewer): AuditActor {
  return { actor: actorOfUser(r.user), requestId: r.requestId ?? null };
}

function text(value: unknown, name: string, required: boolean): string | undefined {
  if (value === undefined || value === null || value === '') {
    if (required) throw invalidArgument('a non-empty reason', name, value);
    return undefined;
  }
  if (typeof value !== 'string' || value.length > MAX_TEXT) throw invalidArgument(`text of at most ${MAX_TEXT} characters`, name, value);
  return value;
}

export class ReviewService {
  private readonly o: ReviewServiceOptions;
  private readonly now: () => Date;
  readonly leaseMs: number;
  readonly scales: readonly Scale[];
  readonly wellness: WellnessPrefs;
  /** The queue as one job per account (review-jobs.ts). */
  readonly jobs: ReviewJobs;

  constructor(options: ReviewServiceOptions) {
    this.o = options;
    this.now = options.now ?? (() => new Date());
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.scales = options.scales ?? ['industry'];
    this.wellness = options.wellness ?? ORG_WELLNESS;
    this.jobs = new ReviewJobs({ db: options.db, audit: options.audit, store: options.store, review: this, now: this.now });
  }

  /** The classifications this organisation accepts, in key order. */
  classifications(): string[] {
    return ['industry', ...this.scales.filter((s) => s !== 'industry')].flatMap((s) => SCALES[s as Scale]);
  }

  /** The queues a person may work: none without the review scope; child-safety ones only with the grant. */
  queuesOf(user: User): string[] {
    if (!userHasScope(user, 'review') || !canSeeChildSafety(user)) return [];
    return user.role === 'senior_reviewer' || user.role === 'admin' ? ['child_safety', 'senior'] : ['child_safety'];
  }

  private mayWork(user: User, queue: string): boolean {
    return this.queuesOf(user).includes(queue);
  }

  /** The item, if this person may see it (checked on every read). */
  private async visible(user: User, id: number, tx?: Tx): Promise<ReviewItem> {
    if (!Number.isSafeInteger(id) || id <= 0) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No review item ${String(id)}`);
    const item = await this.o.records.getReviewItem(id, tx);
    if (!item) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No review item ${id}`);
    if (!this.mayWork(user, item.queue)) throw new VigilError('VIGIL_ERR_FORBIDDEN', `You may not see items of the ${item.queue} queue`);
    return item;
  }

  /** Open items (and expired claims) of the person's queues, by priority then age, with their context. */
  async queue(user: User, options: { limit?: number; queue?: string } = {}): Promise<QueueEntry[]> {
    const queues = options.queue ? this.queuesOf(user).filter((q) => q === options.queue) : this.queuesOf(user);
    if (queues.length === 0) return [];
    const limit = Math.max(1, Math.min(options.limit ?? 50, 200));
    const now = this.now().toISOString();
    const k = this.o.db.k;
    // Two queries, not one with an OR: open items walk the (state, priority, id) index and stop at `limit`;
    // claimed items are few. Merged in the queue's order.
    const base = () => k.selectFrom('review_items as r').innerJoin('decisions as d', 'd.id', 'r.decision_id')
      .selectAll('r').select(['d.content_id', 'd.account_id', 'd.evidence_id']).where('r.queue', 'in', queues);
    const [openRows, claimedRows] = await Promise.all([
      base().where('r.state', '=', 'open').orderBy('r.priority', 'desc').orderBy('r.id').limit(limit).execute(),
      base().where('r.state', '=', 'claimed').where((eb) => eb.or([eb('r.lease_until', '<=', now), eb('r.assignee', '=', actorOfUser(user))]))
        .orderBy('r.priority', 'desc').orderBy('r.id').limit(limit).execute(),
    ]);
    const rows = [...openRows, ...claimedRows].sort((a, b) => Number(b.priority) - Number(a.priority) || Number(a.id) - Number(b.id)).slice(0, limit);
    if (rows.length === 0) return [];
    const decisionIds = rows.map((r) => Number(r.decision_id));
    const accounts = [...new Set(rows.map((r) => r.account_id).filter((a): a is string => a !== null))];
    const [matches, rules, perAccount] = await Promise.all([
      k.selectFrom('decision_matches').select(['decision_id', 'detail']).where('decision_id', 'in', decisionIds).orderBy('decision_id').orderBy('ordinal').execute(),
      k.selectFrom('decision_rules').select(['decision_id', 'rule_id', 'reason']).where('decision_id', 'in', decisionIds).orderBy('decision_id').orderBy('ordinal').execute(),
      accounts.length === 0 ? Promise.resolve([]) : k.selectFrom('review_items as r').innerJoin('decisions as d', 'd.id', 'r.decision_id')
        .select((eb) => ['d.account_id', eb.fn.countAll<number>().as('n')]).where('d.account_id', 'in', accounts).where('r.state', '<>', 'decided').groupBy('d.account_id').execute(),
    ]);
    const open = new Map(perAccount.map((a) => [a.account_id, Number(a.n)]));
    const matchesOf = new Map<number, QueueEntry['matches']>();
    for (const m of matches) {
      const b = JSON.parse(m.detail) as BankMatch;
      const list = matchesOf.get(Number(m.decision_id)) ?? [];
      list.push({ signalId: b.signalId, bank: b.bank, signalType: b.signalType, distance: b.distance, labels: b.labels, provenance: b.provenance, status: b.status });
      matchesOf.set(Number(m.decision_id), list);
    }
    const rulesOf = new Map<number, QueueEntry['rules']>();
    for (const r of rules) {
      const list = rulesOf.get(Number(r.decision_id)) ?? [];
      list.push({ ruleId: r.rule_id, reason: r.reason });
      rulesOf.set(Number(r.decision_id), list);
    }
    return rows.map((r) => ({
      item: {
        id: Number(r.id), decisionId: Number(r.decision_id), incidentId: r.incident_id === null ? null : Number(r.incident_id), queue: r.queue,
        priority: Number(r.priority), state: r.state as ReviewItem['state'], assignee: r.assignee, claimedAt: r.claimed_at, leaseUntil: r.lease_until,
        outcome: r.outcome as ReviewItem['outcome'], classification: r.classification, note: r.note, decidedBy: r.decided_by, decidedAt: r.decided_at, createdAt: r.created_at,
      },
      contentId: r.content_id, accountId: r.account_id, createdAt: r.created_at,
      matches: matchesOf.get(Number(r.decision_id)) ?? [], rules: rulesOf.get(Number(r.decision_id)) ?? [],
      hashOnly: r.evidence_id === null,
      accountOpen: r.account_id === null ? 0 : Math.max(0, (open.get(r.account_id) ?? 1) - 1),
    }));
  }

  /** One item with everything a reviewer needs to decide, and why it matched. */
  async item(user: User, id: number): Promise<ItemView> {
    const item = await this.visible(user, id);
    const decision = await this.o.records.getDecision(item.decisionId);
    if (!decision) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No decision for review item ${id}`);
    const k = this.o.db.k;
    const signalIds = [...new Set(decision.matches.map((m) => m.signalId))];
    const [evidence, accountItems, viewed, opinionLists] = await Promise.all([
      decision.evidenceId ? k.selectFrom('evidence').select(['media_type', 'deleted_at']).where('id', '=', decision.evidenceId).executeTakeFirst() : Promise.resolve(undefined),
      decision.accountId === null ? Promise.resolve([]) : k.selectFrom('review_items as r').innerJoin('decisions as d', 'd.id', 'r.decision_id')
        .select(['r.id', 'r.state', 'r.outcome', 'r.priority', 'r.created_at']).where('d.account_id', '=', decision.accountId).where('r.id', '<>', id)
        .where('r.queue', 'in', this.queuesOf(user)).orderBy('r.id', 'desc').limit(50).execute(),
      this.viewedByPerson(id),
      Promise.all(signalIds.map(async (s) => [s, await this.o.store.listOpinions(s)] as const)),
    ]);
    return {
      item, decision, matches: decision.matches, fired: decision.fired,
      hashOnly: !evidence || evidence.deleted_at !== null, mediaType: evidence?.media_type ?? null,
      opinions: Object.fromEntries(opinionLists),
      accountItems: accountItems.map((a) => ({ id: Number(a.id), state: a.state, outcome: a.outcome, priority: Number(a.priority), createdAt: a.created_at })),
      viewedByPerson: viewed,
      heldByMe: this.holds(user, item),
    };
  }

  private holds(user: User, item: ReviewItem): boolean {
    return item.state === 'claimed' && item.assignee === actorOfUser(user) && item.leaseUntil !== null && Date.parse(item.leaseUntil) > this.now().getTime();
  }

  async claim(r: Reviewer, id: number): Promise<ReviewItem> {
    return this.o.db.transaction(async (tx) => {
      await this.visible(r.user, id, tx);
      const now = this.now();
      const item = await this.o.records.claimReviewItem(tx, id, actorOfUser(r.user), now.toISOString(), new Date(now.getTime() + this.leaseMs).toISOString());
      await this.o.audit.append(tx, { ...auditActor(r), action: 'review.claimed', subject: `review_item:${id}`, details: { leaseUntil: item.leaseUntil } });
      return item;
    });
  }

  async release(r: Reviewer, id: number): Promise<boolean> {
    return this.o.db.transaction(async (tx) => {
      await this.visible(r.user, id, tx);
      const released = await this.o.records.releaseReviewItem(tx, id, actorOfUser(r.user), this.now().toISOString());
      if (released) await this.o.audit.append(tx, { ...auditActor(r), action: 'review.released', subject: `review_item:${id}` });
      return released;
    });
  }

  private check(d: ReviewDecisionInput): ReviewDecisionInput {
    switch (d?.outcome) {
      case 'confirmed':
        if (!this.classifications().includes(d.classification)) throw invalidArgument(`a classification (${this.classifications().join(', ')})`, 'classification', d.classification);
        return { outcome: 'confirmed', classification: d.classification, ...(text(d.note, 'note', false) ? { note: d.note! } : {}) };
      case 'false_positive':
        if (d.signalIds !== undefined && (!Array.isArray(d.signalIds) || !d.signalIds.every((s) => Number.isSafeInteger(s)))) throw invalidArgument('signal ids', 'signalIds', d.signalIds);
        return { outcome: 'false_positive', reason: text(d.reason, 'reason', true)!, ...(d.signalIds ? { signalIds: d.signalIds } : {}) };
      case 'escalated':
        return { outcome: 'escalated', ...(text(d.note, 'note', false) ? { note: d.note! } : {}) };
      case 'skipped':
        return { outcome: 'skipped', reason: text(d.reason, 'reason', true)! };
      default:
        throw invalidArgument('an outcome (confirmed, false_positive, escalated, skipped)', 'outcome', (d as { outcome?: unknown } | undefined)?.outcome);
    }
  }

  /** Decides one item the person holds; its consequences and audit entry commit together. */
  async decide(r: Reviewer, id: number, input: ReviewDecisionInput): Promise<ReviewItem> {
    const d = this.check(input);
    let opinions = 0;
    const item = await this.o.db.transaction(async (tx) => {
      const res = await this.decideIn(tx, r, id, d, {});
      opinions = res.opinions;
      return res.item;
    });
    if (opinions > 0) await this.o.banks.onChange();
    return item;
  }

  /**
   * One decision for several items the person holds, in one unit of work (a job decision): all or none —
   * an item whose claim lapsed meanwhile fails the whole unit.
   */
  async decideMany(r: Reviewer, ids: number[], input: ReviewDecisionInput, extra: Record<string, unknown>): Promise<number[]> {
    const d = this.check(input);
    if (ids.length > MAX_BULK) throw invalidArgument(`at most ${MAX_BULK} items at once`, 'bulk', ids.length);
    let opinions = 0;
    await this.o.db.transaction(async (tx) => {
      for (const id of ids) opinions += (await this.decideIn(tx, r, id, d, extra)).opinions;
    });
    if (opinions > 0) await this.o.banks.onChange();
    return ids;
  }

  private async decideIn(tx: Tx, r: Reviewer, id: number, d: ReviewDecisionInput, extra: Record<string, unknown>): Promise<{ item: ReviewItem; opinions: number }> {
    const before = await this.visible(r.user, id, tx);
    const at = this.now().toISOString();
    const by = actorOfUser(r.user);
    if (d.outcome === 'escalated' && before.queue === 'senior') throw invalidArgument('a decision other than escalate (the item is already with a senior reviewer)', 'outcome', d.outcome);
    const item = await this.o.records.decideReviewItem(tx, id, {
      by, outcome: d.outcome, now: at,
      classification: d.outcome === 'confirmed' ? d.classification : null,
      note: d.outcome === 'confirmed' || d.outcome === 'escalated' ? d.note ?? null : d.reason,
    });
    const viewed = await this.viewedByPerson(id, tx);
    let opinions: number[] = [];
    if (d.outcome === 'confirmed' && item.incidentId !== null) await this.o.records.setIncidentState(tx, item.incidentId, 'confirmed', at);
    if (d.outcome === 'confirmed' && item.incidentId !== null) await this.o.onConfirmed?.(tx, item, auditActor(r));
    if (d.outcome === 'false_positive') {
      if (item.incidentId !== null) await this.o.records.setIncidentState(tx, item.incidentId, 'dismissed', at);
      // Remote matches (negative ids, pipeline/remote.ts) have no local signal to hold an opinion.
      const matched = [...new Set((await tx.k.selectFrom('decision_matches').select('signal_id').where('decision_id', '=', item.decisionId).execute()).map((m) => Number(m.signal_id)).filter((s) => s > 0))];
      opinions = d.signalIds ? d.signalIds.filter((s) => matched.includes(s)) : matched;
      if (d.signalIds && opinions.length !== d.signalIds.length) throw invalidArgument('signals this item matched', 'signalIds', d.signalIds);
      for (const s of opinions) await this.o.banks.addOpinionIn(tx, auditActor(r), s, { kind: 'false_positive', reason: d.reason }, { reviewItem: id });
    }
    const entry: AuditInput = {
      ...auditActor(r), action: 'review.decided', subject: `review_item:${id}`,
      details: {
        reviewItemId: id, outcome: d.outcome, decisionId: item.decisionId, incidentId: item.incidentId, queue: before.queue,
        ...(d.outcome === 'confirmed' ? { classification: d.classification } : {}),
        ...(d.outcome === 'false_positive' || d.outcome === 'skipped' ? { reason: d.reason } : {}),
        ...(opinions.length > 0 ? { opinions } : {}),
        // NCMEC fileViewedByEsp: true only when a person revealed this item's file (review_views).
        fileViewedByPerson: viewed,
        ...extra,
      },
    };
    await this.o.audit.append(tx, entry);
    return { item, opinions: opinions.length };
  }

  /**
   * Applies one decision to the items sharing a matched signal (`by: 'signal'`) or the account (`by:
   * 'account'`) of `anchorId`, at most MAX_BULK, in one unit of work: each is claimed (items claimed by
   * someone else are left alone), decided and audited.
   */
  async bulk(r: Reviewer, anchorId: number, by: 'signal' | 'account', input: ReviewDecisionInput): Promise<{ decided: number[]; skipped: number[] }> {
    const d = this.check(input);
    if (by !== 'signal' && by !== 'account') throw invalidArgument('signal or account', 'by', by);
    let opinions = 0;
    const result = await this.o.db.transaction(async (tx) => {
      const anchor = await this.visible(r.user, anchorId, tx);
      const queues = this.queuesOf(r.user);
      const decision = await tx.k.selectFrom('decisions').select(['account_id']).where('id', '=', anchor.decisionId).executeTakeFirstOrThrow();
      let q = tx.k.selectFrom('review_items as r').innerJoin('decisions as d', 'd.id', 'r.decision_id').select(['r.id']).distinct()
        .where('r.queue', 'in', queues).where('r.state', '<>', 'decided');
      if (by === 'account') {
        if (decision.account_id === null) throw invalidArgument('an item with an account', 'anchorId', anchorId);
        q = q.where('d.account_id', '=', decision.account_id);
      } else {
        const signals = tx.k.selectFrom('decision_matches').select('signal_id').where('decision_id', '=', anchor.decisionId);
        q = q.innerJoin('decision_matches as m', 'm.decision_id', 'd.id').where('m.signal_id', 'in', signals);
      }
      const ids = (await q.orderBy('r.id').limit(MAX_BULK + 1).execute()).map((x) => Number(x.id));
      if (ids.length > MAX_BULK) throw invalidArgument(`at most ${MAX_BULK} items at once`, 'bulk', ids.length);
      const now = this.now();
      const decided: number[] = [];
      const skipped: number[] = [];
      for (const id of ids) {
        const claimed = await tx.k.updateTable('review_items')
          .set({ state: 'claimed', assignee: actorOfUser(r.user), claimed_at: now.toISOString(), lease_until: new Date(now.getTime() + this.leaseMs).toISOString(), updated_at: now.toISOString() })
          .where('id', '=', id)
          .where((eb) => eb.or([eb('state', '=', 'open'), eb.and([eb('state', '=', 'claimed'), eb.or([eb('lease_until', '<=', now.toISOString()), eb('assignee', '=', actorOfUser(r.user))])])]))
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) === 0) {
          skipped.push(id);
          continue;
        }
        opinions += (await this.decideIn(tx, r, id, d, { bulk: { by, anchor: anchorId } })).opinions;
        decided.push(id);
      }
      await this.o.audit.append(tx, { ...auditActor(r), action: 'review.bulk_decided', subject: `review_item:${anchorId}`, details: { by, outcome: d.outcome, decided, skipped } });
      return { decided, skipped };
    });
    if (opinions > 0) await this.o.banks.onChange();
    return result;
  }

  /**
   * A person reveals an item's file: only the holder of a live claim, only an item with a stored file.
   * Recorded as a view (what `fileViewedByEsp` is built from), counted in the session, audited.
   */
  async reveal(r: Reviewer, id: number): Promise<{ evidenceId: string; mediaType: string | null; reveals: number }> {
    return this.o.db.transaction(async (tx) => {
      const media = await this.mediaIn(tx, r.user, id);
      const at = this.now().toISOString();
      await tx.k.insertInto('review_views').values({ review_item_id: id, decision_id: media.decisionId, user_id: r.user.id, session_id: r.sessionId ?? null, at }).execute();
      const reveals = r.sessionId && this.o.sessions ? await this.o.sessions.countReveal(tx, r.sessionId) : 0;
      await this.o.audit.append(tx, { ...auditActor(r), action: 'review.revealed', subject: `review_item:${id}`, details: { decisionId: media.decisionId, evidenceId: media.evidenceId, sessionReveals: reveals } });
      return { evidenceId: media.evidenceId, mediaType: media.mediaType, reveals };
    });
  }

  /** The stored file behind an item, for a person holding its claim (the media route checks again on each fetch). */
  async media(user: User, id: number): Promise<{ evidenceId: string; mediaType: string | null; sha256: string; decisionId: number }> {
    return this.mediaIn(undefined, user, id);
  }

  private async mediaIn(tx: Tx | undefined, user: User, id: number): Promise<{ evidenceId: string; mediaType: string | null; sha256: string; decisionId: number }> {
    const item = await this.visible(user, id, tx);
    if (!this.holds(user, item)) throw new VigilError('VIGIL_ERR_CONFLICT', `Claim review item ${id} before viewing its file`);
    const row = await (tx?.k ?? this.o.db.k).selectFrom('decisions as d').innerJoin('evidence as e', 'e.id', 'd.evidence_id')
      .select(['e.id', 'e.media_type', 'e.sha256', 'e.deleted_at']).where('d.id', '=', item.decisionId).executeTakeFirst();
    if (!row || row.deleted_at !== null) throw new VigilError('VIGIL_ERR_NOT_FOUND', `Review item ${id} has no stored file (hashes only)`);
    return { evidenceId: row.id, mediaType: row.media_type, sha256: row.sha256, decisionId: item.decisionId };
  }

  /** True when some person revealed this item's file (NCMEC `fileViewedByEsp`). */
  async viewedByPerson(id: number, tx?: Tx): Promise<boolean> {
    return (await (tx?.k ?? this.o.db.k).selectFrom('review_views').select('id').where('review_item_id', '=', id).limit(1).executeTakeFirst()) !== undefined;
  }

  async prefs(userId: number): Promise<WellnessPrefs> {
    const row = await this.o.db.k.selectFrom('reviewer_prefs').select('prefs').where('user_id', '=', userId).executeTakeFirst();
    // Stored preferences are re-checked against today's minimums (the organisation may have raised them).
    return this.stricter(row ? (JSON.parse(row.prefs) as Partial<WellnessPrefs>) : {});
  }

  /** Preferences, each clamped to be at least as strict as the organisation's. */
  stricter(p: Partial<WellnessPrefs>): WellnessPrefs {
    const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
    const w = this.wellness;
    return {
      blurPx: Math.min(64, Math.max(w.blurPx, num(p.blurPx, w.blurPx))),
      greyscalePct: Math.min(100, Math.max(w.greyscalePct, num(p.greyscalePct, w.greyscalePct))),
      sessionReminderMin: Math.max(5, Math.min(w.sessionReminderMin, num(p.sessionReminderMin, w.sessionReminderMin))),
    };
  }

  /** Saves preferences; values less strict than the organisation's are refused, not silently raised. */
  async setPrefs(r: Reviewer, p: Partial<WellnessPrefs>): Promise<WellnessPrefs> {
    const w = this.wellness;
    if (p.blurPx !== undefined && !(p.blurPx >= w.blurPx && p.blurPx <= 64)) throw invalidArgument(`a blur of ${w.blurPx}–64 px (the organisation's minimum is ${w.blurPx})`, 'blurPx', p.blurPx);
    if (p.greyscalePct !== undefined && !(p.greyscalePct >= w.greyscalePct && p.greyscalePct <= 100)) throw invalidArgument(`a greyscale of ${w.greyscalePct}–100 %`, 'greyscalePct', p.greyscalePct);
    if (p.sessionReminderMin !== undefined && !(p.sessionReminderMin >= 5 && p.sessionReminderMin <= w.sessionReminderMin)) throw invalidArgument(`a reminder after 5–${w.sessionReminderMin} minutes`, 'sessionReminderMin', p.sessionReminderMin);
    const prefs = this.stricter({ ...(await this.prefs(r.user.id)), ...p });
    const at = this.now().toISOString();
    await this.o.db.transaction(async (tx) => {
      await tx.k.insertInto('reviewer_prefs').values({ user_id: r.user.id, prefs: JSON.stringify(prefs), updated_at: at })
        .onConflict((oc) => oc.column('user_id').doUpdateSet({ prefs: JSON.stringify(prefs), updated_at: at })).execute();
      await this.o.audit.append(tx, { ...auditActor(r), action: 'review.prefs_changed', subject: `user:${r.user.id}`, details: { ...prefs } });
    });
    return prefs;
  }
}
