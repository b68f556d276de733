/**
 * Checksum-tool output: GNU `md5sum`/`sha1sum`/`sha256sum` (`<hash>  <name>`, `<hash> *<name>` in binary
 * mode, a leading `\` when the name is escaped), their BSD/`--tag` form (`MD5 (name) = hash`) and md5deep's
 * default output (the same as md5sum). The type comes from the BSD tag, else `signalType`, else the length —
 * here 64 digits can only be SHA-256, since no checksum tool prints PDQ.
 */
import { invalidArgument } from '../core/errors.js';
import type { SignalTypeName } from '../signals/registry.js';
import { prepareInput } from './_input.js';
import { readLineBatches } from './_lines.js';
import { DEFAULT_MAX_LINE_BYTES, messageOf, positiveIntOption, ReaderState, signalTypeOption, TextBatcher } from './_reader.js';
import { checksumTypeForLength, hexLengthOf, isCanonicalSignal, normalizeSignal } from './_values.js';
import type { ListInput, ListItem, ListRecord, ListRecords, ReadOptions, WriteOptions } from './types.js';

export interface Md5sumReadOptions extends ReadOptions {
  /** Hash type when the line does not say (GNU form); default inferred from the length (32/40/64). */
  signalType?: SignalTypeName;
}

export interface Md5sumWriteOptions extends WriteOptions {
  /** Which hash to write; default md5. Must be a hex type (md5, sha1, sha256, pdq). */
  signalType?: SignalTypeName;
}

const GNU_RE = /^([0-9a-fA-F]+)(?: ([ *])(.*))?$/s;
const BSD_RE = /^(MD5|SHA1|SHA-1|SHA256|SHA-256|SHA2-256) ?\((.*)\) ?= ?([0-9a-fA-F]+)$/is;
const BSD_TYPES: Record<string, SignalTypeName> = { 'MD5': 'md5', 'SHA1': 'sha1', 'SHA-1': 'sha1', 'SHA256': 'sha256', 'SHA-256': 'sha256', 'SHA2-256': 'sha256' };

/** GNU escaping of names with a backslash or line break (`\\`, `\n`, `\r`), signalled by a leading `\`. */
function unescapeName(name: string): string {
  return name.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

/**
 * Reads checksum-tool output.
 * @example for await (const item of readMd5sum(fs.createReadStream('SHA256SUMS'))) { ... }
 */
export function readMd5sum(input: ListInput, options: Md5sumReadOptions = {}): AsyncGenerator<ListItem> {
  const state = new ReaderState(options);
  const maxLineBytes = positiveIntOption(options.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES);
  return md5sumItems(input, state, maxLineBytes, signalTypeOption(options.signalType));
}

async function* md5sumItems(input: ListInput, state: ReaderState, maxLineBytes: number, given: SignalTypeName | undefined): AsyncGenerator<ListItem> {
  for await (const batch of readLineBatches(prepareInput(input, state.addBytes), { maxLineBytes })) {
    for (const l of batch) {
      if (l.error !== undefined) {
        yield state.error(l.line, l.error);
        continue;
      }
      let text = l.text;
      if (text.trim() === '' || text.startsWith('#')) {
        state.skip();
        continue;
      }
      const escaped = text.startsWith('\\');
      if (escaped) text = text.slice(1);
      let hex: string;
      let name: string | undefined;
      let type: SignalTypeName | undefined;
      const gnu = GNU_RE.exec(text.trimEnd());
      const bsd = gnu ? null : BSD_RE.exec(text.trim());
      if (gnu) {
        hex = gnu[1];
        // The name is everything after the two-character separator, spaces included.
        name = gnu[3] === undefined ? undefined : text.slice(hex.length + 2);
        type = given ?? checksumTypeForLength(hex.length);
      } else if (bsd) {
        hex = bsd[3];
        name = bsd[2];
        type = BSD_TYPES[bsd[1].toUpperCase()];
        if (given && given !== type) {
          yield state.error(l.line, `The line says ${bsd[1]} but signalType is ${given}`);
          continue;
        }
      } else {
        yield state.error(l.line, 'Expected "<hash>  <file name>" or "MD5 (<file name>) = <hash>"');
        continue;
      }
      if (type === undefined) {
        yield state.error(l.line, `Expected 32 (md5), 40 (sha1) or 64 (sha256) hexadecimal digits but received ${hex.length}`);
        continue;
      }
      try {
        const value = normalizeSignal(type, hex);
        const fileName = name === undefined || name === '' ? undefined : escaped ? unescapeName(name) : name;
        yield state.record(l.line, fileName === undefined ? { signals: [{ type, value }], labels: {} } : { signals: [{ type, value }], labels: {}, fileName });
      } catch (err) {
        yield state.error(l.line, messageOf(err));
      }
    }
  }
  state.report();
}

/**
 * Writes `<hash>  <name>` lines (GNU text mode), escaping names that hold a backslash or a line break the
 * way GNU coreutils does. Records without a file name are skipped: use the plain format for bare hashes.
 */
export function writeMd5sum(records: ListRecords, options: Md5sumWriteOptions = {}): AsyncGenerator<string> {
  const type = signalTypeOption(options.signalType) ?? 'md5';
  if (hexLengthOf(type) === undefined) throw invalidArgument('a hex signal type (md5, sha1, sha256, pdq)', 'signalType', type);
  return md5sumLines(records, type, options);
}

async function* md5sumLines(records: ListRecords, type: SignalTypeName, options: Md5sumWriteOptions): AsyncGenerator<string> {
  const out = new TextBatcher();
  const skip = (record: ListRecord, reason: string): void => options.onSkip?.(record, reason);
  for await (const record of records) {
    const s = record.signals.find((x) => x.type === type);
    const name = record.fileName;
    if (record.deleted) skip(record, 'deleted records are not written to hash lists');
    else if (!s) skip(record, `no ${type} signal`);
    else if (!isCanonicalSignal(s)) skip(record, 'the signal value is not in canonical form');
    else if (name === undefined || name === '') skip(record, 'no file name (md5sum lines name a file; use the plain format for bare hashes)');
    else {
      const line = /[\\\n\r]/.test(name)
        ? `\\${s.value}  ${name.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r')}\n`
        : `${s.value}  ${name}\n`;
      const chunk = out.push(line);
      if (chunk) yield chunk;
    }
  }
  const rest = out.flush();
  if (rest) yield rest;
}
