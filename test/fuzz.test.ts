/**
 * Property-based fuzzing (fast-check) of the front doors that take untrusted bytes: the image decoder,
 * every stream list reader and the rules loader. The property: any input ends in a result or a VigilError
 * with a stable code, never another exception. A short run here (FUZZ_RUNS, default 40 per door);
 * `npm run fuzz` runs thousands. Inputs are random bytes and mutations of benign synthetic files.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import sharp from 'sharp';
import { VigilError } from '../src/core/errors.js';
import { decodeImage } from '../src/media/image-decode.js';
import { LIST_FORMATS } from '../src/lists/registry.js';
import { parseRulesConfig } from '../src/rules/config.js';
import { onePixelFrameGif } from './helpers/hostile.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 40);

const expectVigil = (err: unknown, what: string) => assert.ok(err instanceof VigilError, `${what}: ${err instanceof Error ? err.stack : String(err)}`);

/** A seed file with some of its bytes overwritten, cut short or extended. */
function mutated(seed: Uint8Array) {
  return fc.tuple(fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 16 }), fc.nat(seed.length), fc.uint8Array({ maxLength: 64 })).map(([edits, cut, tail]) => {
    const out = Buffer.concat([Buffer.from(seed), Buffer.from(tail)]);
    for (const [at, value] of edits) out[at] = value;
    return out.subarray(0, Math.max(1, cut + tail.length));
  });
}

test('image decoder: random and mutated pictures give pixels or a VigilError', async () => {
  const png = await sharp({ create: { width: 48, height: 32, channels: 3, background: '#3080c0' } }).png().toBuffer();
  const jpeg = await sharp({ create: { width: 48, height: 32, channels: 3, background: '#c08030' } }).jpeg().toBuffer();
  const gif = onePixelFrameGif(16, 16, 4);
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 256 }), mutated(png), mutated(jpeg), mutated(gif)), async (bytes) => {
      try {
        const image = await decodeImage(bytes);
        assert.ok(image.width > 0 && image.height > 0);
      } catch (err) {
        expectVigil(err, 'decodeImage');
      }
    }),
    { numRuns: RUNS },
  );
});

test('list readers: any bytes give items or a VigilError, for every stream format', async () => {
  for (const format of LIST_FORMATS.filter((f) => f.input === 'stream')) {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.string({ maxLength: 512 }).map((s) => Buffer.from(s))), async (bytes) => {
        try {
          if (format.input !== 'stream') return;
          for await (const item of format.read([bytes])) assert.ok(item.kind === 'record' || item.kind === 'error');
        } catch (err) {
          expectVigil(err, format.name);
        }
      }),
      { numRuns: RUNS },
    );
  }
});

test('rules loader: any JSON value is a config or a VigilError', () => {
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), fc.record({ version: fc.constant(1), rules: fc.array(fc.record({ id: fc.string(), description: fc.string(), when: fc.jsonValue(), then: fc.jsonValue() })) })), (json) => {
      try {
        parseRulesConfig(json);
      } catch (err) {
        expectVigil(err, 'parseRulesConfig');
      }
    }),
    { numRuns: RUNS * 5 },
  );
});
