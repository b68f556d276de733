/**
 * File uploads checked by the fleet's workers (`POST /v1/content/queue/upload`, docs/fleet.md).
 *
 * The bytes must reach a worker without ever being kept readable where nothing matched. The API process
 * streams the upload into its private temp file (0600, unlinked at once on Linux), seals it into the evidence
 * store — encrypted per item (AES-256-GCM, streamed), and the one store every process of the fleet already
 * shares — and removes the temp file. The `content` job carries the submission's meta and the sealed item's
 * reference (id, key id, SHA-256, size), never bytes. A worker opens the item into its own private temp file,
 * hashes, matches and decides: the sealed copy becomes the decision's evidence when a rule preserves evidence,
 * and is deleted otherwise (no match, a match without preserve_evidence, content it cannot read, the job's
 * last attempt). So the staged copy lives as long as its job waits — the "short TTL" — and only encrypted.
 */
import { sql } from 'kysely';
import type { AuditLog } from '../audit/log.js';
import { DEFAULT_BUDGET, ItemBudget } from '../core/budget.js';
import { VigilError } from '../core/errors.js';
import type { EvidenceStore } from '../evidence/store.js';
import type { ContentPipeline, EvidenceSink, SealedEvidence, SubmissionMeta } from '../pipeline/pipeline.js';
import type { SqlJobQueue } from '../queue/sql-queue.js';
import type { Job } from '../queue/types.js';
import { permanentError } from '../queue/worker.js';
import type { DecisionRecords } from '../records/decisions.js';
import { saveUpload, type SavedUpload } from '../service/uploads.js';
import type { VigilDatabase } from '../state/database.js';
import { CONTENT_PRIORITY, CONTENT_QUEUE, type ContentPriority, type QueuedContent } from './content-jobs.js';

export interface UploadJobPayload {
  meta: SubmissionMeta;
  staged: SealedEvidence;
}

export function isUploadJob(payload: unknown): payload is UploadJobPayload {
  const p = payload as Partial<UploadJobPayload> | null;
  return typeof p?.meta?.contentId === 'string' && typeof p.staged?.id === 'string' && typeof p.staged.sha256 === 'string';
}

/**
 * Seals the upload at `path` and queues its job in one unit of work with its audit entry. Idempotent like a
 * synchronous upload, on (content id, SHA-256): a repeat finds the earlier job and its new sealed copy is deleted.
 */
export async function queueUpload(
  deps: { db: VigilDatabase; queue: SqlJobQueue; audit: AuditLog; evidence: EvidenceSink },
  meta: SubmissionMeta,
  path: string,
  priority: ContentPriority = 'live',
): Promise<QueuedContent> {
  const staged = await deps.evidence.sealFile(path);
  try {
    const [queued] = await deps.db.transaction(async (tx) => {
      const made = await deps.queue.enqueue(tx, [{
        queue: CONTENT_QUEUE, idempotencyKey: `content:${meta.contentId}:${staged.sha256}`,
        payload: { meta, staged } satisfies UploadJobPayload, priority: CONTENT_PRIORITY[priority], maxAttempts: 10,
      }]);
      await deps.audit.append(tx, {
        actor: meta.actor, ...(meta.requestId ? { requestId: meta.requestId } : {}), action: 'content.queued', subject: `content:${meta.contentId}`,
        details: { jobId: made[0]!.job.id, created: made[0]!.created, priority, upload: { bytes: staged.size } },
      });
      return made;
    });
    if (!queued!.created) await deps.evidence.discard(staged.id);
    return { contentId: meta.contentId, jobId: queued!.job.id, created: queued!.created };
  } catch (err) {
    await deps.evidence.discard(staged.id).catch(() => undefined);
    throw err;
  }
}

export interface UploadHandlerDeps {
  db: VigilDatabase;
  records: DecisionRecords;
  evidence: () => Promise<EvidenceStore>;
  /** This process's private upload folder (service/uploads.ts openUploadDir). */
  tempDir: () => Promise<string>;
}

/**
 * The content itself is at fault (unreadable, empty, tampered, over its budget): not worth retrying. Anything
 * else (a key this worker lacks yet, configuration, a server not ready) is the moment's, and is retried.
 */
const CONTENT_FAULTS: ReadonlySet<string> = new Set([
  'VIGIL_ERR_UNREADABLE', 'VIGIL_ERR_EMPTY_FILE', 'VIGIL_ERR_CORRUPT_MEDIA', 'VIGIL_ERR_UNSUPPORTED_MEDIA', 'VIGIL_ERR_VIDEO_DECODE',
  'VIGIL_ERR_PIXEL_LIMIT', 'VIGIL_ERR_EVIDENCE_INTEGRITY', 'VIGIL_ERR_PAYLOAD_TOO_LARGE', 'VIGIL_ERR_FILE_TOO_LARGE', 'VIGIL_ERR_BUDGET', 'VIGIL_ERR_TIMEOUT',
]);
function contentFault(err: unknown): boolean {
  return err instanceof VigilError && CONTENT_FAULTS.has(err.code);
}

/** Whether an earlier delivery decided this content (an unmatched decision is recorded only in the audit log). */
async function decidedBefore(deps: UploadHandlerDeps, contentId: string): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM audit_log WHERE action = 'decision.created' AND subject = ${`content:${contentId}`}`.execute(deps.db.k);
  return Number(rows[0]!.n) > 0;
}

/** Runs one upload job (at-least-once: a re-delivery after the decision finds it and only tidies up). */
export async function runUploadJob(pipeline: ContentPipeline, deps: UploadHandlerDeps, job: Job, payload: UploadJobPayload): Promise<void> {
  const { meta, staged } = payload;
  const store = await deps.evidence();
  // The sealed copy stays only as a recorded decision's evidence.
  const tidy = async () => {
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM evidence WHERE id = ${staged.id}`.execute(deps.db.k);
    if (Number(rows[0]!.n) === 0) await store.delete(staged.id);
  };
  if (await deps.records.findDecision(meta.contentId, staged.sha256)) return tidy();
  let upload: SavedUpload | undefined;
  try {
    let sealed;
    try {
      sealed = await store.open(staged.id, staged.sha256);
    } catch (err) {
      // Only this handler deletes a staged copy: once its upload is decided (an earlier delivery decided it,
      // unmatched so nothing recorded, and died before the job was marked done), or when the content is at fault.
      // A copy gone without a decision is a loud, permanent failure, never a silent "done".
      if (err instanceof VigilError && err.code === 'VIGIL_ERR_NOT_FOUND') {
        if (await decidedBefore(deps, meta.contentId)) return;
        throw permanentError(new VigilError('VIGIL_ERR_NOT_FOUND', `The sealed upload of content ${meta.contentId} is gone and it was never checked: submit it again`));
      }
      throw err;
    }
    // Integrity-checked against the SHA-256 sealed with it; bounded by the size the API process accepted.
    upload = await saveUpload(await deps.tempDir(), sealed, staged.size);
    await pipeline.submitSealed(meta, upload.path, staged, new ItemBudget(DEFAULT_BUDGET));
  } catch (err) {
    // A fault of the moment keeps the sealed copy, even on the last attempt: a retried dead job still has it.
    const fault = contentFault(err);
    if (fault) await tidy().catch(() => undefined);
    throw fault ? permanentError(err as Error) : err;
  } finally {
    await upload?.remove();
  }
  await tidy();
}
