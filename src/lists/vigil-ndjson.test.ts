import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readVigilNdjson, writeVigilNdjson } from './vigil-ndjson.js';
import { chunks, collect, errorsOf, hexGen, recordsOf, text } from './_test-helpers.js';

const hex = hexGen(12);
const MD5 = hex(32);
const SHA1 = hex(40);
const SHA256 = hex(64);
const PDQ = hex(64);
const FRAME = hex(64);

describe("Vigil's NDJSON (vigil hash output)", () => {
  it('reads each file as one record: digests, PDQ, vPDQ, the path as file name', async () => {
    const picture = { path: 'photos/a.jpg', bytes: 1234, md5: MD5, sha1: SHA1, sha256: SHA256, media: 'image', format: 'jpeg', width: 10, height: 10, pdq: PDQ, quality: 100, dihedral: { rot90: hex(64) }, views: [{ view: 'trimmed', pdq: hex(64), quality: 90 }] };
    const video = { path: 'clips/b.mp4', bytes: 99, md5: MD5.toUpperCase(), media: 'video', vpdq: [`${FRAME},100,0.0`, `${FRAME},87,1.0`], vpdqViews: { unletterboxed: [`${hex(64)},100,0.0`] } };
    const recs = recordsOf(await collect(readVigilNdjson(chunks(`${JSON.stringify(picture)}\n\n${JSON.stringify(video)}\n`, 9))));
    assert.deepEqual(recs, [
      { signals: [{ type: 'md5', value: MD5 }, { type: 'sha1', value: SHA1 }, { type: 'sha256', value: SHA256 }, { type: 'pdq', value: PDQ }], labels: {}, fileName: 'photos/a.jpg', fileSize: 1234 },
      { signals: [{ type: 'md5', value: MD5 }, { type: 'vpdq', value: `["${FRAME},100,0.0", "${FRAME},87,1.0"]` }], labels: {}, fileName: 'clips/b.mp4', fileSize: 99 },
    ]);
  });

  it('a file hashed with an error keeps its digests only; one with no hash, or a bad line, is a row error', async () => {
    const lines = [
      { path: 'cut.mp4', md5: MD5, vpdq: [`${FRAME},100,0.0`], error: { code: 'VIGIL_ERR_BUDGET', message: 'over budget' } },
      { path: 'gone.jpg', error: { code: 'VIGIL_ERR_UNREADABLE', message: 'Cannot read file' } },
      { path: 'bad.jpg', md5: 'xyz' },
      [1, 2],
    ].map((l) => JSON.stringify(l));
    const items = await collect(readVigilNdjson(chunks(`${lines.join('\n')}\n{"path": "half\n`)));
    assert.deepEqual(recordsOf(items).map((r) => r.signals), [[{ type: 'md5', value: MD5 }]]);
    const errors = errorsOf(items);
    assert.deepEqual(errors.map((e) => e.line), [2, 3, 4, 5]);
    assert.match(errors[0].message, /not hashed \(VIGIL_ERR_UNREADABLE\)/);
    assert.match(errors[1].message, /32 hexadecimal digits for md5/);
    assert.match(errors[2].message, /JSON object/);
    assert.match(errors[3].message, /Not a JSON object/);
  });

  it('writes what it reads, exactly', async () => {
    const input = `{"path":"a.jpg","bytes":5,"md5":"${MD5}","pdq":"${PDQ}"}\n{"path":"b.mp4","vpdq":["${FRAME},100,0.0","${FRAME},87,1.0"]}\n`;
    const recs = recordsOf(await collect(readVigilNdjson(chunks(input))));
    const skipped: string[] = [];
    const out = await text(writeVigilNdjson([...recs, { signals: [{ type: 'photodna', value: 'AAAA' }], labels: {} }], { onSkip: (_r, why) => skipped.push(why) }));
    assert.equal(out, input);
    assert.deepEqual(skipped, ['no md5, sha1, sha256, pdq or vpdq signal']);
  });
});
