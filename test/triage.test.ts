/**
 * `vigil triage` end to end, in-process through main(): the bad-input list of issue 15 (zip slip, bombs,
 * deep nesting, encrypted and truncated archives, unreadable folders, FIFOs, names that are not UTF-8,
 * symbolic-link loops, wrong extensions, empty files), allow and block banks, duplicate groups, series
 * across archive boundaries, EXIF, exports, categories, series → bank, a second root, resume, `cases link`.
 * Every picture is a generated benign one (src/triage/_pictures.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import { makeTar } from './helpers/tar.js';
import { loadConfig } from '../src/app/config.js';
import { createVigil } from '../src/app/vigil.js';
import { makeZip } from '../src/triage/_zip-writer.js';
import { picture } from '../src/triage/_pictures.js';
import { progressLine } from '../src/cli/commands/triage.js';
import { runVigil } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';
import type { ExportRecord } from '../src/triage/export.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const dir = tempDir('triage');
const db = join(dir, 'vigil.db');
const root = join(dir, 'seizure-1');
const root2 = join(dir, 'phone-2');
const cli = (...args: string[]) => runVigil(['--db', db, ...args], { VIGIL_LOG_LEVEL: 'silent' });
const isRoot = process.getuid?.() === 0;


let records: Map<string, ExportRecord>;
let knownPdqSource: Buffer;
const exif = { IFD0: { Make: 'Acme', Model: 'Cam 1' }, IFD2: { DateTimeOriginal: '2024:05:06 07:08:09', BodySerialNumber: 'SN-0042' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 30/1' } };

before(async () => {
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(root2, { recursive: true });
  const jpeg = await picture(1);
  const png = await picture(2, { format: 'png' });
  writeFileSync(join(root, 'photo.dat'), jpeg); // JPEG named .dat
  writeFileSync(join(root, 'pic.jpg'), png); // PNG named .jpg
  writeFileSync(join(root, 'notes.jpg'), 'a text file, not a picture\n'); // text named .jpg
  writeFileSync(join(root, 'empty.txt'), '');
  writeFileSync(join(root, 'sub', 'empty-too.txt'), '');
  writeFileSync(join(root, 'dup-a.png'), png);
  writeFileSync(join(root, 'sub', 'dup-b.png'), png);
  writeFileSync(join(root, 'system.dll'), Buffer.from('MZ benign system library'));
  // Known: a re-toned copy of the bank's picture (PDQ match, not a digest match).
  knownPdqSource = await picture(3);
  writeFileSync(join(root, 'holiday.jpg'), await picture(3, { brightness: 1.05, quality: 85 }));
  // Near-duplicates across an archive boundary: one on disk, one rotated inside a zip, with EXIF.
  writeFileSync(join(root, 'beach.jpg'), await picture(4));
  const rotated = await picture(4, { rotate: 90, quality: 85, exif });
  writeFileSync(join(root, 'series.zip'), makeZip([{ name: 'DCIM/beach-rotated.jpg', data: rotated }]));
  // An allow-listed archive: never opened.
  const allowedZip = makeZip([{ name: 'setup/readme.txt', data: Buffer.from('installer') }]);
  writeFileSync(join(root, 'installer.zip'), allowedZip);
  writeFileSync(join(root, 'slip.zip'), makeZip([{ name: '../../outside.jpg', data: jpeg }, { name: '/etc/abs.txt', data: Buffer.from('abs') }]));
  writeFileSync(join(root, 'bomb.zip'), makeZip([{ name: 'zeros.bin', data: Buffer.alloc(24 << 20) }]));
  writeFileSync(join(root, 'locked.zip'), makeZip([{ name: 'secret.jpg', data: jpeg, encrypted: true }, { name: 'open.txt', data: Buffer.from('open') }]));
  const whole = makeZip([{ name: 'a.txt', data: Buffer.from('a') }]);
  writeFileSync(join(root, 'cut.zip'), whole.subarray(0, whole.length - 8));
  const t = await makeTar([{ name: 'first.txt', data: Buffer.from('first') }, { name: 'second.bin', data: Buffer.alloc(3000, 1) }]);
  writeFileSync(join(root, 'cut.tar'), t.subarray(0, 512 + 512 + 512 + 1000));
  writeFileSync(join(root, 'docs.tar.gz'), gzipSync(await makeTar([{ name: 'inner/report.txt', data: Buffer.from('report') }, { name: 'inner/photo.bin', data: jpeg }])));
  // Nested 6 deep: the limit (4) stops it.
  let nested = makeZip([{ name: 'deepest.txt', data: Buffer.from('deep') }]);
  for (let i = 5; i >= 1; i--) nested = makeZip([{ name: `level${i}.zip`, data: nested }]);
  writeFileSync(join(root, 'deep.zip'), nested);
  symlinkSync('.', join(root, 'sub', 'loop'));
  execFileSync('mkfifo', [join(root, 'pipe')]);
  mkdirSync(join(root, 'locked-dir'));
  writeFileSync(join(root, 'locked-dir', 'hidden.txt'), 'x');
  chmodSync(join(root, 'locked-dir'), 0o000);
  writeFileSync(Buffer.from(`${root}/caf\xe9.txt`, 'latin1'), 'latin-1 name');
  writeFileSync(join(root2, 'shared.jpg'), jpeg);

  const vigil = await createVigil(loadConfig({ env: {}, flags: { database: { url: db }, log: { level: 'silent' } } }));
  try {
    await vigil.banks.createBank('test', { name: 'nsrl', kind: 'allow' });
    await vigil.banks.addSignals('test', 'nsrl', [{ type: 'sha256', value: sha256(Buffer.from('MZ benign system library')) }, { type: 'sha256', value: sha256(allowedZip) }]);
    await vigil.banks.createBank('test', { name: 'known', kind: 'block' });
    const { hashFile } = await import('../src/hashing/hash-file.js');
    const src = join(dir, 'bank-source.jpg');
    writeFileSync(src, knownPdqSource);
    const h = await hashFile(src);
    await vigil.banks.addSignals('test', 'known', [{ type: 'pdq', value: h.pdq!, labels: { projectVicCategory: 1, ukCategory: 'B' } }]);
  } finally {
    await vigil.close();
  }
  const run = await cli('triage', root, '--case', 'one', '--max-depth', '4', '-j', '2');
  chmodSync(join(root, 'locked-dir'), 0o700); // readable again for the re-run and the temp folder's removal
  assert.equal(run.status, 3, run.stderr); // known material found
  const out = await cli('case', 'export', 'one', '--format', 'json');
  assert.equal(out.status, 0, out.stderr);
  records = new Map((JSON.parse(out.stdout) as ExportRecord[]).map((r) => [r.path, r]));
});

const rec = (path: string) => {
  const r = records.get(path);
  assert.ok(r, `no record for ${path}; have ${[...records.keys()].join(', ')}`);
  return r;
};

describe('vigil triage', () => {
  it('draws a progress line with files/s, MB/s and an ETA', () => {
    assert.equal(progressLine({ files: 50, items: 60, bytes: 10e6, elapsedMs: 2000, skipped: 0 }), '50 files · 25.0 files/s · 5.0 MB/s · 60 items');
    assert.equal(progressLine({ files: 50, items: 60, bytes: 10e6, totalFiles: 100, totalBytes: 40e6, elapsedMs: 2000, skipped: 5 }), '50/100 files · 25.0 files/s · 5.0 MB/s · 60 items · 5 done before · ETA 0:00:06');
  });

  it('types files by magic bytes, not names', () => {
    assert.equal(rec('photo.dat').type, 'image/jpeg');
    assert.ok(rec('photo.dat').pdq);
    assert.equal(rec('pic.jpg').type, 'image/png');
    assert.equal(rec('notes.jpg').type, 'text/plain');
    assert.equal(rec('notes.jpg').pdq, null);
    assert.equal(rec('notes.jpg').status, 'unknown');
    assert.equal(rec('notes.jpg').error, null);
  });

  it('records the exact fields, with digests, size and status', () => {
    const r = rec('photo.dat');
    assert.deepEqual(Object.keys(r).sort(), ['categories', 'duplicateGroup', 'error', 'exif', 'matches', 'md5', 'path', 'pdq', 'quality', 'series', 'sha1', 'sha256', 'size', 'status', 'type', 'vpdq'].sort());
    const bytes = readFileSync(join(root, 'photo.dat'));
    assert.equal(r.sha256, sha256(bytes));
    assert.equal(r.md5, createHash('md5').update(bytes).digest('hex'));
    assert.equal(r.size, bytes.length);
  });

  it('empty files are recorded but never grouped', () => {
    assert.equal(rec('empty.txt').size, 0);
    assert.equal(rec('empty.txt').duplicateGroup, null);
    assert.equal(rec('sub/empty-too.txt').duplicateGroup, null);
  });

  it('groups identical files', () => {
    assert.ok(rec('dup-a.png').duplicateGroup);
    assert.equal(rec('dup-a.png').duplicateGroup, rec('sub/dup-b.png').duplicateGroup);
    assert.equal(rec('dup-a.png').duplicateGroup, rec('pic.jpg').duplicateGroup);
  });

  it('drops known-benign files and never opens an allow-listed archive', () => {
    assert.equal(rec('system.dll').status, 'known-benign');
    assert.equal(rec('installer.zip').status, 'known-benign');
    assert.ok(![...records.keys()].some((p) => p.startsWith('installer.zip!')));
  });

  it('flags known material with bank, distance and categories', () => {
    const r = rec('holiday.jpg');
    assert.equal(r.status, 'known');
    assert.equal(r.matches[0].bank, 'known');
    assert.equal(r.matches[0].signalType, 'pdq');
    assert.deepEqual(r.matches[0].categories, { projectVic: 1, uk: 'B' });
  });

  it('clusters near-duplicates into a series across an archive boundary, and reads EXIF inside archives', () => {
    const inside = rec('series.zip!DCIM/beach-rotated.jpg');
    assert.ok(rec('beach.jpg').series);
    assert.equal(inside.series, rec('beach.jpg').series);
    assert.deepEqual(inside.exif, { make: 'Acme', model: 'Cam 1', serial: 'SN-0042', takenAt: '2024-05-06T07:08:09', gps: { lat: 51.5, lon: -0.125 } });
    assert.equal(rec('series.zip').type, 'application/zip');
  });

  it('reports zip slip names and still hashes the members', () => {
    const r = rec('slip.zip!../../outside.jpg');
    assert.equal(r.error?.code, 'VIGIL_ERR_ARCHIVE_UNSAFE_PATH');
    assert.equal(r.sha256, rec('photo.dat').sha256);
    assert.equal(rec('slip.zip!/etc/abs.txt').error?.code, 'VIGIL_ERR_ARCHIVE_UNSAFE_PATH');
  });

  it('reports bombs, encrypted members, truncated archives and deep nesting; the rest goes on', () => {
    assert.equal(rec('bomb.zip!zeros.bin').error?.code, 'VIGIL_ERR_ARCHIVE_BOMB');
    assert.equal(rec('locked.zip!secret.jpg').error?.code, 'VIGIL_ERR_ARCHIVE_ENCRYPTED');
    assert.equal(rec('locked.zip!open.txt').status, 'unknown');
    assert.equal(rec('cut.zip').error?.code, 'VIGIL_ERR_ARCHIVE_CORRUPT');
    assert.equal(rec('cut.zip!a.txt').status, 'unknown'); // salvaged: whole before the cut
    assert.equal(rec('cut.tar!first.txt').status, 'unknown');
    assert.equal(rec('cut.tar!second.bin').error?.code, 'VIGIL_ERR_ARCHIVE_CORRUPT');
    assert.equal(rec('cut.tar').error?.code, 'VIGIL_ERR_ARCHIVE_CORRUPT');
    assert.equal(rec('docs.tar.gz!inner/photo.bin').type, 'image/jpeg');
    const deepest = [...records.keys()].filter((p) => p.startsWith('deep.zip')).sort((a, b) => b.length - a.length)[0];
    assert.equal(deepest, 'deep.zip!level1.zip!level2.zip!level3.zip!level4.zip');
    assert.equal(rec(deepest).error?.code, 'VIGIL_ERR_ARCHIVE_DEPTH');
  });

  it('reports symbolic-link loops, FIFOs, unreadable folders and names that are not UTF-8', () => {
    assert.equal(rec('sub/loop').error?.code, 'VIGIL_ERR_SYMLINK_LOOP');
    assert.equal(rec('pipe').status, 'error');
    assert.equal(rec('pipe').error?.code, 'VIGIL_ERR_UNREADABLE');
    if (!isRoot) assert.equal(rec('locked-dir').error?.code, 'VIGIL_ERR_UNREADABLE');
    // Opened by its byte name, recorded under its Latin-1 reading.
    const odd = rec('caf\u00e9.txt');
    assert.equal(odd.status, 'unknown');
    assert.equal(odd.sha256, sha256(Buffer.from('latin-1 name')));
  });

  it('a re-run hashes nothing again', async () => {
    const again = await cli('triage', root, '--case', 'one');
    assert.equal(again.status, 3, 'the case holds known material, found by the first run');
    const summary = JSON.parse(again.stdout) as { items: number; skipped: number; inCase: Record<string, number> };
    assert.equal(summary.inCase.known, 1);
    // Only what the first run could not read (a folder then unreadable, now open) is new.
    assert.equal(summary.items, isRoot ? 0 : 1, again.stdout);
    assert.ok(summary.skipped >= 20, again.stdout);
  });

  it('exports csv, hashdeep and VICS (unknown media only)', async () => {
    const csv = (await cli('case', 'export', 'one', '-f', 'csv')).stdout.split('\n');
    assert.match(csv[0], /^path,size,md5,sha1,sha256,type,pdq,quality,status,/);
    assert.equal(csv.filter(Boolean).length, records.size + 1);
    const hd = (await cli('case', 'export', 'one', '-f', 'hashdeep')).stdout;
    assert.match(hd, /^%%%% HASHDEEP-1\.0/);
    assert.ok(hd.includes(`,${rec('photo.dat').sha256},photo.dat\n`));
    const vics = JSON.parse((await cli('case', 'export', 'one', '-f', 'vics')).stdout) as { value: { MD5: string; FileName: string }[] };
    const names = vics.value.map((v) => v.FileName);
    assert.ok(names.includes('photo.dat'));
    assert.ok(!names.includes('holiday.jpg'), 'known material is not in the sharing export');
    assert.ok(!names.includes('notes.jpg'));
  });

  it('categorises a series, exports the category, and makes the series a bank', async () => {
    const series = rec('beach.jpg').series!;
    assert.equal((await cli('case', 'categorise', 'one', '--series', series, '--vic', '2')).status, 0);
    assert.equal((await cli('case', 'categorise', 'one', '--item', 'photo.dat', '--uk', 'C')).status, 0);
    assert.notEqual((await cli('case', 'categorise', 'one', '--item', 'photo.dat', '--vic', '9')).status, 0);
    const out = new Map((JSON.parse((await cli('case', 'export', 'one')).stdout) as ExportRecord[]).map((r) => [r.path, r]));
    assert.deepEqual(out.get('series.zip!DCIM/beach-rotated.jpg')?.categories, { projectVic: 2, uk: null });
    assert.deepEqual(out.get('photo.dat')?.categories, { projectVic: null, uk: 'C' });
    assert.equal((await cli('bank', 'create', 'case-one')).status, 0);
    const made = await cli('case', 'series-to-bank', 'one', '--series', series, '--bank', 'case-one');
    assert.equal(made.status, 0, made.stderr);
    assert.equal(JSON.parse(made.stdout).signals, 6); // 2 pictures × sha256, md5, pdq
    const audit = await cli('audit', 'list', '--json');
    assert.match(audit.stdout, /case\.series\.categorised/);
    assert.match(audit.stdout, /case\.triage/);
  });

  it('a second case links to the first through shared media, camera and place; benign and empty files never link', async () => {
    writeFileSync(join(root2, 'again.jpg'), await picture(4, { rotate: 90, quality: 85, exif }));
    writeFileSync(join(root2, 'empty.txt'), '');
    writeFileSync(join(root2, 'system.dll'), Buffer.from('MZ benign system library'));
    const run = await cli('triage', root2, join(dir, 'seizure-1', 'pic.jpg'), '--case', 'two');
    assert.equal(run.status, 3, run.stderr);
    const two = JSON.parse((await cli('case', 'export', 'two')).stdout) as ExportRecord[];
    assert.deepEqual(two.map((r) => r.path).sort(), ['phone-2/again.jpg', 'phone-2/empty.txt', 'phone-2/shared.jpg', 'phone-2/system.dll', 'pic.jpg']);
    // The series made into a bank in case one flags its picture in case two.
    const flagged = two.find((r) => r.path === 'phone-2/again.jpg')!;
    assert.equal(flagged.status, 'known');
    assert.deepEqual([...new Set(flagged.matches.map((m) => JSON.stringify([m.bank, m.categories])))], [JSON.stringify(['case-one', { projectVic: 2 }])]);
    assert.equal((await cli('case', 'identify', 'two', '--item', 'phone-2/shared.jpg', '--kind', 'email', '--value', 'Someone@Example.org')).status, 0);
    assert.equal((await cli('case', 'identify', 'one', '--item', 'photo.dat', '--kind', 'email', '--value', 'someone@example.org')).status, 0);
    const link = await cli('cases', 'link', '--json');
    assert.equal(link.status, 0, link.stderr);
    const edges = link.stdout.trim().split('\n').map((l) => JSON.parse(l) as { cases: string[]; kind: string; files: Record<string, string[]> });
    const kinds = edges.map((e) => e.kind).sort();
    assert.deepEqual(kinds, ['camera-serial', 'identifier', 'media-exact', 'media-near', 'place']);
    const exact = edges.find((e) => e.kind === 'media-exact')!;
    assert.deepEqual(exact.cases, ['one', 'two']);
    assert.ok(exact.files.two.includes('phone-2/shared.jpg'));
    assert.ok(!exact.files.two.includes('phone-2/empty.txt'));
    assert.ok(!exact.files.two.includes('phone-2/system.dll'));
    const html = join(dir, 'links.html');
    const table = await cli('cases', 'link', '--html', html);
    assert.match(table.stdout, /one\s+two\s+media-exact/);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /camera-serial/);
    assert.match(page, /phone-2\/shared\.jpg/);
    assert.doesNotMatch(page, /(src|href)="https?:/);
  });

  it('writes an offline HTML report with blurred thumbnails', async () => {
    const out = join(dir, 'report.html');
    const r = await cli('case', 'report', 'one', '-o', out);
    assert.equal(r.status, 0, r.stderr);
    const html = readFileSync(out, 'utf8');
    assert.match(html, /blurred and greyscale/);
    assert.match(html, /data:image\/jpeg;base64,/);
    assert.doesNotMatch(html, /(src|href)="https?:/);
    assert.match(html, /SN-0042/);
    assert.match(html, /<svg/);
  });
});
