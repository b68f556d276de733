/**
 * NIST NSRL RDS v3 (2022+) SQLite databases (`RDS_2026.09.1_modern_minimal.db`): table
 * `FILE(sha256, sha1, md5, crc32, file_name, file_size, package_id)`. A database is a file, not a stream,
 * so this reader takes a path. By default it reads each distinct (sha256, sha1, md5) once — the official
 * `DISTINCT_HASH` view's content, computed here from `FILE` itself so a crafted view cannot run arbitrary
 * SQL — which is what an allow-list needs (73.8 M hashes instead of 441.6 M rows for Modern Minimal);
 * `mode: 'files'` reads every row with its file name, size and package id instead.
 *
 * `line` in items is the 1-based row number of the query, not a line of a text file.
 */
import Database from 'better-sqlite3';
import { VigilError } from '../core/errors.js';
import { messageOf, ReaderState } from './_reader.js';
import { normalizeSignal, parseFileSize } from './_values.js';
import type { ListItem, ListRecord, ListSignal, ReadOptions } from './types.js';

export interface NsrlSqliteOptions extends Omit<ReadOptions, 'maxLineBytes'> {
  /** 'distinct' (default): one record per distinct hash triple. 'files': one per FILE row, with name, size and package. */
  mode?: 'distinct' | 'files';
  /** Count the FILE rows first (a full scan) so progress has `totalRows`. Default false. */
  countRows?: boolean;
}

/** Rows between progress reports and yields to the event loop. */
const PROGRESS_EVERY = 10_000;

type Row = Record<string, unknown>;

/**
 * Reads an NSRL RDS v3 SQLite database.
 * @throws VigilError VIGIL_ERR_UNREADABLE when the file cannot be opened, VIGIL_ERR_LIST_FORMAT when it is
 *   not SQLite or has no FILE table with sha256, sha1 and md5 columns.
 */
export function readNsrlSqlite(path: string, options: NsrlSqliteOptions = {}): AsyncGenerator<ListItem> {
  const state = new ReaderState(options, false);
  const mode = options.mode ?? 'distinct';
  if (mode !== 'distinct' && mode !== 'files') throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected 'distinct' or 'files' for mode but received ${JSON.stringify(mode)}`);
  return nsrlSqliteItems(path, state, mode, options.countRows ?? false);
}

function open(path: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new VigilError('VIGIL_ERR_UNREADABLE', `Cannot open ${JSON.stringify(path)} as a database: ${messageOf(err)}`, { cause: err });
  }
  try {
    // Defence in depth against a crafted database: no SQL functions with side effects from the schema.
    db.pragma('trusted_schema = OFF');
    db.pragma('query_only = ON');
    // DISTINCT over hundreds of millions of rows sorts in temporary files, never in memory.
    db.pragma('temp_store = FILE');
    const file = db.prepare("SELECT type FROM sqlite_master WHERE lower(name) = 'file'").get() as Row | undefined;
    if (file?.type !== 'table') throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not an NSRL RDS v3 database: ${JSON.stringify(path)} has no FILE table`);
    const cols = (db.prepare('PRAGMA table_info(FILE)').all() as Row[]).map((r) => String(r.name).toLowerCase());
    const missing = ['sha256', 'sha1', 'md5'].filter((c) => !cols.includes(c));
    if (missing.length > 0) throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not an NSRL RDS v3 database: table FILE lacks ${missing.join(', ')}`);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof VigilError) throw err;
    // SQLITE_NOTADB and friends surface on the first statement.
    throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not an NSRL RDS v3 database: ${messageOf(err)}`, { cause: err });
  }
}

async function* nsrlSqliteItems(path: string, state: ReaderState, mode: 'distinct' | 'files', countRows: boolean): AsyncGenerator<ListItem> {
  const db = open(path);
  try {
    const cols = (db.prepare('PRAGMA table_info(FILE)').all() as Row[]).map((r) => String(r.name).toLowerCase());
    const has = (c: string): boolean => cols.includes(c);
    const extra = mode === 'files' ? ['crc32', 'file_name', 'file_size', 'package_id'].filter(has) : has('crc32') ? ['crc32'] : [];
    const select = ['sha256', 'sha1', 'md5', ...extra].join(', ');
    const sql = mode === 'distinct' ? `SELECT DISTINCT ${select} FROM FILE` : `SELECT ${select} FROM FILE`;
    if (countRows) state.progress.totalRows = Number((db.prepare('SELECT count(*) AS n FROM FILE').get() as Row).n);
    state.report();
    let rowNo = 0;
    for (const row of db.prepare(sql).iterate() as Iterable<Row>) {
      rowNo++;
      try {
        yield state.record(rowNo, toRecord(row, mode));
      } catch (err) {
        yield state.error(rowNo, `Row ${rowNo}: ${messageOf(err)}`);
      }
      if (rowNo % PROGRESS_EVERY === 0) {
        state.report();
        // Let timers (a progress bar) run between batches of a long synchronous cursor.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    state.report();
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Reading the NSRL database failed: ${messageOf(err)}`, { cause: err });
  } finally {
    db.close();
  }
}

function text(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new Error(`Expected text for ${field} but received ${v === null ? 'NULL' : typeof v}`);
  return v;
}

function toRecord(row: Row, mode: 'distinct' | 'files'): ListRecord {
  const signals: ListSignal[] = [];
  for (const type of ['sha256', 'sha1', 'md5'] as const) {
    const v = row[type];
    // Minimal sets may leave a hash empty; a present one must be valid.
    if (v === null || v === undefined || v === '') continue;
    signals.push({ type, value: normalizeSignal(type, text(v, type)) });
  }
  if (signals.length === 0) throw new Error('no sha256, sha1 or md5');
  const record: ListRecord = { signals, labels: {} };
  const metadata: Record<string, unknown> = {};
  if (typeof row.crc32 === 'string' && row.crc32 !== '') metadata.crc32 = row.crc32.toLowerCase();
  if (mode === 'files') {
    if (typeof row.file_name === 'string' && row.file_name !== '') record.fileName = row.file_name;
    if (row.file_size !== null && row.file_size !== undefined) record.fileSize = parseFileSize(row.file_size, 'file_size');
    if (typeof row.package_id === 'number' || typeof row.package_id === 'string') metadata.packageId = row.package_id;
  }
  if (Object.keys(metadata).length > 0) record.metadata = metadata;
  return record;
}
