/**
 * Reads a hash-list file on a worker thread: parsing a 200,000-row list costs tens of seconds of CPU that
 * must not hold the service's event loop. Items come back in batches, each sent only once the previous
 * one was taken (memory stays at one batch whatever the file size), with the reader's progress.
 */
import { createReadStream } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { VigilError, type VigilErrorCode } from '../core/errors.js';
import { getListFormat, type AnyListReadOptions, type ListFormatName } from '../lists/registry.js';
import type { ListItem } from '../lists/types.js';

const BATCH = 5000;

interface Task {
  path: string;
  format: ListFormatName;
  readOptions: Omit<AnyListReadOptions, 'onProgress'>;
}

type Message =
  | { type: 'items'; items: ListItem[]; bytesRead: number; rows: number }
  | { type: 'done' }
  | { type: 'error'; code: VigilErrorCode; message: string };

// Under tsx (tests) the sources are .ts; compiled, .js.
const workerFile = new URL(import.meta.url.endsWith('.ts') ? './list-worker.ts' : './list-worker.js', import.meta.url);

/** The list's items, parsed on a worker thread; `onProgress` after each batch. */
export async function* readListInWorker(path: string, format: ListFormatName, readOptions: AnyListReadOptions, onProgress?: (p: { bytesRead: number; rows: number }) => void): AsyncGenerator<ListItem> {
  const { onProgress: _ignored, ...plain } = readOptions;
  const workerData = { path, format, readOptions: plain } satisfies Task;
  // Under tsx the worker registers tsx's loader itself: Node does not carry `--import tsx` into workers.
  const worker = workerFile.pathname.endsWith('.ts')
    ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(workerFile.href)}); });`, { eval: true, workerData })
    : new Worker(workerFile, { workerData });
  const inbox: Message[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  worker.on('message', (m: Message) => {
    inbox.push(m);
    wake?.();
  });
  worker.on('error', (err) => {
    failure = err;
    wake?.();
  });
  worker.on('exit', () => wake?.());
  try {
    for (;;) {
      while (inbox.length === 0 && !failure) await new Promise<void>((resolve) => (wake = resolve));
      const m = inbox.shift();
      if (!m) throw new VigilError('VIGIL_ERR_INTERNAL', `The list reader stopped: ${failure?.message ?? 'no reason given'}`);
      if (m.type === 'done') return;
      if (m.type === 'error') throw new VigilError(m.code, m.message);
      onProgress?.({ bytesRead: m.bytesRead, rows: m.rows });
      worker.postMessage('more');
      yield* m.items;
    }
  } finally {
    await worker.terminate();
  }
}

async function runWorker(task: Task): Promise<void> {
  const port = parentPort!;
  const more = () => new Promise<void>((resolve) => port.once('message', () => resolve()));
  const format = getListFormat(task.format);
  let bytesRead = 0;
  let rows = 0;
  const options: AnyListReadOptions = {
    ...task.readOptions,
    onProgress: (p) => {
      bytesRead = p.bytesRead ?? bytesRead;
      rows = p.rowsRead;
    },
  };
  try {
    const items = format.input === 'file' ? format.readFile(task.path, options) : format.read(createReadStream(task.path, { highWaterMark: 1 << 20 }), options);
    let batch: ListItem[] = [];
    for await (const item of items) {
      batch.push(item);
      if (batch.length >= BATCH) {
        port.postMessage({ type: 'items', items: batch, bytesRead, rows } satisfies Message);
        batch = [];
        await more();
      }
    }
    if (batch.length > 0) {
      port.postMessage({ type: 'items', items: batch, bytesRead, rows } satisfies Message);
      await more();
    }
    port.postMessage({ type: 'done' } satisfies Message);
  } catch (err) {
    const code = err instanceof VigilError ? err.code : 'VIGIL_ERR_INTERNAL';
    port.postMessage({ type: 'error', code, message: err instanceof Error ? err.message : String(err) } satisfies Message);
  }
}

if (!isMainThread && (workerData as Task | undefined)?.format) void runWorker(workerData as Task);
