import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { HOSTILE, onePixelFrameGif } from '../../test/helpers/hostile.js';
import { expectedPixels, HEAVY_PIXELS } from './expected-cost.js';
import { LaneScheduler, type LaneItem } from './lanes.js';

/** Tasks that finish only when the test says so; `started` is the order they began in. */
function harness(scheduler: LaneScheduler) {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const submit = (name: string, item: LaneItem) =>
    scheduler.run(item, () => {
      started.push(name);
      return new Promise<string>((resolve) => finish.set(name, () => resolve(name)));
    });
  const done = async (name: string) => {
    finish.get(name)!();
    await new Promise(setImmediate);
  };
  return { started, submit, done };
}

const HEAVY: LaneItem = { cost: 512e6, heavy: true };
const light = (cost: number): LaneItem => ({ cost, heavy: false });

test('a cheap item submitted after four heavy ones starts before any of them finishes', async () => {
  const s = new LaneScheduler(2);
  const { started, submit, done } = harness(s);
  const heavy = ['gif-1', 'gif-2', 'gif-3', 'gif-4'].map((n) => submit(n, HEAVY));
  const ordinary = submit('ordinary', light(1e6));
  // One thread takes a heavy item; the other is kept for light work, and the ordinary item has it.
  assert.deepEqual(started, ['gif-1', 'ordinary']);
  assert.deepEqual(s.counts, { running: 2, runningHeavy: 1, waiting: 3 });
  await done('ordinary');
  assert.equal(await ordinary, 'ordinary');
  // With no light work waiting, the heavy lane still holds only one thread.
  assert.deepEqual(started, ['gif-1', 'ordinary']);
  for (const n of ['gif-1', 'gif-2', 'gif-3']) await done(n);
  assert.deepEqual(started, ['gif-1', 'ordinary', 'gif-2', 'gif-3', 'gif-4']);
  await done('gif-4');
  assert.equal((await Promise.all(heavy)).length, 4);
});

test('the cheapest light item goes first; one passed over too often goes first regardless', async () => {
  const s = new LaneScheduler(1, 1, 2);
  const { started, submit, done } = harness(s);
  void submit('busy', light(1));
  void submit('big', light(30e6));
  void submit('small-1', light(1e6));
  void submit('small-2', light(1e6));
  void submit('small-3', light(2e6));
  void submit('small-4', light(1e6));
  for (const n of ['busy', 'small-1', 'small-2', 'big', 'small-4', 'small-3']) await done(n);
  // big is passed over by small-1 and small-2, then goes before small-4, which is cheaper.
  assert.deepEqual(started, ['busy', 'small-1', 'small-2', 'big', 'small-4', 'small-3']);
});

test('with one thread, a heavy item waits for the light ones queued before its turn', async () => {
  const s = new LaneScheduler(1);
  const { started, submit, done } = harness(s);
  void submit('gif-1', HEAVY);
  void submit('gif-2', HEAVY);
  void submit('ordinary', light(1e6));
  await done('gif-1');
  await done('ordinary');
  await done('gif-2');
  assert.deepEqual(started, ['gif-1', 'ordinary', 'gif-2']);
});

test('a task that throws settles its item and frees the thread', async () => {
  const s = new LaneScheduler(1);
  await assert.rejects(s.run(light(1), () => { throw new Error('boom'); }), /boom/);
  assert.equal(await s.run(light(1), async () => 'next'), 'next');
});

test('expected cost: the 3,000-frame GIF is heavy, the hostile headers the worker refuses cheaply are light', async () => {
  const gif = onePixelFrameGif(2000, 2000, 3000);
  assert.equal(expectedPixels(gif, gif.length), 128_000_000);
  const cost = (name: string) => {
    const bytes = readFileSync(join(HOSTILE, name));
    return expectedPixels(bytes, bytes.length);
  };
  // Refused from the header (canvas over the animation limit): nothing is composed.
  assert.equal(cost('img_webp_anim240_canvas_6001sq.webp'), 0);
  // A JPEG over the whole-decode size is decoded at 1/8 scale.
  assert.equal(cost('img_jpeg_progressive_sof_14000sq.jpg'), Math.ceil((14000 * 14000) / 64));
  assert.equal(cost('img_png_65535x1_idat_10bytes_hashes_ok.png'), 65535);
  const jpeg = await sharp({ create: { width: 1280, height: 800, channels: 3, background: '#5a8cc8' } }).jpeg().toBuffer();
  assert.equal(expectedPixels(jpeg, jpeg.length), 1280 * 800);
  const smallGif = onePixelFrameGif(100, 100, 40);
  assert.equal(expectedPixels(smallGif, smallGif.length), 100 * 100 * 40);
  assert.ok(!(expectedPixels(smallGif, smallGif.length) > HEAVY_PIXELS));
  // A GIF longer than what was scanned is not guessed at.
  assert.equal(expectedPixels(smallGif.subarray(0, 100), 5_000_000), Infinity);
  assert.equal(expectedPixels(Buffer.from('\0\0\0\x18ftypmp42\0\0\0\0'), 1000), Infinity);
});
