/**
 * Investigator changes to a case: categories on items and series, identifiers on items, and a categorised
 * series made into a bank. Each writes its audit entry (actor, request id) in the store's transaction; the
 * case change is made inside that transaction, so a failed case write leaves no audit entry. (A SQLite case
 * is its own file: the entry is written first and the case changed inside the store's transaction, so a failed
 * entry leaves the case unchanged; only a crash between the case's commit and the store's loses the entry.)
 */
import { sql } from 'kysely';
import type { AuditActor, AuditLog } from '../audit/log.js';
import type { BankService } from '../app/banks.js';
import { VigilError } from '../core/errors.js';
import type { VigilDatabase } from '../state/database.js';
import type { CaseDb } from './case-db.js';

export interface Category {
  projectVic?: number;
  uk?: 'A' | 'B' | 'C';
}

export const IDENTIFIER_KINDS = ['account', 'email', 'phone', 'handle', 'other'] as const;
export type IdentifierKind = (typeof IDENTIFIER_KINDS)[number];

export function checkCategory(c: Category): Category {
  if (c.projectVic === undefined && c.uk === undefined) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a Project VIC category (0–4) or a UK category (A–C)');
  if (c.projectVic !== undefined && (!Number.isInteger(c.projectVic) || c.projectVic < 0 || c.projectVic > 4)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a Project VIC category from 0 to 4 but received ${c.projectVic}`);
  if (c.uk !== undefined && !['A', 'B', 'C'].includes(c.uk)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a UK category A, B or C but received ${JSON.stringify(c.uk)}`);
  return c;
}

export class CaseService {
  constructor(private readonly o: { db: VigilDatabase; audit: AuditLog; banks: BankService }) {}

  private async audited<T>(actor: AuditActor, action: string, subject: string, details: Record<string, unknown>, change: () => Promise<T>): Promise<T> {
    // The entry first: if it cannot be written, the case is not changed; if the change fails, the entry rolls back.
    return this.o.db.transaction(async (tx) => {
      await this.o.audit.append(tx, { ...actor, action, subject, details });
      return change();
    });
  }

  async categoriseItem(actor: AuditActor, caseDb: CaseDb, path: string, category: Category): Promise<void> {
    checkCategory(category);
    await this.audited(actor, 'case.item.categorised', `case:${caseDb.name}`, { path, ...category }, async () => {
      const r = await sql`UPDATE triage_items SET vic_category = COALESCE(${category.projectVic ?? null}, vic_category), uk_category = COALESCE(${category.uk ?? null}, uk_category)
        WHERE case_name = ${caseDb.name} AND path = ${path}`.execute(caseDb.db.k);
      if (Number(r.numAffectedRows ?? 0) === 0) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No item ${JSON.stringify(path)} in case ${caseDb.name}`);
    });
  }

  async categoriseSeries(actor: AuditActor, caseDb: CaseDb, series: string, category: Category): Promise<void> {
    checkCategory(category);
    await this.audited(actor, 'case.series.categorised', `case:${caseDb.name}`, { series, ...category }, async () => {
      const exists = (await sql`SELECT 1 FROM triage_items WHERE case_name = ${caseDb.name} AND series = ${series} LIMIT 1`.execute(caseDb.db.k)).rows.length > 0;
      if (!exists) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No series ${JSON.stringify(series)} in case ${caseDb.name}`);
      await sql`INSERT INTO triage_series (case_name, series, vic_category, uk_category) VALUES (${caseDb.name}, ${series}, ${category.projectVic ?? null}, ${category.uk ?? null})
        ON CONFLICT (case_name, series) DO UPDATE SET vic_category = COALESCE(excluded.vic_category, triage_series.vic_category), uk_category = COALESCE(excluded.uk_category, triage_series.uk_category)`.execute(caseDb.db.k);
    });
  }

  async addIdentifier(actor: AuditActor, caseDb: CaseDb, path: string, kind: IdentifierKind, value: string): Promise<void> {
    if (!IDENTIFIER_KINDS.includes(kind)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected one of ${IDENTIFIER_KINDS.join(', ')} but received ${JSON.stringify(kind)}`);
    const normalised = value.trim().toLowerCase();
    if (normalised === '') throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected a non-empty identifier');
    await this.audited(actor, 'case.identifier.added', `case:${caseDb.name}`, { path, kind }, async () => {
      const exists = (await sql`SELECT 1 FROM triage_items WHERE case_name = ${caseDb.name} AND path = ${path}`.execute(caseDb.db.k)).rows.length > 0;
      if (!exists) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No item ${JSON.stringify(path)} in case ${caseDb.name}`);
      await sql`INSERT INTO triage_identifiers (case_name, path, kind, value) VALUES (${caseDb.name}, ${path}, ${kind}, ${normalised}) ON CONFLICT DO NOTHING`.execute(caseDb.db.k);
    });
  }

  /**
   * A categorised series becomes signals in a bank in one step (BankService.addSignals: one unit of work, one
   * audit entry per signal), with the series' categories as labels: every distinct picture's SHA-256 and PDQ.
   */
  async seriesToBank(actor: AuditActor, caseDb: CaseDb, series: string, bank: string): Promise<{ signals: number }> {
    const cat = (await sql<{ vic_category: number | null; uk_category: string | null }>`SELECT vic_category, uk_category FROM triage_series WHERE case_name = ${caseDb.name} AND series = ${series}`.execute(caseDb.db.k)).rows[0];
    if (!cat || (cat.vic_category === null && cat.uk_category === null)) throw new VigilError('VIGIL_ERR_CONFLICT', `Series ${JSON.stringify(series)} has no category: categorise it first`);
    const rows = (await sql<{ sha256: string; pdq: string | null; md5: string | null }>`SELECT sha256, MIN(pdq) AS pdq, MIN(md5) AS md5 FROM triage_items WHERE case_name = ${caseDb.name} AND series = ${series} GROUP BY sha256 ORDER BY sha256`.execute(caseDb.db.k)).rows;
    const labels = { series, ...(cat.vic_category !== null ? { projectVicCategory: Number(cat.vic_category) } : {}), ...(cat.uk_category !== null ? { ukCategory: cat.uk_category as 'A' | 'B' | 'C' } : {}) };
    const signals = rows.flatMap((r) => [
      { type: 'sha256' as const, value: r.sha256, labels, sourceId: `${caseDb.name}:${r.sha256}:sha256` },
      ...(r.md5 ? [{ type: 'md5' as const, value: r.md5, labels, sourceId: `${caseDb.name}:${r.sha256}:md5` }] : []),
      ...(r.pdq ? [{ type: 'pdq' as const, value: r.pdq, labels, sourceId: `${caseDb.name}:${r.sha256}:pdq` }] : []),
    ]);
    await this.o.banks.addSignals(actor, bank, signals, { via: 'case', case: caseDb.name, series });
    return { signals: signals.length };
  }
}
