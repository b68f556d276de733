/**
 * Content checked by the fleet's workers instead of in the request: `queueContent` records the submissions as
 * `content` jobs (with their audit entries) in one unit of work; a worker runs each through the pipeline, whose
 * decision is idempotent on (content id, fingerprint) — a job delivered twice (a worker killed mid-job) finds
 * the recorded decision and repeats no action. Live uploads go ahead of backfills and imports (priority).
 */
import { VigilError } from '../core/errors.js';
import type { AuditLog } from '../audit/log.js';
import type { ContentPipeline, SubmissionMeta } from '../pipeline/pipeline.js';
import { fingerprintOf, matchQueryOfClientHashes, type ClientHashes } from '../pipeline/query.js';
import type { SqlJobQueue } from '../queue/sql-queue.js';
import type { Job, NewJob } from '../queue/types.js';
import { permanentError } from '../queue/worker.js';
import type { VigilDatabase } from '../state/database.js';
import { isUploadJob, runUploadJob, type UploadHandlerDeps } from './upload-jobs.js';

export const CONTENT_QUEUE = 'content';
/** Outbox priorities (higher first): live uploads ahead of backfills and imports. */
export const CONTENT_PRIORITY = { live: 10, backfill: 0 } as const;
export type ContentPriority = keyof typeof CONTENT_PRIORITY;
/** Per call: a bounded unit of work. */
export const MAX_QUEUED_PER_CALL = 1000;

export interface ContentJobPayload {
  meta: SubmissionMeta;
  hashes: ClientHashes;
}

export interface QueuedContent {
  contentId: string;
  jobId: number;
  /** False: the same content and hashes were queued before (the earlier job stands). */
  created: boolean;
}

/** The job for one submission; its idempotency key is the decision's (content id, fingerprint). */
export function contentJob(meta: SubmissionMeta, hashes: ClientHashes, priority: ContentPriority = 'live'): NewJob {
  // Invalid hashes are refused here, at the front door, not found by a worker later.
  const fingerprint = fingerprintOf(matchQueryOfClientHashes(hashes));
  return { queue: CONTENT_QUEUE, idempotencyKey: `content:${meta.contentId}:${fingerprint}`, payload: { meta, hashes } satisfies ContentJobPayload, priority: CONTENT_PRIORITY[priority], maxAttempts: 10 };
}

export async function queueContent(
  deps: { db: VigilDatabase; queue: SqlJobQueue; audit: AuditLog },
  items: readonly { meta: SubmissionMeta; hashes: ClientHashes }[],
  priority: ContentPriority = 'live',
): Promise<QueuedContent[]> {
  if (items.length > MAX_QUEUED_PER_CALL) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `At most ${MAX_QUEUED_PER_CALL} items per call`);
  const jobs = items.map((i) => contentJob(i.meta, i.hashes, priority));
  return deps.db.transaction(async (tx) => {
    const queued = await deps.queue.enqueue(tx, jobs);
    await deps.audit.appendMany(tx, items.map((item, k) => ({
      actor: item.meta.actor, ...(item.meta.requestId ? { requestId: item.meta.requestId } : {}),
      action: 'content.queued', subject: `content:${item.meta.contentId}`,
      details: { jobId: queued[k]!.job.id, created: queued[k]!.created, priority },
    })));
    return queued.map((q, k) => ({ contentId: items[k]!.meta.contentId, jobId: q.job.id, created: q.created }));
  });
}

/** `uploads`: where a worker finds file uploads' sealed bytes (fleet/upload-jobs.ts); without it they fail permanently. */
export function contentHandler(pipeline: ContentPipeline, uploads?: UploadHandlerDeps): (job: Job) => Promise<void> {
  return async (job) => {
    if (isUploadJob(job.payload)) {
      if (!uploads) throw permanentError(new VigilError('VIGIL_ERR_INVALID_CONFIG', `Job ${job.id}: this process cannot run file uploads`));
      return runUploadJob(pipeline, uploads, job, job.payload);
    }
    const payload = job.payload as Partial<ContentJobPayload> | null;
    if (!payload?.meta || typeof payload.meta.contentId !== 'string' || !payload.hashes) throw permanentError(new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Job ${job.id}: not a content job`));
    try {
      await pipeline.submitHashes(payload.meta, payload.hashes);
    } catch (err) {
      throw err instanceof VigilError && err.code === 'VIGIL_ERR_INVALID_ARGUMENT' ? permanentError(err) : err;
    }
  };
}
