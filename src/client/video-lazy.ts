/**
 * The video entry points of the SDK, kept out of the picture path: `./video.js` (and the MP4 demuxer in it)
 * is imported only when a video is hashed. The browser bundle keeps it as a separate file beside client.js
 * (src/service/web/client-bundle.ts).
 */
import type { VideoHashOptions, VideoHashResult } from './video.js';

export type { VideoHashOptions, VideoHashResult };

/** vPDQ of an MP4/MOV video through WebCodecs, in this thread; `{ supported: false, reason }` where impossible. */
export async function hashVideo(input: Blob | ArrayBuffer | Uint8Array, options: VideoHashOptions = {}): Promise<VideoHashResult> {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.VideoDecoder !== 'function' || typeof g.EncodedVideoChunk !== 'function' || typeof g.OffscreenCanvas !== 'function') {
    return { supported: false, reason: 'this runtime has no WebCodecs VideoDecoder (or no OffscreenCanvas): video cannot be hashed here' };
  }
  const { hashVideoHere } = await import('./video.js');
  return hashVideoHere(input, options);
}
