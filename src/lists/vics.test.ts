import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readVics, VICS_MARKERS, writeVics, type VicsVersion } from './vics.js';
import { bytes, chunks, collect, concatBytes, errorsOf, hexGen, recordsOf, text } from './_test-helpers.js';
import type { ListItem, ListRecord } from './types.js';

const hex = hexGen(99);
const MD5 = hex(32);
const MD5B = hex(32);
const SHA1 = hex(40);
const SHA256 = hex(64);
const PDNA = 'QUJD'.repeat(48);

function doc(version: VicsVersion, value: unknown[]): string {
  const m = VICS_MARKERS[version];
  return JSON.stringify({ [m.key]: m.value, value }, null, 2);
}

/** Reads everything a reader yields before it throws, and the error. */
async function collectUntilError(gen: AsyncIterable<ListItem>): Promise<{ items: ListItem[]; error: unknown }> {
  const items: ListItem[] = [];
  try {
    for await (const i of gen) items.push(i);
  } catch (error) {
    return { items, error };
  }
  return { items, error: undefined };
}

async function* join(...parts: (Uint8Array | AsyncIterable<Uint8Array>)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) {
    if (p instanceof Uint8Array) yield p;
    else yield* p;
  }
}

/** `count` copies of `unit`, generated lazily in 1 MiB chunks. */
async function* repeated(unit: string, count: number): AsyncGenerator<Uint8Array> {
  const per = Math.max(1, Math.floor((1024 * 1024) / unit.length));
  const block = bytes(unit.repeat(per));
  let left = count;
  while (left >= per) {
    yield block;
    left -= per;
  }
  if (left > 0) yield bytes(unit.repeat(left));
}

describe('VICS JSON', () => {
  it('reads a 1.3 file: hashes, category, series, tags, size, string booleans, MediaID as sourceId', async () => {
    const input = doc('1.3', [{
      MediaID: 1, Category: 1, MD5: MD5.toUpperCase(), SHA1: SHA1.toUpperCase(), PhotoDNA: PDNA, MediaSize: 2835,
      VictimIdentified: 'true', OffenderIdentified: 'FALSE', IsDistributed: true, IsPrecategorized: 'false',
      Series: 'series-7', Tags: 'outdoor, beach;outdoor', DateUpdated: '2023-06-07T02:31:49.8300Z', MimeType: 'image/jpeg',
      MediaFiles: [{ MD5: MD5.toUpperCase(), FileName: 'landscape-001.jpg', FilePath: 'C:/x' }], Exifs: [{ PropertyName: 'Make', PropertyValue: 'Cam' }],
    }]);
    const items = await collect(readVics(chunks(input, 17)));
    assert.deepEqual(items, [{
      kind: 'record', line: 4, record: {
        signals: [{ type: 'md5', value: MD5 }, { type: 'sha1', value: SHA1 }, { type: 'photodna', value: PDNA }],
        labels: { projectVicCategory: 1, series: 'series-7', tags: ['outdoor', 'beach'] },
        sourceId: '1', fileSize: 2835, fileName: 'landscape-001.jpg',
        metadata: { vicsVersion: '1.3', victimIdentified: true, offenderIdentified: false, isDistributed: true, isPrecategorized: false, dateUpdated: '2023-06-07T02:31:49.8300Z', mimeType: 'image/jpeg' },
      },
    }]);
  });

  it('reads 1.2 (CAID) and 2.0 markers, case-insensitive names, Series objects and nested HashName/HashValue', async () => {
    const v12 = await collect(readVics(chunks(doc('1.2', [{ md5: MD5, MediaSize: '12', FileName: 'caid-1.jpg' }]))));
    assert.deepEqual(recordsOf(v12), [{ signals: [{ type: 'md5', value: MD5 }], labels: {}, fileSize: 12, fileName: 'caid-1.jpg', metadata: { vicsVersion: '1.2' } }]);
    const v20 = await collect(readVics(chunks(doc('2.0', [{
      MediaID: 'm-9', MD5, Series: { Name: 'series-b' }, Tags: ['a', 'b'],
      AlternativeHashes: [{ HashName: 'PhotoDNA', HashValue: PDNA }, { HashName: 'SHA256', HashValue: SHA256.toUpperCase() }, { HashName: 'Tiger', HashValue: 'ABC' }],
    }]))));
    assert.deepEqual(recordsOf(v20), [{
      signals: [{ type: 'md5', value: MD5 }, { type: 'photodna', value: PDNA }, { type: 'sha256', value: SHA256 }],
      labels: { series: 'series-b', tags: ['a', 'b'] }, sourceId: 'm-9', metadata: { vicsVersion: '2.0', otherHashes: { Tiger: 'ABC' } },
    }]);
  });

  it('reads case exports (#Cases: value[].Media[])', async () => {
    const input = JSON.stringify({
      '@odata.context': 'http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Cases',
      value: [{ CaseID: '{0000}', CaseNumber: 'case-1', Media: [{ MediaID: 1, MD5 }, { MediaID: 2, MD5: MD5B, Category: 2 }], SourceApplicationName: 'tool' }],
    });
    const recs = recordsOf(await collect(readVics(chunks(input, 5))));
    assert.deepEqual(recs.map((r) => [r.sourceId, r.signals[0].value, r.labels.projectVicCategory]), [['1', MD5, undefined], ['2', MD5B, 2]]);
  });

  it('reports bad records by line and index and keeps reading', async () => {
    const input = doc('2.0', [
      { MediaID: 1, MD5: 'zz' },
      7,
      { MediaID: 3, MD5, VictimIdentified: 'maybe' },
      { MediaID: 4, Category: 'x', MD5 },
      { MediaID: 5, Comments: 'no hash' },
      [1, 2],
      { MediaID: 7, MD5: MD5B },
    ]);
    const items = await collect(readVics(chunks(input)));
    assert.deepEqual(recordsOf(items).map((r) => r.sourceId), ['7']);
    const errors = errorsOf(items);
    assert.deepEqual(errors.map((e) => e.message.slice(0, 9)), ['Record 1:', 'Record 2:', 'Record 3:', 'Record 4:', 'Record 5:', 'Record 6:']);
    assert.match(errors[0].message, /MD5: Expected 32 hexadecimal digits/);
    assert.match(errors[1].message, /expected a Media object but found 7/);
    assert.match(errors[2].message, /true or false for VictimIdentified but received "maybe"/);
    assert.match(errors[3].message, /integer 0\.\.99 for Category/);
    assert.match(errors[4].message, /no MD5, SHA1/);
    assert.match(errors[5].message, /found an array/);
    assert.equal(errors[0].line, 4);
  });

  it('maps Category to UK letters for CAID exports when asked', async () => {
    const input = doc('1.2', [{ MD5, Category: 2 }, { MD5: MD5B, Category: 9 }]);
    const recs = recordsOf(await collect(readVics(chunks(input), { categoryScheme: 'uk' })));
    assert.deepEqual(recs.map((r) => [r.labels, r.metadata?.category]), [[{ ukCategory: 'B' }, 2], [{}, 9]]);
  });

  it('a nesting bomb inside a record is one row error, skipped by counting (1M levels)', async () => {
    const head = bytes(`{"@odata.context":"${VICS_MARKERS['2.0'].value}","value":[{"MD5":"${MD5}","Bomb":`);
    const tail = bytes(`},{"MD5":"${MD5B}"}]}`);
    const items = await collect(readVics(join(head, repeated('[', 1_000_000), repeated(']', 1_000_000), tail)));
    assert.deepEqual(recordsOf(items).map((r) => r.signals[0].value), [MD5B]);
    assert.match(errorsOf(items)[0].message, /Record 1: nested deeper than 16 levels; skipped/);
  });

  it('a nesting bomb outside the records is skipped without a stack', async () => {
    const head = bytes(`{"junk":`);
    const tail = bytes(`,"value":[{"MD5":"${MD5}"}]}`);
    const items = await collect(readVics(join(head, repeated('{"a":[', 300_000), repeated(']}', 300_000), tail)));
    assert.deepEqual(recordsOf(items).map((r) => r.signals[0].value), [MD5]);
  });

  it('a 64 MiB string is one bounded row error; the next record is read', async () => {
    const head = bytes(`{"value":[{"MD5":"${MD5}","Comments":"`);
    const tail = bytes(`"},{"MD5":"${MD5B}"}]}`);
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const items = await collect(readVics(join(head, repeated('x'.repeat(1024), 64 * 1024), tail), {
      onProgress: () => { peak = Math.max(peak, process.memoryUsage().arrayBuffers - base); },
    }));
    assert.deepEqual(recordsOf(items).map((r) => r.signals[0].value), [MD5B]);
    assert.match(errorsOf(items)[0].message, /Record 1: .*(longer|larger) than 1 MiB|Record 1: string longer than 1048576 bytes/);
    assert.ok(peak < 24 * 1024 * 1024, `arrayBuffers grew by ${peak}`);
  });

  it('a record over maxLineBytes (e.g. a million keys) is one row error', async () => {
    const big = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i]));
    const items = await collect(readVics(chunks(doc('2.0', [{ MD5, ...big }, { MD5: MD5B }]), 4096), { maxLineBytes: 16 * 1024 }));
    assert.deepEqual(recordsOf(items).map((r) => r.signals[0].value), [MD5B]);
    assert.match(errorsOf(items)[0].message, /Record 1: larger than 16 KiB; skipped/);
  });

  it('invalid UTF-8 inside a string spoils that record only', async () => {
    const input = concatBytes(`{"value":[{"MD5":"${MD5}","Series":"caf`, [0xe9], `"},{"MD5":"${MD5B}","Series":"caf\u00e9"}]}`);
    const items = await collect(readVics(chunks(input, 3)));
    assert.deepEqual(recordsOf(items).map((r) => r.labels.series), ['café']);
    assert.match(errorsOf(items)[0].message, /Record 1: string is not valid UTF-8/);
  });

  it('refuses files that are not VICS, and stops on broken JSON after what came before', async () => {
    const notVics: [string, RegExp][] = [
      ['[1,2]', /not an object/],
      ['{"odata.metadata":"http://example.test/Other.xml#Thing","value":[]}', /unknown data model/],
      ['{"something":[]}', /no "value" array/],
      ['{"value":{}}', /"value" is not an array/],
      ['{"value":3}', /"value" is not an array/],
      ['', /empty/],
      ['   \n ', /empty/],
    ];
    for (const [input, re] of notVics) await assert.rejects(collect(readVics(chunks(input))), { code: 'VIGIL_ERR_LIST_FORMAT', message: re }, input);
    const broken: [string, RegExp][] = [
      [`{"value":[{"MD5":"${MD5}"},{"MD5":"${MD5B}"`, /ends before the document/],
      [`{"value":[{"MD5":"${MD5}"},{"MD5":"${MD5B}"}]}}`, /after the end/],
      [`{"value":[{"MD5":"${MD5}"},{"MD5" "${MD5B}"}]}`, /Expected ":"/],
      [`{"value":[{"MD5":"${MD5}"},{"MD5":tru}]}`, /Invalid literal/],
      [`{"value":[{"MD5":"${MD5}"},{"MD5":0x1F}]}`, /Invalid number|Unexpected/],
      [`{"value":[{"MD5":"${MD5}"},]}`, /Unexpected "]"/],
      [`{"value":[{"MD5":"${MD5}"},{"n":${'9'.repeat(100)}}]}`, /Number longer than 64/],
    ];
    for (const [input, re] of broken) {
      const { items, error } = await collectUntilError(readVics(chunks(input, 6)));
      assert.equal((error as { code?: string }).code, 'VIGIL_ERR_LIST_FORMAT', input);
      assert.match((error as Error).message, re, input);
      // Whole records that came before the break were yielded (the store's transaction discards them on the throw).
      assert.ok(items.length <= 2 && items.every((i) => i.kind === 'record'), input);
    }
  });

  it('reads UTF-16 files with a BOM and gives the same items whatever the chunking', async () => {
    const input = doc('2.0', Array.from({ length: 40 }, (_, i) => ({ MediaID: i + 1, MD5: hex(32), Series: `s\u00e9rie-${i}`, IsSuspected: i % 2 === 0 })));
    const a = await collect(readVics(chunks(input, 1)));
    const b = await collect(readVics(chunks(input, 4096)));
    const c = await collect(readVics(chunks(Buffer.from('\ufeff' + input, 'utf16le'), 7)));
    assert.equal(a.length, 40);
    assert.deepEqual(a, b);
    assert.deepEqual(c, a);
  });

  it('round-trips through the writer for 1.2, 1.3 and 2.0', async () => {
    const records: ListRecord[] = [
      { signals: [{ type: 'md5', value: MD5 }, { type: 'sha1', value: SHA1 }, { type: 'photodna', value: PDNA }, { type: 'sha256', value: SHA256 }, { type: 'pdq', value: hex(64) }], labels: { projectVicCategory: 2, series: 's, 1', tags: ['t1', 't2'] }, fileName: 'landscape-001.jpg', fileSize: 99, metadata: { victimIdentified: true, comments: 'c' } },
      { signals: [{ type: 'md5', value: MD5B }], labels: { projectVicCategory: 0 } },
    ];
    for (const version of ['1.2', '1.3', '2.0'] as const) {
      const out = await text(writeVics(records, { version }));
      assert.ok(out.includes(VICS_MARKERS[version].value));
      assert.ok(out.includes(MD5.toUpperCase()), 'upper-case hex as real files have it');
      const back = recordsOf(await collect(readVics(chunks(out, 100))));
      const expected = records.map((r, i) => ({ ...r, sourceId: String(i + 1), metadata: { vicsVersion: version, ...r.metadata } }));
      assert.deepEqual(back, expected);
    }
  });

  it('writer skips records without MD5 and writes valid JSON for none', async () => {
    const skipped: string[] = [];
    const out = await text(writeVics([{ signals: [{ type: 'sha1', value: SHA1 }], labels: {} }], { onSkip: (_r, why) => skipped.push(why) }));
    assert.deepEqual(JSON.parse(out), { '@odata.context': VICS_MARKERS['2.0'].value, value: [] });
    assert.match(skipped[0], /MD5 is mandatory/);
    assert.throws(() => writeVics([], { version: '3.0' as never }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  });
});
