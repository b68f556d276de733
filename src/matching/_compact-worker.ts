/** Worker-thread entry of HammingIndex256#compactAsync (internal; see _compact-client.ts). */
import { parentPort } from 'node:worker_threads';
import { MAX_SEGMENT_ROWS, Segment, buildSegment, gatherLive, type LayoutOptions, type SegmentData } from './_segment.js';

parentPort?.once('message', (msg: { segments: SegmentData[]; layout: LayoutOptions }) => {
  try {
    const { hashes, ids } = gatherLive(msg.segments.map((d) => new Segment(d)));
    const out: SegmentData[] = [];
    const n = ids.length;
    const parts = Math.ceil(n / MAX_SEGMENT_ROWS);
    const size = Math.ceil(n / Math.max(1, parts));
    for (let s = 0; s < n; s += size) {
      const e = Math.min(n, s + size);
      out.push(buildSegment(hashes.subarray(s * 8, e * 8), ids.subarray(s, e), msg.layout));
    }
    parentPort?.postMessage({ ok: true, segments: out });
  } catch (err) {
    parentPort?.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) });
  }
});
