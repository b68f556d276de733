// Video through the CLI: vPDQ records, the reference's line format, video banks, pictures inside videos.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, beforeEach, test } from 'node:test';
import ffmpeg from '@ffmpeg-installer/ffmpeg';
import sharp from 'sharp';
import { runVigil, type CliResult } from './helpers/cli.js';
import { SHARED, requireShared } from './helpers/shared.js';
import { tempDir } from './helpers/temp.js';
const VIDEOS = join(SHARED, 'conformance/vpdq/videos');
const ORIGINAL = join(VIDEOS, 'chair-orig-22-sd-bar.mp4');
let dir: string;
let db: string;

const vigil = (...args: string[]) => runVigil(['--db', db, ...args]);

before(requireShared);

// Every test has its own folder and store, so each runs alone too (--test-name-pattern).
beforeEach(() => {
  dir = tempDir('video');
  db = join(dir, 'vigil.db');
});

// `vigil hash` of the original video: asserted by the first test, the known list of later ones.
let hashedOriginal: Promise<CliResult> | undefined;
const hashOriginal = () => (hashedOriginal ??= vigil('hash', ORIGINAL));

/** A `known-videos` bank in this test's store holding the original video's vPDQ features. */
async function importKnownVideo(): Promise<void> {
  const rec = JSON.parse((await hashOriginal()).stdout);
  writeFileSync(join(dir, 'known-video.txt'), `vpdq ${JSON.stringify(rec.vpdq)}\n`);
  assert.equal((await vigil('bank', 'create', 'known-videos')).status, 0);
  assert.equal((await vigil('bank', 'import', 'known-videos', join(dir, 'known-video.txt'))).status, 0);
}

test('vigil hash on a video: digests, stream facts and one vPDQ feature per second, in HMA format', async () => {
  const r = await hashOriginal();
  assert.equal(r.status, 0, r.stderr);
  const rec = JSON.parse(r.stdout);
  assert.equal(rec.media, 'video');
  assert.match(rec.sha256, /^[0-9a-f]{64}$/);
  assert.equal(rec.video.width, 480);
  assert.ok(Math.abs(rec.vpdq.length - rec.video.durationSeconds) <= 1.5, `${rec.vpdq.length} features for ${rec.video.durationSeconds} s`);
  assert.match(rec.vpdq[1], /^[0-9a-f]{64},\d{1,3},1\.0$/);
});

test('--format reference --every 0 gives the C++ vPDQ tool lines (frame, quality, hash, timestamp)', async () => {
  const r = await vigil('hash', '-f', 'reference', '--every', '0', join(VIDEOS, 'pattern-sd-grey-bar.mp4'));
  assert.equal(r.status, 0, r.stderr);
  const ours = r.stdout.trim().split('\n');
  const reference = readFileSync(join(SHARED, 'conformance/vpdq/reference-hashes/pattern-sd-grey-bar.txt'), 'utf8').trim().split('\n');
  assert.equal(ours.length, reference.length);
  for (const i of [0, 1, 50, reference.length - 1]) {
    const [frame, , , ts] = ours[i].split(',');
    const [rFrame, , , rTs] = reference[i].split(',');
    assert.deepEqual([frame, ts], [rFrame, rTs]);
  }
});

test('a video bank matches re-encoded and greyscale copies (vPDQ rule, with time ranges), not other footage', async () => {
  await importKnownVideo();
  const r = await vigil('match', join(VIDEOS, 'chair-22-sd-grey-bar.mp4'), join(VIDEOS, 'pattern-hd-no-bar.mp4'));
  assert.equal(r.status, 3, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 1, 'the pattern clip matches nothing');
  const [m] = lines[0].matches;
  assert.equal(m.signalType, 'vpdq');
  assert.ok(m.video.queryMatchPercent >= 80);
  assert.ok(m.video.queryRanges.length >= 1);
});

test('a letterboxed SD copy matches its HD original through the unletterboxed view; --no-views does not', async () => {
  const hd = JSON.parse((await vigil('hash', join(VIDEOS, 'pattern-hd-no-bar.mp4'))).stdout);
  writeFileSync(join(dir, 'hd.txt'), `vpdq ${JSON.stringify(hd.vpdq)}\n`);
  await vigil('bank', 'create', 'hd-originals');
  await vigil('bank', 'import', 'hd-originals', join(dir, 'hd.txt'));
  const r = await vigil('match', join(VIDEOS, 'pattern-sd-grey-bar.mp4'));
  assert.equal(r.status, 3, r.stderr);
  const m = JSON.parse(r.stdout).matches.find((x: { bank: string }) => x.bank === 'hd-originals');
  assert.equal(m.view, 'unletterboxed');
  assert.ok(m.video.queryMatchPercent >= 80);
  const plain = await vigil('match', '--no-views', join(VIDEOS, 'pattern-sd-grey-bar.mp4'));
  assert.equal(plain.status, 0);
});

test('a known picture inside a video is found with its timestamp; a still of a known video is found in it', async () => {
  await importKnownVideo();
  const still = execFileSync(ffmpeg.path, ['-v', 'error', '-ss', '10', '-i', ORIGINAL, '-frames:v', '1', '-f', 'image2pipe', '-vcodec', 'png', '-'], { maxBuffer: 64 << 20 });
  writeFileSync(join(dir, 'still.png'), still);
  const hashed = JSON.parse((await vigil('hash', join(dir, 'still.png'))).stdout);
  writeFileSync(join(dir, 'known-picture.txt'), `pdq ${hashed.pdq}\n`);
  await vigil('bank', 'create', 'known-pictures');
  await vigil('bank', 'import', 'known-pictures', join(dir, 'known-picture.txt'));
  const inVideo = JSON.parse((await vigil('match', join(VIDEOS, 'chair-22-sd-sepia-bar.mp4'))).stdout.trim().split('\n')[0]);
  const pictureHit = inVideo.matches.find((m: { bank: string }) => m.bank === 'known-pictures');
  assert.equal(pictureHit.signalType, 'pdq');
  assert.equal(pictureHit.timestampIn, 'query');
  assert.ok(Math.abs(pictureHit.timestamp - 10) <= 1.5, `timestamp ${pictureHit.timestamp}`);
  const fromVideo = JSON.parse((await vigil('match', join(dir, 'still.png'))).stdout.trim());
  const videoHit = fromVideo.matches.find((m: { bank: string }) => m.bank === 'known-videos');
  assert.equal(videoHit.timestampIn, 'known');
  assert.ok(Math.abs(videoHit.timestamp - 10) <= 1.5, `timestamp ${videoHit.timestamp}`);
});

test('an animated sticker goes through the video path too; bad video input gives a per-file error', async () => {
  const frames = await Promise.all([0, 1, 2].map((i) => sharp({ create: { width: 96, height: 96, channels: 3, background: { r: 90 * i, g: 140, b: 40 } } }).composite([{ input: { create: { width: 30, height: 30, channels: 3, background: '#fff' } }, left: 10 + 20 * i, top: 30 }]).png().toBuffer()));
  writeFileSync(join(dir, 'sticker.gif'), await sharp(frames, { join: { animated: true } }).gif({ delay: [1000, 1000, 1000] }).toBuffer());
  const original = readFileSync(ORIGINAL);
  writeFileSync(join(dir, 'truncated.mp4'), original.subarray(0, 4096));
  const r = await vigil('hash', join(dir, 'sticker.gif'), join(dir, 'truncated.mp4'));
  const [sticker, broken] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(sticker.media, 'animation');
  assert.equal(sticker.vpdq.length, 3);
  assert.ok(broken.error, 'a truncated MP4 is reported');
  assert.equal(r.status, 1);
});
