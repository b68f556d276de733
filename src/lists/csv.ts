/**
 * CSV and TSV hash lists with a header row. Columns are mapped to record fields by the caller
 * (`columns: { md5: 'MD5 Hash', category: 'Cat' }`) or recognised from common header names (MD5, SHA-1,
 * PhotoDNA, Hash + Type, Category, Series, Tags, File Name, Size, ID…). RFC 4180 quoting, including quoted
 * fields spanning lines, is supported; a row is imported whole or reported as an error, never in part.
 */
import { invalidArgument, VigilError } from '../core/errors.js';
import { inferHexSignalType, SIGNAL_TYPES, type SignalTypeName } from '../signals/registry.js';
import { joinRecords, quoteField, unterminated } from './_delimited.js';
import { prepareInput } from './_input.js';
import { readLineBatches } from './_lines.js';
import { DEFAULT_MAX_LINE_BYTES, messageOf, positiveIntOption, ReaderState, signalTypeOption, TextBatcher } from './_reader.js';
import {
  applyAnyCategory, isCanonicalSignal, normalizeSignal, parseBoolean, parseFileSize, parseIndustryCategory,
  parseProjectVicCategory, parseSignalTypeName, parseTags, parseUkCategory,
} from './_values.js';
import type { ListInput, ListItem, ListRecord, ListRecords, ListSignal, ReadOptions, WriteOptions } from './types.js';

/** Record fields a column can feed. `hash` is a hash whose type comes from a `signalType` column, the option, or its length. */
export const CSV_FIELDS = [
  ...SIGNAL_TYPES, 'hash', 'signalType', 'category', 'projectVicCategory', 'ukCategory', 'industryCategory',
  'series', 'tags', 'fileName', 'fileSize', 'sourceId', 'deleted',
] as const;
export type CsvField = (typeof CSV_FIELDS)[number];

/** Column per field: a header name (compared case- and punctuation-insensitively) or a 0-based index. */
export type CsvColumns = Partial<Record<CsvField, string | number>>;

export interface CsvReadOptions extends ReadOptions {
  /** Field delimiter; default `,` for csv (`;` when the header has semicolons and no commas) and tab for tsv. */
  delimiter?: string;
  /** Whether the first line is a header (default true). Without one, `columns` must give indexes. */
  header?: boolean;
  /** Explicit mapping; fields not named here are still recognised from the header unless `autoDetect` is false. */
  columns?: CsvColumns;
  /** Recognise common header names (default true). */
  autoDetect?: boolean;
  /** Type of the `hash` column when rows have no type column (needed for 64-digit hashes, vpdq, photodna). */
  signalType?: SignalTypeName;
  /** Keep unmapped, non-empty cells in `metadata.columns` (default false). */
  keepExtraColumns?: boolean;
}

export interface CsvWriteOptions extends WriteOptions {
  delimiter?: string;
  /** Columns to write, in order; default every field except `hash`, `signalType` and `category`. */
  columns?: CsvField[];
  /** Write the header row (default true). */
  header?: boolean;
  /**
   * Prefix text cells that start with `=`, `+`, `-`, `@`, tab or CR with `'` so spreadsheets do not run them
   * as formulas (file names come from seized media and can be hostile). Default false: the cells are then
   * not read back verbatim.
   */
  guardFormulas?: boolean;
}

/** Header names (lower-case, letters and digits only) recognised for each field. */
const HEADER_ALIASES: Record<CsvField, string[]> = {
  md5: ['md5', 'md5hash', 'md5sum', 'hashmd5', 'md5value'],
  sha1: ['sha1', 'sha1hash', 'hashsha1', 'sha1value'],
  sha256: ['sha256', 'sha256hash', 'hashsha256', 'sha256value', 'sha2256'],
  pdq: ['pdq', 'pdqhash', 'hashpdq'],
  vpdq: ['vpdq', 'vpdqhash'],
  photodna: ['photodna', 'pdna', 'photodnahash', 'hashphotodna'],
  hash: ['hash', 'hashvalue', 'value', 'signal', 'signalvalue', 'indicator', 'fingerprint'],
  signalType: ['type', 'signaltype', 'hashtype', 'algorithm', 'indicatortype', 'hashname', 'hashalgorithm'],
  category: ['category', 'cat'],
  projectVicCategory: ['projectviccategory', 'viccategory', 'vicscategory', 'projectvic'],
  ukCategory: ['ukcategory', 'ukcat', 'ukgrade', 'grade', 'caidcategory', 'iwfcategory'],
  industryCategory: ['industrycategory', 'industryclassification', 'classification'],
  series: ['series', 'seriesname'],
  tags: ['tags', 'tag', 'labels'],
  fileName: ['filename', 'file', 'name', 'path', 'filepath', 'relativefilepath'],
  fileSize: ['filesize', 'size', 'bytes', 'mediasize', 'sizebytes'],
  sourceId: ['sourceid', 'id', 'recordid', 'mediaid', 'entryid', 'imageid'],
  deleted: ['deleted', 'isdeleted', 'removed'],
};

/** Header written for each field (snake_case; recognised back by the aliases above). */
const HEADER_NAMES: Record<CsvField, string> = {
  md5: 'md5', sha1: 'sha1', sha256: 'sha256', pdq: 'pdq', vpdq: 'vpdq', photodna: 'photodna', hash: 'hash',
  signalType: 'signal_type', category: 'category', projectVicCategory: 'project_vic_category',
  ukCategory: 'uk_category', industryCategory: 'industry_category', series: 'series', tags: 'tags',
  fileName: 'file_name', fileSize: 'file_size', sourceId: 'source_id', deleted: 'deleted',
};

const DEFAULT_WRITE_COLUMNS: CsvField[] = [
  'md5', 'sha1', 'sha256', 'pdq', 'photodna', 'vpdq', 'fileName', 'fileSize', 'sourceId',
  'projectVicCategory', 'ukCategory', 'industryCategory', 'series', 'tags', 'deleted',
];

const normHeader = (h: string): string => h.toLowerCase().replace(/[^a-z0-9]/g, '');

function checkDelimiter(d: unknown): string {
  if (typeof d !== 'string' || d.length !== 1 || d === '"' || d === '\n' || d === '\r') {
    throw invalidArgument('a single character other than a quote or line break', 'delimiter', d);
  }
  return d;
}

function checkColumns(columns: CsvColumns | undefined): CsvColumns {
  if (columns === undefined) return {};
  for (const [field, col] of Object.entries(columns)) {
    if (!(CSV_FIELDS as readonly string[]).includes(field)) throw invalidArgument(`one of ${CSV_FIELDS.join(', ')}`, 'a columns key', field);
    if (col === undefined) continue;
    if (!(typeof col === 'string' || (Number.isInteger(col) && col >= 0))) throw invalidArgument('a header name or a 0-based index', `columns.${field}`, col);
  }
  return columns;
}

/** Whether a header row names at least one hash column (for format detection). */
export function isHashListHeader(fields: string[]): boolean {
  const hashAliases = [...SIGNAL_TYPES, 'hash' as const].flatMap((f) => HEADER_ALIASES[f]);
  return fields.some((f) => hashAliases.includes(normHeader(f)));
}

/** Resolves the mapping against the header row: field → column index. */
function resolveColumns(header: string[] | undefined, columns: CsvColumns, autoDetect: boolean): Map<CsvField, number> {
  const map = new Map<CsvField, number>();
  const used = new Set<number>();
  const normalized = header?.map((h) => normHeader(h));
  for (const [field, col] of Object.entries(columns) as [CsvField, string | number | undefined][]) {
    if (col === undefined) continue;
    let index: number;
    if (typeof col === 'number') index = col;
    else {
      if (!normalized) throw invalidArgument('column indexes when header is false', `columns.${field}`, col);
      index = normalized.indexOf(normHeader(col));
      if (index === -1) {
        throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Column ${JSON.stringify(col)} (columns.${field}) is not in the header: ${header?.map((h) => JSON.stringify(h)).join(', ')}`);
      }
    }
    map.set(field, index);
    used.add(index);
  }
  if (autoDetect && normalized) {
    for (const field of CSV_FIELDS) {
      if (map.has(field)) continue;
      const index = normalized.findIndex((h, i) => !used.has(i) && HEADER_ALIASES[field].includes(h));
      if (index !== -1) {
        map.set(field, index);
        used.add(index);
      }
    }
  }
  return map;
}

export function readCsv(input: ListInput, options: CsvReadOptions = {}): AsyncGenerator<ListItem> {
  return readDelimited(input, options, ',');
}

/** TSV: `readCsv` with a tab delimiter. */
export function readTsv(input: ListInput, options: CsvReadOptions = {}): AsyncGenerator<ListItem> {
  return readDelimited(input, options, '\t');
}

function readDelimited(input: ListInput, options: CsvReadOptions, defaultDelimiter: string): AsyncGenerator<ListItem> {
  const state = new ReaderState(options);
  const maxLineBytes = positiveIntOption(options.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES);
  const delimiter = options.delimiter === undefined ? undefined : checkDelimiter(options.delimiter);
  const columns = checkColumns(options.columns);
  const signalType = signalTypeOption(options.signalType);
  const hasHeader = options.header ?? true;
  const fixed = hasHeader ? undefined : resolveColumns(undefined, columns, false);
  if (fixed && ![...SIGNAL_TYPES, 'hash' as const].some((f) => fixed.has(f))) {
    throw invalidArgument('a hash column index (e.g. { md5: 0 }) when header is false', 'columns', JSON.stringify(columns));
  }
  return delimitedItems(input, options, state, maxLineBytes, delimiter ?? defaultDelimiter, delimiter === undefined, fixed, signalType);
}

async function* delimitedItems(
  input: ListInput, options: CsvReadOptions, state: ReaderState, maxLineBytes: number, delimiter: string,
  sniffDelimiter: boolean, fixed: Map<CsvField, number> | undefined, signalType: SignalTypeName | undefined,
): AsyncGenerator<ListItem> {
  const columns = options.columns ?? {};
  let header: string[] | undefined;
  let map = fixed;
  let width = -1;
  const joinState = {};
  const lines = readLineBatches(prepareInput(input, state.addBytes), { maxLineBytes });
  for await (const batch of lines) {
    if (sniffDelimiter && !map && delimiter === ',') {
      // ICSE and European spreadsheet exports use ';': take it when the header has semicolons and no commas.
      const first = batch.find((l) => l.text !== undefined && l.text.trim() !== '');
      if (first?.text !== undefined && !first.text.includes(',') && first.text.includes(';')) delimiter = ';';
    }
    for (const row of joinRecords(batch, joinState, delimiter, maxLineBytes)) {
      if ('blank' in row) {
        state.skip();
        continue;
      }
      if ('error' in row) {
        if (!map) throw new VigilError('VIGIL_ERR_LIST_FORMAT', `The header row (line ${row.line}) is unreadable: ${row.error}`);
        yield state.error(row.line, row.error);
        continue;
      }
      if (!map) {
        header = row.fields.map((f) => f.trim());
        map = resolveColumns(header, columns, options.autoDetect ?? true);
        checkHasHash(map, header);
        width = header.length;
        state.skip();
        continue;
      }
      if (width === -1) width = row.fields.length;
      if (row.fields.length !== width) {
        yield state.error(row.line, `Expected ${width} fields but found ${row.fields.length}`);
        continue;
      }
      try {
        yield state.record(row.line, toRecord(row.fields, map, header, signalType, options.keepExtraColumns ?? false));
      } catch (err) {
        if (err instanceof VigilError && err.code === 'VIGIL_ERR_LIST_FORMAT') throw err;
        yield state.error(row.line, messageOf(err));
      }
    }
  }
  const open = unterminated(joinState);
  if (open) yield state.error(open.line, open.error);
  state.report();
}

function checkHasHash(map: Map<CsvField, number>, header: string[]): void {
  if ([...SIGNAL_TYPES, 'hash' as const].some((f) => map.has(f))) return;
  throw new VigilError('VIGIL_ERR_LIST_FORMAT', `No hash column found in the header: ${header.map((h) => JSON.stringify(h)).join(', ')}; name one with the columns option (e.g. { md5: 'MD5 Hash' })`);
}

function toRecord(fields: string[], map: Map<CsvField, number>, header: string[] | undefined, given: SignalTypeName | undefined, keepExtra: boolean): ListRecord {
  const cell = (f: CsvField): string | undefined => {
    const i = map.get(f);
    if (i === undefined) return undefined;
    const v = fields[i]?.trim();
    return v === '' ? undefined : v;
  };
  const name = (f: CsvField): string => {
    const i = map.get(f);
    return header && i !== undefined ? JSON.stringify(header[i]) : `column ${(i ?? 0) + 1}`;
  };
  const signals: ListSignal[] = [];
  const add = (type: SignalTypeName, raw: string, field: CsvField): void => {
    let value: string;
    try {
      value = normalizeSignal(type, raw);
    } catch (err) {
      throw new Error(`${name(field)}: ${messageOf(err)}`, { cause: err });
    }
    if (!signals.some((s) => s.type === type && s.value === value)) signals.push({ type, value });
  };
  for (const type of SIGNAL_TYPES) {
    const v = cell(type);
    if (v !== undefined) add(type, v, type);
  }
  const hash = cell('hash');
  if (hash !== undefined) {
    const typeCell = cell('signalType');
    const type = typeCell !== undefined ? parseSignalTypeName(typeCell) : given ?? inferHexSignalType(hash);
    if (type === undefined) {
      if (hash.length === 64 && /^[0-9a-fA-F]+$/.test(hash)) {
        throw new VigilError('VIGIL_ERR_LIST_FORMAT', `${name('hash')} holds 64 hex digits, which is either sha256 or pdq: pass signalType or add a type column`);
      }
      throw new Error(`${name('hash')}: expected 32 (md5) or 40 (sha1) hexadecimal digits but received ${hash.length} characters`);
    }
    add(type, hash, 'hash');
  }
  if (signals.length === 0) throw new Error('No hash in this row');
  const record: ListRecord = { signals, labels: {} };
  const labels = record.labels;
  const category = cell('category');
  if (category !== undefined) applyAnyCategory(labels, category, name('category'));
  const pv = cell('projectVicCategory');
  if (pv !== undefined) labels.projectVicCategory = parseProjectVicCategory(pv, name('projectVicCategory'));
  const uk = cell('ukCategory');
  if (uk !== undefined) labels.ukCategory = parseUkCategory(uk, name('ukCategory'));
  const ind = cell('industryCategory');
  if (ind !== undefined) labels.industryCategory = parseIndustryCategory(ind, name('industryCategory'));
  const series = cell('series');
  if (series !== undefined) labels.series = series;
  const tags = cell('tags');
  if (tags !== undefined) {
    const list = parseTags(tags);
    if (list.length > 0) labels.tags = list;
  }
  const fileName = cell('fileName');
  if (fileName !== undefined) record.fileName = fileName;
  const size = cell('fileSize');
  if (size !== undefined) record.fileSize = parseFileSize(size, name('fileSize'));
  const id = cell('sourceId');
  if (id !== undefined) record.sourceId = id;
  const deleted = cell('deleted');
  if (deleted !== undefined && parseBoolean(deleted, name('deleted'))) record.deleted = true;
  if (keepExtra) {
    const mapped = new Set(map.values());
    const extra: Record<string, string> = {};
    fields.forEach((v, i) => {
      if (!mapped.has(i) && v.trim() !== '') extra[header?.[i] ?? String(i)] = v;
    });
    if (Object.keys(extra).length > 0) record.metadata = { columns: extra };
  }
  return record;
}

export function writeCsv(records: ListRecords, options: CsvWriteOptions = {}): AsyncGenerator<string> {
  return writeDelimited(records, options, ',');
}

export function writeTsv(records: ListRecords, options: CsvWriteOptions = {}): AsyncGenerator<string> {
  return writeDelimited(records, options, '\t');
}

function writeDelimited(records: ListRecords, options: CsvWriteOptions, defaultDelimiter: string): AsyncGenerator<string> {
  const delimiter = checkDelimiter(options.delimiter ?? defaultDelimiter);
  const columns = options.columns ?? DEFAULT_WRITE_COLUMNS;
  for (const c of columns) {
    if (!(CSV_FIELDS as readonly string[]).includes(c) || c === 'hash' || c === 'signalType' || c === 'category') {
      throw invalidArgument('record fields (md5, sha1, …, fileName, tags; not hash, signalType or category)', 'columns', c);
    }
  }
  return delimitedLines(records, options, delimiter, columns);
}

async function* delimitedLines(records: ListRecords, options: CsvWriteOptions, delimiter: string, columns: CsvField[]): AsyncGenerator<string> {
  const out = new TextBatcher();
  const guard = options.guardFormulas ?? false;
  const text = (v: string | undefined): string => {
    if (v === undefined) return '';
    const safe = guard && /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
    return quoteField(safe, delimiter);
  };
  if (options.header ?? true) out.push(columns.map((c) => HEADER_NAMES[c]).join(delimiter) + '\n');
  const signalColumns = columns.filter((c): c is SignalTypeName => (SIGNAL_TYPES as readonly string[]).includes(c));
  for await (const record of records) {
    const written = record.signals.filter((s) => signalColumns.includes(s.type));
    if (written.length === 0) {
      options.onSkip?.(record, `no signal of a written column type (${signalColumns.join(', ')})`);
      continue;
    }
    if (!written.every(isCanonicalSignal)) {
      options.onSkip?.(record, 'a signal value is not in canonical form');
      continue;
    }
    const cells = columns.map((c): string => {
      switch (c) {
        case 'fileName': return text(record.fileName);
        case 'fileSize': return record.fileSize === undefined ? '' : String(record.fileSize);
        case 'sourceId': return text(record.sourceId);
        case 'projectVicCategory': return record.labels.projectVicCategory === undefined ? '' : String(record.labels.projectVicCategory);
        case 'ukCategory': return record.labels.ukCategory ?? '';
        case 'industryCategory': return record.labels.industryCategory ?? '';
        case 'series': return text(record.labels.series);
        case 'tags': return text(record.labels.tags?.join(';'));
        case 'deleted': return record.deleted ? 'true' : '';
        default: return quoteField(record.signals.find((s) => s.type === c)?.value ?? '', delimiter);
      }
    });
    const chunk = out.push(cells.join(delimiter) + '\n');
    if (chunk) yield chunk;
  }
  const rest = out.flush();
  if (rest) yield rest;
}
