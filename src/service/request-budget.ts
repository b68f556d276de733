/**
 * The per-item budget of a request that hashes an upload: cancelled when the client goes away before its
 * answer, so a hostile upload whose sender disconnects stops costing CPU at the decoder's next step.
 */
import type { FastifyReply } from 'fastify';
import { ItemBudget, type BudgetLimits } from '../core/budget.js';

export function requestBudget(reply: FastifyReply, limits?: Partial<BudgetLimits>): ItemBudget {
  const budget = new ItemBudget(limits);
  const response = reply.raw;
  // 'close' also follows a finished answer; only a close before the answer was written is a disconnect.
  response.once('close', () => {
    if (!response.writableFinished) budget.cancel();
  });
  return budget;
}
