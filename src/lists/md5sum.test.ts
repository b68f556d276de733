import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readMd5sum, writeMd5sum } from './md5sum.js';
import { chunks, collect, errorsOf, hexGen, recordsOf, text } from './_test-helpers.js';
import type { ListRecord } from './types.js';

const hex = hexGen(23);
const MD5 = hex(32);
const SHA1 = hex(40);
const SHA256 = hex(64);

describe('md5sum / sha*sum / md5deep output', () => {
  it('reads GNU text and binary mode lines, with the type from the length', async () => {
    const input = `${MD5}  landscape-001.jpg\n${SHA1} *holiday photos/beach 2.png\n${SHA256}  ./a  b.gif  \n`;
    assert.deepEqual(recordsOf(await collect(readMd5sum(chunks(input, 5)))), [
      { signals: [{ type: 'md5', value: MD5 }], labels: {}, fileName: 'landscape-001.jpg' },
      { signals: [{ type: 'sha1', value: SHA1 }], labels: {}, fileName: 'holiday photos/beach 2.png' },
      // 64 digits from a checksum tool can only be SHA-256; trailing spaces belong to the name.
      { signals: [{ type: 'sha256', value: SHA256 }], labels: {}, fileName: './a  b.gif  ' },
    ]);
  });

  it('reads BSD / --tag lines and GNU escaped names', async () => {
    const input = `MD5 (garden (1).jpg) = ${MD5.toUpperCase()}\nSHA256 (x.png) = ${SHA256}\n\\${MD5}  dir\\\\new\\nline.jpg\n`;
    assert.deepEqual(recordsOf(await collect(readMd5sum(chunks(input)))), [
      { signals: [{ type: 'md5', value: MD5 }], labels: {}, fileName: 'garden (1).jpg' },
      { signals: [{ type: 'sha256', value: SHA256 }], labels: {}, fileName: 'x.png' },
      { signals: [{ type: 'md5', value: MD5 }], labels: {}, fileName: 'dir\\new\nline.jpg' },
    ]);
  });

  it('accepts a bare hash, skips comments, reports bad lines and goes on', async () => {
    const input = `# made by md5deep\n${MD5}\n${MD5.slice(0, 30)}  short.jpg\n${MD5} single-space.jpg\nSHA1 (x) = ${MD5}\nzz${MD5.slice(2)}  notHex.jpg\n${SHA1}  ok.jpg\n`;
    const items = await collect(readMd5sum(chunks(input)));
    assert.deepEqual(recordsOf(items).map((r) => [r.signals[0].type, r.fileName]), [['md5', undefined], ['sha1', 'ok.jpg']]);
    assert.deepEqual(errorsOf(items).map((e) => e.line), [3, 4, 5, 6]);
    assert.match(errorsOf(items)[0].message, /32 \(md5\), 40 \(sha1\) or 64/);
    assert.match(errorsOf(items)[1].message, /Expected "<hash> {2}<file name>"/);
    assert.match(errorsOf(items)[2].message, /40 hexadecimal digits for sha1/);
  });

  it('signalType overrides the length and must agree with a BSD tag', async () => {
    const items = await collect(readMd5sum(chunks(`${SHA256}  a.jpg\nMD5 (b) = ${MD5}\n`), { signalType: 'pdq' }));
    assert.deepEqual(recordsOf(items), [{ signals: [{ type: 'pdq', value: SHA256 }], labels: {}, fileName: 'a.jpg' }]);
    assert.match(errorsOf(items)[0].message, /says MD5 but signalType is pdq/);
  });

  it('round-trips names with spaces, backslashes and line breaks', async () => {
    const names = ['landscape-001.jpg', 'with space .jpg', 'back\\slash.jpg', 'new\nline.jpg', 'cr\rname.jpg', 'ünïcödé.png'];
    const records: ListRecord[] = names.map((fileName) => ({ signals: [{ type: 'sha256', value: hex(64) }], labels: {}, fileName }));
    const out = await text(writeMd5sum(records, { signalType: 'sha256' }));
    assert.equal(out.split('\n').length, names.length + 1, 'one line per record');
    assert.deepEqual(recordsOf(await collect(readMd5sum(chunks(out, 9)))), records);
  });

  it('writer skips records without the hash or a file name', async () => {
    const skipped: string[] = [];
    const out = await text(writeMd5sum([
      { signals: [{ type: 'sha1', value: SHA1 }], labels: {}, fileName: 'a.jpg' },
      { signals: [{ type: 'md5', value: MD5 }], labels: {} },
      { signals: [{ type: 'md5', value: MD5 }], labels: {}, fileName: 'b.jpg' },
    ], { onSkip: (_r, why) => skipped.push(why) }));
    assert.equal(out, `${MD5}  b.jpg\n`);
    assert.deepEqual(skipped.map((s) => s.slice(0, 10)), ['no md5 sig', 'no file na']);
    assert.throws(() => writeMd5sum([], { signalType: 'vpdq' }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  });
});
