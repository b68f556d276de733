/**
 * hash → match → decide → act, for one piece of content. The decision with its match, rule and action rows,
 * the incident, the review item, the report draft, the evidence record, the action jobs (webhooks) and the
 * audit entry commit in ONE unit of work (state/database.ts) on either engine — a transactional outbox: a
 * crash before the commit leaves nothing and the caller's retry decides again; after it, the jobs are durable
 * and the worker delivers them. Idempotent on (content id, SHA-256 or hash fingerprint): a retry returns the
 * recorded decision and repeats no action.
 */
import type { BankMatch, BankMatcher, MatchQuery } from '../banks/matcher.js';
import { VigilError } from '../core/errors.js';
import type { ItemBudget } from '../core/budget.js';
import type { FileHashRecord } from '../hashing/hash-file.js';
import type { AuditLog } from '../audit/log.js';
import type { SqlJobQueue } from '../queue/sql-queue.js';
import type { ActionOutcome, DecisionRecord, DecisionRecords, RetainedHashes } from '../records/decisions.js';
import type { RuleEngine } from '../rules/engine.js';
import type { Decision, PlannedAction } from '../rules/types.js';
import type { Tx, VigilDatabase } from '../state/database.js';
import type { Store } from '../store/types.js';
import { webhookJob, type WebhookEvent } from '../webhooks/deliver.js';
import { recordRemoteChecks, remoteChecksOf } from './remote-schema.js';
import { askRemote, contentTypeOf, type RemoteCheck, type RemoteMatcherOptions } from './remote.js';
import { fingerprintOf, matchQueryOfClientHashes, matchQueryOfRecord, serializeQuery, type ClientHashes } from './query.js';

/** Where preserved content goes: sealed as a stream (never whole in memory), discarded if the decision loses a race. */
export interface EvidenceSink {
  sealFile(path: string): Promise<{ id: string; keyId: string; sha256: string; size: number }>;
  discard(id: string): Promise<void>;
}

export type SealedEvidence = Awaited<ReturnType<EvidenceSink['sealFile']>>;

export interface SubmissionMeta {
  /** The platform's id for the content. */
  contentId: string;
  accountId?: string;
  /** Uploader IP, time, surface…: kept with matched content for reports, never for unmatched content. */
  context?: Record<string, unknown>;
  /** Who submitted: 'key:<id>' for API keys. */
  actor: string;
  /** The request that carried it (audit entries name it). */
  requestId?: string;
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
  /** Remote matchers asked for this submission (absent when none is configured; replays of unrecorded ones): a failed one is not a "no match". */
  remote?: RemoteCheck[];
}

export interface PipelineOptions {
  db: VigilDatabase;
  store: Store;
  matcher: BankMatcher;
  records: DecisionRecords;
  queue: SqlJobQueue;
  audit: AuditLog;
  rules: () => RuleEngine | Promise<RuleEngine>;
  hashFile: (path: string, budget?: ItemBudget) => Promise<FileHashRecord>;
  evidence?: EvidenceSink;
  /** Days preserved evidence is kept (null: until a report's retention applies). */
  evidenceRetainDays?: number;
  /** Webhook endpoints told about late matches (content already allowed, now matched). */
  lateMatchWebhooks?: () => string[];
  /** Keep hashes of unmatched content this many days for retroactive matching (0: never keep them). */
  retainDays?: number;
  now?: () => Date;
  /** After each commit: wakes the queue worker, counts metrics. */
  onDecision?: (result: ContentResult) => void;
  onJobsQueued?: () => void;
  log?: (msg: string, err?: unknown) => void;
  /** Per-item warnings (a remote check that failed); default `log`. */
  warn?: (msg: string) => void;
  /** Inside the decision's unit of work, after a report draft: the reporting policy may open a report (reports/auto-open.ts). */
  onReportDraft?: (tx: Tx, draft: { decisionId: number; incidentId: number }) => Promise<void>;
  /** A matcher run by someone else, asked beside the local index (pipeline/remote.ts). */
  remote?: RemoteMatcherOptions;
}

const DEFAULT_REVIEW_PRIORITY = 50;
const WEBHOOK_EVENT_TYPE: Partial<Record<PlannedAction['type'], string>> = { disable_account: 'account.disable', notify: 'decision.notify' };

export class ContentPipeline {
  constructor(private readonly o: PipelineOptions) {}

  /** After each decision (metrics); set by the adapter that counts them. */
  set onDecision(fn: ((result: ContentResult) => void) | undefined) {
    this.o.onDecision = fn;
  }

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

  /**
   * A fleet upload (fleet/upload-jobs.ts): the file was sealed into the evidence store by the API process and
   * decrypted here into a private temp file. A decision that preserves evidence keeps `sealed` as its evidence
   * (no second copy); the caller discards `sealed` when no decision references it.
   */
  async submitSealed(meta: SubmissionMeta, path: string, sealed: SealedEvidence, budget?: ItemBudget): Promise<ContentResult> {
    const record = await this.o.hashFile(path, budget);
    if (!record.sha256) throw new VigilError(record.error?.code ?? 'VIGIL_ERR_UNREADABLE', record.error?.message ?? 'The upload could not be read');
    const unhashed = record.error ? { code: record.error.code, message: record.error.message } : undefined;
    return this.decide(meta, matchQueryOfRecord(record), { media: summarise(record), path, sealed, ...(unhashed ? { unhashed } : {}) });
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

  private async decide(meta: SubmissionMeta, query: MatchQuery, from: { media?: MediaSummary; path?: string; sealed?: SealedEvidence; retainedId?: number; unhashed?: { code: string; message: string } }): Promise<ContentResult> {
    const { records, db } = this.o;
    const fingerprint = fingerprintOf(query);
    const prior = await records.findDecision(meta.contentId, fingerprint);
    if (prior) {
      // The remote checks of a recorded decision are kept (remote-schema.ts); the table exists where a remote matcher is configured.
      const checks = this.o.remote ? await remoteChecksOf(db, prior.id) : [];
      return { ...resultOf(prior, true), ...(from.media ? { media: from.media } : {}), ...(checks.length > 0 ? { remote: checks } : {}) };
    }

    // Everything up to this position is in the indexes the match reads: retained hashes are checked as of it.
    const matchedAt = this.o.matcher.position;
    // A retroactive re-match is about new local signals: the remote matcher was asked when the item came in.
    const remote = this.o.remote && from.retainedId === undefined ? this.o.remote : undefined;
    const upload = from.path ? { path: from.path, contentType: contentTypeOf(from.media?.media, from.media?.format) } : undefined;
    const [local, asked] = await Promise.all([this.o.matcher.match(query), remote ? askRemote(remote, query, upload) : undefined]);
    const matches = asked ? [...local, ...asked.matches] : local;
    const remoteChecks = asked ? [asked.check] : undefined;
    if (asked?.check.status === 'failed') (this.o.warn ?? this.o.log)?.(`remote matcher ${asked.check.matcher} failed for content ${meta.contentId}: ${asked.check.error ?? ''}`);
    const withRemote = <T extends object>(r: T): T & { remote?: RemoteCheck[] } => (remoteChecks ? { ...r, remote: remoteChecks } : r);
    const engine = await this.o.rules();
    // Rules fire only on matches: the account's history is read only when there are some.
    const account = meta.accountId && matches.length > 0 ? await records.accountHistory(meta.accountId) : undefined;
    const decision = engine.evaluate({ matches, ...(account ? { account } : {}), ...(from.unhashed ? { unhashed: from.unhashed } : {}), ...(asked?.check.status === 'failed' ? { remoteFailed: [{ matcher: asked.check.matcher, error: asked.check.error ?? '' }] } : {}), context: meta.context ?? {} });
    const createdAt = (this.o.now?.() ?? new Date()).toISOString();
    const late = from.retainedId !== undefined;
    const actor = { actor: meta.actor, ...(meta.requestId ? { requestId: meta.requestId } : {}) };

    // Only content with a block-bank match (or that a rule acted on) is recorded; the rest leaves no trace
    // but an audit line, and its hashes only when retroactive matching is on.
    const recorded = matches.some((m) => m.bankKind === 'block') || decision.verdict !== 'allow' || decision.actions.length > 0;
    if (!recorded) {
      if (late) return { ...unrecorded(meta, fingerprint, decision, matches, createdAt), late };
      const retainDays = this.o.retainDays ?? 0;
      await db.transaction(async (tx) => {
        if (retainDays > 0) {
          const expiresAt = new Date(Date.parse(createdAt) + retainDays * 86_400_000).toISOString();
          await records.retain(tx, { contentId: meta.contentId, fingerprint, accountId: meta.accountId ?? null, context: meta.context ?? {}, query: serializeQuery(query), createdAt, expiresAt }, matchedAt);
        }
        await this.o.audit.append(tx, { ...actor, action: 'decision.created', subject: `content:${meta.contentId}`, details: withRemote({ verdict: decision.verdict, matches: matches.length, recorded: false }) });
      });
      const result = withRemote({ ...unrecorded(meta, fingerprint, decision, matches, createdAt), ...(from.media ? { media: from.media } : {}) });
      this.o.onDecision?.(result);
      return result;
    }

    // Evidence is sealed (streamed, encrypted) before the transaction; a twin that loses the race discards it.
    const evidence = decision.actions.some((a) => a.type === 'preserve_evidence') && from.path && this.o.evidence ? (from.sealed ?? await this.o.evidence.sealFile(from.path)) : undefined;
    // What was preserved must be what was hashed and matched.
    if (evidence && query.sha256 && evidence.sha256 !== query.sha256) {
      // A sealed upload is the caller's to discard: a twin delivery of its job may have recorded it already.
      if (!from.sealed) await this.o.evidence?.discard(evidence.id);
      throw new VigilError('VIGIL_ERR_INTERNAL', 'The preserved evidence differs from the content that was hashed');
    }
    const lateWebhooks = late ? (this.o.lateMatchWebhooks?.() ?? []) : [];
    let jobsQueued = 0;
    const decisionId = await db.transaction(async (tx): Promise<number | undefined> => {
      const id = await records.insertDecision(tx, {
        contentId: meta.contentId, fingerprint, accountId: meta.accountId ?? null, verdict: decision.verdict, late,
        md5: query.md5 ?? null, sha1: query.sha1 ?? null, sha256: query.sha256 ?? null,
        matches, fired: decision.fired, context: meta.context ?? {}, rulesVersion: decision.rulesVersion, evidenceId: evidence?.id ?? null,
        actor: meta.actor, requestId: meta.requestId ?? null, createdAt,
      });
      if (id === undefined) return undefined;
      if (remoteChecks) await recordRemoteChecks(tx, id, remoteChecks);
      const ctx = meta.context ?? {};
      const incidentId = await records.openIncident(tx, {
        decisionId: id, contentId: meta.contentId, accountId: meta.accountId ?? null,
        ip: typeof ctx.ip === 'string' ? ctx.ip : null, occurredAt: typeof ctx.uploadedAt === 'string' ? ctx.uploadedAt : createdAt, at: createdAt,
      });
      if (evidence) {
        const retainUntil = this.o.evidenceRetainDays ? new Date(Date.parse(createdAt) + this.o.evidenceRetainDays * 86_400_000).toISOString() : null;
        await records.recordEvidence(tx, { id: evidence.id, decisionId: id, keyId: evidence.keyId, sha256: evidence.sha256, size: evidence.size, mediaType: from.media?.format ?? null, at: createdAt, retainUntil });
      }
      const event = (type: string, index: number): WebhookEvent => ({
        id: `decision-${id}-${index}`,
        type,
        createdAt,
        data: eventData(id, meta, decision, matches, late),
      });
      const outcomes: ActionOutcome[] = [];
      for (const [index, action] of decision.actions.entries()) {
        outcomes.push(await this.act(tx, action, { id, incidentId, createdAt, evidenceId: evidence?.id, hasBytes: from.path !== undefined, meta, event: (type) => event(type, index), queued: () => jobsQueued++ }));
      }
      for (const [k, name] of lateWebhooks.entries()) {
        await this.o.queue.enqueue(tx, [webhookJob(name, event('decision.late', decision.actions.length + k))]);
        jobsQueued++;
      }
      await records.setActions(tx, id, outcomes);
      if (from.retainedId !== undefined) await records.dropRetained(tx, from.retainedId);
      await this.o.audit.append(tx, {
        ...actor,
        action: 'decision.created',
        subject: `content:${meta.contentId}`,
        details: withRemote({ decisionId: id, incidentId, verdict: decision.verdict, late, rulesVersion: decision.rulesVersion, rules: decision.fired.map((f) => f.ruleId), signals: matches.map((m) => m.signalId), actions: outcomes.map((a) => a.type), ...(evidence ? { evidenceId: evidence.id } : {}) }),
      });
      return id;
    });

    if (decisionId === undefined) {
      // A concurrent identical submission committed first: answer with its decision.
      if (evidence && !from.sealed) await this.o.evidence?.discard(evidence.id);
      const twin = await records.findDecision(meta.contentId, fingerprint);
      if (!twin) throw new VigilError('VIGIL_ERR_INTERNAL', 'A decision conflicted but could not be read back');
      return resultOf(twin, true);
    }
    if (jobsQueued > 0) this.o.onJobsQueued?.();
    // Match statistics feed spike quarantine; they must not fail a decision that is already committed.
    const counted = matches.filter((m) => m.actionable && !m.remote).map((m) => m.signalId);
    if (counted.length > 0) await this.o.store.recordMatches(counted).catch((err: unknown) => this.o.log?.('recording match statistics failed', err));
    const result = withRemote({ ...resultOf((await records.getDecision(decisionId))!, false), ...(from.media ? { media: from.media } : {}) });
    this.o.onDecision?.(result);
    return result;
  }

  /** One planned action inside the decision's unit of work. */
  private async act(
    tx: Parameters<Parameters<VigilDatabase['transaction']>[0]>[0],
    action: PlannedAction,
    d: { id: number; incidentId: number; createdAt: string; evidenceId: string | undefined; hasBytes: boolean; meta: SubmissionMeta; event: (type: string) => WebhookEvent; queued: () => void },
  ): Promise<ActionOutcome> {
    const { records } = this.o;
    switch (action.type) {
      case 'block':
        return { ...action, status: 'done' };
      case 'hold_for_review':
        return { ...action, status: 'done', reviewItemId: await records.openReviewItem(tx, { decisionId: d.id, incidentId: d.incidentId, priority: action.priority ?? DEFAULT_REVIEW_PRIORITY, at: d.createdAt }) };
      case 'report_draft': {
        const reportDraftId = await records.openReportDraft(tx, { decisionId: d.id, incidentId: d.incidentId, at: d.createdAt });
        await this.o.onReportDraft?.(tx, { decisionId: d.id, incidentId: d.incidentId });
        return { ...action, status: 'done', reportDraftId };
      }
      case 'preserve_evidence':
        return d.evidenceId
          ? { ...action, status: 'done', evidenceId: d.evidenceId }
          : { ...action, status: 'skipped', note: d.hasBytes ? 'no evidence store configured' : 'hash-only submission: no content to preserve' };
      case 'disable_account':
      case 'notify': {
        if (!action.webhook) return { ...action, status: 'skipped', note: 'no webhook named' };
        if (action.type === 'disable_account' && !d.meta.accountId) return { ...action, status: 'skipped', note: 'no account id in the submission' };
        const [{ job }] = await this.o.queue.enqueue(tx, [webhookJob(action.webhook, d.event(WEBHOOK_EVENT_TYPE[action.type]!))]);
        d.queued();
        return { ...action, status: 'queued', jobId: job.id };
      }
    }
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
