import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_RULES, parseRulesConfig, type RulesConfig } from './config.js';
import { canonicalJson } from '../core/canonical-json.js';
import { RuleEngine, verdictOf } from './engine.js';
import { downranked, match, quarantined, suppressed } from './_test-helpers.js';
import type { BankMatch } from '../banks/matcher.js';
import type { EvaluationInput } from './types.js';

const hook = { url: 'https://hooks.example.org/a', secretEnv: 'HOOK_SECRET' };

/** An engine over the given rules, ids rule-0, rule-1…; `then` defaults to a block. */
function engine(rules: Record<string, unknown>[], webhooks: Record<string, unknown> = { ops: hook, accounts: hook }): RuleEngine {
  return new RuleEngine(parseRulesConfig({ version: 1, webhooks, rules: rules.map((r, i) => ({ id: `rule-${i}`, description: `rule ${i}`, then: [{ type: 'block' }], ...r })) }));
}

/** Whether a single rule with this condition fires. */
function fires(when: Record<string, unknown>, input: EvaluationInput): boolean {
  return engine([{ when }]).evaluate(input).fired.length === 1;
}

const one = (over: Parameters<typeof match>[0] = {}): EvaluationInput => ({ matches: [match(over)] });

test('no matches: allow, nothing fired, the rules version recorded', () => {
  const e = engine([{ when: {} }]);
  const d = e.evaluate({ matches: [] });
  assert.deepEqual(d, { verdict: 'allow', actions: [], fired: [], rulesVersion: e.version });
  assert.match(e.version, /^[0-9a-f]{64}$/);
  assert.deepEqual(new RuleEngine(DEFAULT_RULES).evaluate({ matches: [], account: { priorBlocks: 9, priorMatchedDecisions: 9 } }).fired, []);
});

test('condition: bankKind and banks', () => {
  assert.ok(fires({ bankKind: 'block' }, one()));
  assert.ok(!fires({ bankKind: 'allow' }, one()));
  assert.ok(fires({ bankKind: 'allow' }, one({ bankKind: 'allow' })));
  assert.ok(fires({ banks: ['IWF', 'NCMEC'] }, one()));
  assert.ok(!fires({ banks: ['IWF'] }, one()));
  assert.ok(!fires({ banks: ['ncmec'] }, one()), 'bank names are exact');
});

test('condition: signalTypes and maxDistance (≤, inclusive)', () => {
  assert.ok(fires({ signalTypes: ['md5', 'pdq'] }, one()));
  assert.ok(!fires({ signalTypes: ['md5'] }, one()));
  assert.ok(fires({ maxDistance: 4 }, one({ distance: 4 })));
  assert.ok(!fires({ maxDistance: 3 }, one({ distance: 4 })));
  assert.ok(fires({ maxDistance: 0 }, one({ signalType: 'md5', distance: 0 })));
});

test('condition: labels, any-of within a key, every key must hold', () => {
  const labelled = one({ labels: { industryCategory: 'A1', ukCategory: 'B', projectVicCategory: 1, series: 'Harbour Lights', tags: ['Outdoor', 'x'] } });
  assert.ok(fires({ labels: { industryCategory: ['A2', 'A1'] } }, labelled));
  assert.ok(!fires({ labels: { industryCategory: ['A2'] } }, labelled));
  assert.ok(fires({ labels: { industryCategory: ['A1'], ukCategory: ['B', 'C'] } }, labelled));
  assert.ok(!fires({ labels: { industryCategory: ['A1'], ukCategory: ['A'] } }, labelled), 'every key must hold');
  assert.ok(fires({ labels: { projectVicCategory: [1, 2] } }, labelled));
  assert.ok(!fires({ labels: { projectVicCategory: [0] } }, labelled));
  assert.ok(fires({ labels: { series: ['harbour lights'] } }, labelled), 'series compare case-insensitively');
  assert.ok(fires({ labels: { tags: ['outdoor', 'nope'] } }, labelled), 'tags: any shared tag, case-insensitively');
  assert.ok(!fires({ labels: { tags: ['nope'] } }, labelled));
  assert.ok(!fires({ labels: { ukCategory: ['A', 'B', 'C'] } }, one()), 'an unlabelled match has no category');
  assert.ok(!fires({ labels: { tags: ['x'] } }, one()));
});

test('condition: non-actionable matches are ignored unless includeNonActionable; status and downranked select further', () => {
  assert.ok(!fires({}, { matches: [quarantined()] }));
  assert.ok(!fires({}, { matches: [suppressed()] }));
  assert.ok(fires({}, { matches: [downranked()] }), 'a downranked false positive is still actionable');
  assert.ok(fires({ includeNonActionable: true }, { matches: [quarantined()] }));
  assert.ok(fires({ includeNonActionable: true, status: ['quarantined'] }, { matches: [quarantined()] }));
  assert.ok(!fires({ includeNonActionable: true, status: ['quarantined'] }, { matches: [suppressed()] }));
  assert.ok(fires({ status: ['active'] }, one()));
  assert.ok(!fires({ status: ['false_positive'] }, one()));
  assert.ok(fires({ downranked: true }, { matches: [downranked()] }));
  assert.ok(!fires({ downranked: false }, { matches: [downranked()] }));
  assert.ok(fires({ downranked: false }, one()));
});

test('condition: video shares (whole-video matches only)', () => {
  const video = match({ signalType: 'vpdq', distance: 0, view: 'video', video: { queryMatchPercent: 82, comparedMatchPercent: 40, queryRanges: [], comparedRanges: [] } });
  assert.ok(fires({ video: { minQueryMatchPercent: 80 } }, { matches: [video] }));
  assert.ok(!fires({ video: { minQueryMatchPercent: 80, minComparedMatchPercent: 50 } }, { matches: [video] }));
  assert.ok(!fires({ video: { minQueryMatchPercent: 0 } }, { matches: [match({ signalType: 'vpdq', distance: 3 })] }), 'a frame match has no shares');
});

test('condition: minMatches counts distinct signals', () => {
  const two = { matches: [match({ signalId: 1 }), match({ signalId: 2, signalType: 'md5', distance: 0 })] };
  assert.ok(fires({ minMatches: 2 }, two));
  assert.ok(!fires({ minMatches: 3 }, two));
  assert.ok(!fires({ minMatches: 2 }, { matches: [match({ signalId: 7, view: 'original' }), match({ signalId: 7, view: 'trimmed' })] }), 'one signal through two views is one match');
  assert.ok(!fires({ minMatches: 2, bankKind: 'block' }, { matches: [match({ signalId: 1 }), match({ signalId: 2, bankKind: 'allow' })] }), 'counts only selected matches');
});

test('condition: account history (unknown history never satisfies it)', () => {
  const when = { account: { priorBlocks: { gte: 2 }, priorMatchedDecisions: { gte: 3 } } };
  assert.ok(fires(when, { ...one(), account: { priorBlocks: 2, priorMatchedDecisions: 3 } }));
  assert.ok(!fires(when, { ...one(), account: { priorBlocks: 1, priorMatchedDecisions: 5 } }));
  assert.ok(!fires(when, { ...one(), account: { priorBlocks: 5, priorMatchedDecisions: 2 } }));
  assert.ok(!fires(when, one()));
  assert.ok(fires({ account: { priorBlocks: { gte: 0 } } }, { ...one(), account: { priorBlocks: 0, priorMatchedDecisions: 0 } }));
});

test('condition: surface', () => {
  assert.ok(fires({ surface: ['upload', 'message'] }, { ...one(), context: { surface: 'message' } }));
  assert.ok(!fires({ surface: ['upload'] }, { ...one(), context: { surface: 'message' } }));
  assert.ok(!fires({ surface: ['upload'] }, one()));
  assert.ok(!fires({ surface: ['upload'] }, { ...one(), context: { surface: 42 as unknown as string } }));
});

test('rules run in file order; every rule that holds fires; disabled rules are skipped; stop ends evaluation', () => {
  const rules = [
    { when: { signalTypes: ['md5'] }, then: [{ type: 'report_draft' }] },
    { when: {}, then: [{ type: 'preserve_evidence' }] },
    { when: {}, enabled: false, then: [{ type: 'block' }] },
    { when: { bankKind: 'block' }, then: [{ type: 'hold_for_review', priority: 10 }], stop: true },
    { when: {}, then: [{ type: 'block' }] },
  ];
  const d = engine(rules).evaluate(one());
  assert.deepEqual(d.fired.map((f) => f.ruleId), ['rule-1', 'rule-3']);
  assert.deepEqual(d.actions, [
    { type: 'preserve_evidence', ruleId: 'rule-1' },
    { type: 'hold_for_review', ruleId: 'rule-3', priority: 10 },
  ]);
  assert.equal(d.verdict, 'review');
  // A rule with stop that does not fire stops nothing.
  const d2 = engine(rules).evaluate(one({ bankKind: 'allow' }));
  assert.deepEqual(d2.fired.map((f) => f.ruleId), ['rule-1', 'rule-4']);
  assert.equal(d2.verdict, 'block');
});

test('actions are de-duplicated by type and webhook: the first keeps its place and rule, with the highest priority asked for', () => {
  const d = engine([
    { when: {}, then: [{ type: 'hold_for_review', priority: 40 }, { type: 'notify', webhook: 'ops' }] },
    { when: {}, then: [{ type: 'hold_for_review', priority: 90 }, { type: 'notify', webhook: 'ops' }, { type: 'notify', webhook: 'accounts' }] },
    { when: {}, then: [{ type: 'hold_for_review', priority: 10 }, { type: 'block' }] },
  ]).evaluate(one());
  assert.deepEqual(d.actions, [
    { type: 'hold_for_review', ruleId: 'rule-0', priority: 90 },
    { type: 'notify', ruleId: 'rule-0', webhook: 'ops' },
    { type: 'notify', ruleId: 'rule-1', webhook: 'accounts' },
    { type: 'block', ruleId: 'rule-2' },
  ]);
  assert.equal(d.fired.length, 3);
});

test('verdict: the most severe the actions imply (block > hold_for_review > anything else)', () => {
  assert.equal(verdictOf([]), 'allow');
  assert.equal(verdictOf([{ type: 'notify', ruleId: 'a', webhook: 'ops' }, { type: 'preserve_evidence', ruleId: 'a' }, { type: 'report_draft', ruleId: 'a' }, { type: 'disable_account', ruleId: 'a', webhook: 'x' }]), 'allow');
  assert.equal(verdictOf([{ type: 'preserve_evidence', ruleId: 'a' }, { type: 'hold_for_review', ruleId: 'a', priority: 1 }]), 'review');
  assert.equal(verdictOf([{ type: 'hold_for_review', ruleId: 'a', priority: 1 }, { type: 'block', ruleId: 'b' }]), 'block');
  assert.equal(verdictOf([{ type: 'block', ruleId: 'b' }, { type: 'hold_for_review', ruleId: 'a', priority: 1 }]), 'block');
  assert.equal(engine([{ when: {}, then: [] }]).evaluate(one()).verdict, 'allow', 'an explain-only rule fires but acts on nothing');
});

test('reasons name the condition and the match, in one sentence', () => {
  const e = engine([
    { when: { maxDistance: 16 } },
    { when: { minMatches: 2, account: { priorBlocks: { gte: 2 } } } },
    { when: { video: { minQueryMatchPercent: 80 } } },
    { when: { surface: ['upload'], labels: { series: ['s'] } } },
  ]);
  const d = e.evaluate({
    matches: [
      match({ signalId: 11, labels: { industryCategory: 'A1' } }),
      match({ signalId: 12, bank: 'IWF', signalType: 'md5', distance: 0, labels: { ukCategory: 'A', tags: ['t1'] } }),
      match({ signalId: 13, bank: 'ProjectVIC', signalType: 'vpdq', distance: 0, video: { queryMatchPercent: 82.25, comparedMatchPercent: 40, queryRanges: [], comparedRanges: [] } }),
      match({ signalId: 14, distance: 9, view: 'trimmed', dihedral: 'rot90', timestamp: 12.5, timestampIn: 'query', labels: { projectVicCategory: 1, series: 'S' } }),
    ],
    account: { priorBlocks: 3, priorMatchedDecisions: 4 },
    context: { surface: 'upload' },
  });
  const reason = new Map(d.fired.map((f) => [f.ruleId, f.reason]));
  assert.equal(reason.get('rule-0'), 'md5 exact match in block bank IWF (UK A, tags t1); vpdq video match (82.3% of the query, 40% of the known video) in block bank ProjectVIC; pdq distance 4 ≤ 16 in block bank NCMEC (industry A1); and 1 more match');
  assert.equal(reason.get('rule-1')!.split('; ')[0], '4 matches (≥ 2)');
  assert.match(reason.get('rule-1')!, /; account has 3 prior blocks \(≥ 2\)$/);
  assert.equal(reason.get('rule-2'), 'vpdq video match (82.3% ≥ 80% of the query, 40% of the known video) in block bank ProjectVIC');
  assert.match(reason.get('rule-3')!, /pdq distance 9 \(view trimmed, orientation rot90, at 12.5s of the query video\) in block bank NCMEC \(Project VIC 1, series "S"\); surface "upload"$/);
  assert.deepEqual(d.fired[0].matches, [12, 13, 11, 14]);
  const q = engine([{ when: { includeNonActionable: true }, then: [] }]).evaluate({ matches: [quarantined({ signalType: 'sha1', distance: 0 }), suppressed({ signalId: 2 }), downranked({ signalId: 3, distance: 5 })] });
  assert.equal(q.fired[0].reason, 'sha1 exact match in block bank NCMEC, signal quarantined: not actionable; pdq distance 4 in block bank NCMEC, signal marked false positive: not actionable; pdq distance 5 in block bank NCMEC, signal marked false positive (downranked)');
});

test('determinism: same input, same decision; match order and config key order do not matter', () => {
  const matches = [match({ signalId: 3, distance: 9 }), match({ signalId: 1, signalType: 'md5', distance: 0, bank: 'IWF' }), quarantined({ signalId: 2 }), match({ signalId: 4, bankKind: 'allow', bank: 'known-good', distance: 0, signalType: 'sha256' })];
  const e = new RuleEngine(DEFAULT_RULES);
  const d1 = e.evaluate({ matches });
  assert.deepEqual(e.evaluate({ matches }), d1);
  assert.deepEqual(e.evaluate({ matches: [...matches].reverse() }), d1);
  assert.deepEqual(new RuleEngine(DEFAULT_RULES).evaluate({ matches: [matches[2], matches[0], matches[3], matches[1]] }), d1);

  const a = { version: 1, webhooks: { ops: hook }, rules: [{ id: 'x', description: 'd', when: { bankKind: 'block', maxDistance: 10 }, then: [{ type: 'notify', webhook: 'ops' }] }] };
  const b = { rules: [{ then: [{ webhook: 'ops', type: 'notify' }], when: { maxDistance: 10, bankKind: 'block' }, description: 'd', id: 'x' }], webhooks: { ops: { secretEnv: hook.secretEnv, url: hook.url } }, version: 1 };
  const va = new RuleEngine(parseRulesConfig(a)).version;
  assert.equal(new RuleEngine(parseRulesConfig(b)).version, va);
  // Spelled-out defaults are the same rules.
  const c = { ...a, rules: [{ ...a.rules[0], enabled: true, stop: false, when: { ...a.rules[0].when, includeNonActionable: false, minMatches: 1 } }] };
  assert.equal(new RuleEngine(parseRulesConfig(c)).version, va);
  // Any change to the rules is a new version.
  assert.notEqual(new RuleEngine(parseRulesConfig({ ...a, rules: [{ ...a.rules[0], when: { bankKind: 'block', maxDistance: 11 } }] })).version, va);
  assert.notEqual(new RuleEngine(parseRulesConfig({ ...a, rules: [{ ...a.rules[0], description: 'e' }] })).version, va);
  assert.equal(canonicalJson({ b: [2, { d: 1, c: undefined, a: null }], a: 'x' }), '{"a":"x","b":[2,{"a":null,"d":1}]}');
});

test('the engine owns a frozen copy of its config: later edits to the caller’s object change nothing', () => {
  const config: RulesConfig = parseRulesConfig({ version: 1, rules: [{ id: 'x', description: 'd', when: {}, then: [{ type: 'block' }] }] });
  const e = new RuleEngine(config);
  const version = e.version;
  config.rules[0].then = [];
  assert.equal(e.evaluate(one()).verdict, 'block');
  assert.equal(e.version, version);
  assert.ok(Object.isFrozen(e.config.rules[0].when));
  assert.throws(() => new RuleEngine({ version: 1, webhooks: {}, rules: [] } as unknown as RulesConfig), { code: 'VIGIL_ERR_INVALID_RULES' });
  assert.throws(() => e.evaluate({} as EvaluationInput), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
});

test('default rules: an actionable block-bank match blocks, is held for review by label severity, preserved and reported', () => {
  const e = new RuleEngine(DEFAULT_RULES);
  const plain = e.evaluate(one({ signalType: 'md5', distance: 0 }));
  assert.equal(plain.verdict, 'block');
  assert.deepEqual(plain.actions, [
    { type: 'block', ruleId: 'block-known-material' },
    { type: 'hold_for_review', ruleId: 'block-known-material', priority: 50 },
    { type: 'preserve_evidence', ruleId: 'block-known-material' },
    { type: 'report_draft', ruleId: 'block-known-material' },
  ]);
  assert.deepEqual(plain.fired.map((f) => f.ruleId), ['block-known-material']);
  assert.equal(plain.fired[0].reason, 'md5 exact match in block bank NCMEC');
  const priority = (labels: BankMatch['labels']) => e.evaluate(one({ labels })).actions.find((a) => a.type === 'hold_for_review')?.priority;
  assert.equal(priority({ industryCategory: 'A1' }), 100);
  assert.equal(priority({ ukCategory: 'A' }), 100);
  assert.equal(priority({ industryCategory: 'A2' }), 80);
  assert.equal(priority({ industryCategory: 'B1' }), 80);
  assert.equal(priority({ ukCategory: 'B' }), 80);
  assert.equal(priority({ industryCategory: 'B2' }), 60);
  assert.equal(priority({ ukCategory: 'C' }), 60);
  assert.equal(priority({ projectVicCategory: 1 }), 60);
  assert.equal(priority({ projectVicCategory: 2 }), 50);
  assert.equal(priority({ industryCategory: 'B2', ukCategory: 'A' }), 100, 'the most severe label wins');
  // Several matches: the most severe one sets the priority.
  const mixed = e.evaluate({ matches: [match({ signalId: 1, labels: { ukCategory: 'C' } }), match({ signalId: 2, labels: { industryCategory: 'A1' } })] });
  assert.equal(mixed.actions.find((a) => a.type === 'hold_for_review')?.priority, 100);
  assert.deepEqual(mixed.fired.find((f) => f.ruleId === 'priority-industry-a1')?.matches, [2]);
});

test('default rules: non-actionable matches act on nothing but are explained', () => {
  const e = new RuleEngine(DEFAULT_RULES);
  for (const m of [quarantined(), suppressed()]) {
    const d = e.evaluate({ matches: [m] });
    assert.equal(d.verdict, 'allow');
    assert.deepEqual(d.actions, []);
    assert.deepEqual(d.fired.map((f) => f.ruleId), ['explain-not-actionable']);
    assert.match(d.fired[0].reason, /not actionable/);
  }
  // Beside an actionable match, the suppressed one is still explained.
  const both = e.evaluate({ matches: [match({ signalId: 1 }), quarantined({ signalId: 2, labels: { industryCategory: 'A1' } })] });
  assert.equal(both.verdict, 'block');
  assert.equal(both.actions.find((a) => a.type === 'hold_for_review')?.priority, 50, 'a quarantined match does not raise the priority');
  assert.deepEqual(both.fired.map((f) => [f.ruleId, f.matches]), [['block-known-material', [1]], ['explain-not-actionable', [2]]]);
});

test('default rules: a downranked false positive is reviewed at low priority, not blocked', () => {
  const d = new RuleEngine(DEFAULT_RULES).evaluate({ matches: [downranked({ labels: { industryCategory: 'A1' } })] });
  assert.equal(d.verdict, 'review');
  assert.deepEqual(d.actions, [
    { type: 'hold_for_review', ruleId: 'review-downranked-match', priority: 20 },
    { type: 'preserve_evidence', ruleId: 'review-downranked-match' },
  ]);
});

test('default rules: allow-bank matches alone allow (explained); beside a block-bank match, block wins', () => {
  const e = new RuleEngine(DEFAULT_RULES);
  const good = match({ bankKind: 'allow', bank: 'known-good', signalType: 'md5', distance: 0, signalId: 9 });
  const alone = e.evaluate({ matches: [good] });
  assert.equal(alone.verdict, 'allow');
  assert.deepEqual(alone.actions, []);
  assert.deepEqual(alone.fired.map((f) => f.ruleId), ['explain-allow-bank']);
  assert.equal(alone.fired[0].reason, 'md5 exact match in allow bank known-good');
  const both = e.evaluate({ matches: [good, match({ signalId: 1 })] });
  assert.equal(both.verdict, 'block');
  assert.deepEqual(both.fired.map((f) => f.ruleId), ['block-known-material', 'explain-allow-bank']);
});

test('condition: confidence; by default only a high-confidence match blocks, an uncertain one goes to review', () => {
  const e = engine([{ when: { confidence: ['medium', 'low'] } }]);
  assert.equal(e.evaluate(one({ confidence: 'high' })).fired.length, 0);
  assert.equal(e.evaluate(one({ confidence: 'low' })).fired.length, 1);
  const defaults = new RuleEngine(DEFAULT_RULES);
  assert.equal(defaults.evaluate(one({ confidence: 'high' })).verdict, 'block');
  const uncertain = defaults.evaluate(one({ confidence: 'medium', view: 'trimmed', dihedral: 'rot90' }));
  assert.equal(uncertain.verdict, 'review');
  assert.ok(uncertain.actions.some((a) => a.type === 'preserve_evidence'));
  assert.match(uncertain.fired.find((f) => f.ruleId === 'review-uncertain-match')!.reason, /medium confidence/);
});

test('condition: remote (a remote matcher\'s match) and remoteFailed (a remote check that failed)', () => {
  const remote = match({ signalId: -1, bank: 'remote:arachnid', distance: 0, labels: { tags: ['csam'] }, remote: { matcher: 'arachnid-shield', classification: 'csam', matchType: 'exact' } });
  assert.ok(fires({ remote: true }, { matches: [remote] }));
  assert.ok(!fires({ remote: true }, one()), 'a local match is not a remote one');
  assert.ok(fires({ remote: false }, one()));
  assert.ok(!fires({ remote: false }, { matches: [remote] }));
  assert.ok(fires({}, { matches: [remote] }), 'without the key a remote match is one more match');
  assert.ok(fires({ remote: true, labels: { tags: ['CSAM'] } }, { matches: [remote] }), 'the classification is a tag');
  assert.ok(engine([{ when: { minMatches: 2 } }]).evaluate({ matches: [match(), remote] }).fired.length === 1, 'counted beside local matches');
  assert.match(engine([{ when: { remote: true } }]).evaluate({ matches: [remote] }).fired[0]!.reason, /^remote exact pdq match \(arachnid-shield: csam\) in block bank remote:arachnid/);
  const failed = { matches: [], remoteFailed: [{ matcher: 'arachnid', error: 'HTTP 503' }] };
  assert.equal(engine([{ when: { remoteFailed: true } }]).evaluate(failed).fired[0]!.reason, 'remote matcher arachnid could not check it: HTTP 503');
  assert.ok(!fires({ remoteFailed: true }, one()), 'fires only when a check failed');
  assert.ok(!fires({ bankKind: 'block' }, failed), 'a failure is not a match');
  assert.throws(() => engine([{ when: { remoteFailed: true, remote: true } }]), /remoteFailed/);
});
