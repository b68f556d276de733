/** Piscina worker: PDQ of one RGB24 video frame (see vpdq-pool.ts). */
import { PdqScratch } from '../signals/pdq/pdq.js';
import { vpdqFeatureFromFrame } from '../signals/vpdq/hasher.js';

const scratch = new PdqScratch();

export default function hashFrame(task: { data: Uint8Array; width: number; height: number }): { hash: Uint8Array; quality: number } {
  const { hash, quality } = vpdqFeatureFromFrame({ ...task, frameNumber: 0, timestamp: 0 }, scratch);
  return { hash, quality };
}
