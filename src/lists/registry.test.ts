import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VigilError } from '../core/errors.js';
import { detectListFormat, getListFormat, LIST_FORMAT_NAMES, LIST_FORMATS, type ListFormatName } from './registry.js';
import { bytes, chunks, collect, hexGen, recordsOf, text } from './_test-helpers.js';
import type { ListRecord } from './types.js';

const hex = hexGen(8);

const sample: ListRecord[] = [
  { signals: [{ type: 'md5', value: hex(32) }, { type: 'sha256', value: hex(64) }], labels: { projectVicCategory: 1 }, fileName: 'landscape-001.jpg', fileSize: 10 },
  { signals: [{ type: 'md5', value: hex(32) }, { type: 'sha256', value: hex(64) }], labels: {}, fileName: 'landscape-002.jpg', fileSize: 20 },
];

describe('list format registry', () => {
  it('lists every format once, with import/export flags and bank kinds', () => {
    assert.deepEqual(LIST_FORMATS.map((f) => f.name), [...LIST_FORMAT_NAMES]);
    assert.deepEqual(LIST_FORMATS.filter((f) => f.canExport).map((f) => f.name), ['plain', 'md5sum', 'csv', 'tsv', 'vics', 'hashdeep', 'threatexchange', 'vigil-ndjson']);
    assert.deepEqual(LIST_FORMATS.filter((f) => f.bankKind === 'allow').map((f) => f.name), ['nsrl', 'nsrl-v3']);
    for (const f of LIST_FORMATS) {
      assert.equal(f.canImport, true);
      assert.equal(f.canExport, f.write !== undefined, f.name);
      assert.equal(f.input === 'file', f.name === 'nsrl-v3');
    }
  });

  it('getListFormat throws for unknown names', () => {
    assert.equal(getListFormat('vics').name, 'vics');
    assert.throws(() => getListFormat('excel'), (e: unknown) => e instanceof VigilError && e.code === 'VIGIL_ERR_INVALID_ARGUMENT');
  });

  it('every exporting format reads back what it writes, through the registry, and is detected from its output', async () => {
    for (const f of LIST_FORMATS) {
      if (f.input !== 'stream' || !f.write) continue;
      const options = f.name === 'plain' || f.name === 'md5sum' ? { signalType: 'md5' as const } : {};
      const out = await text(f.write(sample, options));
      const back = recordsOf(await collect(f.read(chunks(out, 64), options)));
      assert.equal(back.length, f.name === 'threatexchange' ? 4 : 2, f.name);
      for (const r of back) assert.ok(sample.some((s) => s.signals.some((x) => x.value === r.signals[0].value)), f.name);
      const detected = detectListFormat(bytes(out), 'export.bin');
      assert.equal(detected, f.name === 'tsv' ? 'tsv' : f.name, `detect ${f.name}`);
    }
  });

  it('detects formats from content, including the inputs of import-only formats', () => {
    const cases: [string | Uint8Array, ListFormatName | undefined][] = [
      [`${hex(32)}\n${hex(40)}\n`, 'plain'],
      [`# hashes\n${hex(64)}\n${hex(64)}`, 'plain'],
      [`${hex(32)}  a.jpg\n${hex(32)} *b.jpg\n`, 'md5sum'],
      [`MD5 (a.jpg) = ${hex(32)}\n`, 'md5sum'],
      // One bad line among checksum lines: still md5sum (the import reports the line); a bad line in bare hashes is not.
      [`${hex(32)}  a.jpg\n${hex(32)}  b.jpg\nnot a checksum line\n${hex(32)} *c.jpg\n`, 'md5sum'],
      [`${hex(32)}\n${hex(32)}\nnot a checksum line\n`, undefined],
      [`pdq ${hex(64)}\nvpdq ["${hex(64)},100,0.0"]\n`, 'threatexchange'],
      ['"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"\r\n', 'nsrl'],
      ['%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n', 'hashdeep'],
      ['{\r\n\t"odata.metadata":"http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Media","value":[', 'vics'],
      ['<?xml version="1.0"?>\n<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><images>', 'ncmec-xml'],
      ['MD5 Hash,Category,Notes\nabc,1,x\n', 'csv'],
      ['MD5;SHA1;PhotoDNA;Image ID\n', 'csv'],
      ['Hash\tType\n', 'tsv'],
      ['SQLite format 3\0' + '\0'.repeat(84), 'nsrl-v3'],
      [`{"path":"a.jpg","bytes":10,"md5":"${hex(32)}"}\n`, 'vigil-ndjson'],
      ['{"name":"not a hash list"}', undefined],
      ['<html><body>hello</body></html>', undefined],
      ['name,size\nx,1\n', undefined],
      ['', undefined],
      [Buffer.from(`\ufeffMD5,Series\n${hex(32)},s\n`, 'utf16le'), 'csv'],
    ];
    for (const [input, expected] of cases) {
      const b = typeof input === 'string' ? bytes(input) : input;
      assert.equal(detectListFormat(b), expected, JSON.stringify(typeof input === 'string' ? input.slice(0, 40) : 'bytes'));
    }
  });

  it('judges a sample cut mid-line by its complete lines, and falls back on the file name', () => {
    const full = `${hex(32)}  a.jpg\n${hex(32)}  b.jpg\n`;
    assert.equal(detectListFormat(bytes(full.slice(0, full.length - 12))), 'md5sum');
    assert.equal(detectListFormat(bytes(''), '/data/NSRLFile.txt'), 'nsrl');
    assert.equal(detectListFormat(bytes(''), 'export.JSON'), 'vics');
    assert.equal(detectListFormat(bytes(''), 'RDS_2026.09.1_modern_minimal.db'), 'nsrl-v3');
    assert.equal(detectListFormat(bytes(''), 'notes.txt'), undefined);
    assert.equal(detectListFormat(bytes(`${hex(32)}\n`), 'list.csv'), 'plain', 'content wins over the name');
  });
});

describe('every reader on hostile bytes', () => {
  // Deterministic garbage: random bytes, random printable noise, and structured junk.
  const noise = (seed: number, n: number, printable: boolean): Uint8Array => {
    let x = seed;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      out[i] = printable ? 0x20 + ((x >>> 16) % 95) : (x >>> 16) & 0xff;
      if (printable && (x & 0x3f) === 0) out[i] = 0x0a;
    }
    return out;
  };
  const inputs: Uint8Array[] = [
    noise(1, 20_000, false), noise(2, 20_000, true), bytes('{"value":[{"MD5":' + '['.repeat(5000)),
    bytes('<queryResult>' + '<image>'.repeat(40)), bytes('%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n' + '\u0000'.repeat(100)),
    bytes('"SHA-1","MD5","FileName","FileSize"\n"' + 'x'.repeat(3000)), new Uint8Array(0), bytes('\r\n\r\n'),
  ];

  it('yields items or throws VIGIL_ERR_LIST_FORMAT, never anything else', async () => {
    for (const f of LIST_FORMATS) {
      if (f.input !== 'stream') continue;
      for (const input of inputs) {
        try {
          for await (const item of f.read(chunks(input, 997), { maxLineBytes: 4096 })) {
            assert.ok(item.kind === 'record' || (item.kind === 'error' && item.code === 'VIGIL_ERR_LIST_ROW' && item.message.length > 0));
          }
        } catch (err) {
          assert.ok(err instanceof VigilError && err.code === 'VIGIL_ERR_LIST_FORMAT', `${f.name}: ${String(err)}`);
        }
      }
    }
  });
});
