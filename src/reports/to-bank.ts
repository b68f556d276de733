/**
 * After a report is filed, the reported media's hashes go into a bank in one step, so the next copy is caught
 * without review. Provenance: the report (Vigil's id and NCMEC's) on each signal. The hashes are those of the
 * bytes NCMEC received: the SHA-256 verified on every evidence read and the MD5 of what was uploaded; and, for
 * pictures, the PDQ of those bytes (decisions keep no PDQ), computed from the preserved evidence.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { auditBy, type AuditActor, type AuditLog } from '../audit/log.js';
import type { BankService } from '../app/banks.js';
import { VigilError } from '../core/errors.js';
import type { EvidenceStore } from '../evidence/store.js';
import type { FileHashRecord } from '../hashing/hash-file.js';
import type { VigilDatabase } from '../state/database.js';
import type { Signal } from '../store/types.js';

/** Still-picture formats (the evidence record's media type): only these are read back for a PDQ. */
const PICTURE_FORMATS = new Set(['jpeg', 'jpg', 'png', 'webp', 'gif', 'tiff', 'bmp', 'heif', 'heic', 'avif', 'tga']);

export interface ToBankDeps {
  db: VigilDatabase;
  banks: BankService;
  audit: AuditLog;
  evidence: () => Promise<EvidenceStore>;
  hashFile(path: string): Promise<FileHashRecord>;
}

/**
 * The PDQ of a preserved picture: decrypted as a stream into a 0600 file in a private (0700, mkdtemp) folder,
 * hashed, deleted. The read is audited first; the SHA-256 is checked on the way (a tampered file throws).
 */
async function pdqOfEvidence(o: ToBankDeps, evidenceId: string, sha256: string, reportId: number, who: AuditActor, tempDir?: string): Promise<string | undefined> {
  const store = await o.evidence();
  await o.audit.appendNow(auditBy(who, 'evidence.read', `evidence:${evidenceId}`, { purpose: 'bank_pdq', reportId }));
  const dir = await mkdtemp(join(tempDir ?? tmpdir(), 'vigil-to-bank-'));
  try {
    const path = join(dir, 'picture');
    await pipeline(await store.open(evidenceId, sha256), createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    const hashed = await o.hashFile(path);
    return hashed.media === 'image' ? hashed.pdq : undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function addReportedToBank(o: ToBankDeps, reportId: number, bankName: string, who: AuditActor, opts: { tempDir?: string } = {}): Promise<Signal[]> {
  const report = await o.db.k.selectFrom('reports').select(['state', 'ncmec_report_id']).where('id', '=', reportId).executeTakeFirst();
  if (!report) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No report ${reportId}`);
  if (report.state !== 'finished') throw new VigilError('VIGIL_ERR_CONFLICT', `Report ${reportId} is ${report.state}: only a filed (finished) report's media go into a bank`);
  const files = await o.db.k.selectFrom('report_files').leftJoin('evidence', 'evidence.id', 'report_files.evidence_id')
    .select(['report_files.sha256', 'report_files.ncmec_md5', 'report_files.file_name', 'report_files.evidence_id', 'evidence.media_type', 'evidence.deleted_at'])
    .where('report_files.report_id', '=', reportId).orderBy('report_files.ordinal').execute();
  if (files.length === 0) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Report ${reportId} has no files (a text-only report)`);
  const provenance = { reportId, ncmecReportId: report.ncmec_report_id };
  const added: Signal[] = [];
  // One at a time: each signal is its own audited change (and several in one call are not yet safe on PostgreSQL).
  for (const f of files) {
    const picture = f.media_type !== null && PICTURE_FORMATS.has(f.media_type.toLowerCase()) && f.deleted_at === null;
    const pdq = picture ? await pdqOfEvidence(o, f.evidence_id, f.sha256, reportId, who, opts.tempDir) : undefined;
    for (const [type, value] of [['sha256', f.sha256], ['md5', f.ncmec_md5], ['pdq', pdq]] as const) {
      if (!value) continue;
      added.push(await o.banks.addSignal(who, bankName, { type, value, sourceId: `ncmec-report:${report.ncmec_report_id}`, fileName: f.file_name, metadata: provenance }, { via: 'report', ...provenance }));
    }
  }
  return added;
}
