/**
 * npm run bench:cold-start [-- --signals 1000000 --md5 100000 --since 10000]
 *
 * How long a process takes before it can match (issue #10, "a process starts from an index snapshot plus the
 * feed since it"), over bench:api's cached bank of random PDQ and MD5 values (benign: no picture behind any):
 *   replay    the baseline: the whole change feed read from SQLite, hex-decoded and indexed, then compacted
 *             (BankMatcher.warm(), what every process did before snapshots);
 *   snapshot  the indexes read from a snapshot (CRC-checked files) plus an empty feed since it;
 *   since     the same with `--since` PDQ signals added after the snapshot (a copy of the store).
 * It also prints the snapshot's write time and size (the background process writes it; the write blocks its
 * event loop that long), and checks the restored indexes match the replayed ones.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { createDigestIndex, loadDigestIndex } from '../src/banks/digest-index.js';
import { BankMatcher } from '../src/banks/matcher.js';
import { hash256FromHex } from '../src/signals/pdq/hash256.js';
import { openStore } from '../src/store/store.js';
import type { Store } from '../src/store/types.js';
import { ensureBenchBank, nearPdq } from './_api-bank.js';
import { environment, fmt } from './_common.js';

const { values: opts } = parseArgs({ options: { signals: { type: 'string', default: '1000000' }, md5: { type: 'string' }, since: { type: 'string', default: '10000' } } });
const PDQ = Number(opts.signals);
const MD5 = opts.md5 !== undefined ? Number(opts.md5) : Math.round(PDQ / 10);
const SINCE = Number(opts.since);

const log = (line: string) => console.log(line);
const matcherOf = (store: Store) => new BankMatcher(store, { digestIndex: createDigestIndex, loadDigestIndex });
const seconds = (t: number) => (performance.now() - t) / 1000;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const out = await fn();
  return [out, seconds(t)];
}

async function main(): Promise<void> {
  log(`bench:cold-start — ${environment()}`);
  const bank = await ensureBenchBank(PDQ, MD5, log);
  if (bank.buildSeconds > 0) log(`bank built in ${fmt(bank.buildSeconds)} s`);
  const work = mkdtempSync(join(tmpdir(), 'vigil-cold-start-'));
  try {
    const store = await openStore(bank.dbPath);
    const snapDir = join(work, 'index');
    mkdirSync(snapDir);
    let replaySeconds: number;
    let sizes: Record<string, number>;
    const queries = bank.samplePdq.slice(0, 200).map((v) => ({ pdq: [{ view: 'original', quality: 100, hashes: [hash256FromHex(nearPdq(v, 8))] }] }));
    const hitsOf = async (m: BankMatcher) => {
      let n = 0;
      for (const q of queries) n += (await m.match(q)).length;
      for (const v of bank.sampleMd5.slice(0, 200)) n += (await m.match({ md5: v })).length;
      return n;
    };
    let expectedHits: number;
    let saveSeconds: number;
    try {
      const replayed = matcherOf(store);
      [, replaySeconds] = await timed(() => replayed.warm());
      sizes = replayed.sizes;
      expectedHits = await hitsOf(replayed);
      const t = performance.now();
      replayed.saveSnapshot(snapDir);
      saveSeconds = seconds(t);
    } finally {
      await store.close();
    }
    const bytes = readdirSync(snapDir).reduce((sum, name) => sum + statSync(join(snapDir, name)).size, 0);

    // The snapshot, and nothing since (after a restart).
    const store2 = await openStore(bank.dbPath);
    let restoreSeconds: number;
    try {
      const restored = matcherOf(store2);
      [, restoreSeconds] = await timed(async () => {
        await restored.restoreSnapshot(snapDir);
        await restored.warm();
      });
      if (JSON.stringify(restored.sizes) !== JSON.stringify(sizes)) throw new Error(`restored sizes ${JSON.stringify(restored.sizes)} differ from ${JSON.stringify(sizes)}`);
      if ((await hitsOf(restored)) !== expectedHits) throw new Error('the restored indexes match differently from the replayed ones');
    } finally {
      await store2.close();
    }

    // The snapshot plus `SINCE` signals added after it (on a copy of the cached store).
    const copy = join(work, 'copy.db');
    copyFileSync(bank.dbPath, copy);
    const store3 = await openStore(copy);
    let sinceSeconds: number;
    try {
      await store3.createBank({ name: 'added-since', source: 'bench:cold-start' });
      const hex = randomBytes(SINCE * 32).toString('hex');
      await store3.importList('added-since', Array.from({ length: SINCE }, (_, i) => ({ kind: 'record' as const, line: i + 1, record: { signals: [{ type: 'pdq' as const, value: hex.slice(i * 64, (i + 1) * 64) }], labels: {} } })));
      const restored = matcherOf(store3);
      [, sinceSeconds] = await timed(async () => {
        await restored.restoreSnapshot(snapDir);
        await restored.warm();
      });
      if (restored.sizes.pdq !== sizes.pdq + SINCE) throw new Error(`expected ${sizes.pdq + SINCE} PDQ signals after the feed since, got ${restored.sizes.pdq}`);
    } finally {
      await store3.close();
    }

    const [one, five] = loadavg();
    log(`signals: ${PDQ.toLocaleString('en-US')} PDQ + ${MD5.toLocaleString('en-US')} MD5 (SQLite)`);
    log(`replay (baseline, whole feed + compaction): ${fmt(replaySeconds, 2)} s`);
    log(`snapshot write: ${fmt(saveSeconds, 2)} s, ${fmt(bytes / 2 ** 20)} MiB`);
    log(`snapshot + empty feed since:               ${fmt(restoreSeconds, 2)} s  (${fmt(replaySeconds / restoreSeconds)}× faster than replay)`);
    log(`snapshot + ${SINCE.toLocaleString('en-US')} PDQ changes since:      ${fmt(sinceSeconds, 2)} s  (${fmt(replaySeconds / sinceSeconds)}× faster than replay)`);
    log(`load average: ${fmt(one, 2)} (1 min), ${fmt(five, 2)} (5 min)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
