/**
 * npm run bench:import [-- --rows N] — rows/s importing a generated plain list (benign random MD5
 * stand-ins) into SQLite and into PostgreSQL (COPY), and the time until those signals are matchable
 * (the matcher's sync). Targets: ≥ 200k rows/s SQLite, ≥ 100k rows/s PostgreSQL. Baseline in the same
 * run: parsing the file alone (the reader's own ceiling).
 */
import { createReadStream, createWriteStream, existsSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createDigestIndex } from '../src/banks/digest-index.js';
import { BankMatcher } from '../src/banks/matcher.js';
import { readPlain } from '../src/lists/plain.js';
import { PostgresStore } from '../src/store/postgres-store.js';
import { openStore } from '../src/store/store.js';
import type { Store } from '../src/store/types.js';
import { CACHE_DIR, environment, fmt } from './_common.js';

const rowsArg = process.argv.indexOf('--rows');
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 5_000_000;
const PG_URL = process.env.VIGIL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function generate(path: string, rows: number): Promise<void> {
  if (existsSync(path)) return;
  const out = createWriteStream(path);
  let x = 0x12345678;
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    let line = '';
    for (let k = 0; k < 4; k++) {
      x = (Math.imul(x ^ (x >>> 15), 2246822507) + 0x9e3779b9 + i) >>> 0;
      line += x.toString(16).padStart(8, '0');
    }
    chunk += line + '\n';
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

async function timeImport(store: Store, file: string): Promise<{ seconds: number; inserted: number; syncSeconds: number }> {
  await store.createBank({ name: 'bench', source: 'generated benign stand-ins' });
  const t = performance.now();
  const result = await store.importList('bench', readPlain(createReadStream(file, { highWaterMark: 1 << 20 })), { fileName: file, format: 'plain', batchSize: 20_000 });
  const seconds = (performance.now() - t) / 1000;
  const matcher = new BankMatcher(store, { digestIndex: createDigestIndex });
  const s = performance.now();
  await matcher.sync();
  return { seconds, inserted: result.inserted, syncSeconds: (performance.now() - s) / 1000 };
}

async function main(): Promise<void> {
  console.log(`bench:import · ${environment()} · ${ROWS.toLocaleString('en-US')} rows`);
  const file = join(CACHE_DIR, `plain-md5-${ROWS}.txt`);
  await generate(file, ROWS);
  console.log(`list file: ${(statSync(file).size / 1e6).toFixed(0)} MB`);

  const t = performance.now();
  let n = 0;
  for await (const item of readPlain(createReadStream(file, { highWaterMark: 1 << 20 }))) if (item.kind === 'record') n++;
  const parseRate = n / ((performance.now() - t) / 1000);
  console.log(`parse only: ${fmt(parseRate / 1000)}k rows/s (baseline)`);

  const dbPath = join(CACHE_DIR, 'bench-import.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
  const sqlite = await openStore(dbPath);
  try {
    const r = await timeImport(sqlite, file);
    const rate = r.inserted / r.seconds;
    console.log(`SQLite: ${r.inserted.toLocaleString('en-US')} rows in ${fmt(r.seconds, 2)} s = ${fmt(rate / 1000)}k rows/s (target ≥ 200k; ${fmt(rate / parseRate, 2)}× parse-only) · matchable after a further ${fmt(r.syncSeconds, 2)} s (matcher sync)`);
  } finally {
    await sqlite.close();
  }

  const schema = `vigil_bench_${process.pid}`;
  let pgStore: PostgresStore | undefined;
  try {
    pgStore = (await openStore(PG_URL, { schema })) as PostgresStore;
    const r = await timeImport(pgStore, file);
    const rate = r.inserted / r.seconds;
    console.log(`PostgreSQL (COPY): ${r.inserted.toLocaleString('en-US')} rows in ${fmt(r.seconds, 2)} s = ${fmt(rate / 1000)}k rows/s (target ≥ 100k; ${fmt(rate / parseRate, 2)}× parse-only) · matchable after a further ${fmt(r.syncSeconds, 2)} s`);
  } catch (err) {
    console.log(`PostgreSQL: not measured (${(err as Error).message})`);
  } finally {
    if (pgStore) {
      await pgStore.dropSchema(schema);
      await pgStore.close();
    }
  }
}

await main();
