/**
 * One picture → its hashes, in the calling thread: the digests of the encoded bytes and PDQ (with quality,
 * optionally the 7 other dihedral hashes) of the pixels, computed as the server computes them
 * (src/hashing/hash-file.ts: the reference tool's 512×512 pre-resize by default).
 */
import { hash256ToHex } from '../signals/pdq/hash256.js';
import type { PixelBuffer } from '../signals/pdq/luma.js';
import { DIHEDRAL_NAMES, pdqDihedralFromPixels, pdqFromPixels, PdqScratch, PDQ_QUALITY_THRESHOLD, type DihedralName } from '../signals/pdq/pdq.js';
import { digestsOf, type Digests } from './digests.js';
import { decodeBytes, greyIfGrey, isImageBitmap, isImageData, pixelsOfBitmap, pixelsOfRaw, type RawPixels } from './pixels.js';
import type { ImageBitmapLike, ImageDataLike } from './web-types.js';

/** What can be hashed: encoded bytes (Blob/File, ArrayBuffer, Uint8Array) get digests and PDQ; pixels get PDQ. */
export type HashInput = Blob | ArrayBuffer | Uint8Array | ImageBitmapLike | ImageDataLike | RawPixels;

export interface HashOptions {
  /** MD5/SHA-1/SHA-256 of encoded input (default true). */
  digests?: boolean;
  /** PDQ of the picture (default true). */
  pdq?: boolean;
  /** Also the 7 other rotations/flips, from the same DCT (default false). */
  dihedral?: boolean;
  /**
   * Sample pictures with a side over 512 px to 512×512 first, as the reference tool and the server do
   * (default true: hashes then equal the server's for identical pixels).
   */
  referenceResize?: boolean;
}

export interface ImageHashes extends Partial<Digests> {
  pdq?: string;
  /** 0..100; below PDQ_QUALITY_THRESHOLD (50) the picture is too flat for PDQ to mean anything. */
  quality?: number;
  dihedral?: Partial<Record<DihedralName, string>>;
  width?: number;
  height?: number;
  /** Set when the picture could not be decoded: the digests (if any) are still given. */
  error?: string;
}

export { PDQ_QUALITY_THRESHOLD };

const scratch = new PdqScratch();

export function pdqOfPixels(input: PixelBuffer, options: HashOptions = {}): Pick<ImageHashes, 'pdq' | 'quality' | 'dihedral' | 'width' | 'height'> {
  const pixels = greyIfGrey(input);
  const o = { referenceResize: options.referenceResize ?? true };
  const size = { width: pixels.width, height: pixels.height };
  if (!options.dihedral) {
    const r = pdqFromPixels(pixels, scratch, o);
    return { pdq: hash256ToHex(r.hash), quality: r.quality, ...size };
  }
  const r = pdqDihedralFromPixels(pixels, scratch, o);
  // As the server: the plain hash skips the blur on exactly-64×64 input (reference behaviour).
  const plain = pixels.width === 64 && pixels.height === 64 ? pdqFromPixels(pixels, scratch, o).hash : r.hashes[0];
  const dihedral: Partial<Record<DihedralName, string>> = {};
  for (let i = 1; i < DIHEDRAL_NAMES.length; i++) dihedral[DIHEDRAL_NAMES[i]] = hash256ToHex(r.hashes[i]);
  return { pdq: hash256ToHex(plain), quality: r.quality, dihedral, ...size };
}

function isBlob(value: unknown): value is Blob {
  return typeof Blob !== 'undefined' && value instanceof Blob;
}

/** Hashes one input in this thread (a worker of the pool calls this). */
export async function hashHere(input: HashInput, options: HashOptions = {}): Promise<ImageHashes> {
  const wantPdq = options.pdq ?? true;
  if (isBlob(input) || input instanceof ArrayBuffer || input instanceof Uint8Array) {
    const bytes = isBlob(input) ? new Uint8Array(await input.arrayBuffer()) : input instanceof Uint8Array ? input : new Uint8Array(input);
    const out: ImageHashes = options.digests ?? true ? await digestsOf(bytes) : {};
    if (!wantPdq) return out;
    try {
      return { ...out, ...pdqOfPixels(await decodeBytes(bytes, isBlob(input) ? input : undefined), options) };
    } catch (err) {
      return { ...out, error: err instanceof Error ? err.message : String(err) };
    }
  }
  if (!wantPdq) return {};
  if (isImageBitmap(input)) return pdqOfPixels(pixelsOfBitmap(input), options);
  if (isImageData(input)) return pdqOfPixels(pixelsOfRaw(input), options);
  return pdqOfPixels(pixelsOfRaw(input as RawPixels), options);
}
