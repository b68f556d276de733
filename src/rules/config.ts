/**
 * The rules configuration: a zod schema (strict: an unknown key is an error, so a typo never silently
 * disables a condition), cross-field checks, and the defaults. Pure: no Node imports, so the HTTP API and
 * the CLI validate the same way. docs/rules.md is the reference.
 */
import { z } from 'zod';
import { VigilError } from '../core/errors.js';
import { SIGNAL_TYPES } from '../signals/registry.js';
import { BANK_KINDS, SIGNAL_STATUSES } from '../store/types.js';

const RULE_ID_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const WEBHOOK_NAME_RE = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/;
const ENV_NAME_RE = /^[A-Z_][A-Z0-9_]*$/;
// Same alphabet as the store's bank names (src/store/_shared.ts), so a misspelt bank is caught here.
const BANK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Limits that keep a config (which may arrive in an API body) small and cheap to evaluate. */
export const RULES_LIMITS = { rules: 1000, actionsPerRule: 16, listItems: 1000, webhooks: 100 } as const;

/** A non-empty any-of list without repeats: an empty list could never match, a repeat is a typo. */
function anyOf<T extends z.ZodType>(item: T, what: string) {
  return z
    .array(item)
    .min(1, `must list at least one ${what} (leave the key out to accept any)`)
    .max(RULES_LIMITS.listItems, `must list at most ${RULES_LIMITS.listItems} ${what}s`)
    .refine((list) => new Set(list.map((v) => JSON.stringify(v))).size === list.length, `must not list a ${what} twice`);
}

function atLeastOneKey(o: object): boolean {
  return Object.keys(o).length > 0;
}

const count = (what: string) => z.number(`${what} must be a number`).int(`${what} must be a whole number`).min(0, `${what} must be ≥ 0`).max(1e9, `${what} must be ≤ 1000000000`);

const WebhookSchema = z.strictObject({
  url: z
    .string('must be a URL string')
    .max(2048, 'must be at most 2048 characters')
    .refine((s) => {
      if (!URL.canParse(s)) return false;
      const u = new URL(s);
      return u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname));
    }, 'must be an https:// URL (http:// only for localhost)')
    // Credentials belong in the environment (secretEnv), not in a file that gets committed and logged.
    .refine((s) => !URL.canParse(s) || (new URL(s).username === '' && new URL(s).password === ''), 'must not contain credentials (use secretEnv)'),
  /** Environment variable holding the HMAC signing secret: receivers can then trust an account action. */
  secretEnv: z.string('must name an environment variable').regex(ENV_NAME_RE, 'must be an environment variable name (A-Z, 0-9, _; not starting with a digit)').max(128, 'must be at most 128 characters'),
  description: z.string().max(500, 'must be at most 500 characters').optional(),
});

const GteSchema = (what: string) => z.strictObject({ gte: count(what) });

const LabelsConditionSchema = z
  .strictObject({
    industryCategory: anyOf(z.enum(['A1', 'A2', 'B1', 'B2'], 'must be A1, A2, B1 or B2'), 'category').optional(),
    ukCategory: anyOf(z.enum(['A', 'B', 'C'], 'must be A, B or C'), 'category').optional(),
    projectVicCategory: anyOf(z.number('must be a number').int('must be a whole number').min(0, 'must be 0..99').max(99, 'must be 0..99'), 'category').optional(),
    series: anyOf(z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters'), 'series').optional(),
    tags: anyOf(z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters'), 'tag').optional(),
  })
  .refine(atLeastOneKey, 'must set at least one label condition (or leave labels out)');

const VideoConditionSchema = z
  .strictObject({
    minQueryMatchPercent: z.number('must be a number').min(0, 'must be 0..100').max(100, 'must be 0..100').optional(),
    minComparedMatchPercent: z.number('must be a number').min(0, 'must be 0..100').max(100, 'must be 0..100').optional(),
  })
  .refine(atLeastOneKey, 'must set minQueryMatchPercent and/or minComparedMatchPercent (or leave video out)');

const AccountConditionSchema = z
  .strictObject({
    priorMatchedDecisions: GteSchema('gte').optional(),
    priorBlocks: GteSchema('gte').optional(),
  })
  .refine(atLeastOneKey, 'must set priorMatchedDecisions and/or priorBlocks (or leave account out)');

/**
 * Per-match conditions select the matches a rule applies to (all set keys must hold for a match); the
 * rule fires when at least minMatches are selected and the content conditions (account, surface) hold.
 */
const ConditionSchema = z.strictObject({
  bankKind: z.enum(BANK_KINDS, `must be ${BANK_KINDS.map((k) => `"${k}"`).join(' or ')}`).optional(),
  banks: anyOf(z.string('must be a bank name').regex(BANK_NAME_RE, 'must be a bank name (letters, digits, _ . -; 1–64)'), 'bank').optional(),
  signalTypes: anyOf(z.enum(SIGNAL_TYPES, `must be one of ${SIGNAL_TYPES.join(', ')}`), 'signal type').optional(),
  maxDistance: z.number('must be a number').int('must be a whole number').min(0, 'must be 0..256').max(256, 'must be 0..256').optional(),
  labels: LabelsConditionSchema.optional(),
  status: anyOf(z.enum(SIGNAL_STATUSES, `must be ${SIGNAL_STATUSES.slice(0, -1).join(', ')} or ${SIGNAL_STATUSES.at(-1)!}`), 'status').optional(),
  downranked: z.boolean('must be true or false').optional(),
  /** How sure the matcher is (BankMatch.confidence): high, medium, low. */
  confidence: anyOf(z.enum(['high', 'medium', 'low'], 'must be high, medium or low'), 'confidence').optional(),
  video: VideoConditionSchema.optional(),
  /** true: only matches from a remote matcher (pipeline/remote.ts); false: only local ones; absent: either, one more match. */
  remote: z.boolean('must be true or false').optional(),
  includeNonActionable: z.boolean('must be true or false').default(false),
  minMatches: z.number('must be a number').int('must be a whole number').min(1, 'must be 1..1000').max(1000, 'must be 1..1000').default(1),
  account: AccountConditionSchema.optional(),
  surface: anyOf(z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters'), 'surface').optional(),
  /**
   * true: the rule is about content that could not be hashed (a picture refused or over its budget, an
   * unreadable or undecodable upload), which no match can be found for; it fires without matches.
   */
  unhashed: z.literal(true, 'must be true (or left out)').optional(),
  /**
   * true: the rule is about content a configured remote matcher could not check (down, too slow, refused):
   * it fires, with or without local matches, whenever a remote check failed.
   */
  remoteFailed: z.literal(true, 'must be true (or left out)').optional(),
}).refine(
  (w) => w.unhashed === undefined || PER_MATCH_KEYS.every((k) => w[k] === undefined),
  { message: 'unhashed content has no matches: per-match conditions (bankKind, banks, signalTypes, maxDistance, labels, status, downranked, video, remote) cannot be combined with it', path: ['unhashed'] },
).refine(
  (w) => w.remoteFailed === undefined || (w.unhashed === undefined && PER_MATCH_KEYS.every((k) => w[k] === undefined)),
  { message: 'a failed remote check is about the content, not a match: per-match conditions and unhashed cannot be combined with it', path: ['remoteFailed'] },
).refine(
  // Quarantined signals are never actionable: such a rule could never fire.
  (w) => w.includeNonActionable || w.status === undefined || w.status.some((s) => s !== 'quarantined'),
  { message: 'selects only quarantined matches, which are not actionable: set includeNonActionable to true', path: ['includeNonActionable'] },
);

const PER_MATCH_KEYS = ['bankKind', 'banks', 'signalTypes', 'maxDistance', 'labels', 'status', 'downranked', 'video', 'remote'] as const;

const webhookRef = z.string('must name a webhook').regex(WEBHOOK_NAME_RE, 'must be a webhook name');

const ActionSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('block') }),
    z.strictObject({ type: z.literal('hold_for_review'), priority: z.number('must be a number').int('must be a whole number').min(0, 'must be 0..100').max(100, 'must be 0..100').default(50) }),
    z.strictObject({ type: z.literal('preserve_evidence') }),
    z.strictObject({ type: z.literal('report_draft') }),
    z.strictObject({ type: z.literal('disable_account'), webhook: webhookRef }),
    z.strictObject({ type: z.literal('notify'), webhook: webhookRef }),
  ],
  'must be one of block, hold_for_review, preserve_evidence, report_draft, disable_account, notify',
);

const RuleSchema = z.strictObject({
  id: z.string('must be a string').max(64, 'must be at most 64 characters').regex(RULE_ID_RE, 'must be kebab-case (a-z, 0-9, single hyphens)'),
  description: z.string('must be a string').min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
  enabled: z.boolean('must be true or false').default(true),
  when: ConditionSchema,
  // Empty is allowed: an explain-only rule records why something happened (or did not) without acting.
  then: z.array(ActionSchema, 'must be a list of actions').max(RULES_LIMITS.actionsPerRule, `must have at most ${RULES_LIMITS.actionsPerRule} actions`),
  stop: z.boolean('must be true or false').default(false),
});

export const RulesConfigSchema = z.strictObject({
  version: z.literal(1, 'must be 1 (the only rules format version)'),
  description: z.string('must be a string').max(2000, 'must be at most 2000 characters').optional(),
  webhooks: z
    .record(z.string().regex(WEBHOOK_NAME_RE, 'webhook names are lower-case letters and digits joined by - or _ (1–64)').max(64), WebhookSchema)
    .refine((w) => Object.keys(w).length <= RULES_LIMITS.webhooks, `must define at most ${RULES_LIMITS.webhooks} webhooks`)
    .default({}),
  rules: z.array(RuleSchema, 'must be a list of rules').min(1, 'must have at least one rule').max(RULES_LIMITS.rules, `must have at most ${RULES_LIMITS.rules} rules`),
});

export type RulesConfig = z.infer<typeof RulesConfigSchema>;
/** What an author writes: defaulted keys (enabled, stop, includeNonActionable, minMatches, priority, webhooks) optional. */
export type RulesConfigInput = z.input<typeof RulesConfigSchema>;
export type Rule = RulesConfig['rules'][number];
export type RuleCondition = Rule['when'];
export type RuleAction = Rule['then'][number];
export type WebhookConfig = RulesConfig['webhooks'][string];

export interface RulesIssue {
  /** JSON path of the offending value, e.g. `$.rules[2].then[0].webhook`. */
  path: string;
  message: string;
}

const MAX_LISTED = 100;

/** VIGIL_ERR_INVALID_RULES with every problem; `issues` lets the API return them as structured data. */
export class RulesConfigError extends VigilError {
  readonly issues: RulesIssue[];

  constructor(issues: RulesIssue[], prefix = 'Invalid rules configuration') {
    const lines = issues.slice(0, MAX_LISTED).map((i) => `  ${i.path}: ${i.message}`);
    if (issues.length > MAX_LISTED) lines.push(`  … and ${issues.length - MAX_LISTED} more`);
    super('VIGIL_ERR_INVALID_RULES', `${prefix} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.issues = issues;
  }
}

export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : typeof v;
}

/** Zod issues → one line per problem, in words an operator editing a JSON file understands. */
function fromZod(issues: readonly z.core.$ZodIssue[], raw: unknown, base: readonly PropertyKey[] = []): RulesIssue[] {
  const out: RulesIssue[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) out.push({ path: jsonPath([...path, key]), message: 'unknown key' });
        break;
      case 'invalid_key':
        out.push(...fromZod(issue.issues, raw, path).map((i) => ({ ...i, message: `invalid name: ${i.message}` })));
        break;
      case 'invalid_type': {
        const actual = valueAt(raw, path);
        const expected = issue.expected === 'object' ? 'an object' : issue.expected === 'array' ? 'a list' : `a ${issue.expected}`;
        const message = issue.message.startsWith('Invalid input') ? `must be ${expected}` : issue.message;
        out.push({ path: jsonPath(path), message: actual === undefined && path.length > 0 ? 'is required' : `${message} (got ${typeName(actual)})` });
        break;
      }
      default:
        out.push({ path: jsonPath(path), message: issue.message });
    }
  }
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * References across the file: unique rule ids, defined webhooks, no repeated action in a rule. Run on the
 * raw input (tolerating any shape) so these problems are listed alongside the schema's, in one pass.
 */
function crossCheck(raw: unknown): RulesIssue[] {
  const out: RulesIssue[] = [];
  if (!isRecord(raw) || !Array.isArray(raw.rules)) return out;
  const webhooks = isRecord(raw.webhooks) ? raw.webhooks : {};
  // zod's record drops an own "__proto__" key (JSON.parse makes one) without a word: say so.
  if (Object.hasOwn(webhooks, '__proto__')) out.push({ path: jsonPath(['webhooks', '__proto__']), message: 'invalid name: webhook names are lower-case letters and digits joined by - or _ (1–64)' });
  const seen = new Map<string, number>();
  raw.rules.forEach((rule: unknown, i) => {
    if (!isRecord(rule)) return;
    if (typeof rule.id === 'string') {
      const first = seen.get(rule.id);
      if (first !== undefined) out.push({ path: jsonPath(['rules', i, 'id']), message: `duplicate rule id "${rule.id}" (also at ${jsonPath(['rules', first, 'id'])})` });
      else seen.set(rule.id, i);
    }
    if (!Array.isArray(rule.then)) return;
    const actions = new Map<string, number>();
    rule.then.forEach((action: unknown, k) => {
      if (!isRecord(action)) return;
      if (typeof action.webhook === 'string' && WEBHOOK_NAME_RE.test(action.webhook) && !Object.hasOwn(webhooks, action.webhook)) {
        out.push({ path: jsonPath(['rules', i, 'then', k, 'webhook']), message: `webhook "${action.webhook}" is not defined in $.webhooks` });
      }
      const key = `${String(action.type)}\u0000${String(action.webhook ?? '')}`;
      const first = actions.get(key);
      if (first !== undefined) out.push({ path: jsonPath(['rules', i, 'then', k]), message: `repeats ${jsonPath(['rules', i, 'then', first])} (same type${action.webhook === undefined ? '' : ' and webhook'})` });
      else actions.set(key, k);
    });
  });
  return out;
}

/** Validates a parsed JSON value; throws RulesConfigError (VIGIL_ERR_INVALID_RULES) listing every problem. */
export function parseRulesConfig(json: unknown): RulesConfig {
  const result = RulesConfigSchema.safeParse(json);
  const issues = [...(result.success ? [] : fromZod(result.error.issues, json)), ...crossCheck(json)];
  if (issues.length > 0 || !result.success) {
    // Schema order first, then cross-file references; sort by path so the list reads top to bottom.
    throw new RulesConfigError(issues.sort((a, b) => comparePaths(a.path, b.path)));
  }
  return result.data;
}

/** Document order: `$.rules[2]` before `$.rules[10]`. */
function comparePaths(a: string, b: string): number {
  const split = (p: string) => p.split(/(\d+)/).map((s, i) => (i % 2 === 1 ? Number(s) : s));
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    if (typeof x[i] === 'number' && typeof y[i] === 'number') return (x[i] as number) - (y[i] as number);
    return String(x[i]) < String(y[i]) ? -1 : 1;
  }
  return x.length - y.length;
}

/**
 * JSON Schema of what an author writes (defaults optional), for the API's OpenAPI document and editors.
 * Cross-file checks (unique ids, defined webhooks) are not expressible there; parseRulesConfig is the authority.
 */
export function rulesConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(RulesConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

/**
 * Defaults for a platform with no rules file. Every actionable match in a block bank blocks, is held for
 * review (priority by the most severe label: a later rule only raises the priority of the action already
 * planned), has its evidence preserved and a report drafted. A false positive in a 'downrank' bank stays
 * actionable but only goes to review: an operator has said it is probably not what the list claims.
 * Non-actionable matches and allow-bank matches act on nothing but are explained.
 */
const DEFAULT_RULES_INPUT: RulesConfigInput = {
  version: 1,
  description: 'Vigil default rules: block known material, hold it for review, preserve evidence, draft a report.',
  rules: [
    {
      id: 'block-known-material',
      description: 'An actionable match in a block bank: block, hold for review, preserve evidence, draft a report.',
      when: { bankKind: 'block', downranked: false, confidence: ['high'] },
      then: [{ type: 'block' }, { type: 'hold_for_review', priority: 50 }, { type: 'preserve_evidence' }, { type: 'report_draft' }],
    },
    {
      id: 'review-uncertain-match',
      description: 'A match the matcher is not sure of (a view, an orientation, a degenerate hash, loose settings): review only, with evidence preserved.',
      when: { bankKind: 'block', downranked: false, confidence: ['medium', 'low'] },
      then: [{ type: 'hold_for_review', priority: 40 }, { type: 'preserve_evidence' }],
    },
    {
      id: 'review-downranked-match',
      description: 'A match on a signal marked false positive in a downrank bank: review only, with evidence preserved.',
      when: { bankKind: 'block', downranked: true },
      then: [{ type: 'hold_for_review', priority: 20 }, { type: 'preserve_evidence' }],
    },
    {
      id: 'priority-industry-a1',
      description: 'Industry A1 (prepubescent, sex act): reviewed first.',
      when: { bankKind: 'block', downranked: false, labels: { industryCategory: ['A1'] } },
      then: [{ type: 'hold_for_review', priority: 100 }],
    },
    {
      id: 'priority-uk-a',
      description: 'UK category A: reviewed first.',
      when: { bankKind: 'block', downranked: false, labels: { ukCategory: ['A'] } },
      then: [{ type: 'hold_for_review', priority: 100 }],
    },
    {
      id: 'priority-industry-a2-b1',
      description: 'Industry A2 or B1: reviewed before other labelled matches.',
      when: { bankKind: 'block', downranked: false, labels: { industryCategory: ['A2', 'B1'] } },
      then: [{ type: 'hold_for_review', priority: 80 }],
    },
    {
      id: 'priority-uk-b',
      description: 'UK category B: reviewed before other labelled matches.',
      when: { bankKind: 'block', downranked: false, labels: { ukCategory: ['B'] } },
      then: [{ type: 'hold_for_review', priority: 80 }],
    },
    {
      id: 'priority-industry-b2',
      description: 'Industry B2: reviewed before unlabelled matches.',
      when: { bankKind: 'block', downranked: false, labels: { industryCategory: ['B2'] } },
      then: [{ type: 'hold_for_review', priority: 60 }],
    },
    {
      id: 'priority-uk-c',
      description: 'UK category C: reviewed before unlabelled matches.',
      when: { bankKind: 'block', downranked: false, labels: { ukCategory: ['C'] } },
      then: [{ type: 'hold_for_review', priority: 60 }],
    },
    {
      id: 'priority-project-vic-1',
      description: 'Project VIC category 1 (CAM): reviewed before unlabelled matches.',
      when: { bankKind: 'block', downranked: false, labels: { projectVicCategory: [1] } },
      then: [{ type: 'hold_for_review', priority: 60 }],
    },
    {
      id: 'explain-not-actionable',
      description: 'A match on a suppressed false positive or a quarantined signal: no action, recorded so reviewers can see why.',
      when: { includeNonActionable: true, status: ['false_positive', 'quarantined'], downranked: false },
      then: [],
    },
    {
      id: 'review-unhashable',
      description: 'Content that could not be hashed (refused, over its decoding budget, unreadable): no match could be looked for, so a person looks instead of allowing it.',
      when: { unhashed: true },
      then: [{ type: 'hold_for_review', priority: 30 }],
    },
    {
      id: 'explain-allow-bank',
      description: 'A match in an allow bank (known-good content): no action on its own.',
      when: { bankKind: 'allow' },
      then: [],
    },
  ],
};

export const DEFAULT_RULES: RulesConfig = parseRulesConfig(DEFAULT_RULES_INPUT);
