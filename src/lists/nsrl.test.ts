import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { readNsrl } from './nsrl.js';
import { readNsrlSqlite } from './nsrl-sqlite.js';
import { chunks, collect, concatBytes, errorsOf, hexGen, recordsOf } from './_test-helpers.js';
import type { ListProgress } from './types.js';
import { tempDir } from '../../test/helpers/temp.js';

const hex = hexGen(77);
const up = (n: number): string => hex(n).toUpperCase();
const HEADER = '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"';

describe('NSRL RDS 2.x NSRLFile.txt', () => {
  it('reads the current header layout (quoted CSV, CRLF, upper-case hex) into known-software records', async () => {
    const sha1 = up(40);
    const md5 = up(32);
    const input = `${HEADER}\r\n"${sha1}","${md5}","7A5407CA","setup, part 1.dll",4096,1234,"358",""\r\n`;
    assert.deepEqual(recordsOf(await collect(readNsrl(chunks(input, 9)))), [{
      signals: [{ type: 'sha1', value: sha1.toLowerCase() }, { type: 'md5', value: md5.toLowerCase() }],
      labels: {}, fileSize: 4096, fileName: 'setup, part 1.dll',
      metadata: { crc32: '7a5407ca', productCode: 1234, opSystemCode: '358' },
    }]);
  });

  it('reads the older header variant (with MD4) by column name', async () => {
    const sha1 = up(40);
    const md5 = up(32);
    const md4 = up(32);
    const input = `"SHA-1","FileName","FileSize","ProductCode","OpSystemCode","MD4","MD5","CRC32","SpecialCode"\n"${sha1}","a.exe",1,2,"WIN","${md4}","${md5}","0000ABCD","M"\n`;
    assert.deepEqual(recordsOf(await collect(readNsrl(chunks(input)))), [{
      signals: [{ type: 'sha1', value: sha1.toLowerCase() }, { type: 'md5', value: md5.toLowerCase() }],
      labels: {}, fileSize: 1, fileName: 'a.exe',
      metadata: { crc32: '0000abcd', productCode: 2, opSystemCode: 'WIN', specialCode: 'M', md4: md4.toLowerCase() },
    }]);
  });

  it('drops consecutive duplicates (one row per product), unless asked not to', async () => {
    const sha1 = up(40);
    const md5 = up(32);
    const row = (p: number): string => `"${sha1}","${md5}","00000000","f.dll",10,${p},"1",""`;
    const input = `${HEADER}\n${row(1)}\n${row(2)}\n${row(3)}\n"${up(40)}","${up(32)}","00000000","g.dll",11,1,"1",""\n`;
    assert.equal(recordsOf(await collect(readNsrl(chunks(input)))).length, 2);
    assert.equal(recordsOf(await collect(readNsrl(chunks(input), { dedupeAdjacent: false }))).length, 4);
  });

  it('reads Latin-1 file names (the file is not reliably UTF-8) and reports bad rows', async () => {
    const good = `"${up(40)}","${up(32)}","00000000","`;
    const input = concatBytes(`${HEADER}\n`, good, [0x63, 0x61, 0x66, 0xe9], `.txt",5,1,"1",""\n`, `"${up(39)}","${up(32)}","0","x",1,1,"1",""\n`, `"${up(40)}","${up(32)}","0","x",-1,1,"1",""\n`, `"${up(40)}","${up(32)}","0"\n`);
    const items = await collect(readNsrl(chunks(input, 13)));
    assert.deepEqual(recordsOf(items).map((r) => r.fileName), ['café.txt']);
    assert.deepEqual(errorsOf(items).map((e) => e.line), [3, 4, 5]);
    assert.match(errorsOf(items)[0].message, /40 hexadecimal digits for sha1/);
    assert.match(errorsOf(items)[1].message, /non-negative integer for FileSize/);
    assert.match(errorsOf(items)[2].message, /Expected 8 fields but found 3/);
  });

  it('refuses a file without the NSRL header', async () => {
    await assert.rejects(collect(readNsrl(chunks(`md5,sha1\n${hex(32)},${hex(40)}\n`))), { code: 'VIGIL_ERR_LIST_FORMAT', message: /lacks "SHA-1"/ });
    await assert.rejects(collect(readNsrl(chunks(''))), { code: 'VIGIL_ERR_LIST_FORMAT', message: /empty/ });
  });
});

describe('NSRL RDS v3 SQLite', () => {
  const dir = tempDir('nsrl');
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A small database with the official schema (schema.sql of RDS v3) and synthetic rows. */
  function makeDb(name: string, rows: [string | null, string | null, string | null, string, string, number | null, number][]): string {
    const path = join(dir, name);
    const db = new Database(path);
    db.exec(`CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, crc32 VARCHAR NOT NULL,
      file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL, package_id INTEGER NOT NULL,
      PRIMARY KEY (sha256, sha1, md5, crc32, file_name, file_size, package_id));
      CREATE TABLE PKG (package_id INTEGER PRIMARY KEY, name VARCHAR, version VARCHAR, operating_system_id INTEGER, manufacturer_id INTEGER, language VARCHAR, application_type VARCHAR);
      CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5, crc32 FROM FILE;`);
    const insert = db.prepare('INSERT INTO FILE VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (const r of rows) insert.run(r[0] ?? '', r[1] ?? '', r[2] ?? '', r[3], r[4], r[5] ?? 0, r[6]);
    db.close();
    return path;
  }

  const a = [up(64), up(40), up(32)] as const;
  const b = [up(64), up(40), up(32)] as const;
  const path = makeDb('rds.db', [
    [a[0], a[1], a[2], '0000ABCD', 'a.dll', 100, 1],
    [a[0], a[1], a[2], '0000ABCD', 'a-copy.dll', 100, 2],
    [b[0], b[1], b[2], 'FFFF0000', 'b.exe', 200, 1],
    [up(63), up(40), up(32), '0', 'bad.bin', 1, 3],
  ]);

  it('reads each distinct hash triple once (DISTINCT_HASH) by default', async () => {
    const items = await collect(readNsrlSqlite(path));
    const recs = recordsOf(items);
    assert.equal(recs.length, 2);
    assert.deepEqual(recs.find((r) => r.signals[0].value === a[0].toLowerCase()), {
      signals: [{ type: 'sha256', value: a[0].toLowerCase() }, { type: 'sha1', value: a[1].toLowerCase() }, { type: 'md5', value: a[2].toLowerCase() }],
      labels: {}, metadata: { crc32: '0000abcd' },
    });
    assert.equal(errorsOf(items).length, 1);
    assert.match(errorsOf(items)[0].message, /^Row \d: Expected 64 hexadecimal digits for sha256/);
  });

  it("mode 'files' reads every row with name, size and package id; progress has totalRows", async () => {
    const progress: ListProgress[] = [];
    const recs = recordsOf(await collect(readNsrlSqlite(path, { mode: 'files', countRows: true, onProgress: (p) => progress.push(p) })));
    assert.equal(recs.length, 3);
    assert.deepEqual(recs.map((r) => [r.fileName, r.fileSize, r.metadata?.packageId]).sort(), [['a-copy.dll', 100, 2], ['a.dll', 100, 1], ['b.exe', 200, 1]]);
    assert.deepEqual(progress[progress.length - 1], { rowsRead: 4, records: 3, errors: 1, totalRows: 4 });
  });

  it('refuses what is not an RDS v3 database, and a missing file', async () => {
    const text = join(dir, 'not-a-db.db');
    writeFileSync(text, 'SQLite format 3 but not really, just text '.repeat(100));
    await assert.rejects(collect(readNsrlSqlite(text)), { code: 'VIGIL_ERR_LIST_FORMAT' });
    const other = join(dir, 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE hashes (md5 TEXT)');
    db.close();
    await assert.rejects(collect(readNsrlSqlite(other)), { code: 'VIGIL_ERR_LIST_FORMAT', message: /no FILE table/ });
    const view = join(dir, 'view.db');
    const dbv = new Database(view);
    dbv.exec("CREATE TABLE t (sha256, sha1, md5); CREATE VIEW FILE AS SELECT * FROM t");
    dbv.close();
    await assert.rejects(collect(readNsrlSqlite(view)), { code: 'VIGIL_ERR_LIST_FORMAT', message: /no FILE table/ });
    const noCols = join(dir, 'nocols.db');
    const dbn = new Database(noCols);
    dbn.exec('CREATE TABLE FILE (sha1 TEXT, name TEXT)');
    dbn.close();
    await assert.rejects(collect(readNsrlSqlite(noCols)), { code: 'VIGIL_ERR_LIST_FORMAT', message: /lacks sha256, md5/ });
    await assert.rejects(collect(readNsrlSqlite(join(dir, 'missing.db'))), { code: 'VIGIL_ERR_UNREADABLE' });
    assert.throws(() => readNsrlSqlite(path, { mode: 'all' as never }), { code: 'VIGIL_ERR_INVALID_ARGUMENT' });
  });

  it('closes the database when the consumer stops early', async () => {
    const gen = readNsrlSqlite(path, { mode: 'files' });
    await gen.next();
    await gen.return(undefined);
    // An exclusive write lock can only be taken if the reader let go of the file.
    const db = new Database(path);
    db.exec('BEGIN EXCLUSIVE; COMMIT;');
    db.close();
  });
});
