/**
 * What the rules engine decides for one piece of content. These shapes are persisted (decision records,
 * audit log, API bodies): add fields, never rename one.
 */
import type { BankMatch } from '../banks/matcher.js';

/** Severity order: allow < review < block. */
export const VERDICTS = ['allow', 'review', 'block'] as const;
export type Verdict = (typeof VERDICTS)[number];

// The types derive from the constants, and API schemas and validation from the same constants: one list each.
export const ACTION_TYPES = ['block', 'hold_for_review', 'preserve_evidence', 'report_draft', 'disable_account', 'notify'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

/** What became of a planned action. */
export const ACTION_STATUSES = ['done', 'queued', 'skipped'] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

export interface PlannedAction {
  type: ActionType;
  /** The first rule that planned this action. */
  ruleId: string;
  /** hold_for_review only: 0..100, higher is reviewed first (the highest any fired rule asked for). */
  priority?: number;
  /** disable_account / notify only: the webhook's name in the config. */
  webhook?: string;
}

export interface FiredRule {
  ruleId: string;
  description: string;
  /** One human sentence: which condition matched which match, e.g. "pdq distance 4 ≤ 16 in block bank NCMEC (industry A1)". */
  reason: string;
  /** Signal ids of the matches the rule selected. */
  matches: number[];
}

export interface Decision {
  verdict: Verdict;
  actions: PlannedAction[];
  fired: FiredRule[];
  /** sha256 (hex) of the canonical config: every decision records which rules made it. */
  rulesVersion: string;
}

export interface AccountHistory {
  priorMatchedDecisions: number;
  priorBlocks: number;
}

export interface EvaluationInput {
  matches: readonly BankMatch[];
  /** Set when the content could not be hashed perceptually (refused, over budget, unreadable): why. */
  unhashed?: { code: string; message: string };
  /** Remote matchers asked that did not answer (pipeline/remote.ts): their matches, if any, are unknown. */
  remoteFailed?: { matcher: string; error: string }[];
  account?: AccountHistory;
  context?: { surface?: string; [k: string]: unknown };
}
