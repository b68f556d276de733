/**
 * npm run bench:import [-- --rows N] [--runs N] [--stores sqlite,postgres] — rows/s importing a generated
 * plain list (benign random MD5 stand-ins) into an empty bank of a new SQLite store and of a new PostgreSQL
 * schema (COPY), and the time until those signals are matchable (a new matcher's sync of the change feed).
 * Targets: ≥ 200k rows/s SQLite, ≥ 100k rows/s PostgreSQL. Baseline in the same run: parsing the file alone
 * (the reader's own ceiling). With --runs N each figure is given as best and median.
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

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const ROWS = Number(arg('rows') ?? 5_000_000);
const RUNS = Number(arg('runs') ?? 1);
const STORES = (arg('stores') ?? 'sqlite,postgres').split(',');
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

interface Run {
  rate: number;
  seconds: number;
  syncSeconds: number;
}

async function parseRate(file: string): Promise<number> {
  const t = performance.now();
  let n = 0;
  for await (const item of readPlain(createReadStream(file, { highWaterMark: 1 << 20 }))) if (item.kind === 'record') n++;
  return n / ((performance.now() - t) / 1000);
}

async function timeImport(store: Store, file: string): Promise<Run> {
  await store.createBank({ name: 'bench', source: 'generated benign stand-ins' });
  const t = performance.now();
  const result = await store.importList('bench', readPlain(createReadStream(file, { highWaterMark: 1 << 20 })), { fileName: file, format: 'plain', batchSize: 20_000 });
  const seconds = (performance.now() - t) / 1000;
  const matcher = new BankMatcher(store, { digestIndex: createDigestIndex });
  const s = performance.now();
  const applied = await matcher.sync();
  const syncSeconds = (performance.now() - s) / 1000;
  if (result.inserted !== ROWS || applied !== ROWS) throw new Error(`expected ${ROWS} rows, imported ${result.inserted}, synced ${applied}`);
  return { rate: result.inserted / seconds, seconds, syncSeconds };
}

async function sqliteRun(file: string): Promise<Run> {
  const dbPath = join(CACHE_DIR, 'bench-import.db');
  const clean = () => {
    for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
  };
  clean();
  const store = await openStore(dbPath);
  try {
    return await timeImport(store, file);
  } finally {
    await store.close();
    clean();
  }
}

async function postgresRun(file: string): Promise<Run> {
  const schema = `vigil_bench_${process.pid}`;
  const store = (await openStore(PG_URL, { schema })) as PostgresStore;
  try {
    return await timeImport(store, file);
  } finally {
    await store.dropSchema(schema);
    await store.close();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function report(name: string, target: number, runs: Run[], parse: number): void {
  const rates = runs.map((r) => r.rate);
  const matchable = runs.map((r) => r.seconds + r.syncSeconds);
  const best = Math.max(...rates);
  const many = runs.length > 1;
  console.log(
    `${name}: ${fmt(best / 1000)}k rows/s${many ? ` best, ${fmt(median(rates) / 1000)}k median of ${runs.length}` : ''} (target ≥ ${target}k; ` +
      `${fmt(best / parse, 2)}× parse-only) · ${fmt(Math.min(...runs.map((r) => r.seconds)), 2)} s import · matchable ` +
      `${fmt(Math.min(...runs.map((r) => r.syncSeconds)), 2)} s after it (matcher sync${many ? `, best; median ${fmt(median(runs.map((r) => r.syncSeconds)), 2)} s` : ''}), ` +
      `${fmt(Math.min(...matchable), 2)} s from the start`,
  );
}

async function main(): Promise<void> {
  console.log(`bench:import · ${environment()} · ${ROWS.toLocaleString('en-US')} rows · ${RUNS} run(s)`);
  const file = join(CACHE_DIR, `plain-md5-${ROWS}.txt`);
  await generate(file, ROWS);
  console.log(`list file: ${(statSync(file).size / 1e6).toFixed(0)} MB`);
  const parses: number[] = [];
  const results: Record<string, Run[]> = { sqlite: [], postgres: [] };
  for (let run = 0; run < RUNS; run++) {
    parses.push(await parseRate(file));
    for (const name of STORES) {
      try {
        const r = name === 'sqlite' ? await sqliteRun(file) : await postgresRun(file);
        results[name].push(r);
        console.log(`  run ${run + 1} ${name}: ${fmt(r.rate / 1000)}k rows/s, ${fmt(r.seconds, 2)} s + sync ${fmt(r.syncSeconds, 2)} s`);
      } catch (err) {
        console.log(`  run ${run + 1} ${name}: not measured (${(err as Error).message})`);
      }
    }
  }
  const parse = Math.max(...parses);
  console.log(`parse only: ${fmt(parse / 1000)}k rows/s (baseline${RUNS > 1 ? `, best of ${RUNS}; median ${fmt(median(parses) / 1000)}k` : ''})`);
  if (results.sqlite.length) report('SQLite', 200, results.sqlite, parse);
  if (results.postgres.length) report('PostgreSQL (COPY)', 100, results.postgres, parse);
}

await main();
