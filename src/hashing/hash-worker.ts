/** Piscina worker: hashes one file per task. sharp gets one libvips thread: the pool owns parallelism. */
import sharp from 'sharp';
import { ItemBudget, type ItemBudgetInit } from '../core/budget.js';
import { hashFile, type FileHashRecord, type HashOptions } from './hash-file.js';

sharp.concurrency(1);
// libvips' operation cache only helps repeated identical pipelines; it would hold decoded images.
sharp.cache(false);

export default function hashTask(task: { path: string; options: HashOptions; budget?: ItemBudgetInit }): Promise<FileHashRecord> {
  return hashFile(task.path, task.options, task.budget ? ItemBudget.fromInit(task.budget) : undefined);
}
