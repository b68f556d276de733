import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readHashdeep, writeHashdeep } from './hashdeep.js';
import { chunks, collect, errorsOf, hexGen, recordsOf, text } from './_test-helpers.js';
import type { ListRecord } from './types.js';

const hex = hexGen(31);

describe('hashdeep', () => {
  it('reads the header, comments and rows; file names may contain commas', async () => {
    const md5 = hex(32);
    const sha256 = hex(64);
    const input = `%%%% HASHDEEP-1.0\r\n%%%% size,md5,sha256,filename\r\n## Invoked from: /home/user\r\n## $ hashdeep -r photos\r\n## \r\n1067,${md5},${sha256},photos/a, b, c.jpg\r\n`;
    assert.deepEqual(recordsOf(await collect(readHashdeep(chunks(input, 7)))), [
      { signals: [{ type: 'md5', value: md5 }, { type: 'sha256', value: sha256 }], labels: {}, fileSize: 1067, fileName: 'photos/a, b, c.jpg' },
    ]);
  });

  it('keeps hashes without a signal type (tiger, whirlpool) in metadata', async () => {
    const sha1 = hex(40);
    const tiger = hex(48);
    const input = `%%%% HASHDEEP-1.0\n%%%% size,sha1,tiger,filename\n5,${sha1},${tiger.toUpperCase()},x.bin\n`;
    assert.deepEqual(recordsOf(await collect(readHashdeep(chunks(input)))), [
      { signals: [{ type: 'sha1', value: sha1 }], labels: {}, fileSize: 5, fileName: 'x.bin', metadata: { hashes: { tiger } } },
    ]);
  });

  it('reports bad rows with line numbers and reads on; concatenated outputs restart the header', async () => {
    const input = [
      '%%%% HASHDEEP-1.0', '%%%% size,md5,filename',
      `12,${hex(32)},ok.jpg`, `x,${hex(32)},size.jpg`, `12,${hex(31)},short.jpg`, '12', '%%%% size,md5,filename',
      '%%%% HASHDEEP-1.0', '%%%% size,sha1,filename', `7,${hex(40)},second.jpg`,
    ].join('\n');
    const items = await collect(readHashdeep(chunks(input)));
    assert.deepEqual(recordsOf(items).map((r) => [r.signals[0].type, r.fileName]), [['md5', 'ok.jpg'], ['sha1', 'second.jpg']]);
    assert.deepEqual(errorsOf(items).map((e) => e.line), [4, 5, 6, 7]);
    assert.match(errorsOf(items)[0].message, /non-negative integer for size/);
    assert.match(errorsOf(items)[1].message, /^md5: Expected 32/);
    assert.match(errorsOf(items)[2].message, /Expected 3 comma-separated fields/);
  });

  it('refuses files without the magic or with a bad column line', async () => {
    const bad: [string, RegExp][] = [
      [`${hex(32)}  a.jpg\n`, /should be "%%%% HASHDEEP-1.0"/],
      ['%%%% HASHDEEP-1.0\n%%%% md5,filename\n', /column line/],
      ['%%%% HASHDEEP-1.0\n%%%% size,crc64,filename\n', /Unknown hashdeep algorithm "crc64"/],
      ['%%%% HASHDEEP-1.0\n', /ends before/],
      ['', /empty/],
    ];
    for (const [input, re] of bad) await assert.rejects(collect(readHashdeep(chunks(input))), { code: 'VIGIL_ERR_LIST_FORMAT', message: re }, input);
  });

  it('round-trips (default md5,sha256 manifest and sha1)', async () => {
    const records: ListRecord[] = Array.from({ length: 50 }, (_, i) => ({
      signals: [{ type: 'md5', value: hex(32) }, { type: 'sha1', value: hex(40) }, { type: 'sha256', value: hex(64) }],
      labels: {}, fileSize: i * 1000, fileName: `evidence/item ${i}, copy.jpg`,
    }));
    const out = await text(writeHashdeep(records));
    assert.ok(out.startsWith('%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n'));
    const back = recordsOf(await collect(readHashdeep(chunks(out, 333))));
    assert.deepEqual(back, records.map((r) => ({ ...r, signals: r.signals.filter((s) => s.type !== 'sha1') })));
    const sha1Only = recordsOf(await collect(readHashdeep(chunks(await text(writeHashdeep(records, { algorithms: ['sha1'] }))))));
    assert.deepEqual(sha1Only.map((r) => r.signals), records.map((r) => r.signals.filter((s) => s.type === 'sha1')));
  });

  it('writer skips records it cannot represent, saying why', async () => {
    const skipped: string[] = [];
    const base = { signals: [{ type: 'md5' as const, value: hex(32) }, { type: 'sha256' as const, value: hex(64) }], labels: {} };
    const out = await text(writeHashdeep([
      { ...base, fileName: 'a.jpg' },
      { ...base, fileSize: 1 },
      { ...base, fileSize: 1, fileName: 'two\nlines.jpg' },
      { signals: [base.signals[0]], labels: {}, fileSize: 1, fileName: 'b.jpg' },
      { ...base, fileSize: 3, fileName: 'ok.jpg' },
    ], { onSkip: (_r, why) => skipped.push(why) }));
    assert.equal(out.trim().split('\n').length, 5, 'four header lines and one row');
    assert.deepEqual(skipped.map((s) => s.split(' ').slice(0, 3).join(' ')), ['no file size', 'no file name', 'the file name', 'no sha256 signal']);
    assert.throws(() => writeHashdeep([], { algorithms: ['tiger' as never] }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  });
});
