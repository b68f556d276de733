/**
 * Evaluates a rules configuration against one piece of content's bank matches. Deterministic: the same
 * config and input give the same decision, whatever order the matches arrive in, and every decision
 * carries the config's hash and, per fired rule, a sentence saying which condition matched which match.
 */
import { createHash } from 'node:crypto';
import type { BankMatch } from '../banks/matcher.js';
import { canonicalJson } from '../core/canonical-json.js';
import { invalidArgument } from '../core/errors.js';
import { signalType } from '../signals/registry.js';
import { parseRulesConfig, type Rule, type RuleAction, type RuleCondition, type RulesConfig } from './config.js';
import type { Decision, EvaluationInput, FiredRule, PlannedAction, Verdict } from './types.js';

/**
 * sha256 (hex) of the canonical JSON (core/canonical-json.ts) of a validated config (defaults filled in, so
 * `enabled: true` and its absence agree).
 */
export function rulesVersionOf(config: RulesConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const SEVERITY: Record<Verdict, number> = { allow: 0, review: 1, block: 2 };
const DESCRIBED_MATCHES = 3;

const fold = (s: string) => s.trim().toLowerCase();

/** One match against the rule's per-match conditions. */
function selects(when: RuleCondition, m: BankMatch): boolean {
  if (!m.actionable && !when.includeNonActionable) return false;
  if (when.bankKind !== undefined && m.bankKind !== when.bankKind) return false;
  if (when.banks !== undefined && !when.banks.includes(m.bank)) return false;
  if (when.signalTypes !== undefined && !when.signalTypes.includes(m.signalType)) return false;
  if (when.maxDistance !== undefined && !(m.distance <= when.maxDistance)) return false;
  if (when.status !== undefined && !when.status.includes(m.status)) return false;
  if (when.downranked !== undefined && m.downranked !== when.downranked) return false;
  if (when.remote !== undefined && (m.remote !== undefined) !== when.remote) return false;
  // Matches recorded before confidence existed count as high: they were acted on as such.
  if (when.confidence !== undefined && !when.confidence.includes(m.confidence ?? 'high')) return false;
  if (when.video !== undefined) {
    const v = m.video;
    if (v === undefined) return false;
    if (when.video.minQueryMatchPercent !== undefined && !(v.queryMatchPercent >= when.video.minQueryMatchPercent)) return false;
    if (when.video.minComparedMatchPercent !== undefined && !(v.comparedMatchPercent >= when.video.minComparedMatchPercent)) return false;
  }
  const want = when.labels;
  if (want !== undefined) {
    const labels = m.labels ?? {};
    if (want.industryCategory !== undefined && (labels.industryCategory === undefined || !want.industryCategory.includes(labels.industryCategory))) return false;
    if (want.ukCategory !== undefined && (labels.ukCategory === undefined || !want.ukCategory.includes(labels.ukCategory))) return false;
    if (want.projectVicCategory !== undefined && (labels.projectVicCategory === undefined || !want.projectVicCategory.includes(labels.projectVicCategory))) return false;
    // Series and tags come from many lists with their own spelling habits: compared case-insensitively.
    if (want.series !== undefined && (labels.series === undefined || !want.series.some((s) => fold(s) === fold(labels.series!)))) return false;
    if (want.tags !== undefined) {
      const have = new Set((labels.tags ?? []).map(fold));
      if (!want.tags.some((t) => have.has(fold(t)))) return false;
    }
  }
  return true;
}

/** Content-level conditions (account, surface): the clauses explaining them, or undefined when one fails. */
function contentClauses(when: RuleCondition, input: EvaluationInput): string[] | undefined {
  const clauses: string[] = [];
  if (when.account !== undefined) {
    // Unknown history never satisfies an account condition: it must not trigger an account action.
    const account = input.account;
    if (account === undefined) return undefined;
    const { priorMatchedDecisions: pmd, priorBlocks: pb } = when.account;
    if (pmd !== undefined) {
      if (!(account.priorMatchedDecisions >= pmd.gte)) return undefined;
      clauses.push(`account has ${account.priorMatchedDecisions} prior matched decision${account.priorMatchedDecisions === 1 ? '' : 's'} (≥ ${pmd.gte})`);
    }
    if (pb !== undefined) {
      if (!(account.priorBlocks >= pb.gte)) return undefined;
      clauses.push(`account has ${account.priorBlocks} prior block${account.priorBlocks === 1 ? '' : 's'} (≥ ${pb.gte})`);
    }
  }
  if (when.surface !== undefined) {
    const surface = input.context?.surface;
    if (typeof surface !== 'string' || !when.surface.includes(surface)) return undefined;
    clauses.push(`surface "${surface}"`);
  }
  return clauses;
}

function percent(n: number): string {
  return `${Math.round(n * 10) / 10}%`;
}

/** "pdq distance 4 ≤ 16 in block bank NCMEC (industry A1)". */
function describeMatch(m: BankMatch, when: RuleCondition): string {
  const max = when.maxDistance !== undefined ? ` ≤ ${when.maxDistance}` : '';
  let what: string;
  if (m.remote !== undefined) what = `remote ${m.remote.matchType ?? ''} ${m.signalType} match (${m.remote.matcher}: ${m.remote.classification})`.replace('  ', ' ');
  else if (signalType(m.signalType).matching === 'exact') what = `${m.signalType} exact match`;
  else if (m.video !== undefined) {
    const q = when.video?.minQueryMatchPercent;
    const c = when.video?.minComparedMatchPercent;
    what = `vpdq video match (${percent(m.video.queryMatchPercent)}${q !== undefined ? ` ≥ ${percent(q)}` : ''} of the query, ${percent(m.video.comparedMatchPercent)}${c !== undefined ? ` ≥ ${percent(c)}` : ''} of the known video)`;
  } else what = `${m.signalType}${signalType(m.signalType).matching === 'video' ? ' frame' : ''} distance ${m.distance}${max}`;
  const where: string[] = [];
  if (m.view !== undefined && m.view !== 'original') where.push(`view ${m.view}`);
  if (m.dihedral !== undefined && m.dihedral !== 'orig') where.push(`orientation ${m.dihedral}`);
  if (m.confidence !== undefined && m.confidence !== 'high') where.push(`${m.confidence} confidence`);
  if (m.timestamp !== undefined) where.push(`at ${m.timestamp}s of the ${m.timestampIn === 'known' ? 'known video' : 'query video'}`);
  if (where.length > 0) what += ` (${where.join(', ')})`;
  const l = m.labels ?? {};
  const labels: string[] = [];
  if (l.industryCategory !== undefined) labels.push(`industry ${l.industryCategory}`);
  if (l.ukCategory !== undefined) labels.push(`UK ${l.ukCategory}`);
  if (l.projectVicCategory !== undefined) labels.push(`Project VIC ${l.projectVicCategory}`);
  if (l.series !== undefined) labels.push(`series ${JSON.stringify(l.series)}`);
  if (l.tags !== undefined && l.tags.length > 0) labels.push(`tags ${l.tags.slice(0, 5).join(', ')}${l.tags.length > 5 ? ', …' : ''}`);
  let text = `${what} in ${m.bankKind} bank ${m.bank}${labels.length > 0 ? ` (${labels.join(', ')})` : ''}`;
  if (m.status === 'quarantined') text += ', signal quarantined: not actionable';
  else if (m.status === 'false_positive') text += m.downranked ? ', signal marked false positive (downranked)' : ', signal marked false positive: not actionable';
  return text;
}

function reasonOf(rule: Rule, selected: BankMatch[], clauses: string[]): string {
  const parts = selected.slice(0, DESCRIBED_MATCHES).map((m) => describeMatch(m, rule.when));
  if (selected.length > DESCRIBED_MATCHES) parts.push(`and ${selected.length - DESCRIBED_MATCHES} more match${selected.length - DESCRIBED_MATCHES === 1 ? '' : 'es'}`);
  const head = rule.when.minMatches > 1 ? [`${selected.length} matches (≥ ${rule.when.minMatches})`] : [];
  return [...head, ...parts, ...clauses].join('; ');
}

/** Canonical match order (the matcher's own): the decision does not depend on the order matches arrive in. */
function compareMatches(a: BankMatch, b: BankMatch): number {
  return (
    a.distance - b.distance ||
    (a.bank < b.bank ? -1 : a.bank > b.bank ? 1 : 0) ||
    a.signalId - b.signalId ||
    (a.signalType < b.signalType ? -1 : a.signalType > b.signalType ? 1 : 0) ||
    ((a.view ?? '') < (b.view ?? '') ? -1 : (a.view ?? '') > (b.view ?? '') ? 1 : 0)
  );
}

function planned(action: RuleAction, ruleId: string): PlannedAction {
  switch (action.type) {
    case 'hold_for_review':
      return { type: action.type, ruleId, priority: action.priority };
    case 'disable_account':
    case 'notify':
      return { type: action.type, ruleId, webhook: action.webhook };
    default:
      return { type: action.type, ruleId };
  }
}

export class RuleEngine {
  readonly config: RulesConfig;
  /** sha256 (hex) of the canonical config. */
  readonly version: string;

  constructor(config: RulesConfig) {
    // Re-validated and frozen: the version must describe exactly the rules that run, now and later.
    this.config = deepFreeze(parseRulesConfig(structuredClone(config)));
    this.version = rulesVersionOf(this.config);
  }

  evaluate(input: EvaluationInput): Decision {
    if (input === null || typeof input !== 'object' || !Array.isArray(input.matches)) throw invalidArgument('{ matches: BankMatch[] }', 'input', input);
    const matches = [...input.matches].sort(compareMatches);
    const fired: FiredRule[] = [];
    const actions: PlannedAction[] = [];
    const actionAt = new Map<string, number>();
    const planAll = (rule: Rule) => {
      for (const action of rule.then) {
        const next = planned(action, rule.id);
        const key = `${next.type}\u0000${next.webhook ?? ''}`;
        const at = actionAt.get(key);
        if (at === undefined) {
          actionAt.set(key, actions.length);
          actions.push(next);
        } else if (next.priority !== undefined && next.priority > (actions[at].priority ?? -1)) {
          // The first rule keeps the action (and its place); a later rule may only make it more urgent.
          actions[at] = { ...actions[at], priority: next.priority };
        }
      }
    };
    const remoteFailed = input.remoteFailed ?? [];
    if (matches.length > 0 || input.unhashed !== undefined || remoteFailed.length > 0) {
      for (const rule of this.config.rules) {
        if (!rule.enabled) continue;
        if (rule.when.unhashed) {
          if (input.unhashed === undefined) continue;
          const clauses = contentClauses(rule.when, input);
          if (clauses === undefined) continue;
          const reason = [`could not be hashed: ${input.unhashed.code}: ${input.unhashed.message}`, ...clauses].join('; ');
          fired.push({ ruleId: rule.id, description: rule.description, reason, matches: [] });
          planAll(rule);
          if (rule.stop) break;
          continue;
        }
        if (rule.when.remoteFailed) {
          if (remoteFailed.length === 0) continue;
          const clauses = contentClauses(rule.when, input);
          if (clauses === undefined) continue;
          const reason = [...remoteFailed.map((f) => `remote matcher ${f.matcher} could not check it: ${f.error}`), ...clauses].join('; ');
          fired.push({ ruleId: rule.id, description: rule.description, reason, matches: [] });
          planAll(rule);
          if (rule.stop) break;
          continue;
        }
        const selected: BankMatch[] = [];
        const ids = new Set<number>();
        for (const m of matches) {
          if (!selects(rule.when, m)) continue;
          selected.push(m);
          ids.add(m.signalId);
        }
        // minMatches counts distinct signals: one signal seen through two views is one match.
        if (ids.size === 0 || ids.size < rule.when.minMatches) continue;
        const clauses = contentClauses(rule.when, input);
        if (clauses === undefined) continue;
        fired.push({ ruleId: rule.id, description: rule.description, reason: reasonOf(rule, selected, clauses), matches: [...ids] });
        planAll(rule);
        if (rule.stop) break;
      }
    }
    return { verdict: verdictOf(actions), actions, fired, rulesVersion: this.version };
  }
}

/** The most severe verdict the planned actions imply. */
export function verdictOf(actions: readonly PlannedAction[]): Verdict {
  let verdict: Verdict = 'allow';
  for (const a of actions) {
    const implied: Verdict = a.type === 'block' ? 'block' : a.type === 'hold_for_review' ? 'review' : 'allow';
    if (SEVERITY[implied] > SEVERITY[verdict]) verdict = implied;
  }
  return verdict;
}
