/**
 * bench:api's bank: random PDQ and MD5 values (benign: no picture behind any of them), imported straight
 * through store.importList into a SQLite store cached in .bench-cache/ (rebuilt when missing). A sidecar
 * JSON keeps a sample of the bank's own values, from which the bench derives queries that hit.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ListItem } from '../src/lists/types.js';
import { openStore } from '../src/store/store.js';
import { CACHE_DIR } from './_common.js';

export const BENCH_BANK = 'bench-api-random';

export interface BenchBank {
  /** The store (SQLite file); the service state goes to a separate file per run. */
  dbPath: string;
  pdq: number;
  md5: number;
  /** Values in the bank: queries near these hit. */
  samplePdq: string[];
  sampleMd5: string[];
  /** Seconds spent building it in this run (0 when reused from the cache). */
  buildSeconds: number;
}

const SAMPLE = 2000;
const BATCH = 8192;

async function* records(pdq: number, md5: number, samplePdq: string[], sampleMd5: string[]): AsyncGenerator<ListItem> {
  const every = (n: number) => Math.max(1, Math.floor(n / SAMPLE));
  let line = 0;
  for (const [type, count, bytes, sample] of [['pdq', pdq, 32, samplePdq], ['md5', md5, 16, sampleMd5]] as const) {
    for (let start = 0; start < count; start += BATCH) {
      const n = Math.min(BATCH, count - start);
      const hex = randomBytes(n * bytes).toString('hex');
      for (let k = 0; k < n; k++) {
        const value = hex.slice(k * bytes * 2, (k + 1) * bytes * 2);
        if ((start + k) % every(count) === 0 && sample.length < SAMPLE) sample.push(value);
        yield { kind: 'record', line: ++line, record: { signals: [{ type, value }], labels: {} } };
      }
    }
  }
}

export async function ensureBenchBank(pdq: number, md5: number, log: (line: string) => void): Promise<BenchBank> {
  const dbPath = join(CACHE_DIR, `api-bank-${pdq}-${md5}.db`);
  const sidecar = `${dbPath}.json`;
  if (existsSync(dbPath) && existsSync(sidecar)) {
    const { samplePdq, sampleMd5 } = JSON.parse(readFileSync(sidecar, 'utf8')) as { samplePdq: string[]; sampleMd5: string[] };
    return { dbPath, pdq, md5, samplePdq, sampleMd5, buildSeconds: 0 };
  }
  for (const suffix of ['', '-wal', '-shm', '.json']) rmSync(dbPath + suffix, { force: true });
  log(`building the bank: ${pdq.toLocaleString('en-US')} random PDQ + ${md5.toLocaleString('en-US')} random MD5 → ${dbPath}`);
  const t = performance.now();
  const store = await openStore(dbPath);
  const samplePdq: string[] = [];
  const sampleMd5: string[] = [];
  try {
    await store.createBank({ name: BENCH_BANK, kind: 'block', source: 'bench:api (random benign values)' });
    await store.importList(BENCH_BANK, records(pdq, md5, samplePdq, sampleMd5), { format: 'bench', fileName: 'bench-api', batchSize: 20_000 });
  } finally {
    await store.close();
  }
  writeFileSync(sidecar, JSON.stringify({ samplePdq, sampleMd5 }));
  return { dbPath, pdq, md5, samplePdq, sampleMd5, buildSeconds: (performance.now() - t) / 1000 };
}

/** A query near a bank value: `bits` random bits flipped (PDQ threshold is 31, so ≤ 31 flips still hit). */
export function nearPdq(hex: string, bits: number): string {
  const b = Buffer.from(hex, 'hex');
  const flipped = new Set<number>();
  while (flipped.size < bits) flipped.add(randomBytes(1)[0]);
  for (const bit of flipped) b[bit >> 3] ^= 1 << (bit & 7);
  return b.toString('hex');
}
