/**
 * Review jobs: all of one account's pending media worked as one job, as a report to NCMEC groups them. The
 * queue lists jobs (a job ranks where its most urgent item ranks: priority, then age); a job page shows every
 * item with its context and the account's other matches; claiming a job claims each of its items with the
 * same lease as a single claim; a whole-job decision applies to the items the person holds. Items without an
 * account are jobs of one.
 *
 * Two reviewers never decide the same item: every claim is one conditional UPDATE per item (open, expired, or
 * already the claimant's), taken in id order so that two people claiming one job never deadlock on
 * PostgreSQL and simply split it; a decision needs the decider's live claim (DecisionRecords.decideReviewItem).
 */
import { invalidArgument, VigilError } from '../core/errors.js';
import type { BankMatch } from '../banks/matcher.js';
import type { ReviewItem } from '../records/decisions.js';
import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { Tx, VigilDatabase } from '../state/database.js';
import type { StateSchema } from '../state/schema.js';
import type { Opinion, Store } from '../store/types.js';
import type { AuditLog } from '../audit/log.js';
import type { User } from '../auth/users.js';
import { actorOfUser, MAX_BULK, type QueueEntry, type ReviewDecisionInput, type Reviewer, type ReviewService } from './review.js';

/** A job's key in URLs: `a` + the account id (base64url), or `i` + the item id for an item without an account. */
export type JobRef = { accountId: string } | { itemId: number };

export function jobKey(accountId: string | null, itemId: number): string {
  return accountId === null ? `i${itemId}` : `a${Buffer.from(accountId, 'utf8').toString('base64url')}`;
}

export function parseJobKey(key: string): JobRef {
  if (/^i\d{1,15}$/.test(key)) return { itemId: Number(key.slice(1)) };
  if (/^a[A-Za-z0-9_-]{1,700}$/.test(key)) return { accountId: Buffer.from(key.slice(1), 'base64url').toString('utf8') };
  throw new VigilError('VIGIL_ERR_NOT_FOUND', `No review job ${JSON.stringify(key.slice(0, 40))}`);
}

type MatchSummary = QueueEntry['matches'][number];

export interface JobSummary {
  key: string;
  accountId: string | null;
  /** The highest priority among its pending items. */
  priority: number;
  /** When its oldest pending item arrived. */
  oldest: string;
  /** Pending items this person may work (open, expired, or held by them). */
  open: number;
  heldByMe: number;
  /** Items someone else holds a live claim on (left alone by a job claim). */
  heldByOthers: number;
  hashOnly: number;
  /** The matches and fired rules of its most urgent item. */
  top: { itemId: number; matches: MatchSummary[]; rules: string[] };
}

export interface JobItem {
  item: ReviewItem;
  contentId: string;
  createdAt: string;
  hashOnly: boolean;
  mediaType: string | null;
  matches: BankMatch[];
  rules: { ruleId: string; reason: string }[];
  heldByMe: boolean;
}

export interface JobView {
  key: string;
  accountId: string | null;
  /** Every pending item of the job in this person's queues (at most MAX_BULK), most urgent first. */
  items: JobItem[];
  /** The account's decided items, newest first (at most 50). */
  history: { id: number; outcome: string | null; classification: string | null; decidedBy: string | null; decidedAt: string | null }[];
  /** Every signal any of the account's content matched (at most 100), with how often and how closely. */
  accountMatches: { signalId: number; bank: string; signalType: string; times: number; minDistance: number }[];
  opinions: Record<number, Opinion[]>;
  leaseUntil: string | null;
}

interface JobsOptions {
  db: VigilDatabase;
  audit: AuditLog;
  store: Store;
  review: ReviewService;
  now: () => Date;
}

/**
 * How the queue walks open items to find a page of distinct jobs: first 4 × the page (usually enough: most
 * accounts have few items), then larger steps, at most 10,000 rows in all.
 */
const WALK_FIRST = 4;
const WALK_PAGE = 1000;
const WALK_PAGES = 10;

interface Row {
  id: number | string;
  decision_id: number | string;
  priority: number | string;
  created_at: string;
  account_id: string | null;
}

const urgent = (a: Row, b: Row) => Number(b.priority) - Number(a.priority) || Number(a.id) - Number(b.id);

export class ReviewJobs {
  constructor(private readonly o: JobsOptions) {}

  /**
   * The queue as jobs, most urgent first. Walks the open items in the (state, priority, id) index order and
   * stops once it has `limit` distinct accounts — a page costs what it shows, not the size of the queue — then
   * counts only those accounts' items (the decisions_account index).
   */
  async list(user: User, options: { limit?: number } = {}): Promise<JobSummary[]> {
    const queues = this.o.review.queuesOf(user);
    if (queues.length === 0) return [];
    const limit = Math.max(1, Math.min(options.limit ?? 50, 200));
    const now = this.o.now().toISOString();
    const me = actorOfUser(user);
    const k = this.o.db.k;
    const cols = ['r.id', 'r.decision_id', 'r.priority', 'r.created_at', 'd.account_id'] as const;
    const base = () => k.selectFrom('review_items as r').innerJoin('decisions as d', 'd.id', 'r.decision_id').select(cols).where('r.queue', 'in', queues);
    // Claimed items that are the reader's or expired: few, fetched once and merged into the walk.
    const claimed = (await base().where('r.state', '=', 'claimed').where((eb) => eb.or([eb('r.lease_until', '<=', now), eb('r.assignee', '=', me)]))
      .orderBy('r.priority', 'desc').orderBy('r.id').limit(MAX_BULK).execute()) as Row[];
    const firsts = new Map<string, Row>();
    const take = (rows: Row[]) => {
      for (const r of rows) {
        const key = jobKey(r.account_id, Number(r.id));
        if (!firsts.has(key)) firsts.set(key, r);
        if (firsts.size >= limit) return true;
      }
      return false;
    };
    let pending = claimed;
    let last: Row | undefined;
    for (let page = 0; page < WALK_PAGES; page++) {
      const size = page === 0 ? limit * WALK_FIRST : WALK_PAGE;
      let q = base().where('r.state', '=', 'open').orderBy('r.priority', 'desc').orderBy('r.id').limit(size);
      if (last) {
        const p = Number(last.priority);
        const id = Number(last.id);
        q = q.where((eb) => eb.or([eb('r.priority', '<', p), eb.and([eb('r.priority', '=', p), eb('r.id', '>', id)])]));
      }
      const open = (await q.execute()) as Row[];
      const end = open.length < size;
      last = open.at(-1) ?? last;
      const upTo = last;
      const now_ = end || !upTo ? pending : pending.filter((c) => urgent(c, upTo) <= 0);
      pending = end || !upTo ? [] : pending.filter((c) => urgent(c, upTo) > 0);
      if (take([...open, ...now_].sort(urgent)) || end) break;
    }
    if (firsts.size < limit) take(pending);
    const jobs = [...firsts.values()].sort(urgent).slice(0, limit);
    if (jobs.length === 0) return [];

    const accounts = jobs.map((j) => j.account_id).filter((a): a is string => a !== null);
    const single = jobs.filter((j) => j.account_id === null).map((j) => Number(j.id));
    // One aggregate over the chosen accounts' undecided items (decisions_account index): what is pending for
    // this person (open, expired or theirs) and what others hold.
    const live = (eb: ExpressionBuilder<StateSchema & { r: StateSchema['review_items'] }, 'r'>) => eb.and([eb('r.state', '=', 'claimed'), eb('r.lease_until', '>', now)]);
    const [perAccount, matches, rules] = await Promise.all([
      accounts.length === 0 ? Promise.resolve([]) : k.selectFrom('review_items as r').innerJoin('decisions as d', 'd.id', 'r.decision_id')
        .select((eb) => {
          const pending = eb.or([eb('r.state', '=', 'open'), eb.and([eb('r.state', '=', 'claimed'), eb.or([eb('r.lease_until', '<=', now), eb('r.assignee', '=', me)])])]);
          const count = (cond: Expression<SqlBool>) => eb.fn.sum<number>(eb.case().when(cond).then(1).else(0).end());
          return [
            'd.account_id',
            count(pending).as('n'),
            eb.fn.min(eb.case().when(pending).then(eb.ref('r.created_at')).end()).as('oldest'),
            count(eb.and([eb('r.state', '=', 'claimed'), eb('r.assignee', '=', me), eb('r.lease_until', '>', now)])).as('mine'),
            count(eb.and([live(eb), eb('r.assignee', '<>', me)])).as('others'),
            count(eb.and([pending, eb('d.evidence_id', 'is', null)])).as('hash_only'),
          ];
        })
        .where('d.account_id', 'in', accounts).where('r.queue', 'in', queues).where('r.state', '<>', 'decided').groupBy('d.account_id').execute(),
      k.selectFrom('decision_matches').select(['decision_id', 'detail']).where('decision_id', 'in', jobs.map((j) => Number(j.decision_id))).orderBy('decision_id').orderBy('ordinal').execute(),
      k.selectFrom('decision_rules').select(['decision_id', 'rule_id']).where('decision_id', 'in', jobs.map((j) => Number(j.decision_id))).orderBy('decision_id').orderBy('ordinal').execute(),
    ]);
    const singles = single.length === 0 ? [] : await k.selectFrom('review_items as r').innerJoin('decisions as d', 'd.id', 'r.decision_id')
      .select(['r.id', 'r.assignee', 'd.evidence_id']).where('r.id', 'in', single).execute();
    const agg = new Map(perAccount.map((a) => [a.account_id, a]));
    const one = new Map(singles.map((s) => [Number(s.id), s]));
    return jobs.map((j) => {
      const id = Number(j.id);
      const a = j.account_id === null ? undefined : agg.get(j.account_id);
      const s = one.get(id);
      return {
        key: jobKey(j.account_id, id), accountId: j.account_id, priority: Number(j.priority),
        oldest: a ? String(a.oldest) : j.created_at,
        open: a ? Number(a.n) : 1,
        heldByMe: a ? Number(a.mine) : s?.assignee === me ? 1 : 0,
        heldByOthers: a ? Number(a.others) : 0,
        hashOnly: a ? Number(a.hash_only) : s?.evidence_id === null ? 1 : 0,
        top: {
          itemId: id,
          matches: matches.filter((m) => Number(m.decision_id) === Number(j.decision_id)).map((m) => {
            const b = JSON.parse(m.detail) as BankMatch;
            return { signalId: b.signalId, bank: b.bank, signalType: b.signalType, distance: b.distance, labels: b.labels, provenance: b.provenance, status: b.status };
          }),
          rules: rules.filter((r) => Number(r.decision_id) === Number(j.decision_id)).map((r) => r.rule_id),
        },
      };
    });
  }

  /** Ids of the job's pending items this person may work, in id order (the lock order), at most MAX_BULK + 1. */
  private async pendingIds(tx: Tx, user: User, ref: JobRef): Promise<number[]> {
    let q = tx.k.selectFrom('review_items as r').innerJoin('decisions as d', 'd.id', 'r.decision_id').select('r.id')
      .where('r.queue', 'in', this.o.review.queuesOf(user)).where('r.state', '<>', 'decided');
    q = 'itemId' in ref ? q.where('r.id', '=', ref.itemId) : q.where('d.account_id', '=', ref.accountId);
    return (await q.orderBy('r.id').limit(MAX_BULK + 1).execute()).map((r) => Number(r.id));
  }

  /** Jobs are child-safety work: the same grant as items, checked on every read (items are filtered by queue too). */
  private check(user: User): void {
    if (this.o.review.queuesOf(user).length === 0) throw new VigilError('VIGIL_ERR_FORBIDDEN', 'You may not see child-safety review jobs');
  }

  /** Every pending item of the job with its context, the account's history and every signal it matched. */
  async view(user: User, key: string): Promise<JobView> {
    const ref = parseJobKey(key);
    this.check(user);
    const k = this.o.db.k;
    const queues = this.o.review.queuesOf(user);
    const me = actorOfUser(user);
    const nowMs = this.o.now().getTime();
    let q = k.selectFrom('review_items as r').innerJoin('decisions as d', 'd.id', 'r.decision_id').leftJoin('evidence as e', 'e.id', 'd.evidence_id')
      .selectAll('r').select(['d.content_id', 'd.account_id', 'e.id as evidence_row', 'e.media_type', 'e.deleted_at']).where('r.queue', 'in', queues);
    q = 'itemId' in ref ? q.where('r.id', '=', ref.itemId) : q.where('d.account_id', '=', ref.accountId);
    const rows = await q.where('r.state', '<>', 'decided').orderBy('r.priority', 'desc').orderBy('r.id').limit(MAX_BULK).execute();
    const accountId = 'accountId' in ref ? ref.accountId : rows[0]?.account_id ?? null;
    if (rows.length === 0 && 'itemId' in ref) {
      // A decided single item still has a page (its outcome); an unknown or forbidden one has none.
      await this.o.review.item(user, ref.itemId);
    }
    const decisionIds = rows.map((r) => Number(r.decision_id));
    const [matches, rules, history, accountMatches] = await Promise.all([
      decisionIds.length === 0 ? Promise.resolve([]) : k.selectFrom('decision_matches').select(['decision_id', 'detail']).where('decision_id', 'in', decisionIds).orderBy('decision_id').orderBy('ordinal').execute(),
      decisionIds.length === 0 ? Promise.resolve([]) : k.selectFrom('decision_rules').select(['decision_id', 'rule_id', 'reason']).where('decision_id', 'in', decisionIds).orderBy('decision_id').orderBy('ordinal').execute(),
      (() => {
        let h = k.selectFrom('review_items as r').innerJoin('decisions as d', 'd.id', 'r.decision_id')
          .select(['r.id', 'r.outcome', 'r.classification', 'r.decided_by', 'r.decided_at']).where('r.queue', 'in', queues).where('r.state', '=', 'decided');
        h = accountId === null ? h.where('r.id', '=', 'itemId' in ref ? ref.itemId : 0) : h.where('d.account_id', '=', accountId);
        return h.orderBy('r.id', 'desc').limit(50).execute();
      })(),
      accountId === null ? Promise.resolve([]) : k.selectFrom('decision_matches as m').innerJoin('decisions as d', 'd.id', 'm.decision_id')
        .select((eb) => ['m.signal_id', 'm.bank', 'm.signal_type', eb.fn.countAll<number>().as('times'), eb.fn.min('m.distance').as('min_distance')])
        .where('d.account_id', '=', accountId).groupBy(['m.signal_id', 'm.bank', 'm.signal_type']).orderBy('m.signal_id').limit(100).execute(),
    ]);
    const items: JobItem[] = rows.map((r) => {
      const item: ReviewItem = {
        id: Number(r.id), decisionId: Number(r.decision_id), incidentId: r.incident_id === null ? null : Number(r.incident_id), queue: r.queue,
        priority: Number(r.priority), state: r.state as ReviewItem['state'], assignee: r.assignee, claimedAt: r.claimed_at, leaseUntil: r.lease_until,
        outcome: r.outcome as ReviewItem['outcome'], classification: r.classification, note: r.note, decidedBy: r.decided_by, decidedAt: r.decided_at, createdAt: r.created_at,
      };
      return {
        item, contentId: r.content_id, createdAt: r.created_at,
        hashOnly: r.evidence_row === null || r.deleted_at !== null, mediaType: r.media_type ?? null,
        matches: matches.filter((m) => Number(m.decision_id) === item.decisionId).map((m) => JSON.parse(m.detail) as BankMatch),
        rules: rules.filter((x) => Number(x.decision_id) === item.decisionId).map((x) => ({ ruleId: x.rule_id, reason: x.reason })),
        heldByMe: item.state === 'claimed' && item.assignee === me && item.leaseUntil !== null && Date.parse(item.leaseUntil) > nowMs,
      };
    });
    const signalIds = [...new Set(items.flatMap((i) => i.matches.map((m) => m.signalId)))].slice(0, 200);
    const opinionLists = await Promise.all(signalIds.map(async (s) => [s, await this.o.store.listOpinions(s)] as const));
    const mine = items.filter((i) => i.heldByMe).map((i) => i.item.leaseUntil!).sort();
    return {
      key, accountId, items, opinions: Object.fromEntries(opinionLists),
      history: history.map((h) => ({ id: Number(h.id), outcome: h.outcome, classification: h.classification, decidedBy: h.decided_by, decidedAt: h.decided_at })),
      accountMatches: accountMatches.map((m) => ({ signalId: Number(m.signal_id), bank: m.bank, signalType: m.signal_type, times: Number(m.times), minDistance: Number(m.min_distance) })),
      leaseUntil: mine[0] ?? null,
    };
  }

  /**
   * Claims every pending item of the job the person may work, in one unit of work: open and expired items
   * become theirs (one audit entry each, and one for the job); items someone else holds stay theirs.
   */
  async claim(r: Reviewer, key: string): Promise<{ claimed: number[]; heldByOthers: number[]; leaseUntil: string }> {
    const ref = parseJobKey(key);
    this.check(r.user);
    const me = actorOfUser(r.user);
    return this.o.db.transaction(async (tx) => {
      const now = this.o.now();
      const at = now.toISOString();
      const leaseUntil = new Date(now.getTime() + this.o.review.leaseMs).toISOString();
      const ids = await this.pendingIds(tx, r.user, ref);
      if (ids.length > MAX_BULK) throw invalidArgument(`a job of at most ${MAX_BULK} items (decide by signal first)`, 'job', ids.length);
      if (ids.length === 0) throw new VigilError('VIGIL_ERR_NOT_FOUND', 'This job has no pending items');
      const claimed: number[] = [];
      const heldByOthers: number[] = [];
      for (const id of ids) {
        const res = await tx.k.updateTable('review_items').set({ state: 'claimed', assignee: me, claimed_at: at, lease_until: leaseUntil, updated_at: at })
          .where('id', '=', id)
          .where((eb) => eb.or([eb('state', '=', 'open'), eb.and([eb('state', '=', 'claimed'), eb.or([eb('lease_until', '<=', at), eb('assignee', '=', me)])])]))
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) === 0) {
          heldByOthers.push(id);
          continue;
        }
        claimed.push(id);
        await this.o.audit.append(tx, { actor: me, requestId: r.requestId ?? null, action: 'review.claimed', subject: `review_item:${id}`, details: { leaseUntil, job: key } });
      }
      await this.o.audit.append(tx, { actor: me, requestId: r.requestId ?? null, action: 'review.job_claimed', subject: `review_job:${key}`, details: { accountId: 'accountId' in ref ? ref.accountId : null, claimed, heldByOthers, leaseUntil } });
      return { claimed, heldByOthers, leaseUntil };
    });
  }

  /** Gives back every claim the person holds on the job's items. */
  async release(r: Reviewer, key: string): Promise<number[]> {
    const ref = parseJobKey(key);
    this.check(r.user);
    const me = actorOfUser(r.user);
    return this.o.db.transaction(async (tx) => {
      const at = this.o.now().toISOString();
      const released: number[] = [];
      for (const id of await this.pendingIds(tx, r.user, ref)) {
        const res = await tx.k.updateTable('review_items').set({ state: 'open', assignee: null, claimed_at: null, lease_until: null, updated_at: at })
          .where('id', '=', id).where('state', '=', 'claimed').where('assignee', '=', me).executeTakeFirst();
        if (Number(res.numUpdatedRows) > 0) released.push(id);
      }
      if (released.length > 0) {
        for (const id of released) await this.o.audit.append(tx, { actor: me, requestId: r.requestId ?? null, action: 'review.released', subject: `review_item:${id}`, details: { job: key } });
        await this.o.audit.append(tx, { actor: me, requestId: r.requestId ?? null, action: 'review.job_released', subject: `review_job:${key}`, details: { released } });
      }
      return released;
    });
  }

  /**
   * One decision for the whole job: applied to the items the person holds a live claim on (never to items
   * that arrived after the claim, nor to anyone else's), each decided and audited as a single decision is.
   */
  async decide(r: Reviewer, key: string, input: ReviewDecisionInput): Promise<{ decided: number[] }> {
    const ref = parseJobKey(key);
    this.check(r.user);
    const me = actorOfUser(r.user);
    const at = this.o.now().toISOString();
    let q = this.o.db.k.selectFrom('review_items as r').innerJoin('decisions as d', 'd.id', 'r.decision_id').select('r.id')
      .where('r.state', '=', 'claimed').where('r.assignee', '=', me).where('r.lease_until', '>', at);
    q = 'itemId' in ref ? q.where('r.id', '=', ref.itemId) : q.where('d.account_id', '=', ref.accountId);
    const ids = (await q.orderBy('r.id').limit(MAX_BULK).execute()).map((x) => Number(x.id));
    if (ids.length === 0) throw new VigilError('VIGIL_ERR_CONFLICT', 'Claim this job before deciding it');
    return { decided: await this.o.review.decideMany(r, ids, input, { job: key }) };
  }
}
