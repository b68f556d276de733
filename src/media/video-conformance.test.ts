/**
 * vPDQ conformance against Meta's C++ reference (../shared/conformance/vpdq): every clip hashed at
 * every frame, full size and 128×128, compared line by line with the reference's own output, scored
 * as the reference's regression test does (vpdq/cpp/regtest.py → match-hashes-byline: frames where
 * both sides have quality ≥ 50, distance ≤ 31, target 100 %). Then matching across clips (1 frame
 * per second, taken from the same hashes) and a known still found inside the videos.
 * Each clip is hashed once per size; the figures are printed for docs/video.md.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hammingDistance256 } from '../signals/pdq/hash256.js';
import { pdqFromPixels } from '../signals/pdq/pdq.js';
import { referenceResize } from '../signals/pdq/reference-resize.js';
import { formatFixed3, parseVpdqText } from '../signals/vpdq/format.js';
import type { VpdqFeature } from '../signals/vpdq/hasher.js';
import { findImagesInVideo } from '../signals/vpdq/image-match.js';
import { matchVpdq } from '../signals/vpdq/match.js';
import { FlatFrameHashIndex, VpdqVideoIndex } from '../signals/vpdq/video-index.js';
import { liveFfmpegProcesses, locateFfmpeg, runFfmpeg } from './ffmpeg.js';
import { decodeImage } from './image-decode.js';
import { hashVideo } from './video-hash.js';
import { VpdqHashPool } from './vpdq-pool.js';

const VPDQ = fileURLToPath(new URL('../../../shared/conformance/vpdq/', import.meta.url));
const CLIPS = existsSync(join(VPDQ, 'videos'))
  ? readdirSync(join(VPDQ, 'videos'))
      .filter((f) => f.endsWith('.mp4'))
      .map((f) => f.slice(0, -4))
      .sort()
  : [];
const family = (clip: string) => clip.split('-')[0]; // chair, doorknob, pattern, test

const full = new Map<string, VpdqFeature[]>();
const small = new Map<string, VpdqFeature[]>();
let bundled = false;

before(async () => {
  assert.ok(CLIPS.length >= 14, `conformance clips not found under ${VPDQ}`);
  bundled = (await locateFfmpeg()).source === 'npm';
  // Every frame of 14 clips is ~13,000 PDQ hashes: spread them over the cores.
  const pool = new VpdqHashPool({ threads: 2 });
  try {
    for (const clip of CLIPS) {
      const path = join(VPDQ, 'videos', `${clip}.mp4`);
      full.set(clip, (await hashVideo(path, { secondsPerHash: 0, pool })).features);
      if (existsSync(join(VPDQ, 'reference-hashes', `${clip}-128x128.txt`))) {
        small.set(clip, (await hashVideo(path, { secondsPerHash: 0, size: 128, pool })).features);
      }
    }
  } finally {
    await pool.close();
  }
});

after(() => assert.equal(liveFfmpegProcesses(), 0));

function compare(label: string, ours: VpdqFeature[], referenceFile: string): void {
  const reference = parseVpdqText(readFileSync(join(VPDQ, 'reference-hashes', referenceFile), 'utf8'));
  assert.equal(ours.length, reference.length, `${label}: frame count`);
  let compared = 0;
  let within = 0;
  let sum = 0;
  let allWithin = 0;
  let allSum = 0;
  let sameQuality = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i];
    const o = ours[i];
    assert.equal(o.frameNumber, r.frameNumber, `${label}: frame ${i}`);
    assert.equal(formatFixed3(o.timestamp), formatFixed3(r.timestamp), `${label}: timestamp of frame ${i}`);
    const d = hammingDistance256(o.hash, r.hash);
    allSum += d;
    if (d <= 31) allWithin++;
    if (o.quality === r.quality) sameQuality++;
    if (o.quality >= 50 && r.quality >= 50) {
      compared++;
      sum += d;
      if (d <= 31) within++;
    }
  }
  const share = within / compared;
  console.log(
    `vpdq conformance ${label.padEnd(44)} frames ${String(reference.length).padStart(3)}  within 31: ${(share * 100).toFixed(1)}% ` +
      `of ${compared} (q≥50)  mean ${(sum / compared).toFixed(2)}  |  all frames: ${((allWithin / reference.length) * 100).toFixed(1)}% mean ${(allSum / reference.length).toFixed(2)}  ` +
      `same quality ${((sameQuality / reference.length) * 100).toFixed(1)}%`,
  );
  assert.ok(compared > 0);
  // The reference's own regression test expects 100 %; another ffmpeg build may scale a little differently.
  assert.ok(bundled ? share === 1 : share >= 0.99, `${label}: ${(share * 100).toFixed(2)}% of frames within 31`);
  assert.ok(sum / compared <= 8, `${label}: mean distance ${(sum / compared).toFixed(2)}`);
}

test('every frame at full size matches the C++ reference, line by line', () => {
  for (const clip of CLIPS) compare(clip, full.get(clip)!, `${clip}.txt`);
});

test('every frame at 128×128 matches the C++ reference, line by line', () => {
  assert.ok(small.size >= 13);
  for (const [clip, features] of small) compare(`${clip} 128×128`, features, `${clip}-128x128.txt`);
});

/** One frame per second, as hashVideo's default picks them (30 fps clips: every 30th frame). */
const perSecond = (clip: string) => full.get(clip)!.filter((f) => f.frameNumber! % 30 === 0);

const referencePerSecond = (name: string) =>
  parseVpdqText(readFileSync(join(VPDQ, 'reference-hashes', `${name}.txt`), 'utf8')).filter((f) => f.frameNumber! % 30 === 0);

test("matching across clips: the same decisions as on the reference's own hashes; families never cross", () => {
  const rows: string[] = [];
  for (const query of CLIPS) {
    const cells: string[] = [];
    for (const compared of CLIPS) {
      const ours = matchVpdq(perSecond(query), perSecond(compared));
      const theirs = matchVpdq(referencePerSecond(query), referencePerSecond(compared));
      cells.push(ours.isMatch ? `${Math.round(ours.queryMatchPercent)}`.padStart(4) : '   .');
      assert.equal(ours.isMatch, theirs.isMatch, `${query} vs ${compared}: ours ${ours.queryMatchPercent.toFixed(1)}%, reference ${theirs.queryMatchPercent.toFixed(1)}%`);
      assert.ok(Math.abs(ours.queryMatchPercent - theirs.queryMatchPercent) <= 10, `${query} vs ${compared}`);
      if (family(query) !== family(compared)) assert.ok(!ours.isMatch && ours.queryMatchPercent < 20, `${query} must not match ${compared}`);
    }
    rows.push(`${query.padEnd(32)}${cells.join('')}`);
  }
  console.log(`vpdq match matrix, 1 frame/s (query % where matched; rows = query, columns = compared in the same order)\n${rows.join('\n')}`);
  // Re-encoded, greyscale, sepia and small-logo copies match the original, both ways.
  for (const copy of ['chair-20-sd-bar', 'chair-22-sd-grey-bar', 'chair-22-sd-sepia-bar', 'chair-22-with-small-logo-bar']) {
    assert.ok(matchVpdq(perSecond(copy), perSecond('chair-orig-22-sd-bar')).isMatch, copy);
    assert.ok(matchVpdq(perSecond('chair-orig-22-sd-bar'), perSecond(copy)).isMatch, copy);
  }
  assert.ok(matchVpdq(perSecond('pattern-sd-with-small-logo-bar'), perSecond('pattern-sd-grey-bar')).isMatch);
  // What PDQ frames cannot see through, with the reference's hashes as with ours: a logo over a large
  // part of the picture, and letterbox bars (the next test).
  assert.ok(!matchVpdq(perSecond('chair-22-with-large-logo-bar'), perSecond('chair-orig-22-sd-bar')).isMatch);
  assert.ok(!matchVpdq(perSecond('pattern-sd-grey-bar'), perSecond('pattern-hd-no-bar')).isMatch);
});

test('with the letterbox bars cropped, SD copies with bars match their HD originals', async () => {
  const hd = perSecond('pattern-hd-no-bar');
  for (const clip of ['pattern-sd-grey-bar', 'pattern-sd-with-small-logo-bar']) {
    const { features } = await hashVideo(join(VPDQ, 'videos', `${clip}.mp4`), { unletterbox: true });
    const r = matchVpdq(features, hd);
    console.log(`vpdq unletterbox ${clip} vs pattern-hd-no-bar: ${r.queryMatchPercent.toFixed(0)}% / ${r.comparedMatchPercent.toFixed(0)}%`);
    assert.ok(r.isMatch, clip);
  }
  // The HD original is only known by its reference hashes (its video is not in the set).
  const original = referencePerSecond('chair-orig-22-hd-no-bar');
  const cropped = (await hashVideo(join(VPDQ, 'videos', 'chair-orig-22-sd-bar.mp4'), { unletterbox: true })).features;
  assert.ok(!matchVpdq(perSecond('chair-orig-22-sd-bar'), original).isMatch, 'bars in: no match');
  const r = matchVpdq(cropped, original);
  console.log(`vpdq unletterbox chair-orig-22-sd-bar vs reference hashes of chair-orig-22-hd-no-bar: ${r.queryMatchPercent.toFixed(0)}% / ${r.comparedMatchPercent.toFixed(0)}%`);
  assert.ok(r.isMatch, 'bars cropped: match');
});

test('the video index answers which known videos a clip matches, and where', () => {
  const index = new VpdqVideoIndex<string>();
  for (const clip of CLIPS) index.add(clip, perSecond(clip));
  for (const query of CLIPS) {
    const matches = index.query(perSecond(query));
    const brute = CLIPS.filter((c) => matchVpdq(perSecond(query), perSecond(c)).isMatch);
    assert.deepEqual(matches.map((m) => m.entry).sort(), brute, query);
    assert.ok(matches.some((m) => m.entry === query && m.queryMatchPercent === 100), `${query} finds itself`);
    for (const m of matches) assert.equal(family(m.entry), family(query), `${query} matched ${m.entry}`);
    const own = matches.find((m) => m.entry === query)!;
    assert.deepEqual(own.comparedRanges, own.queryRanges);
  }
});

test('a known still photo is found inside the videos, with its timestamp', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-still-'));
  try {
    const ffmpeg = (await locateFfmpeg()).path;
    const still = join(dir, 'chair-at-10s.png');
    const source = join(VPDQ, 'videos', 'chair-orig-22-sd-bar.mp4');
    const made = await runFfmpeg(ffmpeg, ['-v', 'error', '-y', '-ss', '10', '-i', source, '-frames:v', '1', still]);
    assert.equal(made.code, 0, made.stderr);
    // Hashed as the photo hasher does (reference 512×512 pre-resize), as if it came from an image bank.
    const photo = pdqFromPixels(referenceResize(await decodeImage(readFileSync(still))));
    const unrelated = pdqFromPixels(referenceResize(await decodeImage(readFileSync(join(VPDQ, '../pdq/reg-test-input/pen-and-coaster.png')))));
    const images = FlatFrameHashIndex.from([unrelated.hash, photo.hash]);
    const copies = ['chair-20-sd-bar', 'chair-22-sd-grey-bar', 'chair-22-sd-sepia-bar', 'chair-22-with-small-logo-bar', 'chair-orig-22-sd-bar'];
    for (const clip of CLIPS) {
      const found = findImagesInVideo(perSecond(clip), images);
      console.log(`vpdq still in ${clip}: ${found.map((m) => `image ${m.image} at ${m.timestamp.toFixed(2)} s (distance ${m.distance}), ranges ${JSON.stringify(m.ranges)}`).join('; ') || 'not found'}`);
      if (family(clip) !== 'chair') assert.deepEqual(found, [], `${clip} contains neither picture`);
      if (copies.includes(clip)) {
        assert.deepEqual(found.map((m) => m.image), [1], `${clip} contains the chair still`);
      }
      if (clip === 'chair-orig-22-sd-bar') assert.ok(found[0].occurrences.some((o) => Math.abs(o.timestamp - 10) <= 0.5), 'found at 10 s in its source');
    }
    // Every frame: the exact frame is found, at 10 s.
    const exact = findImagesInVideo(full.get('chair-orig-22-sd-bar')!, images);
    assert.ok(Math.abs(exact[0].timestamp - 10) <= 0.1, `best frame at ${exact[0].timestamp} s, distance ${exact[0].distance}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
