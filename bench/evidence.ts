/**
 * npm run bench:evidence [-- --mib N] [--runs N] [--stores folder,postgres] — the evidence store's encrypt
 * (put: stream in, seal, write) and decrypt (open: read, verify, stream out to a file) in MB/s, next to a
 * plain streamed file copy of the same file in the same run (the disk's own ceiling). The input is
 * generated random bytes, not media. Each figure is the best and median of --runs.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { openEvidenceStore } from '../src/evidence/open.js';
import { environment, fmt } from './_common.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const MIB = Number(arg('mib') ?? 256);
const RUNS = Number(arg('runs') ?? 3);
const STORES = (arg('stores') ?? 'folder,postgres').split(',');
const PG_URL = process.env.VIGIL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-evidence-'));
const input = join(dir, 'input.bin');
const piece = randomBytes(1 << 20);
{
  const out = createWriteStream(input);
  for (let i = 0; i < MIB; i++) if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((r) => out.end(() => r()));
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function summary(label: string, seconds: number[], baseline?: number): string {
  const sorted = [...seconds].sort((a, b) => a - b);
  const best = MIB / sorted[0];
  const median = MIB / sorted[Math.floor(sorted.length / 2)];
  return `${label.padEnd(26)} best ${fmt(best).padStart(8)} MiB/s  median ${fmt(median).padStart(8)} MiB/s${baseline ? `  (${fmt(best / baseline, 2)}× plain copy)` : ''}`;
}

const keys = `bench:${randomBytes(32).toString('base64')}`;
const schema = `vigil_bench_ev_${process.pid}`;
try {
  console.log(`evidence store, ${MIB} MiB of random bytes, ${RUNS} runs · ${environment()}`);
  const copy: number[] = [];
  for (let r = 0; r < RUNS; r++) copy.push(await timed(() => pipeline(createReadStream(input), createWriteStream(join(dir, `copy-${r}.bin`)))));
  const plain = MIB / Math.min(...copy);
  console.log(summary('plain file copy', copy));
  for (const kind of STORES) {
    const { store } = await openEvidenceStore(kind === 'postgres' ? { location: PG_URL, schema, keys } : { location: join(dir, 'evidence'), keys });
    const put: number[] = [];
    const open: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const id = `bench-${r}`;
      put.push(await timed(async () => void (await store.put(createReadStream(input), id))));
      open.push(await timed(async () => pipeline(await store.open(id), createWriteStream(join(dir, `out-${kind}-${r}.bin`)))));
      rmSync(join(dir, `out-${kind}-${r}.bin`));
      await store.delete(id);
    }
    console.log(summary(`${kind}: encrypt (put)`, put, plain));
    console.log(summary(`${kind}: decrypt (open)`, open, plain));
    await store.close();
  }
  console.log(`load average ${loadavg().map((l) => fmt(l, 2)).join(' ')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (STORES.includes('postgres')) {
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}
