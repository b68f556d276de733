// Answers an operator can act on, through the CLI: hash files and make them a bank in two commands, video
// matches with distance, frame counts and ranges, pictures shown in a video, the nearest signal, file names.
// Benign inputs only: synthetic pictures and the conformance videos.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import ffmpeg from '@ffmpeg-installer/ffmpeg';
import { runVigil, type CliResult } from './helpers/cli.js';
import { syntheticJpeg, syntheticPng } from './helpers/images.js';
import { SHARED, requireShared } from './helpers/shared.js';
import { tempDir } from './helpers/temp.js';

const ORIGINAL = join(SHARED, 'conformance/vpdq/videos/chair-orig-22-sd-bar.mp4');
let dir: string;
let db: string;
let pics: string;
let clip: string;
const vigil = (...args: string[]) => runVigil(['--db', db, ...args]);
const ndjson = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l));

before(async () => {
  requireShared();
  dir = tempDir('answers');
  db = join(dir, 'vigil.db');
  pics = join(dir, 'pics');
  mkdirSync(pics);
  writeFileSync(join(pics, 'a.jpg'), await syntheticJpeg(320, 240, 3));
  writeFileSync(join(pics, 'b.png'), await syntheticPng(200, 300, 4));
  writeFileSync(join(dir, 'unrelated.png'), await syntheticPng(256, 256, 99));
  // A 12 s clip at 30 frames/s: 12 samples at 1 frame/s, 0..11 s.
  clip = join(dir, 'clip-12s.mp4');
  execFileSync(ffmpeg.path, ['-v', 'error', '-i', ORIGINAL, '-t', '12', '-an', '-c:v', 'mpeg4', '-q:v', '2', clip]);
  writeFileSync(join(dir, 'still.png'), execFileSync(ffmpeg.path, ['-v', 'error', '-ss', '5', '-i', clip, '-frames:v', '1', '-f', 'image2pipe', '-vcodec', 'png', '-'], { maxBuffer: 64 << 20 }));
});

/** `vigil hash` of the pictures and the clip, imported as bank 'mine': asserted by the first test, used by all. */
let made: Promise<CliResult> | undefined;
const makeBank = () =>
  (made ??= (async () => {
    const hashed = await vigil('hash', pics, clip);
    assert.equal(hashed.status, 0, hashed.stderr);
    writeFileSync(join(dir, 'list.ndjson'), hashed.stdout);
    const imported = await vigil('bank', 'import', '--create', 'mine', join(dir, 'list.ndjson'));
    assert.equal(imported.status, 0, imported.stderr);
    return hashed;
  })());

test('vigil hash output imports as a list: two commands make a bank, and it round-trips exactly', async () => {
  const hashed = await makeBank();
  // Every hashed file matches its own entry exactly (md5 and PDQ/vPDQ at distance 0), named by its path.
  const matched = ndjson((await vigil('match', pics, clip)).stdout);
  assert.equal(matched.length, 3);
  for (const line of matched) {
    const mine = line.matches.filter((m: { bank: string }) => m.bank === 'mine');
    assert.ok(mine.some((m: { signalType: string }) => m.signalType === 'md5'), line.path);
    const perceptual = mine.find((m: { signalType: string }) => m.signalType === 'pdq' || (m.signalType === 'vpdq' && line.path === clip));
    assert.equal(perceptual.distance, 0, line.path);
    assert.equal(perceptual.fileName, line.path);
  }
  // Exported in the same format and imported again: the same list, byte for byte.
  const exported = await vigil('bank', 'export', '--format', 'vigil-ndjson', 'mine');
  assert.equal(exported.status, 0, exported.stderr);
  writeFileSync(join(dir, 'exported.ndjson'), exported.stdout);
  assert.equal((await vigil('bank', 'import', '--create', 'again', join(dir, 'exported.ndjson'))).status, 0);
  assert.equal((await vigil('bank', 'export', '--format', 'vigil-ndjson', 'again')).stdout, exported.stdout);
  const original = ndjson(hashed.stdout).map(({ path, bytes, md5, sha1, sha256, pdq, vpdq }) => ({ path, bytes, md5, sha1, sha256, ...(pdq ? { pdq } : {}), ...(vpdq ? { vpdq } : {}) }));
  assert.deepEqual(ndjson(exported.stdout).sort((x, y) => x.path.localeCompare(y.path)), original.sort((x, y) => x.path.localeCompare(y.path)));
});

test('a video match: real distance, matched frames, and ranges to the end of the last sample (12 s clip: 0–12 s)', async () => {
  await makeBank();
  const [line] = ndjson((await vigil('match', clip)).stdout);
  const m = line.matches.find((x: { signalType: string; video?: unknown }) => x.signalType === 'vpdq' && x.video);
  assert.equal(m.distance, 0);
  assert.equal(m.video.queryMatchedFrames, m.video.queryFrames);
  assert.deepEqual(m.video.queryRanges, [{ start: 0, end: 12 }]);
  // A re-encoded copy is a real distance away, and says how many frames matched.
  const copy = join(dir, 'copy.mp4');
  execFileSync(ffmpeg.path, ['-v', 'error', '-i', clip, '-an', '-vf', 'scale=320:-2', '-c:v', 'mpeg4', '-q:v', '12', copy]);
  const [c] = ndjson((await vigil('match', copy)).stdout);
  const v = c.matches.find((x: { signalType: string; video?: unknown }) => x.signalType === 'vpdq' && x.video);
  assert.ok(v.distance > 0 && v.distance <= 31, `distance ${v.distance}`);
  assert.ok(v.video.minDistance <= v.distance);
  assert.equal(v.video.queryMatchPercent, (v.video.queryMatchedFrames * 100) / v.video.queryFrames);
  const text = (await vigil('match', '-f', 'text', copy)).stdout;
  assert.match(text, new RegExp(`vpdq distance ${v.distance}, ${v.video.queryMatchedFrames} of ${v.video.queryFrames} frames .* file "${clip.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
});

test('a picture found in a video: the stretches it is shown, not only the best frame; a still names its file', async () => {
  await makeBank();
  const still = ndjson((await vigil('hash', join(dir, 'still.png'))).stdout)[0];
  writeFileSync(join(dir, 'still.ndjson'), `${JSON.stringify({ path: 'still-of-the-chair.png', pdq: still.pdq })}\n`);
  assert.equal((await vigil('bank', 'import', '--create', 'stills', join(dir, 'still.ndjson'))).status, 0);
  const [line] = ndjson((await vigil('match', clip)).stdout);
  const m = line.matches.find((x: { bank: string }) => x.bank === 'stills');
  assert.equal(m.timestampIn, 'query');
  assert.ok(m.ranges.some((r: { start: number; end: number }) => r.start <= m.timestamp && m.timestamp < r.end), JSON.stringify(m.ranges));
  assert.ok(m.ranges.every((r: { start: number; end: number }) => r.end > r.start));
  const text = (await vigil('match', '-f', 'text', join(dir, 'still.png'))).stdout;
  assert.match(text, /stills: pdq distance 0 \(original; original rule ≤ 31, high confidence\) signal \d+ file "still-of-the-chair\.png"/);
});

test('vigil match --near N reports the closest signal even when nothing matched', async () => {
  await makeBank();
  const plain = await vigil('match', join(dir, 'unrelated.png'));
  assert.equal(plain.stdout, '', 'no match, nothing printed');
  const near = await vigil('match', '--near', '256', join(dir, 'unrelated.png'));
  const [line] = ndjson(near.stdout);
  assert.deepEqual(line.matches, []);
  assert.ok(line.nearest.distance > line.nearest.threshold, JSON.stringify(line.nearest));
  assert.equal(typeof line.nearest.fileName, 'string');
  assert.match((await vigil('match', '-f', 'text', '--near', '256', join(dir, 'unrelated.png'))).stdout, /no match\n {2}nearest: mine: (pdq|vpdq) distance \d+ \(threshold \d+; [^)]+\) signal \d+ file "/);
  assert.equal((await vigil('match', '--near', '257', join(dir, 'unrelated.png'))).status, 2);
});
