/**
 * Runs a segment merge in a worker thread (internal; used by HammingIndex256#compactAsync).
 *
 * The worker receives the segments' shared memory (no copy), gathers their live rows, builds the
 * merged segments into new SharedArrayBuffers and posts them back (again shared, no copy), so the
 * calling thread keeps serving queries while a 10M-row merge runs.
 */
import { Worker } from 'node:worker_threads';
import type { LayoutOptions, SegmentData } from './_segment.js';

/**
 * Starts `_compact-worker` next to this module. Under tsx (source .ts files) the worker first
 * registers tsx's loader itself: Node does not carry `--import tsx` loader hooks into workers.
 */
export function spawnModuleWorker(moduleBase: string, name: string): Worker {
  const ts = moduleBase.endsWith('.ts');
  const url = new URL(`./${name}${ts ? '.ts' : '.js'}`, moduleBase);
  if (!ts) return new Worker(url);
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { eval: true });
}

export function runCompactionWorker(segments: SegmentData[], layout: LayoutOptions): Promise<SegmentData[]> {
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      worker = spawnModuleWorker(import.meta.url, '_compact-worker');
    } catch (err) {
      reject(err);
      return;
    }
    let settled = false;
    worker.once('message', (msg: { ok: true; segments: SegmentData[] } | { ok: false; error: string }) => {
      settled = true;
      void worker.terminate();
      if (msg.ok) resolve(msg.segments);
      else reject(new Error(msg.error));
    });
    worker.once('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`compaction worker exited with code ${code}`));
      settled = true;
    });
    worker.postMessage({ segments, layout });
  });
}
