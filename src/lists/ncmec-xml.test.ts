import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readNcmecXml } from './ncmec-xml.js';
import { bytes, chunks, collect, concatBytes, errorsOf, hexGen, recordsOf } from './_test-helpers.js';
import type { ListItem } from './types.js';
import { tempDir } from '../../test/helpers/temp.js';

const hex = hexGen(41);

// Shaped like python-threatexchange's documented samples (exchanges/clients/ncmec/tests/data.py), synthetic values.
const MD5 = hex(32);
const SHA1 = hex(40);
const PDNA = 'QUJD'.repeat(48);
const VMD5 = hex(32);
const ENTRIES = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
    <images count="2" maxTimestamp="2017-10-24T15:10:00Z">
        <image>
            <member id="42">Example Member</member>
            <timestamp>2017-10-24T15:00:00Z</timestamp>
            <id>image1</id>
            <classification>A1</classification>
            <fingerprints>
                <md5>${MD5}</md5>
                <sha1>${SHA1.toUpperCase()}</sha1>
                <pdna>${PDNA}</pdna>
            </fingerprints>
            <feedback lastUpdateTimestamp="2023-06-01T12:48:14Z">
                <affirmativeFeedback type="Md5" lastUpdateTimestamp="2023-06-01T12:48:14Z">
                <members timestamp="2023-06-01T12:48:14Z"><member id="7">Other Member</member></members>
                </affirmativeFeedback>
            </feedback>
        </image>
        <deletedImage>
            <member id="43">Example Member2</member>
            <id>image4</id>
            <timestamp>2017-10-24T15:10:00Z</timestamp>
        </deletedImage>
    </images>
    <videos count="2" maxTimestamp="2017-10-24T15:20:00Z">
        <video>
            <member id="101">TX Example</member>
            <timestamp>2019-11-24T15:10:00Z</timestamp>
            <id>largetags</id>
            <classification>A2</classification>
            <fingerprints>
                <md5>${VMD5}</md5>
                <tmk-pdqf rel="self" href="/v2/entries/1/fingerprints/TMK_PDQF"/>
                <netclean>opaque-value</netclean>
            </fingerprints>
        </video>
        <deletedVideo>
            <member id="42">Example Member</member>
            <id>video4</id>
            <timestamp>2017-10-24T15:20:00Z</timestamp>
        </deletedVideo>
    </videos>
    <paging>
        <next>/v2/entries?from=2017-10-20T00%3A00%3A00.000Z&amp;to=2017-10-30T00%3A00%3A00.000Z&amp;start=2001&amp;size=1000&amp;max=3000</next>
    </paging>
</queryResult>`;

function entry(inner: string, tag = 'image'): string {
  return `<queryResult><images><${tag}>${inner}</${tag}></images></queryResult>`;
}

async function collectUntilError(gen: AsyncIterable<ListItem>): Promise<{ items: ListItem[]; error: unknown }> {
  const items: ListItem[] = [];
  try {
    for await (const i of gen) items.push(i);
  } catch (error) {
    return { items, error };
  }
  return { items, error: undefined };
}

describe('NCMEC hash-sharing v2 XML', () => {
  it('keeps entry ids, member ids, classifications, fingerprints and deletions', async () => {
    const items = await collect(readNcmecXml(chunks(ENTRIES, 37)));
    assert.deepEqual(items, [
      { kind: 'record', line: 4, record: {
        signals: [{ type: 'md5', value: MD5 }, { type: 'sha1', value: SHA1 }, { type: 'photodna', value: PDNA }],
        labels: { industryCategory: 'A1' }, sourceId: '42-image1',
        metadata: { ncmecEntryType: 'image', memberId: 42, entryId: 'image1', memberName: 'Example Member', timestamp: '2017-10-24T15:00:00Z', classification: 'A1' },
      } },
      { kind: 'record', line: 20, record: {
        signals: [], labels: {}, sourceId: '43-image4', deleted: true,
        metadata: { ncmecEntryType: 'image', memberId: 43, entryId: 'image4', memberName: 'Example Member2', timestamp: '2017-10-24T15:10:00Z' },
      } },
      { kind: 'record', line: 27, record: {
        signals: [{ type: 'md5', value: VMD5 }], labels: { industryCategory: 'A2' }, sourceId: '101-largetags',
        metadata: {
          ncmecEntryType: 'video', memberId: 101, entryId: 'largetags', memberName: 'TX Example', timestamp: '2019-11-24T15:10:00Z',
          otherFingerprints: { netclean: 'opaque-value' }, fingerprintLinks: { 'tmk-pdqf': '/v2/entries/1/fingerprints/TMK_PDQF' }, classification: 'A2',
        },
      } },
      { kind: 'record', line: 38, record: {
        signals: [], labels: {}, sourceId: '42-video4', deleted: true,
        metadata: { ncmecEntryType: 'video', memberId: 42, entryId: 'video4', memberName: 'Example Member', timestamp: '2017-10-24T15:20:00Z' },
      } },
    ]);
  });

  it('gives the same items whatever the chunking, with namespace prefixes, CRLF, BOM or UTF-16', async () => {
    const base = await collect(readNcmecXml(chunks(ENTRIES, 4096)));
    assert.deepEqual(await collect(readNcmecXml(chunks(ENTRIES, 1))), base);
    assert.deepEqual(await collect(readNcmecXml(chunks(Buffer.from('\ufeff' + ENTRIES, 'utf16le'), 5))), base);
    assert.deepEqual(await collect(readNcmecXml(chunks(concatBytes([0xef, 0xbb, 0xbf], ENTRIES.replaceAll('\n', '\r\n')), 9))), base);
    const prefixed = ENTRIES.replace('<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">', '<h:queryResult xmlns:h="https://hashsharing.ncmec.org/hashsharing/v2">')
      .replace('</queryResult>', '</h:queryResult>').replace(/<(\/?)(image|images|member|id|md5)([ >])/g, '<$1h:$2$3');
    assert.ok(prefixed.includes('<h:member id="42">'));
    assert.deepEqual(await collect(readNcmecXml(chunks(prefixed))), base);
  });

  it('reports bad entries and keeps reading', async () => {
    const xml = `<queryResult><images>
      <image><member id="1">M</member><id>e1</id><fingerprints><md5>${MD5.slice(1)}</md5></fingerprints></image>
      <image><member id="x">M</member><id>e2</id><fingerprints><md5>${MD5}</md5></fingerprints></image>
      <image><member id="1">M</member><fingerprints><md5>${MD5}</md5></fingerprints></image>
      <image><member id="1">M</member><id>e4</id><fingerprints><tmk-pdqf href="/x"/></fingerprints></image>
      <image><member id="1">M</member><id>e5</id><classification>Z9</classification><fingerprints><pdq>${hex(64)}</pdq></fingerprints></image>
    </images></queryResult>`;
    const items = await collect(readNcmecXml(chunks(xml)));
    const errors = errorsOf(items);
    assert.deepEqual(errors.map((e) => e.line), [2, 3, 4, 5]);
    assert.match(errors[0].message, /^image "e1": <md5>: Expected 32 hexadecimal digits/);
    assert.match(errors[1].message, /numeric <member id/);
    assert.match(errors[2].message, /^image: no <id>/);
    assert.match(errors[3].message, /no md5, sha1, pdna or pdq fingerprint/);
    const recs = recordsOf(items);
    assert.equal(recs.length, 1);
    assert.deepEqual(recs[0].labels, {}, 'an unknown classification is kept as metadata only');
    assert.equal(recs[0].metadata?.classification, 'Z9');
  });

  describe('hostile XML', () => {
    const dir = tempDir('xxe');
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('never resolves external entities: a reference is an entry error, not the file content', async () => {
      const secret = join(dir, 'secret.txt');
      writeFileSync(secret, 'TOPSECRET-LOCAL-FILE');
      const xml = `<?xml version="1.0"?>
<!DOCTYPE queryResult [<!ENTITY xxe SYSTEM "file://${secret}"><!ENTITY remote SYSTEM "http://127.0.0.1:9/x.dtd">]>
<queryResult><images>
  <image><member id="1">&xxe;</member><id>leak</id><fingerprints><md5>${MD5}</md5></fingerprints></image>
  <image><member id="1">M</member><id>leak2</id><fingerprints><md5>&remote;</md5></fingerprints></image>
  <image><member id="1">M</member><id>fine</id><fingerprints><md5>${VMD5}</md5></fingerprints></image>
</images></queryResult>`;
      const items = await collect(readNcmecXml(chunks(xml)));
      assert.ok(!JSON.stringify(items).includes('TOPSECRET'), 'the local file was not read into any item');
      assert.deepEqual(recordsOf(items).map((r) => r.sourceId), ['1-fine']);
      const errors = errorsOf(items);
      assert.equal(errors.length, 2);
      assert.match(errors[0].message, /image "leak": line 4: an entity reference was left unexpanded .*never resolved/);
      assert.equal(errors[0].line, 4);
    });

    it('does not expand internal entities either (billion laughs)', async () => {
      const lol = ['<!ENTITY lol0 "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`)].join('');
      const xml = `<!DOCTYPE q [${lol}]><queryResult><images><image><member id="1">&lol9;</member><id>b</id><fingerprints><md5>${MD5}</md5></fingerprints></image></images></queryResult>`;
      const items = await collect(readNcmecXml(chunks(xml, 64)));
      assert.equal(items.length, 1);
      assert.match(errorsOf(items)[0].message, /left unexpanded/);
      assert.ok(JSON.stringify(items).length < 1000);
    });

    it('refuses what is not an entries file or not well-formed', async () => {
      const bad: [string, RegExp][] = [
        ['<status><member id="1">x</member></status>', /root element is <status>/],
        ['not xml at all', /Malformed XML|no XML element/],
        ['', /no XML element/],
        [entry(`<member id="1">M</member><id>a</id><fingerprints><md5>${MD5}</md5></fingerprints>`).replace('</images>', ''), /Malformed XML/],
        ['<?xml version="1.0" encoding="ISO-8859-1"?><queryResult/>', /Unsupported XML encoding/],
      ];
      for (const [xml, re] of bad) {
        const { error } = await collectUntilError(readNcmecXml(chunks(xml)));
        assert.equal((error as { code?: string }).code, 'VIGIL_ERR_LIST_FORMAT', xml);
        assert.match((error as Error).message, re, xml);
      }
    });

    it('stops on element nesting bombs and on a 64 MiB text node, in bounded memory', async () => {
      async function* deep(): AsyncGenerator<Uint8Array> {
        yield bytes('<queryResult>');
        const block = bytes('<a>'.repeat(100_000));
        for (let i = 0; i < 100; i++) yield block;
      }
      await assert.rejects(collect(readNcmecXml(deep())), { code: 'VIGIL_ERR_LIST_FORMAT', message: /nested deeper than 32/ });
      let yielded = 0;
      async function* huge(): AsyncGenerator<Uint8Array> {
        yield bytes('<queryResult><images><image><id>');
        const block = new Uint8Array(1024 * 1024).fill(0x41);
        for (let i = 0; i < 64; i++) {
          yielded += block.length;
          yield block;
        }
        yield bytes('</id></image></images></queryResult>');
      }
      await assert.rejects(collect(readNcmecXml(huge())), { code: 'VIGIL_ERR_LIST_FORMAT', message: /longer than 1 MiB/ });
      assert.ok(yielded <= 3 * 1024 * 1024, `stopped early, after ${yielded} bytes`);
    });

    it('invalid UTF-8 inside an entry is that entry\'s error', async () => {
      const xml = concatBytes(`<queryResult><images><image><member id="1">caf`, [0xe9, 0x80], `</member><id>u</id><fingerprints><md5>${MD5}</md5></fingerprints></image>`, entry(`<member id="2">ok</member><id>v</id><fingerprints><md5>${MD5}</md5></fingerprints>`).replace('<queryResult><images>', '').replace('</images></queryResult>', ''), '</images></queryResult>');
      const items = await collect(readNcmecXml(chunks(xml, 3)));
      assert.deepEqual(recordsOf(items).map((r) => r.sourceId), ['2-v']);
      assert.match(errorsOf(items)[0].message, /<member> is not valid UTF-8/);
    });
  });
});
