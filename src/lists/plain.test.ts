import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readPlain, writePlain } from './plain.js';
import { chunks, collect, concatBytes, endlessLine, errorsOf, hexGen, recordsOf, text } from './_test-helpers.js';
import type { ListProgress, ListRecord } from './types.js';

const hex = hexGen(11);
const MD5 = hex(32);
const SHA1 = hex(40);
const H64 = hex(64);

describe('plain lists', () => {
  it('infers md5 and sha1 from the length, lower-cases, skips blanks and comments', async () => {
    const items = await collect(readPlain(chunks(`# list\n${MD5.toUpperCase()}\n\n  ${SHA1}  \r\n`)));
    assert.deepEqual(items, [
      { kind: 'record', line: 2, record: { signals: [{ type: 'md5', value: MD5 }], labels: {} } },
      { kind: 'record', line: 4, record: { signals: [{ type: 'sha1', value: SHA1 }], labels: {} } },
    ]);
  });

  it('stops at 64 hex digits without signalType (sha256 or pdq?) and reads them with it', async () => {
    await assert.rejects(collect(readPlain(chunks(`${MD5}\n${H64}\n`))), { code: 'VIGIL_ERR_LIST_FORMAT', message: /Line 2 .*sha256 or pdq/ });
    for (const type of ['sha256', 'pdq'] as const) {
      const recs = recordsOf(await collect(readPlain(chunks(`${H64}\n`), { signalType: type })));
      assert.deepEqual(recs, [{ signals: [{ type, value: H64 }], labels: {} }]);
    }
  });

  it('reports malformed hex, wrong lengths and extra fields per line and imports the rest', async () => {
    const items = await collect(readPlain(chunks(`${MD5}\n${MD5.slice(0, 31)}g\n${MD5.slice(1)}\n${MD5} landscape-001.jpg\n${SHA1}\n`)));
    assert.deepEqual(recordsOf(items).map((r) => r.signals[0].value), [MD5, SHA1]);
    const errors = errorsOf(items);
    assert.deepEqual(errors.map((e) => e.line), [2, 3, 4]);
    assert.match(errors[0].message, /32 \(md5\) or 40 \(sha1\)|hexadecimal/);
    assert.match(errors[1].message, /received 31 characters/);
    assert.match(errors[2].message, /one hash per line/);
    assert.ok(items.every((i) => i.kind === 'record' || i.code === 'VIGIL_ERR_LIST_ROW'));
  });

  it('with signalType, every line must be of that type', async () => {
    const items = await collect(readPlain(chunks(`${SHA1}\n${MD5}\n`), { signalType: 'sha1' }));
    assert.equal(recordsOf(items).length, 1);
    assert.match(errorsOf(items)[0].message, /40 hexadecimal digits for sha1/);
  });

  it('reads photodna and vpdq lines when told', async () => {
    const pdna = 'QUJD'.repeat(48);
    assert.deepEqual(recordsOf(await collect(readPlain(chunks(`${pdna}\n`), { signalType: 'photodna' }))), [{ signals: [{ type: 'photodna', value: pdna }], labels: {} }]);
    const v = `["${H64},100,0.0", "${H64},90,1.0"]`;
    assert.deepEqual(recordsOf(await collect(readPlain(chunks(`${v}\n`), { signalType: 'vpdq' }))), [{ signals: [{ type: 'vpdq', value: v }], labels: {} }]);
  });

  it('handles a BOM, CRLF, a missing final newline and invalid UTF-8', async () => {
    const data = concatBytes([0xef, 0xbb, 0xbf], `${MD5}\r\n`, [0xff, 0xfe, 0x41], '\r\n', SHA1);
    const items = await collect(readPlain(chunks(data, 3)));
    assert.deepEqual(recordsOf(items).map((r) => r.signals[0].value), [MD5, SHA1]);
    assert.deepEqual(errorsOf(items).map((e) => e.line), [2]);
    assert.match(errorsOf(items)[0].message, /UTF-8/);
  });

  it('a 64 MiB line without a newline is one bounded error; lines after it are read', async () => {
    const { stream, stats } = endlessLine(64 * 1024 * 1024, 0x61, 1024 * 1024, `${MD5}\n`);
    async function* withTail(): AsyncGenerator<Uint8Array> {
      yield* stream;
      yield new TextEncoder().encode(`\n${SHA1}\n`);
    }
    let peak = 0;
    const base = process.memoryUsage().arrayBuffers;
    const items = await collect(readPlain(withTail(), { onProgress: () => { peak = Math.max(peak, process.memoryUsage().arrayBuffers - base); } }));
    assert.equal(stats.yielded, 64 * 1024 * 1024 + 33);
    assert.deepEqual(items.map((i) => [i.kind, i.line]), [['record', 1], ['error', 2], ['record', 3]]);
    assert.match(errorsOf(items)[0].message, /longer than 1 MiB/);
    assert.ok(peak < 16 * 1024 * 1024, `arrayBuffers grew by ${peak}`);
  });

  it('reports progress with bytes, rows, records and errors', async () => {
    const seen: ListProgress[] = [];
    await collect(readPlain(chunks(`${MD5}\nbad\n# c\n`, 8), { onProgress: (p) => seen.push(p) }));
    const last = seen[seen.length - 1];
    assert.deepEqual(last, { bytesRead: 41, rowsRead: 3, records: 1, errors: 1 });
    assert.ok(seen.length > 2);
  });

  it('stops with VIGIL_ERR_LIST_FORMAT past maxErrors', async () => {
    await assert.rejects(collect(readPlain(chunks('x\ny\nz\n'), { maxErrors: 2 })), { code: 'VIGIL_ERR_LIST_FORMAT', message: /More than 2 invalid rows/ });
  });

  it('validates options eagerly', () => {
    assert.throws(() => readPlain(chunks(''), { maxLineBytes: 0 }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => readPlain(chunks(''), { signalType: 'crc32' as never }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
    assert.throws(() => readPlain(chunks(''), { maxErrors: -1 }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  });

  it('round-trips: write then read gives the same signals', async () => {
    const records: ListRecord[] = Array.from({ length: 500 }, (_, i) => ({ signals: [{ type: i % 2 ? 'md5' : 'sha1', value: i % 2 ? hex(32) : hex(40) }], labels: {} }));
    const back = recordsOf(await collect(readPlain(chunks(await text(writePlain(records)), 4096))));
    assert.deepEqual(back, records);
    const sha256: ListRecord[] = [{ signals: [{ type: 'sha256', value: H64 }, { type: 'md5', value: MD5 }], labels: { series: 's' } }];
    const out = await text(writePlain(sha256, { signalType: 'sha256' }));
    assert.equal(out, `${H64}\n`);
    assert.deepEqual(recordsOf(await collect(readPlain(chunks(out), { signalType: 'sha256' }))), [{ signals: [{ type: 'sha256', value: H64 }], labels: {} }]);
  });

  it('writer skips what a plain list cannot carry, saying why', async () => {
    const skipped: string[] = [];
    const out = await text(writePlain([
      { signals: [{ type: 'pdq', value: H64 }], labels: {} },
      { signals: [{ type: 'md5', value: MD5 }], labels: {}, deleted: true },
      { signals: [{ type: 'md5', value: 'NOT-HEX\nINJECTED' }], labels: {} },
      { signals: [{ type: 'md5', value: MD5 }], labels: {} },
    ], { onSkip: (_r, why) => skipped.push(why) }));
    assert.equal(out, `${MD5}\n`);
    assert.equal(skipped.length, 3);
    assert.match(skipped[0], /pass signalType/);
    assert.match(skipped[1], /deleted/);
    assert.match(skipped[2], /canonical/);
  });
});
