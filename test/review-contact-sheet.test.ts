import assert from 'node:assert/strict';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import sharp from 'sharp';
import { join } from 'node:path';
import { contactSheet } from '../src/service/web/contact-sheet.js';
import { SHARED } from './helpers/shared.js';
import { tempDir } from './helpers/temp.js';

/** A benign conformance video (a chair). */
const VIDEO = join(SHARED, 'conformance/vpdq/videos/chair-20-sd-bar.mp4');

test('a benign video becomes one still: frames sampled across it, in a grid', async () => {
  assert.ok(existsSync(VIDEO), `conformance video missing: ${VIDEO}`);
  // Its own temp folder: files running beside this one make contact sheets in the OS temp folder.
  const temp = tempDir('sheet');
  const before = readdirSync(temp).filter((f) => f.startsWith('vigil-sheet-')).length;
  const sheet = await contactSheet(createReadStream(VIDEO), { tiles: 6, columns: 3, tileWidth: 100, tempDir: temp });
  assert.equal(sheet.frames, 6);
  assert.ok(sheet.timestamps.every((t, i) => i === 0 || t > sheet.timestamps[i - 1]), 'in time order');
  assert.ok(sheet.timestamps.at(-1)! > sheet.timestamps[0] + 1, 'spread across the video, not its first second');
  const meta = await sharp(sheet.image).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.width, 3 * 100 + 2 * 4);
  assert.equal(meta.width, sheet.width);
  assert.equal(meta.height, sheet.height);
  assert.equal(readdirSync(temp).filter((f) => f.startsWith('vigil-sheet-')).length, before, 'the decrypted copy is removed');
});

test('something that is not a video fails cleanly and leaves nothing behind', async () => {
  const { Readable } = await import('node:stream');
  const temp = tempDir('sheet');
  const before = readdirSync(temp).filter((f) => f.startsWith('vigil-sheet-')).length;
  await assert.rejects(contactSheet(Readable.from([Buffer.from('not a video at all')]), { tempDir: temp }));
  assert.equal(readdirSync(temp).filter((f) => f.startsWith('vigil-sheet-')).length, before);
});
