import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readThreatExchange, writeThreatExchange } from './threatexchange.js';
import { chunks, collect, errorsOf, hexGen, recordsOf, text } from './_test-helpers.js';
import type { ListRecord } from './types.js';

const hex = hexGen(3);
const PDQ = hex(64);
const MD5 = hex(32);

describe('ThreatExchange / HMA local file', () => {
  it('reads "<signal_type> <signal>" lines, vPDQ JSON (with spaces) and pytx aliases', async () => {
    // As pytx writes them: f"{s_type.get_name()} {signal}\n", vPDQ via json.dumps.
    const vpdq = `["${PDQ},100,0.0", "${hex(64)},87,1.0"]`;
    const input = `pdq ${PDQ.toUpperCase()}\nvpdq ${vpdq}\nvideo_md5 ${MD5}\n\n# comment\nsha256\t${hex(64)}\n`;
    const recs = recordsOf(await collect(readThreatExchange(chunks(input, 6))));
    assert.deepEqual(recs.map((r) => r.signals[0].type), ['pdq', 'vpdq', 'md5', 'sha256']);
    assert.equal(recs[0].signals[0].value, PDQ);
    assert.equal(recs[1].signals[0].value, vpdq);
  });

  it('normalises vPDQ to pytx\'s own serialisation', async () => {
    const recs = recordsOf(await collect(readThreatExchange(chunks(`vpdq ["${PDQ.toUpperCase()},100,123.4","${PDQ},5,0"]\n`))));
    assert.equal(recs[0].signals[0].value, `["${PDQ},100,1.23e+02", "${PDQ},5,0.0"]`);
  });

  it('value-only lines with signalType (pytx collab signal_type)', async () => {
    const recs = recordsOf(await collect(readThreatExchange(chunks(`${PDQ}\n`), { signalType: 'pdq' })));
    assert.deepEqual(recs, [{ signals: [{ type: 'pdq', value: PDQ }], labels: {} }]);
  });

  it('reports unsupported types, bad values and bare values per line', async () => {
    const input = `url https://example.test/a\npdq ${PDQ.slice(1)}\n${PDQ}\nvpdq ["${PDQ},100"]\nraw_text hello world\npdq ${PDQ}\n`;
    const items = await collect(readThreatExchange(chunks(input)));
    assert.equal(recordsOf(items).length, 1);
    const errors = errorsOf(items);
    assert.deepEqual(errors.map((e) => e.line), [1, 2, 3, 4, 5]);
    assert.match(errors[0].message, /Unsupported signal type "url"/);
    assert.match(errors[1].message, /64 hexadecimal digits for pdq/);
    assert.match(errors[2].message, /"<signal_type> <signal>"/);
    assert.match(errors[3].message, /Invalid vPDQ item 0: expected "hash,quality,timestamp"/);
  });

  it('allows long vPDQ lines (32 MiB default) but not unbounded ones', async () => {
    const frames = Array.from({ length: 20_000 }, (_, i) => `"${PDQ},100,${i}"`).join(', ');
    const items = await collect(readThreatExchange(chunks(`vpdq [${frames}]\n`, 65536)));
    assert.equal(recordsOf(items).length, 1);
    const small = await collect(readThreatExchange(chunks(`vpdq [${frames}]\n`, 65536), { maxLineBytes: 1024 * 1024 }));
    assert.match(errorsOf(small)[0].message, /longer than 1 MiB/);
  });

  it('round-trips every signal type, one line per signal', async () => {
    const records: ListRecord[] = [
      { signals: [{ type: 'pdq', value: PDQ }], labels: {} },
      { signals: [{ type: 'vpdq', value: `["${PDQ},100,0.0", "${hex(64)},50,0.033"]` }], labels: {} },
      { signals: [{ type: 'md5', value: MD5 }], labels: {} },
      { signals: [{ type: 'sha1', value: hex(40) }], labels: {} },
      { signals: [{ type: 'sha256', value: hex(64) }], labels: {} },
      { signals: [{ type: 'photodna', value: 'QUJD'.repeat(48) }], labels: {} },
    ];
    const out = await text(writeThreatExchange(records));
    assert.deepEqual(recordsOf(await collect(readThreatExchange(chunks(out, 50)))), records);
    const both: ListRecord = { signals: [{ type: 'md5', value: MD5 }, { type: 'pdq', value: PDQ }], labels: {} };
    assert.equal(await text(writeThreatExchange([both])), `md5 ${MD5}\npdq ${PDQ}\n`);
    assert.equal(await text(writeThreatExchange([both], { signalType: 'pdq' })), `pdq ${PDQ}\n`);
  });
});
