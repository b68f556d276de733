// HMA's vocabulary comes from the signal types' own `hma` names: a type that declares one is answered,
// looked up, stored and compared by the HMA routes with no branch in service/ (signals/* is the one place).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FileHashRecord } from '../hashing/hash-file.js';
import { registerSignalType } from '../signals/registry.js';
import { digestSignalType } from '../signals/types.js';
import { enabledSignalTypes, hmaDefaultSignalTypes, hmaExtraSignalTypes, hmaNameOf, hmaSignals, hmaSignalType, storedValue, vigilType } from './hma-signals.js';

const PDQ = 'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22';
const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
// A test-only digest that HMA (in this test) calls `video_shake` for videos only.
const shake128 = digestSignalType('shake128', 32, 'SHAKE128 of the file bytes (test only)', ['7f9c2ba4e88f827d616045507605853e'], 'shake128', [{ name: 'video_shake', contentTypes: ['video'] }]);

let remove: () => void;
before(() => (remove = registerSignalType(shake128)));
after(() => remove());

test("HMA's reference configuration and the extra names come from the registry", () => {
  assert.deepEqual(hmaDefaultSignalTypes().sort(), ['pdq', 'video_md5']);
  assert.deepEqual(hmaExtraSignalTypes().sort(), ['md5', 'sha1', 'sha256', 'video_shake', 'vpdq']);
  assert.equal(hmaSignalType('video_md5'), 'md5');
  assert.equal(hmaSignalType('video_shake'), 'shake128');
  assert.equal(hmaSignalType('photodna'), undefined, 'a type HMA does not exchange has no HMA name');
  assert.equal(hmaNameOf('md5'), 'video_md5', "a stored MD5 is named by HMA's default name");
  assert.equal(hmaNameOf('photodna'), 'photodna');
  const enabled = enabledSignalTypes(['video_shake', 'nonsense']);
  assert.deepEqual([...enabled].sort(), ['pdq', 'video_md5', 'video_shake']);
  assert.equal(vigilType('video_shake', enabled), 'shake128');
  assert.throws(() => vigilType('sha256', enabled), /No such signal type "sha256"/);
});

test('a hashed file answers with the names enabled for its content type', () => {
  const record = { path: 'x', md5: MD5, sha256: SHA256, pdq: PDQ, shake128: '7f9c2ba4e88f827d616045507605853e' } as FileHashRecord & { shake128: string };
  const enabled = enabledSignalTypes(['md5', 'sha256', 'video_shake']);
  assert.deepEqual(hmaSignals(record, 'photo', enabled), { md5: MD5, sha256: SHA256, pdq: PDQ });
  assert.deepEqual(hmaSignals(record, 'video', enabled), { video_md5: MD5, sha256: SHA256, video_shake: '7f9c2ba4e88f827d616045507605853e' });
  assert.deepEqual(hmaSignals(record, 'photo', enabled, new Set(['pdq'])), { pdq: PDQ });
  const video = { path: 'v', vpdq: [`${PDQ},100,0.000`, `${PDQ},90,1.000`] } as FileHashRecord;
  assert.deepEqual(hmaSignals(video, 'video', enabledSignalTypes(['vpdq'])), { vpdq: `["${PDQ},100,0.0", "${PDQ},90,1.0"]` }, "pytx's JSON form");
});

test("values as HMA sends them are stored in the type's canonical form, and bad ones are refused", () => {
  assert.equal(storedValue('sha256', SHA256.toUpperCase()), SHA256);
  const text = `0,100,${PDQ},0.000\n1,90,${PDQ},1.000`;
  assert.equal(storedValue('vpdq', text), `["${PDQ},100,0.0", "${PDQ},90,1.0"]`, "the C++ tool's text form becomes pytx's JSON");
  assert.equal(storedValue('vpdq', [`${PDQ},100,0.000`]), `["${PDQ},100,0.0"]`);
  assert.throws(() => storedValue('pdq', 'abc'), { code: 'VIGIL_ERR_INVALID_HASH' });
});
