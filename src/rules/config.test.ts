import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VigilError } from '../core/errors.js';
import { DEFAULT_RULES, parseRulesConfig, RulesConfigError, rulesConfigJsonSchema, type RulesIssue } from './config.js';

const rule = (over: Record<string, unknown> = {}) => ({ id: 'r', description: 'd', when: {}, then: [{ type: 'block' }], ...over });
const config = (over: Record<string, unknown> = {}) => ({ version: 1, rules: [rule()], ...over });
const hook = { url: 'https://hooks.example.org/a', secretEnv: 'HOOK_SECRET' };

/** The problems parseRulesConfig reports ([] when it accepts the input). */
function issuesOf(json: unknown): RulesIssue[] {
  try {
    parseRulesConfig(json);
  } catch (err) {
    assert.ok(err instanceof RulesConfigError);
    assert.ok(err instanceof VigilError);
    assert.equal(err.code, 'VIGIL_ERR_INVALID_RULES');
    for (const i of err.issues) assert.ok(err.message.includes(`${i.path}: ${i.message}`), err.message);
    return err.issues;
  }
  return [];
}

function paths(json: unknown): string[] {
  return issuesOf(json).map((i) => i.path);
}

test('a minimal config parses, with defaults filled in and the input left alone', () => {
  const input = config();
  const parsed = parseRulesConfig(input);
  assert.deepEqual(parsed, {
    version: 1,
    webhooks: {},
    rules: [{ id: 'r', description: 'd', enabled: true, when: { includeNonActionable: false, minMatches: 1 }, then: [{ type: 'block' }], stop: false }],
  });
  assert.deepEqual(input, config());
  assert.deepEqual(parseRulesConfig(parsed), parsed, 'parsing a parsed config changes nothing');
  const hold = parseRulesConfig(config({ rules: [rule({ then: [{ type: 'hold_for_review' }] })] }));
  assert.deepEqual(hold.rules[0].then, [{ type: 'hold_for_review', priority: 50 }]);
});

test('every problem is listed at once, each with its JSON path, in document order', () => {
  const issues = issuesOf({
    version: 2,
    webhooks: { accounts: { url: 'http://hooks.example.org', secretEnv: 'lower' } },
    rules: [
      { id: 'Bad_Id', description: '', when: { maxDistance: 300 }, then: [{ type: 'explode' }] },
      rule({ id: 'r2', when: { labels: { ukCategory: ['D'] } } }),
    ],
  });
  assert.deepEqual(issues.map((i) => i.path), [
    '$.rules[0].description',
    '$.rules[0].id',
    '$.rules[0].then[0].type',
    '$.rules[0].when.maxDistance',
    '$.rules[1].when.labels.ukCategory[0]',
    '$.version',
    '$.webhooks.accounts.secretEnv',
    '$.webhooks.accounts.url',
  ]);
  const byPath = new Map(issues.map((i) => [i.path, i.message]));
  assert.match(byPath.get('$.rules[0].then[0].type')!, /one of block, hold_for_review/);
  assert.match(byPath.get('$.rules[0].when.maxDistance')!, /0\.\.256/);
  assert.match(byPath.get('$.webhooks.accounts.url')!, /https/);
});

test('unknown keys are rejected at every level (a typo must not silently drop a condition)', () => {
  assert.deepEqual(
    paths({
      version: 1,
      extra: true,
      webhooks: { a: { ...hook, retries: 3 } },
      rules: [
        rule({ priority: 1, when: { maxDistanse: 10, labels: { severity: ['A'] }, account: { priorBlocks: { gt: 1 } } }, then: [{ type: 'block', webhook: 'a' }] }),
      ],
    }),
    [
      '$.extra',
      '$.rules[0].priority',
      '$.rules[0].then[0].webhook',
      '$.rules[0].when.account.priorBlocks.gt',
      '$.rules[0].when.account.priorBlocks.gte', // required, and missing
      '$.rules[0].when.labels', // no known label condition left
      '$.rules[0].when.labels.severity',
      '$.rules[0].when.maxDistanse',
      '$.webhooks.a.retries',
    ],
  );
  assert.equal(issuesOf(config({ extra: 1 }))[0].message, 'unknown key');
});

test('missing and mistyped values say what was expected', () => {
  const issues = issuesOf({ version: 1, rules: [{ id: 'r', when: {}, then: [], enabled: 'yes' }] });
  assert.deepEqual(issues, [
    { path: '$.rules[0].description', message: 'is required' },
    { path: '$.rules[0].enabled', message: 'must be true or false (got string)' },
  ]);
  assert.deepEqual(issuesOf(null), [{ path: '$', message: 'must be an object (got null)' }]);
  assert.deepEqual(paths({ version: 1, rules: [] }), ['$.rules']);
  assert.deepEqual(paths({ version: 1 }), ['$.rules']);
  assert.deepEqual(paths(config({ rules: [rule({ then: { type: 'block' } })] })), ['$.rules[0].then']);
});

test('rule ids are kebab-case and unique', () => {
  for (const id of ['Block', 'block_all', '-x', 'x-', 'a--b', '', 'x'.repeat(65)]) assert.deepEqual(paths(config({ rules: [rule({ id })] })), ['$.rules[0].id'], id);
  const issues = issuesOf(config({ rules: [rule({ id: 'a' }), rule({ id: 'b' }), rule({ id: 'a' })] }));
  assert.deepEqual(issues, [{ path: '$.rules[2].id', message: 'duplicate rule id "a" (also at $.rules[0].id)' }]);
});

test('webhooks: account and notify actions need one, it must be defined, and no other action takes one', () => {
  assert.deepEqual(issuesOf(config({ rules: [rule({ then: [{ type: 'disable_account' }, { type: 'notify' }] })] })), [
    { path: '$.rules[0].then[0].webhook', message: 'is required' },
    { path: '$.rules[0].then[1].webhook', message: 'is required' },
  ]);
  assert.deepEqual(issuesOf(config({ webhooks: { accounts: hook }, rules: [rule({ then: [{ type: 'disable_account', webhook: 'acounts' }] })] })), [
    { path: '$.rules[0].then[0].webhook', message: 'webhook "acounts" is not defined in $.webhooks' },
  ]);
  assert.deepEqual(paths(config({ webhooks: { a: hook }, rules: [rule({ then: [{ type: 'hold_for_review', webhook: 'a' }] })] })), ['$.rules[0].then[0].webhook']);
  const ok = parseRulesConfig(config({ webhooks: { accounts: hook, 'review-queue': hook }, rules: [rule({ then: [{ type: 'disable_account', webhook: 'accounts' }, { type: 'notify', webhook: 'review-queue' }] })] }));
  assert.equal(ok.rules[0].then.length, 2);
});

test('webhook definitions: https only (http for localhost), no credentials in the URL, a secret from the environment', () => {
  const bad = (w: unknown) => paths(config({ webhooks: { a: w } }));
  assert.deepEqual(bad({ ...hook, url: 'http://hooks.example.org/a' }), ['$.webhooks.a.url']);
  assert.deepEqual(bad({ ...hook, url: 'ftp://hooks.example.org/a' }), ['$.webhooks.a.url']);
  assert.deepEqual(bad({ ...hook, url: 'not a url' }), ['$.webhooks.a.url']);
  assert.deepEqual(bad({ ...hook, url: 'https://user:pw@hooks.example.org/a' }), ['$.webhooks.a.url']);
  assert.deepEqual(bad({ url: hook.url }), ['$.webhooks.a.secretEnv']);
  assert.deepEqual(bad({ ...hook, secretEnv: '1SECRET' }), ['$.webhooks.a.secretEnv']);
  assert.deepEqual(paths(config({ webhooks: { 'Bad Name': hook } })), ['$.webhooks["Bad Name"]']);
  assert.deepEqual(paths(config({ webhooks: { __proto__: hook } })), [], 'an own "__proto__" from an object literal is not a key');
  assert.deepEqual(paths(config({ webhooks: JSON.parse(`{"__proto__": ${JSON.stringify(hook)}}`) })), ['$.webhooks.__proto__']);
  for (const url of ['http://localhost:8080/hook', 'http://127.0.0.1/hook', 'http://[::1]/hook']) assert.doesNotThrow(() => parseRulesConfig(config({ webhooks: { a: { ...hook, url } } })), url);
});

test('thresholds and counts are range-checked', () => {
  const when = (w: Record<string, unknown>) => paths(config({ rules: [rule({ when: w })] }));
  for (const maxDistance of [-1, 257, 1.5, '4']) assert.deepEqual(when({ maxDistance }), ['$.rules[0].when.maxDistance'], String(maxDistance));
  for (const maxDistance of [0, 31, 256]) assert.deepEqual(when({ maxDistance }), []);
  for (const minMatches of [0, 1001, 2.5]) assert.deepEqual(when({ minMatches }), ['$.rules[0].when.minMatches']);
  assert.deepEqual(when({ account: { priorBlocks: { gte: -1 } } }), ['$.rules[0].when.account.priorBlocks.gte']);
  assert.deepEqual(when({ video: { minQueryMatchPercent: 101 } }), ['$.rules[0].when.video.minQueryMatchPercent']);
  assert.deepEqual(when({ labels: { projectVicCategory: [100] } }), ['$.rules[0].when.labels.projectVicCategory[0]']);
  for (const priority of [-1, 101, 50.5]) {
    assert.deepEqual(paths(config({ rules: [rule({ then: [{ type: 'hold_for_review', priority }] })] })), ['$.rules[0].then[0].priority']);
  }
});

test('conditions that could never hold are rejected: empty lists, empty objects, repeats, quarantined without includeNonActionable', () => {
  const when = (w: Record<string, unknown>) => issuesOf(config({ rules: [rule({ when: w })] }));
  assert.match(when({ banks: [] })[0].message, /at least one bank/);
  assert.match(when({ banks: ['NCMEC', 'NCMEC'] })[0].message, /twice/);
  assert.deepEqual(when({ banks: ['bad name'] }).map((i) => i.path), ['$.rules[0].when.banks[0]']);
  assert.deepEqual(when({ signalTypes: ['phash'] }).map((i) => i.path), ['$.rules[0].when.signalTypes[0]']);
  assert.deepEqual(when({ labels: {} }).map((i) => i.path), ['$.rules[0].when.labels']);
  assert.deepEqual(when({ account: {} }).map((i) => i.path), ['$.rules[0].when.account']);
  assert.deepEqual(when({ video: {} }).map((i) => i.path), ['$.rules[0].when.video']);
  assert.deepEqual(when({ status: ['quarantined'] }).map((i) => i.path), ['$.rules[0].when.includeNonActionable']);
  assert.doesNotThrow(() => parseRulesConfig(config({ rules: [rule({ when: { status: ['quarantined'], includeNonActionable: true } })] })));
  assert.deepEqual(issuesOf(config({ rules: [rule({ then: [{ type: 'block' }, { type: 'block' }] })] })), [{ path: '$.rules[0].then[1]', message: 'repeats $.rules[0].then[0] (same type)' }]);
});

test('an explain-only rule (no actions) is valid', () => {
  assert.deepEqual(parseRulesConfig(config({ rules: [rule({ then: [] })] })).rules[0].then, []);
});

test('a huge broken config lists the first 100 problems in the message and all in issues', () => {
  const rules = Array.from({ length: 150 }, (_, i) => rule({ id: `r${i}`, when: { maxDistance: 999 } }));
  try {
    parseRulesConfig(config({ rules }));
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(err instanceof RulesConfigError);
    assert.equal(err.issues.length, 150);
    assert.match(err.message, /\(150 problems\)/);
    assert.match(err.message, /… and 50 more$/);
  }
});

test('DEFAULT_RULES is a valid config', () => {
  assert.deepEqual(parseRulesConfig(JSON.parse(JSON.stringify(DEFAULT_RULES))), DEFAULT_RULES);
  assert.ok(DEFAULT_RULES.rules.length > 0);
});

test('a JSON Schema of the authoring format is available for the API document', () => {
  const schema = rulesConfigJsonSchema();
  assert.equal(schema.type, 'object');
  assert.deepEqual((schema as { required: string[] }).required, ['version', 'rules']);
  assert.equal((schema as { additionalProperties: boolean }).additionalProperties, false);
});
