/**
 * Book-keeping shared by all readers: running counts for the progress callback, the optional error cap,
 * and the two item constructors, so every reader reports rows the same way.
 */
import { invalidArgument, VigilError } from '../core/errors.js';
import { isSignalType, SIGNAL_TYPES, type SignalTypeName } from '../signals/registry.js';
import type { ListItem, ListProgress, ListRecord, ReadOptions } from './types.js';

export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

export class ReaderState {
  readonly progress: ListProgress;
  private readonly maxErrors: number;
  private readonly onProgress: ((p: ListProgress) => void) | undefined;

  constructor(options: ReadOptions | undefined, withBytes = true) {
    this.progress = withBytes ? { bytesRead: 0, rowsRead: 0, records: 0, errors: 0 } : { rowsRead: 0, records: 0, errors: 0 };
    const maxErrors = options?.maxErrors;
    if (maxErrors !== undefined && !(Number.isInteger(maxErrors) && maxErrors >= 0)) {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a non-negative integer for maxErrors but received ${String(maxErrors)}`);
    }
    this.maxErrors = maxErrors ?? Infinity;
    this.onProgress = options?.onProgress;
  }

  /** Bytes callback for `prepareInput`. */
  readonly addBytes = (n: number): void => {
    this.progress.bytesRead = (this.progress.bytesRead ?? 0) + n;
    this.report();
  };

  report(): void {
    this.onProgress?.({ ...this.progress });
  }

  record(line: number, record: ListRecord): ListItem {
    this.progress.rowsRead++;
    this.progress.records++;
    return { kind: 'record', line, record };
  }

  error(line: number, message: string): ListItem {
    this.progress.rowsRead++;
    this.progress.errors++;
    if (this.progress.errors > this.maxErrors) {
      throw new VigilError('VIGIL_ERR_LIST_FORMAT', `More than ${this.maxErrors} invalid rows (the last at line ${line}: ${message}); is this the right format?`);
    }
    return { kind: 'error', line, code: 'VIGIL_ERR_LIST_ROW', message };
  }

  /** A row that is neither a record nor an error (blank line, comment, header): counted, not reported. */
  skip(): void {
    this.progress.rowsRead++;
  }
}

export function positiveIntOption(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a positive integer for ${name} but received ${String(value)}`);
  }
  return value;
}

export function signalTypeOption(value: unknown, name = 'signalType'): SignalTypeName | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !isSignalType(value)) throw invalidArgument(`one of ${SIGNAL_TYPES.join(', ')}`, name, value);
  return value;
}

/** Message of anything thrown by a validator, for a row error. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Collects writer output into chunks of about 64 KiB so a consumer writing to a stream does not pay a
 * promise per record.
 */
export class TextBatcher {
  private parts: string[] = [];
  private size = 0;

  constructor(private readonly target = 64 * 1024) {}

  /** Adds text; returns a chunk to emit when the batch is full. */
  push(text: string): string | undefined {
    this.parts.push(text);
    this.size += text.length;
    if (this.size < this.target) return undefined;
    return this.flush();
  }

  flush(): string | undefined {
    if (this.parts.length === 0) return undefined;
    const out = this.parts.join('');
    this.parts = [];
    this.size = 0;
    return out;
  }
}
