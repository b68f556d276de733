import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseRulesConfig, RulesConfigError } from './config.js';
import { RuleEngine } from './engine.js';
import { jsonErrorOffset, loadRulesFile } from './load.js';
import { downranked, match, quarantined } from './_test-helpers.js';
import { tempDir } from '../../test/helpers/temp.js';

const dir = tempDir('rules');
const hook = { url: 'https://hooks.example.org/a', secretEnv: 'HOOK_SECRET' };
const EXAMPLE = fileURLToPath(new URL('../../examples/rules.json', import.meta.url));

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

test('examples/rules.json parses and behaves as documented', async () => {
  const config = await loadRulesFile(EXAMPLE);
  const e = new RuleEngine(config);
  const ids = config.rules.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
  const close = e.evaluate({ matches: [match({ distance: 12, labels: { ukCategory: 'A' } })] });
  assert.equal(close.verdict, 'block');
  assert.equal(close.actions.find((a) => a.type === 'hold_for_review')?.priority, 100);
  assert.equal(e.evaluate({ matches: [match({ distance: 25 })] }).verdict, 'review');
  assert.equal(e.evaluate({ matches: [downranked({ signalType: 'md5', distance: 0 })] }).verdict, 'review');
  const canary = e.evaluate({ matches: [match({ bank: 'vigil-canary', signalType: 'md5', distance: 0 })] });
  assert.deepEqual(canary.fired.map((f) => f.ruleId), ['canary-bank']);
  assert.deepEqual(canary.actions, [{ type: 'notify', ruleId: 'canary-bank', webhook: 'reviewers' }]);
  const repeat = e.evaluate({ matches: [match({ signalType: 'sha1', distance: 0 })], account: { priorBlocks: 2, priorMatchedDecisions: 2 } });
  assert.ok(repeat.actions.some((a) => a.type === 'disable_account' && a.webhook === 'accounts'));
  const q = e.evaluate({ matches: [quarantined()] });
  assert.equal(q.verdict, 'allow');
  assert.deepEqual(q.actions, [{ type: 'notify', ruleId: 'notify-quarantined', webhook: 'reviewers' }]);
  assert.equal(e.evaluate({ matches: [match({ bankKind: 'allow', bank: 'nsrl' })] }).verdict, 'allow');
});

test('a file with invalid rules: every problem with its JSON path, and the file named', async () => {
  const path = file('bad.json', JSON.stringify({ version: 1, rules: [{ id: 'x', description: 'd', when: { maxDistance: 999 }, then: [{ type: 'notify', webhook: 'nope' }] }] }));
  await assert.rejects(loadRulesFile(path), (err) => {
    assert.ok(err instanceof RulesConfigError);
    assert.equal(err.code, 'VIGIL_ERR_INVALID_RULES');
    assert.ok(err.message.startsWith(`Invalid rules file ${path} (2 problems):`), err.message);
    assert.deepEqual(err.issues.map((i) => i.path), ['$.rules[0].then[0].webhook', '$.rules[0].when.maxDistance']);
    return true;
  });
});

test('JSON syntax errors say where', async () => {
  const path = file('syntax.json', '{\n  "version": 1,\n  "rules": [,]\n}\n');
  await assert.rejects(loadRulesFile(path), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'VIGIL_ERR_INVALID_RULES');
    assert.match(err.message, /is not valid JSON at line 3, column 13/);
    return true;
  });
  await assert.rejects(loadRulesFile(file('latin1.json', Buffer.from([0x7b, 0xe9, 0x7d]))), { code: 'VIGIL_ERR_INVALID_RULES', message: /not UTF-8/ });
});

test('missing, directory and oversized files are refused with clear codes; a BOM is accepted', async () => {
  await assert.rejects(loadRulesFile(join(dir, 'absent.json')), { code: 'VIGIL_ERR_UNREADABLE', message: /does not exist/ });
  await assert.rejects(loadRulesFile(dir), { code: 'VIGIL_ERR_UNREADABLE', message: /not a regular file/ });
  const ok = JSON.stringify({ version: 1, rules: [{ id: 'x', description: 'd', when: {}, then: [] }] });
  await assert.rejects(loadRulesFile(file('big.json', ok + ' '.repeat(200)), { maxBytes: 100 }), { code: 'VIGIL_ERR_FILE_TOO_LARGE' });
  await assert.rejects(loadRulesFile(file('huge.json', ' '.repeat(1024 * 1024 + 1))), { code: 'VIGIL_ERR_FILE_TOO_LARGE' });
  assert.equal((await loadRulesFile(file('bom.json', `\ufeff${ok}`))).rules[0].id, 'x');
});

test('jsonErrorOffset finds the first syntax error', () => {
  assert.equal(jsonErrorOffset('{"a": [1, 2], "b": {"c": "d\\n\\u00e9"}, "e": -1.5e3, "f": [true, false, null]}'), -1);
  assert.equal(jsonErrorOffset('[1,]'), 3);
  assert.equal(jsonErrorOffset('{"a" 1}'), 5);
  assert.equal(jsonErrorOffset('{"a":1'), 6);
  assert.equal(jsonErrorOffset('{"a":01}'), 6);
  assert.equal(jsonErrorOffset('"\\x"'), 2);
  assert.equal(jsonErrorOffset('{} x'), 3);
  assert.equal(jsonErrorOffset('['.repeat(1e6)), -1);
});

test('the configs and rules shown in docs/rules.md are valid', async () => {
  const doc = await readFile(fileURLToPath(new URL('../../docs/rules.md', import.meta.url)), 'utf8');
  const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]);
  let checked = 0;
  for (const block of blocks) {
    const whole = JSON.parse(`[${block}]`) as Record<string, unknown>[];
    if ('verdict' in whole[0]) continue; // a decision, not rules
    const config = 'version' in whole[0] ? whole[0] : { version: 1, webhooks: { accounts: hook, reviewers: hook }, rules: whole };
    assert.doesNotThrow(() => parseRulesConfig(config), block);
    checked++;
  }
  assert.ok(checked >= 6, `checked ${checked} blocks`);
});
