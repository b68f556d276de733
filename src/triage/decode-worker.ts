/** Piscina entry for triage decoding (see hashing/hash-worker.ts for why tsx's ESM loader is registered). */
import type { default as DecodeTask } from './decode-task.js';

let task: Promise<typeof DecodeTask> | undefined;

async function load(): Promise<typeof DecodeTask> {
  if (import.meta.url.endsWith('.ts')) (await import('tsx/esm/api')).register();
  return (await import('./decode-task.js')).default;
}

export default async function decodeTask(input: Parameters<typeof DecodeTask>[0]): ReturnType<typeof DecodeTask> {
  return (await (task ??= load()))(input);
}
