/**
 * Worker thread of bench/index.ts: searches a slice of the queries on a shared view of the index
 * (HammingIndex256.fromShared — the arrays are the main thread's SharedArrayBuffers, not copies).
 * Protocol: workerData {handle, queries, start, end, radius}; posts 'ready' after a warm-up, waits for
 * 'go', then posts {ms, hits}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HammingIndex256, type HammingIndexHandle } from '../src/matching/hamming-index.js';

interface Job {
  handle: HammingIndexHandle;
  queries: Uint8Array;
  start: number;
  end: number;
  radius: number;
}

const job = workerData as Job;
const port = parentPort;
if (port === null) throw new Error('bench/_index-worker.ts must run in a worker thread');
const index = HammingIndex256.fromShared(job.handle);
const q = (i: number): Uint8Array => job.queries.subarray(i * 32, i * 32 + 32);
for (let i = job.start; i < Math.min(job.end, job.start + 200); i++) index.search(q(i), job.radius);
port.once('message', () => {
  const t = performance.now();
  let hits = 0;
  for (let i = job.start; i < job.end; i++) hits += index.search(q(i), job.radius).length;
  port.postMessage({ ms: performance.now() - t, hits });
});
port.postMessage('ready');
