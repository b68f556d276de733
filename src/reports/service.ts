/**
 * CyberTipline reports as a persisted state machine: draft → submitted → files_uploaded → details_sent →
 * finished (or retracted / failed). Each step is one NCMEC call whose result (NCMEC's ids, the response) is
 * committed with the state change and its audit entry, so a process killed anywhere resumes at the step it
 * was in. Steps run as queue jobs (backoff, leases, at-least-once) and are idempotent:
 *
 * - submit lost in flight (time-out, dropped line): submit again. NCMEC deletes an unfinished report 24 h after
 *   it was opened, and only `finish` files a report, so the orphan is never filed — no duplicate.
 * - upload lost in flight: the report in flight may now hold the file twice; it is retracted and the report
 *   starts again from draft (a fresh NCMEC report with each file once).
 * - fileinfo is an update: sending it again is harmless.
 * - finish lost in flight: finish again; NCMEC's 5102 "already finished" then means done.
 *
 * Failures are classified (ncmec-client.ts#classify); a retryable one backs off, a permanent one (or the last
 * attempt) leaves the report `failed` with its class, counted and audited, until a person retries or retracts it.
 */
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import { VigilError } from '../core/errors.js';
import type { EvidenceStore } from '../evidence/store.js';
import type { SqlJobQueue } from '../queue/sql-queue.js';
import type { Job } from '../queue/types.js';
import { permanentError } from '../queue/worker.js';
import { webhookJob } from '../webhooks/deliver.js';
import type { Tx, VigilDatabase } from '../state/database.js';
import { fileDetailsXml, reportXml, type Reporter } from './documents.js';
import { gatherIncident, type OpenOptions } from './facts.js';
import { NcmecClient, NcmecError, type FailureClass, type NcmecConfig, type NcmecResponse } from './ncmec-client.js';
import { TERMINAL_STATES, type ReportFilesTable, type ReportState, type ReportsTable } from './schema.js';

export const REPORT_QUEUE = 'ncmec-report';

export interface ReportingOptions {
  db: VigilDatabase;
  audit: AuditLog;
  queue: SqlJobQueue;
  evidence: () => Promise<EvidenceStore>;
  /** NCMEC endpoint and credentials; undefined credentials fail reports as `configuration`. */
  ncmec: Partial<NcmecConfig> & { baseUrl: string; timeoutMs: number };
  reporter?: Reporter | undefined;
  retentionDays: number;
  jurisdictions: Record<string, number>;
  defaultJurisdiction: string;
  stuckAfterMs: number;
  maxAttempts: number;
  now?: () => Date;
  log?: Logger;
  onJobsQueued?: () => void;
  fetch?: typeof fetch;
  /** A webhook (named in the rules' webhooks) asked, when a report opens, for the account's information and to preserve its data. */
  platformWebhook?: string | undefined;
}

export interface Actor {
  actor: string;
  requestId?: string | null;
}

export interface ReportView {
  id: number;
  incidentId: number;
  decisionId: number;
  supplements: number | null;
  state: ReportState;
  ncmecReportId: string | null;
  jurisdiction: string;
  failure: { class: FailureClass; retryable: boolean; message: string | null } | null;
  attempts: number;
  stuck: boolean;
  openedBy: string;
  submittedAt: string | null;
  finishedAt: string | null;
  createdAt: string;
  updatedAt: string;
  files: { ordinal: number; evidenceId: string; fileName: string; sha256: string; viewedByPerson: boolean; ncmecFileId: string | null; detailsSent: boolean }[];
}

const DAY = 86_400_000;

/** The report ran into something that did not come from NCMEC (configuration, missing evidence). */
/** Steps one queue job takes before handing the rest to a fresh job (each file is two steps). */
const STEPS_PER_RUN = 64;
/** Restarts (NCMEC lost the unfinished report) one job tolerates before backing off as a failed attempt. */
const MAX_RESTARTS_PER_RUN = 2;

class StepFailure extends Error {
  constructor(message: string, readonly failure: FailureClass, readonly retryable: boolean) {
    super(message);
  }
}

/** A step's compare-and-set lost: another run (a redelivered job, a retract) moved the report first. */
class LostRace extends StepFailure {}

export class ReportService {
  private readonly now: () => Date;
  private clientCache: NcmecClient | undefined;
  private readonly restartsInRun = new Map<number, number>();

  constructor(private readonly o: ReportingOptions) {
    this.now = o.now ?? (() => new Date());
  }

  private client(): NcmecClient {
    const { username, password, baseUrl, timeoutMs } = this.o.ncmec;
    if (!username || !password) throw new StepFailure('NCMEC credentials are not configured (reporting.ncmec.username / password, or VIGIL_NCMEC_USERNAME / VIGIL_NCMEC_PASSWORD)', 'configuration', false);
    return (this.clientCache ??= new NcmecClient({ baseUrl, username, password, timeoutMs }, this.o.fetch));
  }

  retentionDaysFor(jurisdiction: string): number {
    return this.o.jurisdictions[jurisdiction] ?? this.o.retentionDays;
  }

  /**
   * Opens a report for an incident in the caller's unit of work (idempotent: the incident's first report is
   * returned if it exists) and enqueues its job. `supplements`: a follow-up to an earlier report of it.
   */
  async openIn(tx: Tx, incidentId: number, who: Actor, o: OpenOptions & { supplements?: number; jurisdiction?: string } = {}): Promise<{ id: number; created: boolean }> {
    if (!this.o.reporter) throw new VigilError('VIGIL_ERR_CONFLICT', 'Reporting is not set up: reporting.reporter (the reporting person\'s email at least) must be configured before reports can be opened');
    let priorReports: string[] = [];
    if (o.supplements === undefined) {
      const existing = await tx.k.selectFrom('reports').select('id').where('incident_id', '=', incidentId).where('supplements', 'is', null).executeTakeFirst();
      if (existing) return { id: Number(existing.id), created: false };
    } else {
      const first = await tx.k.selectFrom('reports').selectAll().where('id', '=', o.supplements).executeTakeFirst();
      if (!first || Number(first.incident_id) !== incidentId) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No report ${o.supplements} of incident ${incidentId}`);
      if (first.state !== 'finished' || !first.ncmec_report_id) throw new VigilError('VIGIL_ERR_CONFLICT', `Report ${o.supplements} is ${first.state}: a supplemental report follows a finished one`);
      priorReports = [first.ncmec_report_id];
    }
    const gathered = await gatherIncident(tx, incidentId, { ...o, priorReports });
    const at = this.now().toISOString();
    const jurisdiction = o.jurisdiction ?? this.o.defaultJurisdiction;
    const row = await tx.k.insertInto('reports').values({
      incident_id: incidentId, decision_id: gathered.decisionId, supplements: o.supplements ?? null, state: 'draft', ncmec_report_id: null,
      jurisdiction, failure_class: null, retryable: 0, last_error: null, failed_from: null, attempts: 0, xml: reportXml(gathered.facts, this.o.reporter),
      opened_by: who.actor, submitted_at: null, finished_at: null, created_at: at, updated_at: at,
    } as never).returning('id').executeTakeFirstOrThrow();
    const id = Number(row.id);
    let ordinal = 0;
    for (const f of gathered.files) {
      await tx.k.insertInto('report_files').values({
        report_id: id, ordinal: ordinal++, evidence_id: f.evidenceId, file_name: f.fileName, sha256: f.sha256,
        viewed_by_person: f.viewedByPerson ? 1 : 0, ncmec_file_id: null, ncmec_md5: null, details_sent: 0,
      }).execute();
    }
    await this.enqueue(tx, id, 0);
    const incident = await tx.k.selectFrom('incidents').select(['account_id', 'content_id']).where('id', '=', incidentId).executeTakeFirstOrThrow();
    if (this.o.platformWebhook && incident.account_id) {
      // Signed, retried delivery (webhooks/); the platform answers on POST /v1/reports/{id}/account-info.
      await this.o.queue.enqueue(tx, [webhookJob(this.o.platformWebhook, {
        id: `report-${id}-account-info`, type: 'report.account_info_requested', createdAt: at,
        data: { reportId: id, incidentId, accountId: incident.account_id, contentId: incident.content_id, preserveAtLeastUntil: new Date(Date.parse(at) + this.retentionDaysFor(jurisdiction) * DAY).toISOString(), answerPath: `/v1/reports/${id}/account-info` },
      })]);
    }
    await this.o.audit.append(tx, {
      actor: who.actor, requestId: who.requestId ?? null, action: 'report.opened', subject: `report:${id}`,
      details: { incidentId, decisionId: gathered.decisionId, supplements: o.supplements ?? null, jurisdiction, files: gathered.files.map((f) => ({ evidenceId: f.evidenceId, viewedByPerson: f.viewedByPerson })), textOnly: gathered.files.length === 0, platformAsked: Boolean(this.o.platformWebhook && incident.account_id) },
    });
    return { id, created: true };
  }

  async open(incidentId: number, who: Actor, o: OpenOptions & { supplements?: number; jurisdiction?: string } = {}): Promise<{ id: number; created: boolean }> {
    const r = await this.o.db.transaction((tx) => this.openIn(tx, incidentId, who, o));
    this.o.onJobsQueued?.();
    return r;
  }

  private async enqueue(tx: Tx, id: number, generation: number): Promise<void> {
    await this.o.queue.enqueue(tx, [{ queue: REPORT_QUEUE, idempotencyKey: `report:${id}:${generation}`, payload: { reportId: id }, maxAttempts: this.o.maxAttempts }]);
  }

  /** The queue handler: steps the report until it is finished, or a step fails (thrown for the queue's backoff). */
  async handle(job: Job): Promise<void> {
    const id = (job.payload as { reportId?: unknown }).reportId;
    if (typeof id !== 'number') throw permanentError(new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'report job without a reportId'));
    const last = job.attempts + 1 >= job.maxAttempts;
    this.restartsInRun.set(id, 0);
    try {
      for (let steps = 0; steps < STEPS_PER_RUN; steps++) {
        const outcome = await this.advance(id, { lastAttempt: last });
        if (outcome === 'done') return;
        if ((this.restartsInRun.get(id) ?? 0) >= MAX_RESTARTS_PER_RUN) {
          // NCMEC keeps dropping the unfinished report: back off (counted, loud) instead of opening orphan after orphan.
          const e = new StepFailure(`NCMEC dropped the unfinished report ${MAX_RESTARTS_PER_RUN} times in one run`, 'ncmec_server', true);
          await this.recordFailure(await this.row(id), e, last);
          throw last ? permanentError(e) : e;
        }
      }
      // More steps than one run takes (a report with many files): a fresh job goes on, never a silent stop.
      await this.o.db.transaction((tx) => this.enqueue(tx, id, Date.parse(this.now().toISOString()) + job.id));
      this.o.onJobsQueued?.();
    } finally {
      this.restartsInRun.delete(id);
    }
  }

  /**
   * One step of the report: 'more' when it moved on and has more to do, 'done' when it is terminal (or
   * retracted meanwhile). A failed step is recorded (class, response, attempts, audit) and rethrown.
   */
  async advance(id: number, o: { lastAttempt?: boolean } = {}): Promise<'more' | 'done'> {
    const report = await this.row(id);
    if ((TERMINAL_STATES as readonly string[]).includes(report.state)) return 'done';
    try {
      await this.step(report);
      return 'more';
    } catch (err) {
      const e = err instanceof NcmecError || err instanceof StepFailure ? err : new StepFailure((err as Error).message, (err as { code?: string }).code === 'VIGIL_ERR_EVIDENCE_INTEGRITY' ? 'media' : 'ncmec_server', (err as { code?: string }).code !== 'VIGIL_ERR_EVIDENCE_INTEGRITY');
      const failed = !e.retryable || o.lastAttempt === true;
      await this.recordFailure(report, e, failed);
      throw e.retryable && !failed ? e : permanentError(e);
    }
  }

  private async row(id: number, tx?: Tx): Promise<ReportsTable> {
    const row = await (tx?.k ?? this.o.db.k).selectFrom('reports').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No report ${id}`);
    return { ...row, id: Number(row.id), incident_id: Number(row.incident_id), decision_id: Number(row.decision_id), supplements: row.supplements === null ? null : Number(row.supplements) };
  }

  private async files(id: number): Promise<ReportFilesTable[]> {
    return this.o.db.k.selectFrom('report_files').selectAll().where('report_id', '=', id).orderBy('ordinal').execute();
  }

  private async keep(tx: Tx, id: number, r: NcmecResponse | null, at: string): Promise<void> {
    if (!r) return;
    await tx.k.insertInto('report_responses').values({ report_id: id, step: r.step, http_status: r.httpStatus, response_code: r.responseCode, request_id: r.requestId, body: r.body, at } as never).execute();
  }

  /**
   * Moves the report from `from` (compare-and-set: a retract or another worker that moved it first wins;
   * this step's work is then dropped) and writes its audit entry in the same unit of work.
   */
  private async transition(report: ReportsTable, to: ReportState, set: Partial<ReportsTable>, r: NcmecResponse | null, audit: { action: string; details: Record<string, unknown> } | null, more?: (tx: Tx) => Promise<void>): Promise<void> {
    const at = this.now().toISOString();
    await this.o.db.transaction(async (tx) => {
      await this.keep(tx, report.id, r, at);
      const moved = await tx.k.updateTable('reports').set({ ...set, state: to, updated_at: at, failure_class: null, retryable: 0, last_error: null } as never)
        .where('id', '=', report.id).where('state', '=', report.state).where('updated_at', '=', report.updated_at).executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) throw new LostRace(`Report ${report.id} changed while a step ran (now ${(await this.row(report.id, tx)).state})`, 'ncmec_server', true);
      await more?.(tx);
      if (audit) await this.o.audit.append(tx, { actor: 'system', action: audit.action, subject: `report:${report.id}`, details: { ...audit.details, ...(r?.requestId ? { ncmecRequestId: r.requestId } : {}) } });
    });
  }

  private async step(report: ReportsTable): Promise<void> {
    switch (report.state) {
      case 'draft':
        return this.submit(report);
      case 'submitted':
        return this.uploadNext(report);
      case 'files_uploaded':
        return this.sendDetails(report);
      case 'details_sent':
        return this.finish(report);
      default:
        throw new VigilError('VIGIL_ERR_INTERNAL', `Report ${report.id} in unknown state ${report.state}`);
    }
  }

  private async submit(report: ReportsTable): Promise<void> {
    const client = this.client();
    const res = await client.submit(report.xml);
    const at = this.now();
    const submittedAt = report.submitted_at ?? at.toISOString();
    const retainUntil = new Date(Date.parse(submittedAt) + this.retentionDaysFor(report.jurisdiction) * DAY).toISOString();
    const files = await this.files(report.id);
    await this.transition(report, 'submitted', { ncmec_report_id: res.reportId, submitted_at: submittedAt, attempts: 0 }, res,
      { action: 'report.submitted', details: { ncmecReportId: res.reportId, retainUntil } },
      async (tx) => {
        // Preservation starts with the submission (§2258A(h), one year since the REPORT Act): never shortened.
        for (const f of files) {
          await tx.k.updateTable('evidence').set({ retain_until: retainUntil }).where('id', '=', f.evidence_id)
            .where((w) => w.or([w('retain_until', 'is', null), w('retain_until', '<', retainUntil)])).execute();
        }
      });
  }

  private async restart(report: ReportsTable, why: string): Promise<void> {
    if (this.restartsInRun.has(report.id)) this.restartsInRun.set(report.id, (this.restartsInRun.get(report.id) ?? 0) + 1);
    // The report in flight may hold a file twice: retract it (best effort: NCMEC deletes unfinished reports anyway).
    let retracted: NcmecResponse | null = null;
    if (report.ncmec_report_id) {
      try {
        retracted = await this.client().retract(report.ncmec_report_id);
      } catch (err) {
        retracted = err instanceof NcmecError ? err.response : null;
      }
    }
    await this.transition(report, 'draft', { ncmec_report_id: null }, retracted, { action: 'report.restarted', details: { abandonedNcmecReportId: report.ncmec_report_id, why } }, async (tx) => {
      await tx.k.updateTable('report_files').set({ ncmec_file_id: null, ncmec_md5: null, details_sent: 0 }).where('report_id', '=', report.id).execute();
    });
  }

  private async uploadNext(report: ReportsTable): Promise<void> {
    const files = await this.files(report.id);
    const next = files.find((f) => f.ncmec_file_id === null);
    if (!next) return this.transition(report, 'files_uploaded', {}, null, null);
    const store = await this.o.evidence();
    const ev = await this.o.db.k.selectFrom('evidence').select(['sha256', 'size', 'deleted_at']).where('id', '=', next.evidence_id).executeTakeFirst();
    if (!ev || ev.deleted_at !== null) throw new StepFailure(`Evidence ${next.evidence_id} is no longer stored`, 'media', false);
    // Read through and checked in full before a byte leaves: a tampered file is never sent, not even in part.
    try {
      await store.verify(next.evidence_id, ev.sha256);
    } catch (err) {
      throw new StepFailure(`Evidence ${next.evidence_id} failed its integrity check and was not sent: ${(err as Error).message}`, 'media', false);
    }
    await this.o.audit.appendNow({ actor: 'system', action: 'evidence.read', subject: `evidence:${next.evidence_id}`, details: { purpose: 'ncmec_upload', reportId: report.id } });
    let res;
    try {
      res = await this.client().upload(report.ncmec_report_id!, next.file_name, await store.open(next.evidence_id, ev.sha256), Number(ev.size));
    } catch (err) {
      if (err instanceof NcmecError && err.response?.responseCode === 5001) return this.restart(report, 'NCMEC no longer holds the unfinished report');
      if (err instanceof NcmecError && err.ambiguous && err.failure !== 'media') {
        await this.restart(report, `upload outcome unknown: ${err.message}`);
      }
      throw err;
    }
    const last = files.filter((f) => f.ncmec_file_id === null).length === 1;
    try {
      await this.transition(report, last ? 'files_uploaded' : 'submitted', {}, res, { action: 'report.file_uploaded', details: { evidenceId: next.evidence_id, ncmecFileId: res.fileId, md5: res.md5 } }, async (tx) => {
        await tx.k.updateTable('report_files').set({ ncmec_file_id: res.fileId, ncmec_md5: res.md5 }).where('report_id', '=', report.id).where('ordinal', '=', next.ordinal).execute();
      });
    } catch (err) {
      if (!(err instanceof LostRace)) throw err;
      // Another run of this report moved it while this upload ran: the NCMEC report it still holds may now have
      // the file twice, so it starts again as after an ambiguous upload. Retracted, finished or already restarted
      // (no longer that NCMEC report): nothing of ours is left in flight.
      const now = await this.row(report.id);
      if ((TERMINAL_STATES as readonly string[]).includes(now.state) || now.state === 'draft' || now.ncmec_report_id !== report.ncmec_report_id) throw err;
      await this.restart(now, `a concurrent run moved the report while file ${next.ordinal} was being uploaded (NCMEC file ${res.fileId})`);
    }
  }

  private async sendDetails(report: ReportsTable): Promise<void> {
    const files = await this.files(report.id);
    const next = files.find((f) => f.details_sent === 0);
    if (!next) return this.transition(report, 'details_sent', {}, null, null);
    const gathered = await this.o.db.transaction((tx) => gatherIncident(tx, report.incident_id, {}));
    const facts = gathered.files.find((f) => f.evidenceId === next.evidence_id);
    if (!facts) throw new StepFailure(`Evidence ${next.evidence_id} is no longer part of incident ${report.incident_id}`, 'media', false);
    // The flag frozen when the report was opened: what was true of the person's review then is what NCMEC hears.
    const xml = fileDetailsXml(report.ncmec_report_id!, next.ncmec_file_id!, { ...facts, md5: next.ncmec_md5 ?? facts.md5, viewedByPerson: next.viewed_by_person === 1, supplemental: report.supplements !== null });
    let res;
    try {
      res = await this.client().fileInfo(xml);
    } catch (err) {
      if (err instanceof NcmecError && err.response?.responseCode === 5001) return this.restart(report, 'NCMEC no longer holds the unfinished report');
      throw err;
    }
    const last = files.filter((f) => f.details_sent === 0).length === 1;
    await this.transition(report, last ? 'details_sent' : 'files_uploaded', {}, res, { action: 'report.file_details_sent', details: { ncmecFileId: next.ncmec_file_id, fileViewedByEsp: next.viewed_by_person === 1 } }, async (tx) => {
      await tx.k.updateTable('report_files').set({ details_sent: 1 }).where('report_id', '=', report.id).where('ordinal', '=', next.ordinal).execute();
    });
  }

  private async finish(report: ReportsTable): Promise<void> {
    let res: NcmecResponse;
    try {
      res = await this.client().finish(report.ncmec_report_id!);
    } catch (err) {
      // A finish whose answer was lost, sent again: NCMEC already filed it.
      if (err instanceof NcmecError && err.response?.responseCode === 5102) res = err.response;
      else if (err instanceof NcmecError && err.response?.responseCode === 5001) return this.restart(report, 'NCMEC no longer holds the unfinished report');
      else throw err;
    }
    const at = this.now().toISOString();
    await this.transition(report, 'finished', { finished_at: at }, res, { action: 'report.finished', details: { ncmecReportId: report.ncmec_report_id, files: res.parsed?.all.fileId ?? [] } }, async (tx) => {
      await tx.k.updateTable('incidents').set({ state: 'reported', updated_at: at }).where('id', '=', report.incident_id).execute();
    });
  }

  private async recordFailure(report: ReportsTable, e: NcmecError | StepFailure, failed: boolean): Promise<void> {
    const at = this.now().toISOString();
    const response = e instanceof NcmecError ? e.response : null;
    this.o.log?.[failed ? 'error' : 'warn']({ reportId: report.id, state: report.state, failure: e.failure, retryable: e.retryable, ncmecRequestId: response?.requestId }, `CyberTipline report ${failed ? 'failed' : 'step failed, will retry'}: ${e.message}`);
    await this.o.db.transaction(async (tx) => {
      await this.keep(tx, report.id, response, at);
      const current = await this.row(report.id, tx);
      if ((TERMINAL_STATES as readonly string[]).includes(current.state)) return;
      await tx.k.updateTable('reports').set({
        failure_class: e.failure, retryable: e.retryable ? 1 : 0, last_error: e.message.slice(0, 2000), attempts: sql<number>`attempts + 1`, updated_at: at,
        ...(failed ? { state: 'failed', failed_from: current.state } : {}),
      } as never).where('id', '=', report.id).execute();
      await this.o.audit.append(tx, {
        actor: 'system', action: failed ? 'report.failed' : 'report.attempt_failed', subject: `report:${report.id}`,
        details: { state: current.state, failure: e.failure, retryable: e.retryable, message: e.message, ...(response ? { httpStatus: response.httpStatus, responseCode: response.responseCode, ncmecRequestId: response.requestId } : {}) },
      });
    });
  }

  /** True when a pending or running job of the report's queue carries this report (at most a few such jobs exist). */
  private async hasLiveJob(tx: Tx, id: number): Promise<boolean> {
    const jobs = await tx.k.selectFrom('queue_jobs').select('payload').where('queue', '=', REPORT_QUEUE).where('state', 'in', ['pending', 'running']).execute();
    return jobs.some((j) => (JSON.parse(j.payload) as { reportId?: unknown }).reportId === id);
  }

  /**
   * A person re-queues a failed report (after fixing what its failure class names), or a stuck one: unfinished
   * with no pending or running job left to move it (a job dead-lettered outside the report's own failure
   * handling, a job deleted by hand); audited.
   */
  async retry(id: number, who: Actor): Promise<ReportView> {
    await this.o.db.transaction(async (tx) => {
      const r = await this.row(id, tx);
      const stuck = !(TERMINAL_STATES as readonly string[]).includes(r.state) && !(await this.hasLiveJob(tx, id));
      if (r.state !== 'failed' && !stuck) throw new VigilError('VIGIL_ERR_CONFLICT', `Report ${id} is ${r.state}: only a failed report, or an unfinished one without a pending job, is retried (a pending one retries by itself)`);
      const at = this.now().toISOString();
      const resume = r.state === 'failed' ? (r.failed_from ?? 'draft') : r.state;
      const generation = (await tx.k.selectFrom('report_responses').select((eb) => eb.fn.countAll<number>().as('n')).where('report_id', '=', id).executeTakeFirstOrThrow()).n;
      await tx.k.updateTable('reports').set({ state: resume, attempts: 0, updated_at: at } as never).where('id', '=', id).execute();
      await this.enqueue(tx, id, Number(generation) + 1 + Date.parse(at));
      await this.o.audit.append(tx, { actor: who.actor, requestId: who.requestId ?? null, action: 'report.retried', subject: `report:${id}`, details: { resumeAt: resume, failure: r.failure_class, ...(stuck ? { stuck: true } : {}) } });
    });
    this.o.onJobsQueued?.();
    return (await this.get(id))!;
  }

  /** Cancels an unfinished report (NCMEC's retract when it holds one); a finished report cannot be retracted. */
  async retract(id: number, who: Actor, reason: string): Promise<ReportView> {
    const r = await this.row(id);
    if (r.state === 'finished') throw new VigilError('VIGIL_ERR_CONFLICT', `Report ${id} is finished: NCMEC has it (file a supplemental report to correct it)`);
    if (r.state === 'retracted') return (await this.get(id))!;
    let res: NcmecResponse | null = null;
    if (r.ncmec_report_id) {
      try {
        res = await this.client().retract(r.ncmec_report_id);
      } catch (err) {
        // 5101 already retracted; 5001 NCMEC no longer holds it: either way it will never be filed.
        if (err instanceof NcmecError && (err.response?.responseCode === 5101 || err.response?.responseCode === 5001)) res = err.response;
        else throw err;
      }
    }
    const at = this.now().toISOString();
    await this.o.db.transaction(async (tx) => {
      await this.keep(tx, id, res, at);
      const moved = await tx.k.updateTable('reports').set({ state: 'retracted', updated_at: at }).where('id', '=', id).where('state', 'not in', ['finished', 'retracted']).executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) throw new VigilError('VIGIL_ERR_CONFLICT', `Report ${id} finished while it was being retracted`);
      await this.o.audit.append(tx, { actor: who.actor, requestId: who.requestId ?? null, action: 'report.retracted', subject: `report:${id}`, details: { reason, ncmecReportId: r.ncmec_report_id, from: r.state } });
    });
    return (await this.get(id))!;
  }

  private view(r: ReportsTable, files: ReportFilesTable[], now: number): ReportView {
    const terminal = (TERMINAL_STATES as readonly string[]).includes(r.state);
    return {
      id: Number(r.id), incidentId: Number(r.incident_id), decisionId: Number(r.decision_id), supplements: r.supplements === null ? null : Number(r.supplements),
      state: r.state as ReportState, ncmecReportId: r.ncmec_report_id, jurisdiction: r.jurisdiction,
      failure: r.failure_class ? { class: r.failure_class as FailureClass, retryable: r.retryable === 1, message: r.last_error } : null,
      attempts: Number(r.attempts),
      stuck: r.state === 'failed' || (!terminal && (r.failure_class !== null || now - Date.parse(r.updated_at) > this.o.stuckAfterMs)),
      openedBy: r.opened_by, submittedAt: r.submitted_at, finishedAt: r.finished_at, createdAt: r.created_at, updatedAt: r.updated_at,
      files: files.map((f) => ({ ordinal: f.ordinal, evidenceId: f.evidence_id, fileName: f.file_name, sha256: f.sha256, viewedByPerson: f.viewed_by_person === 1, ncmecFileId: f.ncmec_file_id, detailsSent: f.details_sent === 1 })),
    };
  }

  async get(id: number): Promise<ReportView | undefined> {
    const row = await this.o.db.k.selectFrom('reports').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.view(row, await this.files(id), this.now().getTime()) : undefined;
  }

  /** Newest first. `stuck`: failed, failing, or unchanged for longer than stuckAfterMs while unfinished. */
  async list(filter: { state?: ReportState; stuck?: boolean; incidentId?: number; limit?: number } = {}): Promise<ReportView[]> {
    let q = this.o.db.k.selectFrom('reports').selectAll().orderBy('id', 'desc');
    if (filter.state) q = q.where('state', '=', filter.state);
    if (filter.incidentId !== undefined) q = q.where('incident_id', '=', filter.incidentId);
    if (filter.stuck) q = q.where('state', 'not in', ['finished', 'retracted']);
    const now = this.now().getTime();
    const out: ReportView[] = [];
    for (const row of await q.limit(Math.min(filter.limit ?? 100, 1000)).execute()) {
      const v = this.view(row, await this.files(Number(row.id)), now);
      if (!filter.stuck || v.stuck) out.push(v);
    }
    return out;
  }

  /** The platform's answer to the account-information request, kept with the report; audited. */
  async recordAccountInfo(id: number, answer: { info: Record<string, unknown>; preserved: boolean; preservedUntil?: string }, who: Actor): Promise<void> {
    await this.o.db.transaction(async (tx) => {
      await this.row(id, tx);
      await tx.k.insertInto('report_account_info').values({ report_id: id, info: JSON.stringify(answer.info), preserved: answer.preserved ? 1 : 0, preserved_until: answer.preservedUntil ?? null, answered_by: who.actor, at: this.now().toISOString() } as never).execute();
      await this.o.audit.append(tx, { actor: who.actor, requestId: who.requestId ?? null, action: 'report.account_info_received', subject: `report:${id}`, details: { preserved: answer.preserved, preservedUntil: answer.preservedUntil ?? null, fields: Object.keys(answer.info) } });
    });
  }

  async accountInfo(id: number): Promise<{ info: Record<string, unknown>; preserved: boolean; preservedUntil: string | null; answeredBy: string; at: string }[]> {
    const rows = await this.o.db.k.selectFrom('report_account_info').selectAll().where('report_id', '=', id).orderBy('id').execute();
    return rows.map((r) => ({ info: JSON.parse(r.info) as Record<string, unknown>, preserved: r.preserved === 1, preservedUntil: r.preserved_until, answeredBy: r.answered_by, at: r.at }));
  }

  /** The <report> document as generated and submitted. */
  async xmlOf(id: number): Promise<string> {
    return (await this.row(id)).xml;
  }

  async responses(id: number): Promise<{ step: string; httpStatus: number | null; responseCode: number | null; requestId: string | null; body: string; at: string }[]> {
    const rows = await this.o.db.k.selectFrom('report_responses').selectAll().where('report_id', '=', id).orderBy('id').execute();
    return rows.map((r) => ({ step: r.step, httpStatus: r.http_status, responseCode: r.response_code, requestId: r.request_id, body: r.body, at: r.at }));
  }

  /** For metrics: reports by state, and how many are stuck. */
  async counts(): Promise<{ byState: Record<string, number>; stuck: number }> {
    const rows = await this.o.db.k.selectFrom('reports').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('state').execute();
    const byState = Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
    return { byState, stuck: (await this.list({ stuck: true, limit: 1000 })).length };
  }
}
