/**
 * python-threatexchange / HMA local-file format (`exchanges/impl/file_api.py`): one signal per line,
 * `<signal_type> <signal>` — the type, one space, and the rest of the line as the value — or just `<signal>`
 * when the whole file has one type. vPDQ values are JSON arrays of `"hex,quality,timestamp"` strings (they
 * contain spaces, so the value is everything after the first space). pytx's `video_md5` is read as md5;
 * `#` lines and blank lines are ignored.
 */
import type { SignalTypeName } from '../signals/registry.js';
import { prepareInput } from './_input.js';
import { readLineBatches } from './_lines.js';
import { messageOf, positiveIntOption, ReaderState, signalTypeOption, TextBatcher } from './_reader.js';
import { isCanonicalSignal, normalizeSignal, parseSignalTypeName } from './_values.js';
import type { ListInput, ListItem, ListRecords, ReadOptions, WriteOptions } from './types.js';

/** One vPDQ line holds a whole video (about 80 bytes a frame): allow 32 MiB lines by default. */
export const THREATEXCHANGE_MAX_LINE_BYTES = 32 * 1024 * 1024;

export interface ThreatExchangeReadOptions extends ReadOptions {
  /** Lines hold only the value, all of this type (pytx's collab `signal_type`). */
  signalType?: SignalTypeName;
}

export interface ThreatExchangeWriteOptions extends WriteOptions {
  /** Write only this type. */
  signalType?: SignalTypeName;
}

export function readThreatExchange(input: ListInput, options: ThreatExchangeReadOptions = {}): AsyncGenerator<ListItem> {
  const state = new ReaderState(options);
  const maxLineBytes = positiveIntOption(options.maxLineBytes, 'maxLineBytes', THREATEXCHANGE_MAX_LINE_BYTES);
  return threatExchangeItems(input, state, maxLineBytes, signalTypeOption(options.signalType));
}

async function* threatExchangeItems(input: ListInput, state: ReaderState, maxLineBytes: number, given: SignalTypeName | undefined): AsyncGenerator<ListItem> {
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
      try {
        let type: SignalTypeName;
        let value: string;
        if (given) {
          type = given;
          value = text;
        } else {
          const sp = text.search(/\s/);
          if (sp === -1) throw new Error('Expected "<signal_type> <signal>" (or pass signalType for value-only lines)');
          type = parseSignalTypeName(text.slice(0, sp));
          value = text.slice(sp + 1);
        }
        yield state.record(l.line, { signals: [{ type, value: normalizeSignal(type, value) }], labels: {} });
      } catch (err) {
        yield state.error(l.line, messageOf(err));
      }
    }
  }
  state.report();
}

/** Writes `<signal_type> <signal>` lines, one per signal of each record. */
export function writeThreatExchange(records: ListRecords, options: ThreatExchangeWriteOptions = {}): AsyncGenerator<string> {
  return threatExchangeLines(records, signalTypeOption(options.signalType), options);
}

async function* threatExchangeLines(records: ListRecords, only: SignalTypeName | undefined, options: ThreatExchangeWriteOptions): AsyncGenerator<string> {
  const out = new TextBatcher();
  for await (const record of records) {
    const signals = only ? record.signals.filter((s) => s.type === only) : record.signals;
    if (record.deleted) {
      options.onSkip?.(record, 'deleted records are not written to hash lists');
      continue;
    }
    if (signals.length === 0) {
      options.onSkip?.(record, only ? `no ${only} signal` : 'no signal');
      continue;
    }
    if (!signals.every(isCanonicalSignal)) {
      options.onSkip?.(record, 'a signal value is not in canonical form');
      continue;
    }
    for (const s of signals) {
      const chunk = out.push(`${s.type} ${s.value}\n`);
      if (chunk) yield chunk;
    }
  }
  const rest = out.flush();
  if (rest) yield rest;
}
