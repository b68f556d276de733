/**
 * Case exports, streamed page by page (a case of any size in bounded memory):
 * - json: a JSON array, one record per line, with exactly the fields (null when not applicable)
 *   plus `categories` (what an investigator set: Project VIC 0–4, UK A–C).
 * - csv: the same, flattened.
 * - vics: the new, unknown pictures and videos for sharing (VICS 2.0 through lists/vics.ts).
 * - hashdeep: every file with digests (an evidence manifest `hashdeep -a -k` accepts, lists/hashdeep.ts).
 */
import { writeHashdeep } from '../lists/hashdeep.js';
import type { ListRecord } from '../lists/types.js';
import { writeVics } from '../lists/vics.js';
import type { CaseDb, CaseRow } from './case-db.js';

export const EXPORT_FORMATS = ['json', 'csv', 'vics', 'hashdeep'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportRecord {
  path: string;
  size: number | null;
  md5: string | null;
  sha1: string | null;
  sha256: string | null;
  type: string | null;
  pdq: string | null;
  quality: number | null;
  vpdq: string[] | null;
  status: string;
  matches: { bank: string; signalType: string; distance: number; categories: { projectVic?: number; uk?: string } }[];
  duplicateGroup: string | null;
  series: string | null;
  exif: { make: string | null; model: string | null; serial: string | null; takenAt: string | null; gps: { lat: number; lon: number } | null } | null;
  error: { code: string; message: string } | null;
  categories: { projectVic: number | null; uk: string | null } | null;
}

/** Series categories apply to every item of the series that has none of its own. */
export async function seriesCategories(caseDb: CaseDb): Promise<Map<string, { vic?: number; uk?: string }>> {
  const { sql } = await import('kysely');
  const rows = (await sql<{ series: string; vic_category: number | null; uk_category: string | null }>`SELECT series, vic_category, uk_category FROM triage_series WHERE case_name = ${caseDb.name}`.execute(caseDb.db.k)).rows;
  return new Map(rows.map((r) => [r.series, { ...(r.vic_category !== null ? { vic: Number(r.vic_category) } : {}), ...(r.uk_category !== null ? { uk: r.uk_category } : {}) }]));
}

export function exportRecord(row: CaseRow, series: Map<string, { vic?: number; uk?: string }>): ExportRecord {
  const fromSeries = row.series ? series.get(row.series) : undefined;
  const vic = row.vicCategory ?? fromSeries?.vic;
  const uk = row.ukCategory ?? fromSeries?.uk;
  const e = row.exif;
  return {
    path: row.path,
    size: row.size ?? null,
    md5: row.md5 ?? null,
    sha1: row.sha1 ?? null,
    sha256: row.sha256 ?? null,
    type: row.type ?? null,
    pdq: row.pdq ?? null,
    quality: row.quality ?? null,
    vpdq: row.vpdq ?? null,
    status: row.status,
    matches: (row.matches ?? []).map((m) => ({ bank: m.bank, signalType: m.signalType, distance: m.distance, categories: m.categories })),
    duplicateGroup: row.dupGroup ?? null,
    series: row.series ?? null,
    exif: e ? { make: e.make ?? null, model: e.model ?? null, serial: e.serial ?? null, takenAt: e.takenAt ?? null, gps: e.gps ?? null } : null,
    error: row.error ?? null,
    categories: vic !== undefined || uk !== undefined ? { projectVic: vic ?? null, uk: uk ?? null } : null,
  };
}

const CSV_COLUMNS = ['path', 'size', 'md5', 'sha1', 'sha256', 'type', 'pdq', 'quality', 'status', 'matches', 'duplicateGroup', 'series', 'make', 'model', 'serial', 'takenAt', 'lat', 'lon', 'errorCode', 'errorMessage', 'projectVicCategory', 'ukCategory'];

export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  // A leading =,+,-,@ would be a formula in a spreadsheet (file names come from a suspect's device): quoted with
  // a leading apostrophe. Only a plain number (a negative longitude) is left as it is.
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function csvRow(r: ExportRecord): string {
  const matches = r.matches.map((m) => `${m.bank}:${m.signalType}:${m.distance}`).join(';');
  const cells = [r.path, r.size, r.md5, r.sha1, r.sha256, r.type, r.pdq, r.quality, r.status, matches, r.duplicateGroup, r.series, r.exif?.make, r.exif?.model, r.exif?.serial, r.exif?.takenAt, r.exif?.gps?.lat, r.exif?.gps?.lon, r.error?.code, r.error?.message, r.categories?.projectVic, r.categories?.uk];
  return cells.map(csvCell).join(',') + '\n';
}

async function* records(caseDb: CaseDb): AsyncGenerator<ExportRecord> {
  const series = await seriesCategories(caseDb);
  for await (const row of caseDb.items()) yield exportRecord(row, series);
}

function listRecord(r: ExportRecord): ListRecord {
  const signals: ListRecord['signals'] = [];
  if (r.md5) signals.push({ type: 'md5', value: r.md5 });
  if (r.sha1) signals.push({ type: 'sha1', value: r.sha1 });
  if (r.sha256) signals.push({ type: 'sha256', value: r.sha256 });
  if (r.pdq) signals.push({ type: 'pdq', value: r.pdq });
  const labels: ListRecord['labels'] = {};
  if (r.categories?.projectVic !== null && r.categories?.projectVic !== undefined) labels.projectVicCategory = r.categories.projectVic;
  if (r.categories?.uk) labels.ukCategory = r.categories.uk as 'A' | 'B' | 'C';
  if (r.series) labels.series = r.series;
  return { signals, labels, fileName: r.path, ...(r.size !== null ? { fileSize: r.size } : {}), metadata: { ...(r.type ? { mimeType: r.type } : {}), relativeFilePath: r.path } };
}

export async function* exportCase(caseDb: CaseDb, format: ExportFormat): AsyncGenerator<string> {
  if (format === 'json') {
    let first = true;
    yield '[';
    for await (const r of records(caseDb)) {
      yield `${first ? '' : ','}\n${JSON.stringify(r)}`;
      first = false;
    }
    yield '\n]\n';
  } else if (format === 'csv') {
    yield CSV_COLUMNS.join(',') + '\n';
    for await (const r of records(caseDb)) yield csvRow(r);
  } else if (format === 'vics') {
    async function* unknownMedia() {
      for await (const r of records(caseDb)) {
        if (r.status === 'unknown' && (r.type?.startsWith('image/') || r.type?.startsWith('video/')) && (r.size ?? 0) > 0) yield listRecord(r);
      }
    }
    yield* writeVics(unknownMedia());
  } else {
    async function* withDigests() {
      for await (const r of records(caseDb)) if (r.md5 && r.sha256 && r.size !== null) yield listRecord(r);
    }
    yield* writeHashdeep(withDigests());
  }
}
