import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prepareInput } from './_input.js';
import { firstInvalidUtf8, readLineBatches, type RawLine } from './_lines.js';
import { chunks, collect, concatBytes, endlessLine } from './_test-helpers.js';

async function lines(data: string | Uint8Array, size = 3, maxLineBytes = 1024, invalidUtf8: 'error' | 'latin1' = 'error'): Promise<RawLine[]> {
  const batches = await collect(readLineBatches(prepareInput(chunks(data, size), () => {}), { maxLineBytes, invalidUtf8 }));
  return batches.flat();
}

describe('readLineBatches', () => {
  it('splits LF and CRLF lines with 1-based numbers, whatever the chunking', async () => {
    for (const size of [1, 2, 3, 5, 64]) {
      assert.deepEqual(await lines('a\r\nbb\n\nccc', size), [
        { line: 1, text: 'a' },
        { line: 2, text: 'bb' },
        { line: 3, text: '' },
        { line: 4, text: 'ccc' },
      ]);
    }
  });

  it('strips a UTF-8 BOM split across chunks', async () => {
    const data = concatBytes([0xef, 0xbb, 0xbf], 'x\ny\n');
    for (const size of [1, 2, 4]) assert.deepEqual(await lines(data, size), [{ line: 1, text: 'x' }, { line: 2, text: 'y' }]);
  });

  it('transcodes UTF-16 LE and BE files (BOM) to text', async () => {
    const le = Buffer.from('\ufeffabc\r\n\u00e9t\u00e9\n', 'utf16le');
    assert.deepEqual(await lines(le, 3), [{ line: 1, text: 'abc' }, { line: 2, text: 'été' }]);
    const be = Buffer.from(le);
    be.swap16();
    assert.deepEqual(await lines(be, 5), [{ line: 1, text: 'abc' }, { line: 2, text: 'été' }]);
  });

  it('reports invalid UTF-8 per line and keeps reading', async () => {
    const data = concatBytes('ok\n', [0x61, 0xc3, 0x28], '\n\u00e9\n');
    const got = await lines(data, 2);
    assert.deepEqual(got[0], { line: 1, text: 'ok' });
    assert.equal(got[1].line, 2);
    assert.match(got[1].error ?? '', /not valid UTF-8 \(byte 2/);
    assert.deepEqual(got[2], { line: 3, text: 'é' });
  });

  it('reads invalid UTF-8 as Latin-1 when asked', async () => {
    const got = await lines(concatBytes([0x63, 0x61, 0x66, 0xe9], '\n'), 2, 1024, 'latin1');
    assert.deepEqual(got, [{ line: 1, text: 'café' }]);
  });

  it('reports a line over the limit once, skips it and goes on', async () => {
    const long = 'x'.repeat(50);
    const got = await lines(`short\n${long}\nafter\n${long}`, 7, 20);
    assert.deepEqual(got.map((l) => [l.line, l.text ?? 'ERR']), [[1, 'short'], [2, 'ERR'], [3, 'after'], [4, 'ERR']]);
    assert.match(got[1].error ?? '', /longer than 20 bytes/);
  });

  it('accepts a line of exactly the limit, with or without CR', async () => {
    const exact = 'y'.repeat(20);
    assert.deepEqual(await lines(`${exact}\r\n${exact}\n`, 4, 20), [{ line: 1, text: exact }, { line: 2, text: exact }]);
    const got = await lines(`${exact}z\n`, 4, 20);
    assert.ok(got[0].error);
  });

  it('streams 64 MiB without a newline in bounded memory: one error, every byte consumed', async () => {
    const total = 64 * 1024 * 1024;
    const { stream, stats } = endlessLine(total, 0x61, 1024 * 1024, 'first\n');
    const before = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const got: RawLine[] = [];
    for await (const batch of readLineBatches(prepareInput(stream, () => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }), { maxLineBytes: 1024 * 1024 })) got.push(...batch);
    assert.equal(got.length, 2);
    assert.deepEqual(got[0], { line: 1, text: 'first' });
    assert.equal(got[1].line, 2);
    assert.match(got[1].error ?? '', /longer than 1 MiB/);
    assert.equal(stats.yielded, total + 6);
    // The reader holds at most one line's worth (1 MiB) plus a chunk; far below the 64 MiB streamed.
    assert.ok(peak < 16 * 1024 * 1024, `arrayBuffers grew by ${peak} bytes`);
  });

  it('firstInvalidUtf8 finds overlongs, surrogates and truncated sequences', () => {
    assert.equal(firstInvalidUtf8(Uint8Array.from([0x61, 0xc0, 0x80])), 1);
    assert.equal(firstInvalidUtf8(Uint8Array.from([0xed, 0xa0, 0x80])), 0);
    assert.equal(firstInvalidUtf8(Uint8Array.from([0x61, 0x62, 0xe2, 0x82])), 2);
    assert.equal(firstInvalidUtf8(Uint8Array.from([0xf4, 0x90, 0x80, 0x80])), 0);
  });

  it('refuses UTF-32', async () => {
    await assert.rejects(lines(concatBytes([0xff, 0xfe, 0, 0], 'a')), { code: 'VIGIL_ERR_LIST_FORMAT' });
  });
});
