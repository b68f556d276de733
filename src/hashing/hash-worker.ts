/**
 * Piscina worker entry: loads the task code (hash-task.ts) on the first file. Under tsx (tests,
 * benchmarks) a worker has only tsx's CommonJS hook, so its dynamic imports (the decoder loads on
 * demand) would not resolve: the task code is loaded through tsx's ESM loader instead, as one graph.
 */
import type { default as HashTask } from './hash-task.js';

let task: Promise<typeof HashTask> | undefined;

async function load(): Promise<typeof HashTask> {
  if (import.meta.url.endsWith('.ts')) (await import('tsx/esm/api')).register();
  return (await import('./hash-task.js')).default;
}

export default async function hashTask(input: Parameters<typeof HashTask>[0]): ReturnType<typeof HashTask> {
  return (await (task ??= load()))(input);
}
