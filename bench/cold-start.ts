/**
 * npm run bench:cold-start [-- --signals 1000000 --md5 100000 --since 10000] [-- --cli-only] [-- --rounds 5]
 *
 * First, the CLI's own start-up (issue #12, "Start-up": `vigil --version` and `vigil hash one-file` under
 * 0.15 s of CPU): user+system CPU of the compiled CLI (`bin/vigil`, run `npm run build` first) as
 * `/usr/bin/time` counts it, children included (ffmpeg for the video), median over interleaved rounds,
 * against `node -e 0` in the same run: Node's own start-up, which no command can go below.
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
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { randomBytes } from 'node:crypto';
import { createDigestIndex, loadDigestIndex } from '../src/banks/digest-index.js';
import { BankMatcher } from '../src/banks/matcher.js';
import { hash256FromHex } from '../src/signals/pdq/hash256.js';
import { openStore } from '../src/store/store.js';
import type { Store } from '../src/store/types.js';
import { ensureBenchBank, nearPdq } from './_api-bank.js';
import { environment, fmt } from './_common.js';

const { values: opts } = parseArgs({ options: { signals: { type: 'string', default: '1000000' }, md5: { type: 'string' }, since: { type: 'string', default: '10000' }, 'cli-only': { type: 'boolean', default: false }, rounds: { type: 'string', default: '5' } } });
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

const VIGIL = fileURLToPath(new URL('../bin/vigil', import.meta.url));
const SMALL_VIDEO = fileURLToPath(new URL('../../shared/conformance/vpdq/videos/test-padded-dimensions.mp4', import.meta.url));

/** User+system CPU seconds of one run of a command, its children included (GNU time's %U and %S). */
function cpuSeconds(command: string[], cwd: string): number {
  const run = spawnSync('/usr/bin/time', ['-f', '%U %S', ...command], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`${command.join(' ')} failed: ${run.stderr}`);
  const [user, system] = run.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return user + system;
}

/** CPU of the CLI's start-up per command, against `node -e 0` measured in the same rounds. */
async function cliStartup(rounds: number): Promise<void> {
  if (!existsSync('/usr/bin/time')) return log('CLI start-up: skipped (no /usr/bin/time)');
  if (!existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)))) return log('CLI start-up: skipped (no dist/: npm run build)');
  const work = mkdtempSync(join(tmpdir(), 'vigil-cli-start-'));
  try {
    writeFileSync(join(work, 'notes.txt'), 'benign text\n');
    // A benign synthetic picture: two shapes on a plain ground, 640×480.
    const shapes = Buffer.from('<svg width="640" height="480"><circle cx="200" cy="200" r="120" fill="#a03"/><rect x="380" y="60" width="180" height="300" fill="#33c"/></svg>');
    await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 10, g: 200, b: 90 } } }).composite([{ input: shapes }]).png().toFile(join(work, 'picture.png'));
    const node = process.execPath;
    const cases: [string, string[]][] = [
      ['node -e 0 (baseline: Node itself)', [node, '-e', '0']],
      ['vigil --version', [node, VIGIL, '--version']],
      ['vigil hash notes.txt', [node, VIGIL, 'hash', 'notes.txt']],
      ['vigil hash picture.png (640×480)', [node, VIGIL, 'hash', 'picture.png']],
      ...(existsSync(SMALL_VIDEO) ? [['vigil hash test-padded-dimensions.mp4 (5 s)', [node, VIGIL, 'hash', SMALL_VIDEO]] as [string, string[]]] : []),
    ];
    const times = cases.map((): number[] => []);
    // Interleaved, so a burst of load from other processes falls on every case alike.
    for (let r = 0; r < rounds; r++) for (const [i, [, command]] of cases.entries()) times[i].push(cpuSeconds(command, work));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];
    const base = median(times[0]);
    log(`CLI start-up, CPU (user+system, children included), median of ${rounds} interleaved rounds; target ≤ 0.15 s for --version and hash one-file:`);
    log('| command | CPU s | over node -e 0 | × node -e 0 |');
    log('|---|---:|---:|---:|');
    for (const [i, [name]] of cases.entries()) {
      const m = median(times[i]);
      log(`| ${name} | ${fmt(m, 3)} | ${i === 0 ? '—' : `+${fmt(m - base, 3)}`} | ${fmt(m / base, 2)}× |`);
    }
    const [one] = loadavg();
    log(`load average during CLI start-up: ${fmt(one, 2)} (1 min)\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  log(`bench:cold-start — ${environment()}`);
  await cliStartup(Number(opts.rounds));
  if (opts['cli-only']) return;
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
