import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mayBeImage, sniffMedia } from './sniff.js';

const bytes = (...parts: (string | number[])[]) => Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));

test('images, animations and videos are told apart by their first bytes, not their names', () => {
  assert.equal(sniffMedia(bytes([0xff, 0xd8, 0xff, 0xe0])), 'image');
  assert.equal(sniffMedia(bytes('GIF89a')), 'image');
  assert.equal(sniffMedia(bytes('RIFF', [0, 0, 0, 0], 'WEBPVP8 ')), 'image');
  assert.equal(sniffMedia(bytes([0, 0, 0, 24], 'ftypavif')), 'image');
  assert.equal(sniffMedia(bytes([0, 0, 0, 24], 'ftypisom')), 'video');
  assert.equal(sniffMedia(bytes([0, 0, 0, 8], 'moov')), 'video');
  assert.equal(sniffMedia(bytes([0x1a, 0x45, 0xdf, 0xa3])), 'video');
  assert.equal(sniffMedia(bytes('RIFF', [0, 0, 0, 0], 'AVI ')), 'video');
  const ts = new Uint8Array(400);
  ts[0] = ts[188] = 0x47;
  assert.equal(sniffMedia(ts), 'video');
  const m2ts = new Uint8Array(400);
  m2ts[4] = m2ts[196] = 0x47;
  assert.equal(sniffMedia(m2ts), 'video');
  // APNG: a PNG with an acTL chunk before IDAT.
  const chunk = (type: string) => [0, 0, 0, 0, ...[...type].map((c) => c.charCodeAt(0)), 0, 0, 0, 0];
  assert.equal(sniffMedia(bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], chunk('acTL'), chunk('IDAT'))), 'animation');
  assert.equal(sniffMedia(bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], chunk('IDAT'))), 'image');
  assert.equal(sniffMedia(bytes('plain text')), 'unknown');
  assert.equal(sniffMedia(new Uint8Array(0)), 'unknown');
});

test('mayBeImage: only heads no decoder would read are ruled out', () => {
  assert.equal(mayBeImage(bytes('hello, world\n')), false);
  assert.equal(mayBeImage(bytes('%PDF-1.7\n')), false);
  assert.equal(mayBeImage(bytes([])), false);
  assert.equal(mayBeImage(bytes('<?xml version="1.0"?>\n<SVG width="10" height="10"></SVG>')), true);
  assert.equal(mayBeImage(bytes([0x1f, 0x8b, 0x08, 0x00])), true, 'gzip: may be SVGZ');
  assert.equal(mayBeImage(bytes([0xff, 0xd8, 0x00, 0x00])), true);
  assert.equal(mayBeImage(bytes([0x49, 0x49, 0x2b, 0x00])), true, 'BigTIFF');
});
