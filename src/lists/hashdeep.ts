/**
 * hashdeep files (jessek/hashdeep, `HASHDEEP_HEADER_10`): line 1 `%%%% HASHDEEP-1.0`, line 2
 * `%%%% size,<algorithms>,filename`, `##` comments, then `size,hash,…,filename` rows with lower-case hex
 * whose file name (last) may itself contain commas. md5deep's default output is the md5sum format: see
 * md5sum.ts. Hashes Vigil has no signal type for (tiger, whirlpool, sha3…) are kept in `metadata.hashes`.
 */
import { invalidArgument, VigilError } from '../core/errors.js';
import type { SignalTypeName } from '../signals/registry.js';
import { prepareInput } from './_input.js';
import { readLineBatches } from './_lines.js';
import { DEFAULT_MAX_LINE_BYTES, messageOf, positiveIntOption, ReaderState, TextBatcher } from './_reader.js';
import { isCanonicalSignal, normalizeSignal, parseFileSize } from './_values.js';
import type { ListInput, ListItem, ListRecord, ListRecords, ListSignal, ReadOptions, WriteOptions } from './types.js';

export const HASHDEEP_MAGIC = '%%%% HASHDEEP-1.0';

/** hashdeep algorithm names Vigil stores as signals. */
const HASHDEEP_SIGNALS: Record<string, SignalTypeName> = { md5: 'md5', sha1: 'sha1', sha256: 'sha256' };
const OTHER_ALGORITHMS = new Set(['tiger', 'whirlpool', 'sha3', 'sha3-256', 'sha3_256']);

export interface HashdeepWriteOptions extends WriteOptions {
  /** Hash columns, in order; default md5 and sha256 (an evidence manifest for `hashdeep -a -k`). */
  algorithms?: ('md5' | 'sha1' | 'sha256')[];
}

export function readHashdeep(input: ListInput, options: ReadOptions = {}): AsyncGenerator<ListItem> {
  const state = new ReaderState(options);
  const maxLineBytes = positiveIntOption(options.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES);
  return hashdeepItems(input, state, maxLineBytes);
}

async function* hashdeepItems(input: ListInput, state: ReaderState, maxLineBytes: number): AsyncGenerator<ListItem> {
  // null: expecting the magic line; [] after it: expecting the column line.
  let columns: string[] | null = null;
  let expectColumns = false;
  for await (const batch of readLineBatches(prepareInput(input, state.addBytes), { maxLineBytes })) {
    for (const l of batch) {
      if (columns === null && !expectColumns) {
        if (l.error === undefined && l.text.trim() === HASHDEEP_MAGIC) {
          expectColumns = true;
          state.skip();
          continue;
        }
        if (l.error === undefined && l.text.trim() === '') {
          state.skip();
          continue;
        }
        throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not a hashdeep file: line ${l.line} should be "${HASHDEEP_MAGIC}"`);
      }
      if (l.error !== undefined) {
        if (expectColumns) throw new VigilError('VIGIL_ERR_LIST_FORMAT', `The hashdeep column line (line ${l.line}) is unreadable: ${l.error}`);
        yield state.error(l.line, l.error);
        continue;
      }
      const text = l.text;
      if (expectColumns) {
        columns = parseColumns(text, l.line);
        expectColumns = false;
        state.skip();
        continue;
      }
      if (text.startsWith('##') || text.trim() === '') {
        state.skip();
        continue;
      }
      if (text.trim() === HASHDEEP_MAGIC) {
        // Concatenated hashdeep outputs: a new header block starts.
        expectColumns = true;
        state.skip();
        continue;
      }
      if (text.startsWith('%%%%')) {
        yield state.error(l.line, 'Unexpected %%%% line: a column line must follow the HASHDEEP-1.0 line');
        continue;
      }
      try {
        yield state.record(l.line, parseRow(text, columns ?? []));
      } catch (err) {
        yield state.error(l.line, messageOf(err));
      }
    }
  }
  if (columns === null) {
    if (expectColumns) throw new VigilError('VIGIL_ERR_LIST_FORMAT', 'The hashdeep file ends before its "%%%% size,…,filename" column line');
    throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not a hashdeep file: it is empty (no "${HASHDEEP_MAGIC}" line)`);
  }
  state.report();
}

function parseColumns(text: string, line: number): string[] {
  const m = /^%%%% (.+)$/.exec(text.trim());
  const cols = m ? m[1].split(',').map((c) => c.trim().toLowerCase()) : [];
  if (cols.length < 3 || cols[0] !== 'size' || cols[cols.length - 1] !== 'filename') {
    throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Line ${line} should be the hashdeep column line "%%%% size,<algorithms>,filename"`);
  }
  for (const c of cols.slice(1, -1)) {
    if (!Object.hasOwn(HASHDEEP_SIGNALS, c) && !OTHER_ALGORITHMS.has(c)) {
      throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Unknown hashdeep algorithm ${JSON.stringify(c)} in the column line (line ${line})`);
    }
  }
  return cols;
}

function parseRow(text: string, columns: string[]): ListRecord {
  // size and the hashes are the first N-1 comma-separated fields; the file name is the rest, commas and all.
  const fields: string[] = [];
  let pos = 0;
  for (let i = 0; i < columns.length - 1; i++) {
    const comma = text.indexOf(',', pos);
    if (comma === -1) throw new Error(`Expected ${columns.length} comma-separated fields (${columns.join(',')})`);
    fields.push(text.slice(pos, comma));
    pos = comma + 1;
  }
  const fileName = text.slice(pos);
  const signals: ListSignal[] = [];
  const others: Record<string, string> = {};
  for (let i = 1; i < columns.length - 1; i++) {
    const algo = columns[i];
    const type = Object.hasOwn(HASHDEEP_SIGNALS, algo) ? HASHDEEP_SIGNALS[algo] : undefined;
    const raw = fields[i].trim();
    if (type) {
      try {
        signals.push({ type, value: normalizeSignal(type, raw) });
      } catch (err) {
        throw new Error(`${algo}: ${messageOf(err)}`, { cause: err });
      }
    } else {
      if (!/^[0-9a-fA-F]+$/.test(raw)) throw new Error(`${algo}: expected hexadecimal digits`);
      others[algo] = raw.toLowerCase();
    }
  }
  if (signals.length === 0) throw new Error('No md5, sha1 or sha256 column in this hashdeep file');
  const record: ListRecord = { signals, labels: {}, fileSize: parseFileSize(fields[0], 'size') };
  if (fileName !== '') record.fileName = fileName;
  if (Object.keys(others).length > 0) record.metadata = { hashes: others };
  return record;
}

/**
 * Writes a hashdeep file that `hashdeep -a -k` accepts. Records need a size, every chosen hash and a file
 * name without line breaks; others are skipped with `onSkip`.
 */
export function writeHashdeep(records: ListRecords, options: HashdeepWriteOptions = {}): AsyncGenerator<string> {
  const algorithms = options.algorithms ?? ['md5', 'sha256'];
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((a) => !['md5', 'sha1', 'sha256'].includes(a)) || new Set(algorithms).size !== algorithms.length) {
    throw invalidArgument('a non-empty list of distinct md5, sha1, sha256', 'algorithms', String(algorithms));
  }
  return hashdeepLines(records, algorithms, options);
}

async function* hashdeepLines(records: ListRecords, algorithms: ('md5' | 'sha1' | 'sha256')[], options: HashdeepWriteOptions): AsyncGenerator<string> {
  const out = new TextBatcher();
  out.push(`${HASHDEEP_MAGIC}\n%%%% size,${algorithms.join(',')},filename\n## Written by Vigil\n## \n`);
  for await (const record of records) {
    const hashes = algorithms.map((a) => record.signals.find((s) => s.type === a));
    const missing = algorithms.filter((_a, i) => hashes[i] === undefined);
    const name = record.fileName;
    let reason: string | undefined;
    if (record.deleted) reason = 'deleted records are not written to hash lists';
    else if (missing.length > 0) reason = `no ${missing.join(', ')} signal`;
    else if (record.fileSize === undefined) reason = 'no file size (hashdeep rows start with the size)';
    else if (name === undefined || name === '') reason = 'no file name';
    else if (/[\n\r]/.test(name)) reason = 'the file name contains a line break, which hashdeep cannot represent';
    else if (!hashes.every((h) => h !== undefined && isCanonicalSignal(h))) reason = 'a signal value is not in canonical form';
    if (reason !== undefined) {
      options.onSkip?.(record, reason);
      continue;
    }
    const chunk = out.push(`${record.fileSize},${hashes.map((h) => h?.value).join(',')},${name}\n`);
    if (chunk) yield chunk;
  }
  const rest = out.flush();
  if (rest) yield rest;
}
