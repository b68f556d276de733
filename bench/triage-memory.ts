/**
 * npm run bench:triage-memory -- --files N — does `vigil triage` hold anything per file? Issue 15 asks for
 * memory flat from 10,000 to 100,000 files. The picture corpus of bench:triage takes hours to make at that
 * size, so this one is cheap to make and to triage: small text and binary files, and small pictures (distinct
 * ones, exact copies and near-duplicates, so that duplicate groups and series exist), in folders of 1,000.
 * It prints the resident set size (all threads) sampled over the run: at 10,000 items, at the end, and the
 * peak. Run it at 10,000 and at 100,000 (separate processes) and compare; the baseline is the same script's
 * figure at the smaller size, with the load average.
 */
import { mkdirSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { picture } from '../src/triage/_pictures.js';
import { CaseDb } from '../src/triage/case-db.js';
import { runTriage } from '../src/triage/run.js';
import { CACHE_DIR, environment, fmt } from './_common.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const FILES = arg('--files', 10_000);
const corpus = join(CACHE_DIR, `triage-memory-${FILES}`);

async function makeCorpus(): Promise<void> {
  if (existsSync(join(corpus, '.done'))) return;
  rmSync(corpus, { recursive: true, force: true });
  // 200 distinct small pictures, each also re-toned (a series) — reused across the corpus as exact copies.
  const pictures: Buffer[] = [];
  for (let i = 0; i < 200; i++) pictures.push(await picture(i, { width: 64, height: 48 }), await picture(i, { width: 64, height: 48, brightness: 1.05 }));
  for (let i = 0; i < FILES; i++) {
    const d = join(corpus, `d${Math.floor(i / 1000)}`);
    if (i % 1000 === 0) mkdirSync(d, { recursive: true });
    const kind = i % 10;
    if (kind < 2) writeFileSync(join(d, `p${i}.jpg`), pictures[i % pictures.length]);
    else if (kind < 6) writeFileSync(join(d, `doc${i}.txt`), `Benign document ${i}\n`.repeat(1 + (i % 40)));
    else writeFileSync(join(d, `blob${i}.bin`), Buffer.alloc(256 + (i % 64) * 16, i % 251));
  }
  writeFileSync(join(corpus, '.done'), '');
}

async function main(): Promise<void> {
  await makeCorpus();
  const work = join(tmpdir(), `vigil-bench-triage-memory-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const caseDb = await CaseDb.open({ storeUrl: join(work, 'vigil.db'), casesDir: join(work, 'cases') }, 'memory', { create: true });
  const samples: { items: number; rssMb: number }[] = [];
  let items = 0;
  let peak = 0;
  const sample = () => {
    const rss = process.memoryUsage().rss;
    peak = Math.max(peak, rss);
    samples.push({ items, rssMb: rss / 1e6 });
  };
  const sampler = setInterval(sample, 500);
  const started = process.hrtime.bigint();
  try {
    const summary = await runTriage(caseDb, { match: async () => [] }, { roots: [corpus], threads: availableParallelism(), onProgress: (p) => (items = p.items) });
    items = summary.items;
    sample();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const at = (n: number) => samples.find((s) => s.items >= n);
    const at10k = at(10_000);
    // The settled middle of the run (after start-up: worker threads, decoder, page cache) against its end.
    const mid = at(Math.floor(summary.items / 2));
    console.log(`bench:triage-memory — ${environment()} · load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`corpus: ${FILES} files (${summary.items} items), ${fmt(seconds)} s (${fmt(FILES / seconds)} files/s) · duplicate groups ${summary.duplicateGroups}, series ${summary.series}`);
    console.log(`RSS: ${at10k ? `at 10,000 items ${fmt(at10k.rssMb, 0)} MB · ` : ''}at half-way (${mid?.items ?? '?'} items) ${fmt(mid?.rssMb ?? 0, 0)} MB · at the end ${fmt(samples.at(-1)!.rssMb, 0)} MB · peak ${fmt(peak / 1e6, 0)} MB · ${samples.length} samples`);
  } finally {
    clearInterval(sampler);
    await caseDb.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
