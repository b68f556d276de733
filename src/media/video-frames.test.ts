/**
 * Frame extraction and hashing of generated media: bad input (truncated, empty, audio-only, not a
 * video, absurd size), variable frame rate, one frame, rotation, stickers, stills, timeouts, aborts —
 * and after every test, no ffmpeg left running. Fixtures are made here with the bundled ffmpeg.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VigilError } from '../core/errors.js';
import { hammingDistance256, hash256ToHex } from '../signals/pdq/hash256.js';
import { pdqFromPixels } from '../signals/pdq/pdq.js';
import { vpdqTimestamp } from '../signals/vpdq/hasher.js';
import { matchVpdq } from '../signals/vpdq/match.js';
import { liveFfmpegProcesses, locateFfmpeg, runFfmpeg } from './ffmpeg.js';
import { decodeImage } from './image-decode.js';
import { ffmpegRateText, openVideoFrames, parseFrameRate, parseStreamInfo, probeVideo, readFrames } from './video-frames.js';
import { hashVideo, openMediaFrames } from './video-hash.js';
import { VpdqHashPool } from './vpdq-pool.js';

/** RGB24 turned by 90 or 270 degrees clockwise. */
function rotateRgb(data: Uint8Array, width: number, height: number, clockwise: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Clockwise 90: (x, y) → (height − 1 − y, x) in a height×width frame; 270 the other way.
      const [nx, ny] = clockwise === 90 ? [height - 1 - y, x] : [y, width - 1 - x];
      out.set(data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3), (ny * height + nx) * 3);
    }
  }
  return out;
}

let dir = '';
let ffmpeg = '';
const at = (name: string) => join(dir, name);

async function make(name: string, args: string[]): Promise<string> {
  const { code, stderr } = await runFfmpeg(ffmpeg, ['-v', 'error', '-nostdin', '-y', ...args, at(name)]);
  assert.equal(code, 0, `making ${name}: ${stderr}`);
  return at(name);
}

const testsrc = (seconds: number, size = '160x120', rate = 30) => ['-f', 'lavfi', '-i', `testsrc=size=${size}:rate=${rate}:duration=${seconds}`];

function code(expected: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof VigilError, `expected a VigilError, got ${String(err)}`);
    assert.equal(err.code, expected, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-video-'));
  ffmpeg = (await locateFfmpeg()).path;
  await make('clip.mp4', [...testsrc(3), '-pix_fmt', 'yuv420p']);
  await make('faststart.mp4', [...testsrc(3), '-pix_fmt', 'yuv420p', '-movflags', '+faststart']);
});

after(() => rmSync(dir, { recursive: true, force: true }));

afterEach(() => assert.equal(liveFfmpegProcesses(), 0, 'an ffmpeg process was left running'));

test('a plain clip: every frame, 1 frame per second, N×N, each with its frame number and timestamp', async () => {
  const every = await hashVideo(at('clip.mp4'), { secondsPerHash: 0 });
  assert.equal(every.features.length, 90);
  assert.deepEqual(every.features.map((f) => f.frameNumber), [...Array(90).keys()]);
  assert.equal(every.info.fps, 30);
  assert.equal(every.info.decoder, 'ffmpeg');
  assert.deepEqual([every.info.frameWidth, every.info.frameHeight], [160, 120]);
  assert.equal(every.features[45].timestamp, vpdqTimestamp(45, 30));
  assert.equal(every.partial, undefined);
  // Selecting frames before conversion must pick the same frames: n = 0, 30, 60.
  const sampled = await hashVideo(at('clip.mp4'));
  assert.deepEqual(sampled.features.map((f) => f.frameNumber), [0, 30, 60]);
  assert.equal(sampled.info.frameInterval, 30);
  for (const f of sampled.features) assert.equal(hash256ToHex(f.hash), hash256ToHex(every.features[f.frameNumber!].hash));
  const small = await hashVideo(at('clip.mp4'), { secondsPerHash: 0.5, size: 64 });
  assert.deepEqual(small.features.map((f) => f.frameNumber), [0, 15, 30, 45, 60, 75]);
  assert.deepEqual([small.info.frameWidth, small.info.frameHeight], [64, 64]);
  // A worker pool gives the same features in the same order.
  const pool = new VpdqHashPool({ threads: 2 });
  try {
    const pooled = await hashVideo(at('clip.mp4'), { secondsPerHash: 0, pool });
    assert.deepEqual(pooled.features.map((f) => [f.frameNumber, hash256ToHex(f.hash), f.quality]), every.features.map((f) => [f.frameNumber, hash256ToHex(f.hash), f.quality]));
  } finally {
    await pool.close();
  }
});

test('zero-byte, missing and non-regular files are refused clearly', async () => {
  writeFileSync(at('empty.mp4'), '');
  await assert.rejects(hashVideo(at('empty.mp4')), code('VIGIL_ERR_EMPTY_FILE'));
  await assert.rejects(hashVideo(at('missing.mp4')), code('VIGIL_ERR_UNREADABLE'));
  await assert.rejects(openVideoFrames(dir), code('VIGIL_ERR_UNREADABLE', /Not a regular file/));
});

test('truncated MP4: no index → decode error; index first → the frames before the cut, flagged partial', async () => {
  const whole = readFileSync(at('clip.mp4'));
  writeFileSync(at('cut-end.mp4'), whole.subarray(0, whole.length >> 1));
  await assert.rejects(hashVideo(at('cut-end.mp4')), code('VIGIL_ERR_VIDEO_DECODE', /moov atom not found|Invalid data/));
  const faststart = readFileSync(at('faststart.mp4'));
  writeFileSync(at('cut-fast.mp4'), faststart.subarray(0, Math.floor(faststart.length * 0.6)));
  const partial = await hashVideo(at('cut-fast.mp4'), { secondsPerHash: 0 });
  assert.ok(partial.features.length > 10 && partial.features.length < 90, `${partial.features.length} frames`);
  assert.match(partial.partial ?? '', /./);
  await assert.rejects(hashVideo(at('cut-fast.mp4'), { lenient: false }), code('VIGIL_ERR_VIDEO_DECODE', /damaged/));
});

test('audio-only, text, random bytes and an absurd frame size are refused', async () => {
  await make('tone.m4a', ['-f', 'lavfi', '-i', 'sine=duration=1']);
  await assert.rejects(hashVideo(at('tone.m4a')), code('VIGIL_ERR_VIDEO_DECODE', /audio but no video/));
  // ffmpeg would happily "decode" a .txt file as ANSI art.
  writeFileSync(at('notes.txt'), 'These are not the frames you are looking for.\n'.repeat(50));
  await assert.rejects(hashVideo(at('notes.txt')), code('VIGIL_ERR_VIDEO_DECODE', /Not a video/));
  const random = new Uint8Array(20000);
  for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
  writeFileSync(at('random.mp4'), random);
  await assert.rejects(hashVideo(at('random.mp4')), code('VIGIL_ERR_VIDEO_DECODE'));
  const y4m = (w: number, h: number) => Buffer.concat([Buffer.from(`YUV4MPEG2 W${w} H${h} F25:1 Ip A1:1 C420jpeg\nFRAME\n`), Buffer.alloc(4096, 7)]);
  writeFileSync(at('huge.y4m'), y4m(16000, 16000));
  await assert.rejects(hashVideo(at('huge.y4m')), code('VIGIL_ERR_PIXEL_LIMIT', /16000×16000/));
  writeFileSync(at('absurd.y4m'), y4m(60000, 60000));
  await assert.rejects(hashVideo(at('absurd.y4m')), code('VIGIL_ERR_PIXEL_LIMIT', /60000×60000/));
  await assert.rejects(hashVideo(at('clip.mp4'), { maxPixels: 100 * 100 }), code('VIGIL_ERR_PIXEL_LIMIT'));
});

test('variable frame rate: every coded frame once, timestamps from the average rate as the reference', async () => {
  // 30 frames at 30 fps, then every third frame.
  const vfr = await make('vfr.mp4', [...testsrc(3, '64x48'), '-vf', "select='lt(n\\,30)+not(mod(n\\,3))'", '-vsync', 'vfr', '-pix_fmt', 'yuv420p']);
  const info = await probeVideo(vfr);
  assert.equal(info.fpsSource, 'avg_frame_rate');
  assert.ok(info.fps > 15 && info.fps < 20, `average ${info.fps}`);
  // The frames the decoder outputs (no frame-rate conversion): what libav hands the reference.
  const packets = execFileSync(ffmpeg, ['-v', 'error', '-i', vfr, '-map', '0:v:0', '-vsync', '0', '-f', 'framecrc', '-'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^0,/.test(l));
  assert.ok(packets.length > 40, `${packets.length} packets`);
  const { features } = await hashVideo(vfr, { secondsPerHash: 0 });
  assert.equal(features.length, packets.length);
  assert.deepEqual(features.map((f) => f.frameNumber), [...Array(packets.length).keys()]);
  assert.equal(features[40].timestamp, vpdqTimestamp(40, info.fps));
  const sampled = await hashVideo(vfr);
  const interval = Math.trunc(info.fps);
  assert.deepEqual(sampled.features.map((f) => f.frameNumber), [0, interval, 2 * interval, 3 * interval].filter((n) => n < packets.length));
  for (const f of sampled.features) assert.equal(hash256ToHex(f.hash), hash256ToHex(features[f.frameNumber!].hash));
});

test('a one-frame video and a still image hash to one feature; a PNG hashes as the image path does', async () => {
  const one = await make('one.mp4', [...testsrc(1, '200x150'), '-frames:v', '1', '-pix_fmt', 'yuv444p', '-crf', '0']);
  const video = await hashVideo(one);
  assert.deepEqual(video.features.map((f) => [f.frameNumber, f.timestamp]), [[0, 0]]);
  const png = await make('still.png', [...testsrc(1, '200x150'), '-frames:v', '1']);
  const still = await hashVideo(png);
  assert.equal(still.features.length, 1);
  const image = await decodeImage(readFileSync(png));
  assert.equal(hash256ToHex(still.features[0].hash), hash256ToHex(pdqFromPixels(image).hash));
  assert.ok(hammingDistance256(video.features[0].hash, still.features[0].hash) <= 8, 'the same picture, losslessly in H.264');
});

test('rotation metadata is ignored by default (as the reference) and applied with autorotate', async () => {
  const upright = await make('upright.mp4', [...testsrc(1, '160x96'), '-pix_fmt', 'yuv420p']);
  const turned = at('turned.mp4');
  const { code: exit } = await runFfmpeg(ffmpeg, ['-v', 'error', '-y', '-i', upright, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', turned]);
  assert.equal(exit, 0);
  const info = await probeVideo(turned);
  assert.notEqual(info.rotation, 0);
  const raw = await hashVideo(turned, { secondsPerHash: 0 });
  const plain = await hashVideo(upright, { secondsPerHash: 0 });
  assert.deepEqual([raw.info.frameWidth, raw.info.frameHeight], [160, 96]);
  assert.deepEqual(raw.features.map((f) => hash256ToHex(f.hash)), plain.features.map((f) => hash256ToHex(f.hash)));
  const rotated = await hashVideo(turned, { secondsPerHash: 0, autorotate: true });
  assert.deepEqual([rotated.info.frameWidth, rotated.info.frameHeight], [96, 160]);
  // The autorotated frame is the stored frame turned by info.rotation degrees clockwise.
  const source = await openVideoFrames(upright, { secondsPerHash: 0 });
  const frames = source.frames();
  const first = (await frames.next()).value!;
  await frames.return(undefined);
  const turnedPixels = rotateRgb(first.data, first.width, first.height, info.rotation);
  const expected = pdqFromPixels({ data: turnedPixels, width: 96, height: 160, channels: 3 });
  assert.ok(hammingDistance256(expected.hash, rotated.features[0].hash) <= 4, 'turned as the metadata says');
  assert.ok(hammingDistance256(rotated.features[0].hash, plain.features[0].hash) > 31);
});

test('stickers: animated GIF, WebP and APNG hash like the short video they show', async () => {
  const gif = await make('sticker.gif', testsrc(1, '96x96', 10));
  const webp = await make('sticker.webp', [...testsrc(1, '96x96', 10), '-loop', '0', '-lossless', '1']);
  const apng = await make('sticker.apng', [...testsrc(1, '96x96', 10), '-plays', '0']);
  const mp4 = await make('sticker.mp4', [...testsrc(1, '96x96', 10), '-pix_fmt', 'yuv444p', '-crf', '0']);
  const results = await Promise.all([gif, webp, apng, mp4].map((p) => hashVideo(p, { secondsPerHash: 0 })));
  assert.deepEqual(results.map((r) => r.info.decoder), ['sharp', 'sharp', 'ffmpeg', 'ffmpeg']);
  for (const r of results) {
    assert.equal(r.features.length, 10, r.info.format);
    assert.deepEqual(r.features.map((f) => Math.round(f.timestamp * 10)), [...Array(10).keys()], r.info.format);
  }
  const [g, w, a, m] = results.map((r) => r.features);
  for (let i = 0; i < 10; i++) {
    assert.equal(hash256ToHex(w[i].hash), hash256ToHex(a[i].hash), `lossless WebP and APNG frame ${i} are the same pixels`);
    assert.ok(hammingDistance256(g[i].hash, a[i].hash) <= 31, `GIF frame ${i}`);
    assert.ok(hammingDistance256(m[i].hash, a[i].hash) <= 31, `MP4 frame ${i}`);
  }
  assert.ok(matchVpdq(g, m).isMatch && matchVpdq(w, m).isMatch && matchVpdq(m, a).isMatch);
  // Damaged and oversized stickers.
  const bytes = readFileSync(gif);
  writeFileSync(at('cut.gif'), bytes.subarray(0, bytes.length >> 1));
  const cut = await hashVideo(at('cut.gif'), { secondsPerHash: 0 });
  assert.ok(cut.features.length >= 1 && cut.features.length < 10, `${cut.features.length} frames from half a GIF`);
  writeFileSync(at('garbled.gif'), Buffer.concat([bytes.subarray(0, 13), Buffer.alloc(200, 0xff)]));
  await assert.rejects(hashVideo(at('garbled.gif')), code('VIGIL_ERR_VIDEO_DECODE'));
  await assert.rejects(hashVideo(webp, { maxPixels: 1000 }), code('VIGIL_ERR_PIXEL_LIMIT', /96×96/));
  // One frame per second of a one-second sticker: its first frame, which is the GIF read as an image.
  const sampled = await hashVideo(gif);
  assert.equal(sampled.features.length, 1);
  const image = await decodeImage(readFileSync(gif));
  assert.ok(hammingDistance256(sampled.features[0].hash, pdqFromPixels(image).hash) <= 2);
});

test('timeout, abort and an early stop by the consumer kill ffmpeg', async () => {
  await assert.rejects(hashVideo(at('clip.mp4'), { secondsPerHash: 0, timeoutMs: 1 }), code('VIGIL_ERR_TIMEOUT'));
  const controller = new AbortController();
  const source = await openMediaFrames(at('clip.mp4'), { secondsPerHash: 0, signal: controller.signal });
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const _frame of source.frames()) {
        if (++seen === 3) controller.abort(new Error('stop now'));
      }
    })(),
    /stop now/,
  );
  assert.ok(seen >= 3 && seen < 90);
  const early = await openMediaFrames(at('clip.mp4'), { secondsPerHash: 0 });
  for await (const _frame of early.frames()) break;
  const failing = await openMediaFrames(at('clip.mp4'), { secondsPerHash: 0 });
  await assert.rejects(
    (async () => {
      for await (const _frame of failing.frames()) throw new Error('consumer failed');
    })(),
    /consumer failed/,
  );
  await assert.rejects(hashVideo(at('clip.mp4'), { signal: AbortSignal.abort(new Error('already')) }), /already/);
});

test('ffmpeg lookup: an explicit path or VIGIL_FFMPEG that does not work is an error, never a fallback', async () => {
  await assert.rejects(hashVideo(at('clip.mp4'), { ffmpegPath: at('no-ffmpeg') }), code('VIGIL_ERR_FFMPEG_MISSING', /ffmpegPath/));
  await assert.rejects(locateFfmpeg({ env: { VIGIL_FFMPEG: at('nope') } }), code('VIGIL_ERR_FFMPEG_MISSING', /VIGIL_FFMPEG/));
  assert.equal((await locateFfmpeg({ env: { VIGIL_FFMPEG: ffmpeg } })).source, 'env');
  assert.equal((await locateFfmpeg({ ffmpegPath: ffmpeg })).source, 'option');
  // File names that look like options or URLs are still files.
  copyFileSync(at('clip.mp4'), at('-i:x.mp4'));
  assert.equal((await hashVideo(at('-i:x.mp4'))).features.length, 3);
});

test('stream dump parsing: frame rates, sizes, rotation', () => {
  assert.equal(parseFrameRate('29.97'), 30000 / 1001);
  assert.equal(parseFrameRate('23.98'), 24000 / 1001);
  assert.equal(parseFrameRate('59.94'), 60000 / 1001);
  assert.equal(parseFrameRate('30'), 30);
  assert.equal(parseFrameRate('12.50'), 12.5);
  assert.equal(parseFrameRate('0.33'), 1 / 3);
  assert.equal(parseFrameRate('90k'), 90000);
  assert.equal(parseFrameRate('15.79'), 15.79);
  assert.equal(parseFrameRate('x'), undefined);
  assert.equal(ffmpegRateText(30000 / 1001), '29.97');
  const info = parseStreamInfo(
    [
      "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/x.mp4':",
      '  Duration: 00:01:02.50, start: 0.000000, bitrate: 900 kb/s',
      '    Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 64 kb/s (default)',
      '    Stream #0:1[0x2](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 1920x1080 [SAR 1:1 DAR 16:9], 4996 kb/s, 29.97 fps, 29.97 tbr, 30k tbn (default)',
      '    Side data:',
      '      displaymatrix: rotation of -90.00 degrees',
      '    Stream #0:2: Video: mjpeg, yuvj420p, 300x300, 90k tbr',
    ].join('\n'),
  );
  assert.deepEqual(
    [info.codec, info.pixelFormat, info.width, info.height, info.fps, info.fpsSource, info.rotation, info.durationSeconds],
    ['h264', 'yuv420p', 1920, 1080, 30000 / 1001, 'avg_frame_rate', 90, 62.5],
  );
  const tbrOnly = parseStreamInfo("Input #0, gif, from 'a.gif':\n    Stream #0:0: Video: gif, bgra, 64x48, 10 tbr, 100 tbn\n");
  assert.deepEqual([tbrOnly.fps, tbrOnly.fpsSource], [10, 'r_frame_rate']);
  assert.throws(() => parseStreamInfo("Input #0, mp3, from 'a.mp3':\n    Stream #0:0: Audio: mp3, 44100 Hz\n"), /audio but no video/);
});

test('frames are cut from the pipe across any chunk boundaries', async () => {
  const frameBytes = 7;
  const bytes = Uint8Array.from({ length: 7 * 5 + 3 }, (_, i) => i);
  async function* chunks(sizes: number[]) {
    let offset = 0;
    for (const size of sizes) {
      yield bytes.subarray(offset, offset + size);
      offset += size;
    }
    if (offset < bytes.length) yield bytes.subarray(offset);
  }
  for (const sizes of [[1, 1, 1, 20], [7, 7], [38], [3, 4, 5, 6, 7, 8]]) {
    const frames: number[][] = [];
    for await (const f of readFrames(chunks(sizes), frameBytes)) frames.push([...f]);
    assert.deepEqual(frames, Array.from({ length: 5 }, (_, k) => Array.from({ length: 7 }, (_, i) => k * 7 + i)), String(sizes));
  }
});

test('decoder threads: -threads N goes to the input when asked, ffmpeg decides otherwise; a pool of several files asks for 1', async () => {
  // A stand-in ffmpeg that writes down each command line, then runs the real one.
  const log = at('ffmpeg-args.log');
  const wrapper = at('ffmpeg-logging.sh');
  writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> '${log}'\nexec '${ffmpeg}' "$@"\n`, { mode: 0o700 });
  const extraction = () => readFileSync(log, 'utf8').trim().split('\n').filter((l) => l.includes('rawvideo'));
  const one = await hashVideo(at('clip.mp4'), { ffmpegPath: wrapper, decoderThreads: 1 });
  assert.match(extraction().pop()!, /-threads 1 .*-i file:/);
  const plain = await hashVideo(at('clip.mp4'), { ffmpegPath: wrapper });
  assert.doesNotMatch(extraction().pop()!, /-threads/);
  assert.deepEqual(one.features.map((f) => hash256ToHex(f.hash)), plain.features.map((f) => hash256ToHex(f.hash)), 'the same frames either way');
  // HashPool, two threads (its workers read VIGIL_FFMPEG when they start).
  const { HashPool } = await import('../hashing/pool.js');
  const saved = process.env.VIGIL_FFMPEG;
  process.env.VIGIL_FFMPEG = wrapper;
  try {
    const pool = new HashPool({ threads: 2 });
    try {
      const record = await pool.hash(at('clip.mp4'));
      assert.equal(record.vpdq?.length, one.features.length, JSON.stringify(record.error));
    } finally {
      await pool.close();
    }
  } finally {
    if (saved === undefined) delete process.env.VIGIL_FFMPEG;
    else process.env.VIGIL_FFMPEG = saved;
  }
  assert.match(extraction().pop()!, /-threads 1 .*-i file:/);
});
