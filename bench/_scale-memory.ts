/**
 * bench/scale.ts's memory phase: a matcher snapshot of `n` signals (half PDQ, half MD5: a bank that lists both
 * hashes of each picture; random benign values) written with the production writer, then loaded by a fresh
 * process (bench/_snapshot-load.ts): the per-process cost of the index, without build temporaries. Every
 * fleet process loads the same snapshot file once at start (matching.snapshotDir), then follows the feed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSnapshot } from '../src/banks/snapshot.js';
import { ExactIndex } from '../src/matching/exact-index.js';
import { HammingIndex256 } from '../src/matching/hamming-index.js';

export interface SnapshotMemory {
  signals: number;
  buildS: number;
  loadS: number;
  /** RSS growth of a fresh process on loading the snapshot, bytes. */
  rssDelta: number;
  /** The loading process's RSS after, bytes (Node itself included, not Vigil's other modules). */
  rss: number;
  snapshotBytes: number;
}

export function snapshotMemory(n: number): SnapshotMemory {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-scale-mem-'));
  try {
    const t = performance.now();
    const pdqN = Math.ceil(n / 2);
    const md5N = n - pdqN;
    const ids = (from: number, k: number) => {
      const a = new Uint32Array(k);
      for (let i = 0; i < k; i++) a[i] = from + i;
      return a;
    };
    // One addMany each: the layout a snapshot of a compacted index has.
    const pdq = new HammingIndex256();
    pdq.addMany(ids(0, pdqN), randomBytes(pdqN * 32));
    const md5 = new ExactIndex('md5', { initialCapacity: md5N });
    md5.addMany(ids(pdqN, md5N), randomBytes(md5N * 16));
    writeSnapshot(dir, { position: n, check: null, photos: { pdq }, digests: { md5 }, bankOf: new Int32Array(n).fill(1), statusOf: new Uint8Array(n), videoIds: [] });
    const buildS = (performance.now() - t) / 1000;
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '_snapshot-load.ts'), dir], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { ms: number; rssDelta: number; rss: number };
    const snapshotBytes = Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
    return { signals: n, buildS, loadS: r.ms / 1000, rssDelta: r.rssDelta, rss: r.rss, snapshotBytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
