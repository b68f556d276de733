/**
 * Plain hash lists: one hash per line, `#` comments and blank lines ignored. The type is given by the
 * caller or inferred from the length (32 hex digits md5, 40 sha1). 64 digits could be SHA-256 or PDQ, so
 * such a file needs `signalType`: without it the import stops at the first one with VIGIL_ERR_LIST_FORMAT
 * rather than reporting a million identical row errors.
 */
import { VigilError } from '../core/errors.js';
import { inferHexSignalType, type SignalTypeName } from '../signals/registry.js';
import { prepareInput } from './_input.js';
import { readLineBatches } from './_lines.js';
import { DEFAULT_MAX_LINE_BYTES, messageOf, positiveIntOption, ReaderState, signalTypeOption, TextBatcher } from './_reader.js';
import { isCanonicalSignal, normalizeSignal } from './_values.js';
import type { ListInput, ListItem, ListRecords, ReadOptions, WriteOptions } from './types.js';

export interface PlainReadOptions extends ReadOptions {
  /** Type of every hash in the file. Required for 64-digit hashes (sha256 or pdq), vpdq and photodna. */
  signalType?: SignalTypeName;
}

export interface PlainWriteOptions extends WriteOptions {
  /** Write only signals of this type. Without it only md5 and sha1 are written (their length tells the type back). */
  signalType?: SignalTypeName;
}

/**
 * Reads a plain hash list.
 * @example for await (const item of readPlain(fs.createReadStream('md5s.txt'))) { ... }
 * @throws VigilError VIGIL_ERR_LIST_FORMAT at a 64-digit hash when `signalType` is not given.
 */
export function readPlain(input: ListInput, options: PlainReadOptions = {}): AsyncGenerator<ListItem> {
  const state = new ReaderState(options);
  const maxLineBytes = positiveIntOption(options.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES);
  return plainItems(input, state, maxLineBytes, signalTypeOption(options.signalType));
}

async function* plainItems(input: ListInput, state: ReaderState, maxLineBytes: number, given: SignalTypeName | undefined): AsyncGenerator<ListItem> {
  for await (const batch of readLineBatches(prepareInput(input, state.addBytes), { maxLineBytes })) {
    for (const l of batch) {
      if (l.error !== undefined) {
        yield state.error(l.line, l.error);
        continue;
      }
      const text = l.text.trim();
      if (text === '' || text.startsWith('#')) {
        state.skip();
        continue;
      }
      if (given !== 'vpdq' && /\s/.test(text)) {
        yield state.error(l.line, 'Expected one hash per line but the line has several fields (use the md5sum or csv format)');
        continue;
      }
      const type = given ?? inferHexSignalType(text);
      if (type === undefined) {
        if (text.length === 64 && /^[0-9a-fA-F]+$/.test(text)) {
          throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Line ${l.line} has 64 hex digits, which is either sha256 or pdq: pass signalType to say which`);
        }
        yield state.error(l.line, `Expected 32 (md5) or 40 (sha1) hexadecimal digits but received ${text.length} characters`);
        continue;
      }
      try {
        yield state.record(l.line, { signals: [{ type, value: normalizeSignal(type, text) }], labels: {} });
      } catch (err) {
        yield state.error(l.line, messageOf(err));
      }
    }
  }
  state.report();
}

/** Writes one hash per line. */
export function writePlain(records: ListRecords, options: PlainWriteOptions = {}): AsyncGenerator<string> {
  return plainLines(records, signalTypeOption(options.signalType), options);
}

async function* plainLines(records: ListRecords, only: SignalTypeName | undefined, options: PlainWriteOptions): AsyncGenerator<string> {
  const out = new TextBatcher();
  for await (const record of records) {
    if (record.deleted) {
      options.onSkip?.(record, 'deleted records are not written to hash lists');
      continue;
    }
    const wanted = record.signals.filter((s) => (only ? s.type === only : s.type === 'md5' || s.type === 'sha1'));
    if (wanted.length === 0) {
      options.onSkip?.(record, only ? `no ${only} signal` : 'no md5 or sha1 signal (pass signalType to write other types)');
      continue;
    }
    if (!wanted.every(isCanonicalSignal)) {
      options.onSkip?.(record, 'a signal value is not in canonical form');
      continue;
    }
    for (const s of wanted) {
      const chunk = out.push(s.value + '\n');
      if (chunk) yield chunk;
    }
  }
  const rest = out.flush();
  if (rest) yield rest;
}
