/**
 * After a report is filed, the reported media's hashes go into a bank in one step, so the next copy is caught
 * without review. Provenance: the report (Vigil's id and NCMEC's) on each signal. The hashes are those of the
 * bytes NCMEC received: the SHA-256 verified on every evidence read and the MD5 of what was uploaded.
 */
import type { AuditActor } from '../audit/log.js';
import type { BankService } from '../app/banks.js';
import { VigilError } from '../core/errors.js';
import type { VigilDatabase } from '../state/database.js';
import type { Signal } from '../store/types.js';

export async function addReportedToBank(o: { db: VigilDatabase; banks: BankService }, reportId: number, bankName: string, who: AuditActor): Promise<Signal[]> {
  const report = await o.db.k.selectFrom('reports').select(['state', 'ncmec_report_id']).where('id', '=', reportId).executeTakeFirst();
  if (!report) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No report ${reportId}`);
  if (report.state !== 'finished') throw new VigilError('VIGIL_ERR_CONFLICT', `Report ${reportId} is ${report.state}: only a filed (finished) report's media go into a bank`);
  const files = await o.db.k.selectFrom('report_files').select(['sha256', 'ncmec_md5', 'file_name']).where('report_id', '=', reportId).orderBy('ordinal').execute();
  if (files.length === 0) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Report ${reportId} has no files (a text-only report)`);
  const provenance = { reportId, ncmecReportId: report.ncmec_report_id };
  const added: Signal[] = [];
  // One at a time: each signal is its own audited change (and several in one call are not yet safe on PostgreSQL).
  for (const f of files) {
    for (const [type, value] of [['sha256', f.sha256], ['md5', f.ncmec_md5]] as const) {
      if (!value) continue;
      added.push(await o.banks.addSignal(who, bankName, { type, value, sourceId: `ncmec-report:${report.ncmec_report_id}`, fileName: f.file_name, metadata: provenance }, { via: 'report', ...provenance }));
    }
  }
  return added;
}
