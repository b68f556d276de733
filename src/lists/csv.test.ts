import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCsv, readTsv, writeCsv, writeTsv } from './csv.js';
import { chunks, collect, concatBytes, errorsOf, hexGen, recordsOf, text } from './_test-helpers.js';
import type { ListRecord } from './types.js';

const hex = hexGen(5);
const MD5 = hex(32);
const SHA1 = hex(40);
const H64 = hex(64);

describe('CSV / TSV', () => {
  it('recognises common header names (case, spaces and punctuation ignored)', async () => {
    const input = `"MD5 Hash",SHA-1,Category,Series Name,Tags,File Name,Size,ID\n${MD5.toUpperCase()},${SHA1},1,series-a,"x; y",landscape-001.jpg,2048,rec-7\n`;
    assert.deepEqual(recordsOf(await collect(readCsv(chunks(input)))), [{
      signals: [{ type: 'md5', value: MD5 }, { type: 'sha1', value: SHA1 }],
      labels: { projectVicCategory: 1, series: 'series-a', tags: ['x', 'y'] },
      fileName: 'landscape-001.jpg', fileSize: 2048, sourceId: 'rec-7',
    }]);
  });

  it('uses an explicit mapping ({ md5: "MD5 Hash", category: "Cat" })', async () => {
    const input = `MD5 Hash,Cat,Note\n${MD5},B,hello\n${hex(32)},A2,\n${hex(32)},3,\n`;
    const recs = recordsOf(await collect(readCsv(chunks(input), { columns: { md5: 'MD5 Hash', category: 'Cat' }, keepExtraColumns: true })));
    assert.deepEqual(recs.map((r) => r.labels), [{ ukCategory: 'B' }, { industryCategory: 'A2' }, { projectVicCategory: 3 }]);
    assert.deepEqual(recs[0].metadata, { columns: { Note: 'hello' } });
    assert.equal(recs[1].metadata, undefined);
  });

  it('reads a hash column typed by a type column (ThreatExchange / HMA names too)', async () => {
    const input = `signal_type,signal,uk_category,industry_category,deleted\npdq,${H64},Category A,,\nHASH_SHA256,${H64},,b1,false\nvideo_md5,${MD5},,,TRUE\nurl,http://example.test/,,,\n`;
    const items = await collect(readCsv(chunks(input)));
    assert.deepEqual(recordsOf(items), [
      { signals: [{ type: 'pdq', value: H64 }], labels: { ukCategory: 'A' } },
      { signals: [{ type: 'sha256', value: H64 }], labels: { industryCategory: 'B1' } },
      { signals: [{ type: 'md5', value: MD5 }], labels: {}, deleted: true },
    ]);
    assert.deepEqual(errorsOf(items).map((e) => e.line), [5]);
    assert.match(errorsOf(items)[0].message, /Unsupported signal type "url"/);
  });

  it('a hash column without a type: inferred by length, 64 digits need signalType', async () => {
    await assert.rejects(collect(readCsv(chunks(`hash\n${H64}\n`))), { code: 'VIGIL_ERR_LIST_FORMAT', message: /sha256 or pdq/ });
    assert.deepEqual(recordsOf(await collect(readCsv(chunks(`hash\n${H64}\n${MD5}\n`), { signalType: 'pdq' }))).map((r) => r.signals[0].type), ['pdq']);
    assert.deepEqual(recordsOf(await collect(readCsv(chunks(`hash\n${SHA1}\n${MD5}\n`)))).map((r) => r.signals[0].type), ['sha1', 'md5']);
  });

  it('rejects a row whole when any cell is invalid; reports the column', async () => {
    const input = `md5,sha1,uk_category,size\n${MD5},${SHA1.slice(1)},A,1\n${MD5},${SHA1},D,1\n${MD5},${SHA1},A,-4\n${MD5},,C,\n,,,\n`;
    const items = await collect(readCsv(chunks(input)));
    assert.deepEqual(recordsOf(items), [{ signals: [{ type: 'md5', value: MD5 }], labels: { ukCategory: 'C' } }]);
    const errors = errorsOf(items);
    assert.deepEqual(errors.map((e) => e.line), [2, 3, 4, 6]);
    assert.match(errors[0].message, /^"sha1": Expected 40 hexadecimal digits/);
    assert.match(errors[1].message, /A, B or C for "uk_category" but received "D"/);
    assert.match(errors[2].message, /non-negative integer for "size"/);
    assert.match(errors[3].message, /No hash in this row/);
  });

  it('handles RFC 4180 quoting, quoted line breaks, field-count errors and an unclosed quote', async () => {
    const input = `md5,file_name\r\n${MD5},"say ""cheese"", then\r\nsmile.jpg"\r\n${MD5},a,b\r\n${MD5},"x"y\r\n${MD5},"never closed\r\n`;
    const items = await collect(readCsv(chunks(input, 4)));
    assert.deepEqual(recordsOf(items), [{ signals: [{ type: 'md5', value: MD5 }], labels: {}, fileName: 'say "cheese", then\nsmile.jpg' }]);
    assert.deepEqual(errorsOf(items), [
      { line: 4, message: 'Expected 2 fields but found 3' },
      { line: 5, message: 'Unexpected character after a closing quote in field 2' },
      { line: 6, message: 'Quoted field opened at line 6 is never closed' },
    ]);
  });

  it('an unclosed quote cannot swallow more than maxLineBytes', async () => {
    const rows = Array.from({ length: 200 }, () => `${hex(32)},ok.jpg`).join('\n');
    const items = await collect(readCsv(chunks(`md5,file_name\n${MD5},"oops\n${rows}\n`, 64), { maxLineBytes: 1000 }));
    const errors = errorsOf(items);
    assert.equal(errors[0].line, 2);
    assert.match(errors[0].message, /not closed within 1000 characters/);
    assert.ok(recordsOf(items).length > 150, 'rows after the runaway record are imported');
  });

  it('refuses a file without a hash column, or a mapping to a missing column', async () => {
    await assert.rejects(collect(readCsv(chunks('name,size\na,1\n'))), { code: 'VIGIL_ERR_LIST_FORMAT', message: /No hash column/ });
    await assert.rejects(collect(readCsv(chunks('md5\nx\n'), { columns: { sha1: 'SHA1 Hash' } })), { code: 'VIGIL_ERR_LIST_FORMAT', message: /"SHA1 Hash".*not in the header/ });
    assert.throws(() => readCsv(chunks(''), { columns: { nope: 'x' } as never }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => readCsv(chunks(''), { delimiter: '"' }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  });

  it('reads headerless files by column index', async () => {
    const recs = recordsOf(await collect(readCsv(chunks(`${MD5},landscape-001.jpg\n`), { header: false, columns: { md5: 0, fileName: 1 } })));
    assert.deepEqual(recs, [{ signals: [{ type: 'md5', value: MD5 }], labels: {}, fileName: 'landscape-001.jpg' }]);
    assert.throws(() => readCsv(chunks(''), { header: false, columns: { md5: 'MD5' } }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  });

  it('sniffs ";" (ICSE-style exports) and reads TSV; BOM and invalid UTF-8 rows', async () => {
    const icse = `MD5;SHA1;PhotoDNA;Image ID;Series name\n${MD5};${SHA1};;img-1;s1\n`;
    assert.deepEqual(recordsOf(await collect(readCsv(chunks(icse)))), [{ signals: [{ type: 'md5', value: MD5 }, { type: 'sha1', value: SHA1 }], labels: { series: 's1' }, sourceId: 'img-1' }]);
    const tsv = concatBytes([0xef, 0xbb, 0xbf], `sha256\tname\n${H64}\ta,b.jpg\n`, [0xc3], `\t\n`);
    const items = await collect(readTsv(chunks(tsv, 3)));
    assert.deepEqual(recordsOf(items), [{ signals: [{ type: 'sha256', value: H64 }], labels: {}, fileName: 'a,b.jpg' }]);
    assert.match(errorsOf(items)[0].message, /UTF-8/);
  });

  const sample: ListRecord[] = [
    { signals: [{ type: 'md5', value: MD5 }, { type: 'sha1', value: SHA1 }], labels: { projectVicCategory: 1, series: 'series, "quoted"', tags: ['t1', 't 2'] }, fileName: 'landscape-001.jpg', fileSize: 1234, sourceId: 'id-1' },
    { signals: [{ type: 'pdq', value: H64 }, { type: 'photodna', value: 'QUJD'.repeat(48) }], labels: { ukCategory: 'B', industryCategory: 'A1' }, fileName: 'line\nbreak\t.png' },
    { signals: [{ type: 'vpdq', value: `["${H64},100,0.0", "${H64},50,1.5"]` }], labels: {}, deleted: true, sourceId: '42-x' },
  ];

  it('round-trips CSV and TSV (every field the format carries)', async () => {
    for (const [write, read] of [[writeCsv, readCsv], [writeTsv, readTsv]] as const) {
      const out = await text(write(sample));
      assert.deepEqual(recordsOf(await collect(read(chunks(out, 11)))), sample);
    }
  });

  it('writer: chosen columns, formula guard, skip reasons', async () => {
    const skipped: string[] = [];
    const out = await text(writeCsv([
      { signals: [{ type: 'md5', value: MD5 }], labels: {}, fileName: '=HYPERLINK("x")' },
      { signals: [{ type: 'sha1', value: SHA1 }], labels: {} },
    ], { columns: ['md5', 'fileName'], guardFormulas: true, onSkip: (_r, why) => skipped.push(why) }));
    assert.equal(out, `md5,file_name\n${MD5},"'=HYPERLINK(""x"")"\n`);
    assert.match(skipped[0], /no signal of a written column type \(md5\)/);
    assert.throws(() => writeCsv([], { columns: ['hash'] }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  });
});
