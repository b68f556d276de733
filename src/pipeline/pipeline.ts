/**
 * hash → match → decide → act, for one piece of content. The decision row, the review item, the report
 * draft, the action jobs (webhooks) and the audit entry commit in ONE state-DB transaction (a transactional
 * outbox): a crash before the commit leaves nothing and the caller's retry decides again; after it, the
 * jobs are durable and the worker delivers them. Idempotent on (content id, SHA-256 or hash fingerprint):
 * a retry returns the recorded decision and repeats no action.
 */
import { readFile } from 'node:fs/promises';
import type { BankMatch, BankMatcher, MatchQuery } from '../banks/matcher.js';
import { VigilError } from '../core/errors.js';
import type { ItemBudget } from '../core/budget.js';
import type { FileHashRecord } from '../hashing/hash-file.js';
import type { AuditLog } from '../audit/log.js';
import type { RuleEngine } from '../rules/engine.js';
import type { Decision, PlannedAction } from '../rules/types.js';
import type { SqliteJobQueue } from '../queue/sqlite-queue.js';
import type { Store } from '../store/types.js';
import { webhookJob, type WebhookEvent } from '../webhooks/deliver.js';
import type { EvidenceVault } from './evidence.js';
import { fingerprintOf, matchQueryOfClientHashes, matchQueryOfRecord, serializeQuery, type ClientHashes } from './query.js';
import type { ActionOutcome, DecisionRecord, PipelineRecords, RetainedHashes } from './records.js';

export interface SubmissionMeta {
  /** The platform's id for the content. */
  contentId: string;
  accountId?: string;
  /** Uploader IP, time, surface…: kept with matched content for reports, never for unmatched content. */
  context?: Record<string, unknown>;
  /** Who submitted: 'key:<id>' for API keys. */
  actor: string;
}

export interface MediaSummary {
  media?: FileHashRecord['media'];
  format?: string;
  width?: number;
  height?: number;
  bytes?: number;
  pdq?: string;
  quality?: number;
  frames?: number;
  warning?: string;
  /** Truncated or damaged: the hashes are of the part that decoded. */
  truncated?: true;
  /** Too large to decode whole: hashed from a reduced-size decode. */
  reduced?: true;
  /** The picture could not be decoded: only its digests were matched. */
  error?: FileHashRecord['error'];
}

export interface ContentResult {
  contentId: string;
  /** The idempotency key's second half: the SHA-256, or `h:` + a digest of the submitted hashes. */
  fingerprint: string;
  verdict: Decision['verdict'];
  matches: BankMatch[];
  fired: Decision['fired'];
  actions: ActionOutcome[];
  rulesVersion: string;
  /** Set when the decision was recorded (something in a block bank matched). */
  decisionId: number | null;
  /** This response repeats an earlier identical submission's decision; no action ran again. */
  replayed: boolean;
  /** A retained submission matched a signal added after it was first checked. */
  late: boolean;
  createdAt: string;
  media?: MediaSummary;
}

export interface PipelineOptions {
  store: Store;
  matcher: BankMatcher;
  records: PipelineRecords;
  queue: SqliteJobQueue;
  audit: AuditLog;
  rules: () => RuleEngine;
  hashFile: (path: string, budget?: ItemBudget) => Promise<FileHashRecord>;
  evidence?: EvidenceVault;
  /** Webhook endpoints told about late matches (content already allowed, now matched). */
  lateMatchWebhooks?: () => string[];
  /** Keep hashes of unmatched content this many days for retroactive matching (0: never keep them). */
  retainDays?: number;
  now?: () => Date;
  /** After each commit: wakes the queue worker, counts metrics. */
  onDecision?: (result: ContentResult) => void;
  onJobsQueued?: () => void;
  log?: (msg: string, err?: unknown) => void;
}

const DEFAULT_REVIEW_PRIORITY = 50;
const WEBHOOK_EVENT_TYPE: Partial<Record<PlannedAction['type'], string>> = { disable_account: 'account.disable', notify: 'decision.notify' };

export class ContentPipeline {
  constructor(private readonly o: PipelineOptions) {}

  /** An uploaded file (already on disk, in a private temp folder the caller removes). */
  async submitFile(meta: SubmissionMeta, path: string, budget?: ItemBudget): Promise<ContentResult> {
    const record = await this.o.hashFile(path, budget);
    // The client went away: nothing to answer, nothing to record.
    if (budget?.cancelled) budget.check();
    if (!record.sha256) throw new VigilError(record.error?.code ?? 'VIGIL_ERR_UNREADABLE', record.error?.message ?? 'The upload could not be read');
    const media = summarise(record);
    // What could not be hashed is not silently allowed: the rules see it (default: review).
    const unhashed = record.error ? { code: record.error.code, message: record.error.message } : undefined;
    return this.decide(meta, matchQueryOfRecord(record), { media, path, ...(unhashed ? { unhashed } : {}) });
  }

  /** Hashes computed on the client (end-to-end-encrypted apps): no content ever reaches the server. */
  async submitHashes(meta: SubmissionMeta, hashes: ClientHashes): Promise<ContentResult> {
    return this.decide(meta, matchQueryOfClientHashes(hashes), {});
  }

  /** Re-matches retained hashes (retroactive matching); a hit becomes a late decision with the usual actions. */
  async rematch(retained: RetainedHashes, query: MatchQuery): Promise<ContentResult | undefined> {
    const result = await this.decide({ contentId: retained.contentId, ...(retained.accountId ? { accountId: retained.accountId } : {}), context: retained.context, actor: 'system:retro' }, query, { retainedId: retained.id });
    return result.decisionId !== null ? result : undefined;
  }

  private async decide(meta: SubmissionMeta, query: MatchQuery, from: { media?: MediaSummary; path?: string; retainedId?: number; unhashed?: { code: string; message: string } }): Promise<ContentResult> {
    const { records } = this.o;
    const fingerprint = fingerprintOf(query);
    const prior = records.findDecision(meta.contentId, fingerprint);
    if (prior) return { ...resultOf(prior, true), ...(from.media ? { media: from.media } : {}) };

    const matches = await this.o.matcher.match(query);
    const engine = this.o.rules();
    // Rules fire only on matches: the account's history is read only when there are some.
    const account = meta.accountId && matches.length > 0 ? records.accountHistory(meta.accountId) : undefined;
    const decision = engine.evaluate({ matches, ...(account ? { account } : {}), ...(from.unhashed ? { unhashed: from.unhashed } : {}), context: meta.context ?? {} });
    const createdAt = (this.o.now?.() ?? new Date()).toISOString();
    const late = from.retainedId !== undefined;

    // Only content with a block-bank match (or that a rule acted on) is recorded; the rest leaves no trace
    // but an audit line, and its hashes only when retroactive matching is on.
    const recorded = matches.some((m) => m.bankKind === 'block') || decision.verdict !== 'allow' || decision.actions.length > 0;
    if (!recorded) {
      if (late) return { ...unrecorded(meta, fingerprint, decision, matches, createdAt), late };
      const retainDays = this.o.retainDays ?? 0;
      records.db.transaction(() => {
        if (retainDays > 0) {
          const expiresAt = new Date(Date.parse(createdAt) + retainDays * 86_400_000).toISOString();
          records.retain({ contentId: meta.contentId, fingerprint, accountId: meta.accountId ?? null, context: meta.context ?? {}, query: serializeQuery(query), createdAt, expiresAt }, 0);
        }
        this.o.audit.append({ actor: meta.actor, action: 'decision.created', subject: `content:${meta.contentId}`, details: { verdict: decision.verdict, matches: matches.length, recorded: false } });
      }).immediate();
      const result = { ...unrecorded(meta, fingerprint, decision, matches, createdAt), ...(from.media ? { media: from.media } : {}) };
      this.o.onDecision?.(result);
      return result;
    }

    // Evidence is sealed before the transaction (file I/O is async); a twin that loses the race discards it.
    let evidenceId: string | null = null;
    if (decision.actions.some((a) => a.type === 'preserve_evidence') && from.path && this.o.evidence) {
      evidenceId = (await this.o.evidence.seal(await readFile(from.path))).id;
    }
    const lateWebhooks = late ? (this.o.lateMatchWebhooks?.() ?? []) : [];
    let jobsQueued = 0;
    const decisionId = records.db.transaction((): number | undefined => {
      const id = records.insertDecision({
        contentId: meta.contentId, fingerprint, accountId: meta.accountId ?? null, verdict: decision.verdict, late,
        md5: query.md5 ?? null, sha1: query.sha1 ?? null, sha256: query.sha256 ?? null,
        matches, fired: decision.fired, context: meta.context ?? {}, rulesVersion: decision.rulesVersion, evidenceId, actor: meta.actor, createdAt,
      });
      if (id === undefined) return undefined;
      const event = (type: string, index: number): WebhookEvent => ({
        id: `decision-${id}-${index}`,
        type,
        createdAt,
        data: eventData(id, meta, decision, matches, late),
      });
      const outcomes: ActionOutcome[] = decision.actions.map((action, index): ActionOutcome => {
        switch (action.type) {
          case 'block':
            return { ...action, status: 'done' };
          case 'hold_for_review':
            return { ...action, status: 'done', reviewItemId: records.openReviewItem(id, action.priority ?? DEFAULT_REVIEW_PRIORITY, createdAt) };
          case 'report_draft':
            return { ...action, status: 'done', reportDraftId: records.openReportDraft(id, createdAt) };
          case 'preserve_evidence':
            return evidenceId
              ? { ...action, status: 'done', evidenceId }
              : { ...action, status: 'skipped', note: from.path ? 'no evidence vault configured' : 'hash-only submission: no content to preserve' };
          case 'disable_account':
          case 'notify': {
            if (!action.webhook) return { ...action, status: 'skipped', note: 'no webhook named' };
            if (action.type === 'disable_account' && !meta.accountId) return { ...action, status: 'skipped', note: 'no account id in the submission' };
            const [{ job }] = this.o.queue.enqueueSync([webhookJob(action.webhook, event(WEBHOOK_EVENT_TYPE[action.type]!, index))]);
            jobsQueued++;
            return { ...action, status: 'queued', jobId: job.id };
          }
        }
      });
      lateWebhooks.forEach((name, k) => {
        this.o.queue.enqueueSync([webhookJob(name, event('decision.late', decision.actions.length + k))]);
        jobsQueued++;
      });
      records.setActions(id, outcomes);
      if (from.retainedId !== undefined) records.dropRetained(from.retainedId);
      this.o.audit.append({
        actor: meta.actor,
        action: 'decision.created',
        subject: `content:${meta.contentId}`,
        details: { decisionId: id, verdict: decision.verdict, late, rulesVersion: decision.rulesVersion, rules: decision.fired.map((f) => f.ruleId), signals: matches.map((m) => m.signalId), actions: outcomes.map((a) => a.type) },
      });
      return id;
      // IMMEDIATE: the write lock up front, so reading then appending never fails on another process's commit.
    }).immediate();

    if (decisionId === undefined) {
      // A concurrent identical submission committed first: answer with its decision.
      if (evidenceId) await this.o.evidence?.discard(evidenceId);
      const twin = records.findDecision(meta.contentId, fingerprint);
      if (!twin) throw new VigilError('VIGIL_ERR_INTERNAL', 'A decision conflicted but could not be read back');
      return resultOf(twin, true);
    }
    if (jobsQueued > 0) this.o.onJobsQueued?.();
    // Match statistics feed spike quarantine; they must not fail a decision that is already committed.
    const counted = matches.filter((m) => m.actionable).map((m) => m.signalId);
    if (counted.length > 0) await this.o.store.recordMatches(counted).catch((err: unknown) => this.o.log?.('recording match statistics failed', err));
    const result = { ...resultOf(records.getDecision(decisionId)!, false), ...(from.media ? { media: from.media } : {}) };
    this.o.onDecision?.(result);
    return result;
  }
}

function summarise(record: FileHashRecord): MediaSummary {
  const { media, format, width, height, bytes, pdq, quality, frames, warning, truncated, reduced, error } = record;
  return Object.fromEntries(Object.entries({ media, format, width, height, bytes, pdq, quality, frames, warning, truncated, reduced, error }).filter(([, v]) => v !== undefined)) as MediaSummary;
}

function resultOf(d: DecisionRecord, replayed: boolean): ContentResult {
  return {
    contentId: d.contentId,
    fingerprint: d.fingerprint,
    verdict: d.verdict,
    matches: d.matches,
    fired: d.fired,
    actions: d.actions,
    rulesVersion: d.rulesVersion,
    decisionId: d.id,
    replayed,
    late: d.late,
    createdAt: d.createdAt,
  };
}

function unrecorded(meta: SubmissionMeta, fingerprint: string, decision: Decision, matches: BankMatch[], createdAt: string): ContentResult {
  return { contentId: meta.contentId, fingerprint, verdict: decision.verdict, matches, fired: decision.fired, actions: [], rulesVersion: decision.rulesVersion, decisionId: null, replayed: false, late: false, createdAt };
}

/** What a webhook receiver needs to act (take down, disable, notify), without the content itself. */
function eventData(decisionId: number, meta: SubmissionMeta, decision: Decision, matches: BankMatch[], late: boolean) {
  return {
    decisionId,
    contentId: meta.contentId,
    accountId: meta.accountId ?? null,
    verdict: decision.verdict,
    late,
    context: meta.context ?? {},
    rules: decision.fired.map((f) => ({ ruleId: f.ruleId, reason: f.reason })),
    matches: matches.map((m) => ({ signalId: m.signalId, bank: m.bank, signalType: m.signalType, distance: m.distance, labels: m.labels, sourceId: m.sourceId, actionable: m.actionable })),
  };
}
