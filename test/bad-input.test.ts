// Bad input never crashes and never stops a batch: each file gets a clear result or error.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { hashFile, type FileHashRecord } from '../src/hashing/hash-file.js';
import { HashPool } from '../src/hashing/pool.js';
import { walkFiles, type WalkEntry } from '../src/media/walk.js';
import { syntheticJpeg, syntheticPng } from './helpers/images.js';
import { tempDir } from './helpers/temp.js';

let dir: string;

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

/** A tiny PNG whose header claims width × height pixels (a decompression bomb's first line). */
export function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const idat = deflateSync(Buffer.alloc(1024));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

before(async () => {
  dir = tempDir('bad');
  const good = await syntheticJpeg(640, 480, 3);
  writeFileSync(join(dir, 'good.jpg'), good);
  writeFileSync(join(dir, 'zero.jpg'), Buffer.alloc(0));
  writeFileSync(join(dir, 'truncated.jpg'), good.subarray(0, Math.floor(good.length / 2)));
  writeFileSync(join(dir, 'header-only.jpg'), good.subarray(0, 200));
  writeFileSync(join(dir, 'text.jpg'), 'this is a text file, not a picture\n');
  writeFileSync(join(dir, 'bomb.png'), pngClaiming(50_000, 50_000));
  const frames = await Promise.all([0, 1, 2].map(async (i) => sharp(await syntheticPng(64, 48, i + 1)).png().toBuffer()));
  writeFileSync(join(dir, 'animated.gif'), await sharp(frames, { join: { animated: true } }).gif().toBuffer());
  writeFileSync(join(dir, 'one.png'), await sharp({ create: { width: 1, height: 1, channels: 3, background: '#336699' } }).png().toBuffer());
  writeFileSync(join(dir, 'three.png'), await syntheticPng(3, 3));
  symlinkSync(join(dir, 'does-not-exist.jpg'), join(dir, 'dangling.jpg'));
  execFileSync('mkfifo', [join(dir, 'fifo.jpg')]);
  mkdirSync(join(dir, 'nested/deeper'), { recursive: true });
  symlinkSync('../..', join(dir, 'nested/deeper/loop'));
  writeFileSync(join(dir, 'nested/deeper/good2.png'), await syntheticPng(100, 80, 9));
});

after(() => {
  // Temp files are left to the OS temp cleaner; nothing outside tmpdir was written.
});

test('zero-byte file: clear error, digests of the empty input still given', async () => {
  const r = await hashFile(join(dir, 'zero.jpg'));
  assert.equal(r.error?.code, 'VIGIL_ERR_EMPTY_FILE');
  assert.equal(r.md5, 'd41d8cd98f00b204e9800998ecf8427e');
  assert.equal(r.pdq, undefined);
});

test('truncated JPEG: hashed from what decodes and flagged, or a clear error — never a crash', async () => {
  const r = await hashFile(join(dir, 'truncated.jpg'));
  if (r.error) assert.equal(r.error.code, 'VIGIL_ERR_CORRUPT_MEDIA');
  else assert.match(r.warning ?? '', /Damaged file/);
  const h = await hashFile(join(dir, 'header-only.jpg'));
  assert.ok(h.error || h.warning, 'a 200-byte JPEG stub must not pass silently');
});

test('text file named .jpg: VIGIL_ERR_UNSUPPORTED_MEDIA, with its digests', async () => {
  const r = await hashFile(join(dir, 'text.jpg'));
  assert.equal(r.error?.code, 'VIGIL_ERR_UNSUPPORTED_MEDIA');
  assert.equal(r.sha256?.length, 64);
});

test('PNG claiming 50,000×50,000 pixels in a few bytes is refused before decoding (no pixel data for them)', async () => {
  const before = process.memoryUsage().rss;
  const r = await hashFile(join(dir, 'bomb.png'));
  // The bytes cannot hold the declared picture (media/plausible.ts): unreadable, named, never decoded.
  assert.equal(r.error?.code, 'VIGIL_ERR_UNREADABLE');
  assert.match(r.error!.message, /50000×50000/);
  assert.ok(process.memoryUsage().rss - before < 200 * 1024 * 1024);
});

test('animated GIF: the first frame is hashed, as the reference', async () => {
  const gifBytes = join(dir, 'animated.gif');
  const gif = await hashFile(gifBytes);
  assert.equal(gif.error, undefined);
  assert.equal(gif.format, 'gif');
  const frame = async (page: number) => {
    const png = await sharp(gifBytes, { page }).png().toBuffer();
    writeFileSync(join(dir, `frame-${page}.png`), png);
    return hashFile(join(dir, `frame-${page}.png`));
  };
  assert.equal(gif.pdq, (await frame(0)).pdq);
  assert.notEqual(gif.pdq, (await frame(1)).pdq);
});

test('1×1 and 3×3 images give the reference zero hash with quality 0', async () => {
  for (const name of ['one.png', 'three.png']) {
    const r = await hashFile(join(dir, name));
    assert.equal(r.error, undefined);
    assert.equal(r.pdq, '0'.repeat(64));
    assert.equal(r.quality, 0);
  }
});

test('unreadable entries (dangling link, FIFO) and a symlink loop: per-entry errors, the walk goes on', async () => {
  const entries: WalkEntry[] = [];
  for await (const e of walkFiles([dir])) entries.push(e);
  const byName = (n: string) => entries.find((e) => e.path.endsWith(n));
  assert.equal(byName('dangling.jpg')?.kind, 'error');
  assert.equal(byName('fifo.jpg')?.kind, 'error');
  const loop = byName('loop');
  assert.equal(loop?.kind, 'error');
  assert.equal(loop?.kind === 'error' && loop.error.code, 'VIGIL_ERR_SYMLINK_LOOP');
  assert.equal(byName('good2.png')?.kind, 'file');
  // Each file once: the loop was not followed.
  assert.equal(entries.filter((e) => e.path.endsWith('good.jpg')).length, 1);
});

test('hashing a FIFO directly returns an error at once instead of blocking on open()', async () => {
  const r = await hashFile(join(dir, 'fifo.jpg'));
  assert.equal(r.error?.code, 'VIGIL_ERR_UNREADABLE');
});

test('a batch through the worker pool: every file has a result, good files are hashed, order is kept', async () => {
  const pool = new HashPool({ threads: 2 });
  const results: FileHashRecord[] = [];
  try {
    const entries: WalkEntry[] = [];
    for await (const e of walkFiles([dir])) entries.push(e);
    for await (const r of pool.hashAll((async function* () { yield* entries; })())) results.push(r);
    assert.deepEqual(results.map((r) => r.path), entries.map((e) => e.path));
  } finally {
    await pool.close();
  }
  const good = results.find((r) => r.path.endsWith('/good.jpg'));
  assert.equal(good?.quality, 100);
  assert.equal(good?.pdq?.length, 64);
  assert.ok(results.filter((r) => r.error).length >= 5);
});
