/** What a hashing worker (hash-worker.ts) runs: one file per task. */
import { ItemBudget, type ItemBudgetInit } from '../core/budget.js';
import { hashFile, onDecoderLoad, type FileHashRecord, type HashOptions } from './hash-file.js';

// sharp gets one libvips thread (the pool owns parallelism) and no operation cache (it only helps repeated
// identical pipelines and would hold decoded images). Loaded with the decoder: a text file never loads it.
onDecoderLoad(async () => {
  const { default: sharp } = await import('sharp');
  sharp.concurrency(1);
  sharp.cache(false);
});

export default function hashTask(task: { path: string; options: HashOptions; budget?: ItemBudgetInit }): Promise<FileHashRecord> {
  return hashFile(task.path, task.options, task.budget ? ItemBudget.fromInit(task.budget) : undefined);
}
