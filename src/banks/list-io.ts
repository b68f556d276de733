/**
 * Hash-list files in and out of banks: format detection, the right reader or writer, progress, and the
 * store's transactional import. Shared by the CLI and (later) the HTTP API.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { VigilError } from '../core/errors.js';
import { DETECT_BYTES, detectListFormat, getListFormat, type AnyListReadOptions, type AnyListWriteOptions, type ListFormat, type ListFormatName } from '../lists/registry.js';
import type { ListItem, ListRecord } from '../lists/types.js';
import { readListInWorker } from './list-worker.js';
import type { SignalTypeName } from '../signals/registry.js';
import { hashInformation, type DegenerateKind } from '../signals/pdq/degenerate.js';
import type { Tx } from '../state/database.js';
import type { Bank, ImportResult, NewBank, Signal, Store } from '../store/types.js';

export interface ImportFileOptions {
  /** The name to record (a client's file name; never a server path in an answer). */
  fileName?: string;
  /** Writes that commit with the import (its audit entry): see ImportOptions.withinCommit. */
  withinCommit?: (tx: Tx, result: ImportResult, format: ListFormatName) => Promise<void>;
  format?: ListFormatName | 'auto';
  readOptions?: AnyListReadOptions;
  /** Create the bank (with the format's kind) when it does not exist. */
  create?: boolean;
  /** How to create it (an application service, so the creation is audited); default the store's createBank. */
  createBank?: (input: NewBank) => Promise<Bank>;
  onProgress?: (progress: { bytesRead: number; totalBytes: number; rows: number }) => void;
  /**
   * How the list is named in errors and in the import record, instead of its path: an upload's temp path
   * is the server's business (the API passes the client's file name, or "the uploaded list").
   */
  displayName?: string;
  /** How to ask for a format in the "could not tell" error (default "pass --format"). */
  formatHint?: string;
  /** Parse on a worker thread (the service: parsing must not hold the event loop). */
  offThread?: boolean;
}

export async function resolveFormat(path: string, format: ListFormatName | 'auto' | undefined, displayName = path, formatHint = 'pass --format'): Promise<ListFormat> {
  if (format && format !== 'auto') return getListFormat(format);
  const handle = await open(path, 'r');
  try {
    const head = new Uint8Array(DETECT_BYTES);
    const { bytesRead } = await handle.read(head, 0, DETECT_BYTES, 0);
    const name = detectListFormat(head.subarray(0, bytesRead), path);
    if (!name) throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Could not tell the list format of ${displayName}; ${formatHint} (one of plain, md5sum, csv, tsv, vics, nsrl, nsrl-v3, hashdeep, threatexchange, ncmec-xml)`);
    return getListFormat(name);
  } finally {
    await handle.close();
  }
}

/** Imports a list file into a bank in one transaction; row errors are in the result. */
export async function importListFile(store: Store, bankName: string, path: string, options: ImportFileOptions = {}): Promise<ImportResult & { format: ListFormatName; degeneratePdq: DegenerateCount }> {
  const name = options.fileName ?? options.displayName ?? path;
  const info = await stat(path).catch((err: unknown) => {
    throw new VigilError('VIGIL_ERR_UNREADABLE', `Cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  });
  if (!info.isFile()) throw new VigilError('VIGIL_ERR_UNREADABLE', `Not a regular file: ${name}`);
  const format = await resolveFormat(path, options.format, name, options.formatHint);
  let bank = await store.getBank(bankName);
  if (!bank) {
    if (!options.create) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${bankName} (create it first, or pass --create)`);
    const input: NewBank = { name: bankName, kind: format.bankKind, source: format.description };
    bank = await (options.createBank ? options.createBank(input) : store.createBank(input));
  }
  const totalBytes = info.size;
  let bytesRead = 0;
  const readOptions: AnyListReadOptions = {
    ...options.readOptions,
    onProgress: (p) => {
      bytesRead = p.bytesRead ?? bytesRead;
      options.onProgress?.({ bytesRead, totalBytes, rows: p.rowsRead });
    },
  };
  const items: AsyncIterable<ListItem> = options.offThread
    ? readListInWorker(path, format.name, readOptions, (p) => options.onProgress?.({ bytesRead: p.bytesRead, totalBytes, rows: p.rows }))
    : format.input === 'file'
      ? format.readFile(path, readOptions)
      : format.read(createReadStream(path, { highWaterMark: 1 << 20 }), readOptions);
  const degeneratePdq = newDegenerateCount();
  const result = await store.importList(bank.name, countingDegenerate(items, degeneratePdq), { fileName: name, format: format.name, ...(options.withinCommit ? { withinCommit: (tx, r) => options.withinCommit!(tx, r, format.name) } : {}) });
  return { ...result, format: format.name, degeneratePdq };
}

/** PDQ hashes too uniform to match loosely (signals/pdq/degenerate.ts), by kind; the bank's policy decides what they match. */
export type DegenerateCount = Record<DegenerateKind | 'total', number>;

const newDegenerateCount = (): DegenerateCount => ({ total: 0, constant: 0, 'one-value': 0, periodic: 0, striped: 0 });

function countDegenerateValue(count: DegenerateCount, value: string): void {
  if (value.length !== 64) return;
  const kind = hashInformation(Buffer.from(value, 'hex')).degenerate;
  if (!kind) return;
  count[kind]++;
  count.total++;
}

async function* countingDegenerate(items: AsyncIterable<ListItem>, count: DegenerateCount): AsyncGenerator<ListItem> {
  for await (const item of items) {
    if (item.kind === 'record') for (const s of item.record.signals) if (s.type === 'pdq') countDegenerateValue(count, s.value);
    yield item;
  }
}

/** The degenerate PDQ hashes a bank holds (bank stats): one pass over its PDQ signals. */
export async function countDegenerate(store: Store, bankName: string): Promise<DegenerateCount> {
  const count = newDegenerateCount();
  for await (const record of bankRecords(store, bankName, 'pdq')) for (const s of record.signals) if (s.type === 'pdq') countDegenerateValue(count, s.value);
  return count;
}

/**
 * A bank's signals as list records. Signals imported from one source row (same source id and file,
 * consecutive ids) are grouped back into one record, so e.g. a VICS media keeps its MD5 and SHA-1 together.
 */
export async function* bankRecords(store: Store, bankName: string, type?: SignalTypeName): AsyncGenerator<ListRecord> {
  let current: { record: ListRecord; key: string | null; lastId: number } | undefined;
  const recordOf = (s: Signal): ListRecord => ({
    signals: [{ type: s.type, value: s.value }],
    labels: s.labels,
    ...(s.sourceId !== null ? { sourceId: s.sourceId } : {}),
    ...(s.fileName !== null ? { fileName: s.fileName } : {}),
    ...(s.fileSize !== null ? { fileSize: s.fileSize } : {}),
    ...(Object.keys(s.metadata).length > 0 ? { metadata: s.metadata } : {}),
  });
  for await (const s of store.listSignals(bankName)) {
    if (type && s.type !== type) continue;
    const key = s.sourceId !== null || s.fileName !== null ? `${s.sourceId}\u0000${s.fileName}` : null;
    if (current && key !== null && current.key === key && s.id === current.lastId + 1 && !current.record.signals.some((x) => x.type === s.type)) {
      current.record.signals.push({ type: s.type, value: s.value });
      current.lastId = s.id;
      continue;
    }
    if (current) yield current.record;
    current = { record: recordOf(s), key, lastId: s.id };
  }
  if (current) yield current.record;
}

export function listWriter(name: ListFormatName): (records: AsyncIterable<ListRecord>, options?: AnyListWriteOptions) => AsyncGenerator<string> {
  const format = getListFormat(name);
  if (format.input !== 'stream' || !format.write) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `The ${name} format can be imported but not exported`);
  }
  return format.write;
}
