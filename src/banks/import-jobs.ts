/**
 * List imports as jobs: the request that uploads a list is answered 202 with a job, and the import runs
 * beside the service (parsing on a worker thread, src/banks/list-worker.ts), reporting progress.
 *
 * Job state is kept in memory only (the last MAX_FINISHED finished jobs and every running one). A restart
 * loses the job ids and their progress: an import cut short by a restart never committed (imports are one
 * transaction), and a finished one is still in the store's import records (GET /v1/banks/:name shows it).
 */
import { randomUUID } from 'node:crypto';
import { toVigilError, type VigilErrorCode } from '../core/errors.js';
import type { ImportResult } from '../store/types.js';

export interface ImportProgress {
  bytesRead: number;
  totalBytes: number;
  rows: number;
}

export interface ImportJob {
  id: string;
  bank: string;
  state: 'running' | 'done' | 'failed';
  fileName: string | null;
  progress: ImportProgress;
  result?: ImportResult & { format: string };
  error?: { code: VigilErrorCode; message: string };
  createdAt: string;
  finishedAt?: string;
}

const MAX_FINISHED = 200;

export class ImportJobs {
  private readonly jobs = new Map<string, { job: ImportJob; done: Promise<ImportJob> }>();

  /** Starts `run` as a job; it reports progress through its argument. */
  start(bank: string, fileName: string | null, totalBytes: number, run: (onProgress: (p: ImportProgress) => void) => Promise<ImportResult & { format: string }>): ImportJob {
    const job: ImportJob = { id: randomUUID(), bank, state: 'running', fileName, progress: { bytesRead: 0, totalBytes, rows: 0 }, createdAt: new Date().toISOString() };
    const done = run((p) => {
      job.progress = p;
    }).then(
      (result) => {
        job.state = 'done';
        job.result = result;
        job.progress = { ...job.progress, bytesRead: totalBytes };
      },
      (err: unknown) => {
        const e = toVigilError(err);
        job.state = 'failed';
        job.error = { code: e.code, message: e.message };
      },
    ).then(() => {
      job.finishedAt = new Date().toISOString();
      this.prune();
      return job;
    });
    this.jobs.set(job.id, { job, done });
    return job;
  }

  get(id: string): ImportJob | undefined {
    return this.jobs.get(id)?.job;
  }

  /** Resolves when the job has finished (tests, and a clean shutdown). */
  whenDone(id: string): Promise<ImportJob | undefined> {
    return this.jobs.get(id)?.done ?? Promise.resolve(undefined);
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => j.job.state !== 'running');
    for (const j of finished.slice(0, Math.max(0, finished.length - MAX_FINISHED))) this.jobs.delete(j.job.id);
  }
}
