/**
 * Optional anchor for bench/index.ts: FAISS IndexBinaryMultiHash configured as HMA / python-threatexchange
 * use it (256 bits, 16 maps of 16 bits, nflip = threshold // 16, range_search(threshold + 1)) on the same
 * hashes and queries, one thread, one query at a time. (pytx also wraps it in IndexBinaryIDMap2, which
 * adds memory; the bare index measured here is FAISS's best case.)
 * Needs Debian's python3-faiss (`apt-get install python3-faiss`); skipped when it is not installed.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = String.raw`
import sys, time, json, os
import numpy as np, faiss
faiss.omp_set_num_threads(1)
data = np.fromfile(sys.argv[1], dtype=np.uint8).reshape(-1, 32)
qs = np.fromfile(sys.argv[2], dtype=np.uint8).reshape(-1, 32)
r = int(sys.argv[3])
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
r0 = rss()
t = time.perf_counter()
idx = faiss.IndexBinaryMultiHash(256, 16, 16)
idx.add(data)
idx.nflip = r // 16  # as python-threatexchange's PDQMultiHashIndex.search sets it (threshold // nhash)
build = time.perf_counter() - t
r1 = rss()
lat = []
hits = 0
for i in range(len(qs)):
    t0 = time.perf_counter()
    lims, D, I = idx.range_search(qs[i:i+1], r + 1)  # FAISS binary range search is strict (<)
    lat.append(time.perf_counter() - t0)
    hits += len(I)
t = time.perf_counter(); buf = faiss.serialize_index_binary(idx); ser = time.perf_counter() - t
t = time.perf_counter(); idx2 = faiss.deserialize_index_binary(buf); deser = time.perf_counter() - t
lat.sort()
print(json.dumps({"version": faiss.__version__, "build_s": build, "rss_delta": r1 - r0, "p50_ms": lat[len(lat)//2]*1e3,
  "p99_ms": lat[int(len(lat)*0.99)]*1e3, "mean_ms": sum(lat)/len(lat)*1e3, "hits": hits, "serialized_bytes": len(buf),
  "deserialize_s": deser}))
`;

export interface FaissResult {
  version: string;
  build_s: number;
  rss_delta: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  hits: number;
  serialized_bytes: number;
  deserialize_s: number;
}

/** Debian's python3-faiss lives in the system interpreter, which may not be the first python3 on PATH. */
function python(): string | undefined {
  return ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import faiss'], { stdio: 'ignore' }).status === 0);
}

export function faissAvailable(): boolean {
  return python() !== undefined;
}

export function runFaiss(hashes: Uint8Array, queries: Uint8Array, radius: number): FaissResult | string {
  const dir = join(tmpdir(), `vigil-faiss-${process.pid}`);
  const data = `${dir}-data.bin`;
  const qs = `${dir}-queries.bin`;
  try {
    writeFileSync(data, hashes);
    writeFileSync(qs, queries);
    const out = spawnSync(python() ?? 'python3', ['-c', SCRIPT, data, qs, String(radius)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (out.status !== 0) return `FAISS run failed: ${(out.stderr || out.error?.message || '').trim().split('\n').pop()}`;
    return JSON.parse(out.stdout.trim().split('\n').pop() as string) as FaissResult;
  } finally {
    rmSync(data, { force: true });
    rmSync(qs, { force: true });
  }
}
