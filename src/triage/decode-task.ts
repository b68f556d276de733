/**
 * What a triage worker runs for one item: pictures arrive as bytes (the main thread read them once, took
 * the digests and checked the allow banks), are decoded once for PDQ (with the 8 orientations and derived
 * views, as `vigil match`) and read for EXIF; animations also get vPDQ from the same bytes. Videos on disk
 * arrive as a path: ffmpeg reads them (hash-file.ts, which streams the digests in the same pass).
 */
import { ItemBudget, type ItemBudgetInit } from '../core/budget.js';
import { hashFile, hashImageBytes, onDecoderLoad, type FileHashRecord, type HashOptions } from '../hashing/hash-file.js';
import { formatVpdqCompactFeature } from '../signals/vpdq/format.js';
import { vpdqFeatureFromFrame } from '../signals/vpdq/hasher.js';
import { PdqScratch } from '../signals/pdq/pdq.js';
import { exifFacts, type ExifFacts } from './exif.js';

onDecoderLoad(async () => {
  const { default: sharp } = await import('sharp');
  sharp.concurrency(1);
  sharp.cache(false);
});

export interface DecodeInput {
  /** Picture bytes (transferred), or… */
  bytes?: Uint8Array;
  /** …a video file on disk. */
  path?: string;
  options: HashOptions;
  budget?: ItemBudgetInit;
}

export type DecodeResult = FileHashRecord & { exif?: ExifFacts };

const scratch = new PdqScratch();

export default async function decodeTask(input: DecodeInput): Promise<DecodeResult> {
  const budget = input.budget ? ItemBudget.fromInit(input.budget) : new ItemBudget();
  if (input.path !== undefined) return hashFile(input.path, input.options, budget);
  const bytes = input.bytes!;
  const record: DecodeResult = { path: '' };
  await hashImageBytes(bytes, record, input.options, budget);
  const exif = await exifFacts(bytes);
  if (exif) record.exif = exif;
  if (!record.error && (record.frames ?? 1) > 1) {
    record.media = 'animation';
    try {
      const { openAnimatedImage } = await import('../media/animated-image.js');
      const source = await openAnimatedImage(bytes, { budget, ...(input.options.secondsPerHash !== undefined ? { secondsPerHash: input.options.secondsPerHash } : {}) });
      const features: string[] = [];
      for await (const frame of source.frames()) features.push(formatVpdqCompactFeature(vpdqFeatureFromFrame(frame, scratch)));
      record.vpdq = features;
    } catch (err) {
      record.warning = `Animation frames not hashed: ${(err as Error).message}`;
    }
  }
  return record;
}
