/** Rules: a validated configuration turned into one explained decision per piece of content. */
export type { AccountHistory, ActionType, Decision, EvaluationInput, FiredRule, PlannedAction, Verdict } from './types.js';
export { ACTION_TYPES, VERDICTS } from './types.js';
export type { Rule, RuleAction, RuleCondition, RulesConfig, RulesConfigInput, RulesIssue, WebhookConfig } from './config.js';
export { DEFAULT_RULES, RULES_LIMITS, RulesConfigError, RulesConfigSchema, jsonPath, parseRulesConfig, rulesConfigJsonSchema } from './config.js';
export { RuleEngine, rulesVersionOf, verdictOf } from './engine.js';
/** The canonical JSON the rules version hashes (the package's one implementation). */
export { canonicalJson } from '../core/canonical-json.js';
export { DEFAULT_RULES_FILE_MAX_BYTES, loadRulesFile, type LoadRulesOptions } from './load.js';
