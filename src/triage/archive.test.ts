import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { makeTar } from '../../test/helpers/tar.js';
import { makeZip } from './_zip-writer.js';
import { DEFAULT_ARCHIVE_LIMITS, ExpansionBudget, readArchive, unsafeNameReason, type ArchiveLimits, type ArchiveMember, type ArchiveFailure } from './archive.js';
import { archiveKindOf, mimeOf } from './mime.js';

async function all(source: Buffer, kind: 'zip' | 'tar' | 'tar.gz', limits: Partial<ArchiveLimits> = {}): Promise<(ArchiveMember | ArchiveFailure)[]> {
  const out = [];
  for await (const m of readArchive({ bytes: source }, kind, new ExpansionBudget({ ...DEFAULT_ARCHIVE_LIMITS, ...limits }))) out.push(m);
  return out;
}


const names = (ms: (ArchiveMember | ArchiveFailure)[]) => ms.map((m) => (m.kind === 'member' ? m.name : `!${m.error.code}`));
const codeOf = (ms: (ArchiveMember | ArchiveFailure)[], name: string) => ms.find((m): m is ArchiveMember => m.kind === 'member' && m.name === name)?.error?.code;

describe('triage archives', () => {
  it('reads zip members into memory, names unsafe ones (zip slip) and still reads them', async () => {
    const zip = makeZip([{ name: 'a.txt', data: Buffer.from('aaa') }, { name: '../../etc/evil', data: Buffer.from('e') }, { name: '/abs/path', data: Buffer.from('b') }, { name: 'C:\\win', data: Buffer.from('w') }]);
    const ms = await all(zip, 'zip');
    assert.deepEqual(names(ms), ['a.txt', '../../etc/evil', '/abs/path', 'C:\\win']);
    assert.equal((ms[0] as ArchiveMember).bytes?.toString(), 'aaa');
    for (const n of ['../../etc/evil', '/abs/path', 'C:\\win']) assert.equal(codeOf(ms, n), 'VIGIL_ERR_ARCHIVE_UNSAFE_PATH');
    assert.equal((ms[1] as ArchiveMember).bytes?.toString(), 'e');
    assert.equal(unsafeNameReason('a/b/c..d'), undefined);
  });

  it('reports encrypted members and goes on', async () => {
    const ms = await all(makeZip([{ name: 'secret', data: Buffer.from('x'), encrypted: true }, { name: 'after', data: Buffer.from('y') }]), 'zip');
    assert.equal(codeOf(ms, 'secret'), 'VIGIL_ERR_ARCHIVE_ENCRYPTED');
    assert.equal((ms[0] as ArchiveMember).bytes, undefined);
    assert.equal((ms[1] as ArchiveMember).bytes?.toString(), 'y');
  });

  it('refuses a zip bomb member by ratio and by the expansion budget, without inflating it', async () => {
    const zeros = Buffer.alloc(20 << 20);
    const ms = await all(makeZip([{ name: 'bomb', data: zeros }, { name: 'ok', data: Buffer.from('fine') }]), 'zip');
    assert.equal(codeOf(ms, 'bomb'), 'VIGIL_ERR_ARCHIVE_BOMB');
    assert.equal((ms[0] as ArchiveMember).bytes, undefined);
    assert.equal((ms[1] as ArchiveMember).bytes?.toString(), 'fine');
    const budget = await all(makeZip([{ name: 'a', data: Buffer.alloc(1000, 1), method: 0 }, { name: 'b', data: Buffer.alloc(1000, 2), method: 0 }]), 'zip', { maxExpandedBytes: 1500 });
    assert.equal(codeOf(budget, 'a'), undefined);
    assert.equal(codeOf(budget, 'b'), 'VIGIL_ERR_ARCHIVE_BOMB');
  });

  it('stops a gzip bomb as it inflates', async () => {
    const tgz = gzipSync(await makeTar([{ name: 'zeros', data: Buffer.alloc(40 << 20) }]));
    const ms = await all(tgz, 'tar.gz');
    assert.equal(ms.at(-1)?.kind, 'failure');
    assert.equal((ms.at(-1) as ArchiveFailure).error.code, 'VIGIL_ERR_ARCHIVE_BOMB');
  });

  it('salvages the whole members of a truncated zip, then reports it corrupt', async () => {
    const zip = makeZip([{ name: 'a', data: Buffer.from('aaa') }, { name: 'b', data: Buffer.alloc(5000, 3) }, { name: 'c', data: Buffer.from('ccc') }]);
    const cut = await all(zip.subarray(0, zip.length - 10), 'zip');
    assert.deepEqual(names(cut), ['a', 'b', 'c', '!VIGIL_ERR_ARCHIVE_CORRUPT']);
    assert.equal((cut[1] as ArchiveMember).bytes?.length, 5000);
    // Cut inside member b: only a is whole.
    const inB = await all(zip.subarray(0, 30 + 1 + 5 + 30 + 1 + 10), 'zip');
    assert.deepEqual(names(inB), ['a', '!VIGIL_ERR_ARCHIVE_CORRUPT']);
  });

  it('gives up the whole members of a truncated tar, then an error', async () => {
    const t = await makeTar([{ name: 'one', data: 'one' }, { name: 'two', data: Buffer.alloc(2000, 7) }, { name: 'three', data: 'three' }]);
    const ms = await all(t.subarray(0, 512 + 512 + 512 + 1000), 'tar');
    assert.equal((ms[0] as ArchiveMember).bytes?.toString(), 'one');
    assert.equal(codeOf(ms, 'two'), 'VIGIL_ERR_ARCHIVE_CORRUPT');
    assert.equal(ms.at(-1)?.kind, 'failure');
  });

  it('reads tar.gz and keeps names that are not UTF-8 byte for byte (Latin-1)', async () => {
    const latin = Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('latin1');
    const tgz = gzipSync(await makeTar([{ name: 'dir/x.txt', data: 'x' }]));
    assert.equal(archiveKindOf(mimeOf(tgz)), 'tar.gz');
    assert.deepEqual(names(await all(tgz, 'tar.gz')), ['dir/x.txt']);
    const zip = makeZip([{ name: Buffer.from([0x63, 0x61, 0x66, 0xe9]), data: Buffer.from('c') }]);
    assert.deepEqual(names(await all(zip, 'zip')), [latin]);
  });

  it('types come from magic bytes', () => {
    assert.equal(mimeOf(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'image/jpeg');
    assert.equal(mimeOf(Buffer.from('hello world\n')), 'text/plain');
    assert.equal(mimeOf(Buffer.alloc(0)), 'application/x-empty');
    assert.equal(mimeOf(makeZip([])), 'application/zip');
    assert.equal(mimeOf(gzipSync(Buffer.from('not a tar'))), 'application/gzip');
  });
});
