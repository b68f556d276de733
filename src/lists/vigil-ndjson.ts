/**
 * Vigil's own NDJSON, as `vigil hash` writes it: one JSON object per file with `path`, `bytes`, the
 * digests (`md5`, `sha1`, `sha256`), `pdq` and, for videos and animations, `vpdq` (HMA compact
 * features). "Hash these files, make them a bank" is `vigil hash DIR > list.ndjson` then `vigil bank
 * import BANK list.ndjson`: each file becomes a record with all its signals and `path` as its file name.
 *
 * Only what identifies the file is imported: the query-side extras (`dihedral`, `views`, `vpdqViews`)
 * are not, since a bank holds the picture as listed. A file hashed with an error keeps its digests (they
 * are of the whole file) but not its partial perceptual hashes; one with no hash at all is a row error.
 */
import { prepareInput } from './_input.js';
import { readLineBatches } from './_lines.js';
import { messageOf, positiveIntOption, ReaderState, TextBatcher } from './_reader.js';
import { isCanonicalSignal, normalizeSignal, show } from './_values.js';
import { signalTypes } from '../signals/registry.js';
import type { ListInput, ListItem, ListRecord, ListRecords, ListSignal, ReadOptions, WriteOptions } from './types.js';

/** One line holds a whole video's features (about 75 bytes a second): allow 32 MiB lines by default. */
export const VIGIL_NDJSON_MAX_LINE_BYTES = 32 * 1024 * 1024;


export function readVigilNdjson(input: ListInput, options: ReadOptions = {}): AsyncGenerator<ListItem> {
  const state = new ReaderState(options);
  return items(input, state, positiveIntOption(options.maxLineBytes, 'maxLineBytes', VIGIL_NDJSON_MAX_LINE_BYTES));
}

async function* items(input: ListInput, state: ReaderState, maxLineBytes: number): AsyncGenerator<ListItem> {
  for await (const batch of readLineBatches(prepareInput(input, state.addBytes), { maxLineBytes })) {
    for (const l of batch) {
      if (l.error !== undefined) {
        yield state.error(l.line, l.error);
        continue;
      }
      if (l.text.trim() === '') {
        state.skip();
        continue;
      }
      try {
        yield state.record(l.line, recordOf(JSON.parse(l.text) as unknown));
      } catch (err) {
        yield state.error(l.line, err instanceof SyntaxError ? `Not a JSON object: ${err.message}` : messageOf(err));
      }
    }
  }
  state.report();
}

function recordOf(json: unknown): ListRecord {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`Expected a JSON object per line, got ${show(json)}`);
  const o = json as Record<string, unknown>;
  const text = (field: string): string | undefined => {
    const v = o[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new Error(`Expected a string for "${field}", got ${show(v)}`);
    return v;
  };
  const signals: ListSignal[] = [];
  // Every digest of the bytes the file hasher writes (md5, sha1, sha256 and any registered since), under its type's name.
  for (const t of signalTypes()) {
    if (t.digest === undefined) continue;
    const v = text(t.name);
    if (v !== undefined) signals.push({ type: t.name, value: normalizeSignal(t.name, v) });
  }
  const error = o.error as { code?: unknown } | undefined;
  if (error === undefined) {
    const pdq = text('pdq');
    if (pdq !== undefined) signals.push({ type: 'pdq', value: normalizeSignal('pdq', pdq) });
    if (o.vpdq !== undefined) {
      if (!Array.isArray(o.vpdq) || !o.vpdq.every((f) => typeof f === 'string')) throw new Error('Expected "vpdq" to be an array of "hex,quality,timestamp" strings');
      if (o.vpdq.length > 0) signals.push({ type: 'vpdq', value: normalizeSignal('vpdq', JSON.stringify(o.vpdq)) });
    }
  }
  if (signals.length === 0) {
    const why = error !== undefined ? `the file was not hashed (${typeof error.code === 'string' ? error.code : 'error'})` : 'no md5, sha1, sha256, pdq or vpdq';
    throw new Error(`Nothing to import: ${why}`);
  }
  const record: ListRecord = { signals, labels: {} };
  const path = text('path');
  if (path !== undefined && path !== '') record.fileName = path;
  if (Number.isSafeInteger(o.bytes) && (o.bytes as number) >= 0) record.fileSize = o.bytes as number;
  return record;
}

/** Writes what `readVigilNdjson` reads: `path` (the file name), `bytes`, and each signal by its type. */
export function writeVigilNdjson(records: ListRecords, options: WriteOptions = {}): AsyncGenerator<string> {
  return lines(records, options);
}

async function* lines(records: ListRecords, options: WriteOptions): AsyncGenerator<string> {
  const out = new TextBatcher();
  for await (const record of records) {
    if (record.deleted) {
      options.onSkip?.(record, 'deleted records are not written to hash lists');
      continue;
    }
    const known = record.signals.filter((s) => s.type !== 'photodna');
    if (known.length === 0 || !known.every(isCanonicalSignal)) {
      options.onSkip?.(record, known.length === 0 ? 'no md5, sha1, sha256, pdq or vpdq signal' : 'a signal value is not in canonical form');
      continue;
    }
    const line: Record<string, unknown> = {};
    if (record.fileName !== undefined) line.path = record.fileName;
    if (record.fileSize !== undefined) line.bytes = record.fileSize;
    for (const s of known) line[s.type] = s.type === 'vpdq' ? (JSON.parse(s.value) as string[]) : s.value;
    const chunk = out.push(`${JSON.stringify(line)}\n`);
    if (chunk) yield chunk;
  }
  const rest = out.flush();
  if (rest) yield rest;
}
