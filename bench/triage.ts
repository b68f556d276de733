/**
 * npm run bench:triage — `vigil triage` end to end over a generated benign corpus, next to plain `sha256sum`
 * over the same files in the same run (the I/O + one-digest floor). Issue 15's target: 360,000 such files in
 * under 30 minutes on 2 cores, at least 0.5× the sha256sum floor in MB/s, memory flat from 10,000 to 100,000.
 *
 * Corpus (cached under .bench-cache/triage-<N>/, made once): photos at three sizes (160×120, 640×480,
 * 1280×960; JPEG and PNG), exact duplicates, near-duplicates (re-toned, rotated), text and binary files,
 * zip and tar.gz archives of photos, a few one-second videos. `--files N` (default 400: a minute or two here), `--threads N`.
 * Both runs read from the page cache (the corpus was just written or read): the floor is CPU-bound, too.
 * Memory: resident set size (all threads: the workers are threads of this process) sampled as items pass
 * 1,000, 10,000, … and the peak.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { makeTar } from '../test/helpers/tar.js';
import { loadConfig } from '../src/app/config.js';
import { createVigil } from '../src/app/vigil.js';
import { locateFfmpeg } from '../src/media/ffmpeg.js';
import { picture } from '../src/triage/_pictures.js';
import { makeZip } from '../src/triage/_zip-writer.js';
import { CaseDb } from '../src/triage/case-db.js';
import { runTriage } from '../src/triage/run.js';
import { CACHE_DIR, environment, fmt } from './_common.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const FILES = arg('--files', 400);
const THREADS = arg('--threads', availableParallelism());
/** `--no-views`: match and cluster the picture as stored only (triage's fast mode), for comparison. */
const VIEWS = !process.argv.includes('--no-views');
const corpus = join(CACHE_DIR, `triage-${FILES}`);

async function tarGz(entries: { name: string; data: Buffer }[]): Promise<Buffer> {
  return gzipSync(await makeTar(entries));
}

/** Top-level files: the mix is by share of FILES; archives hold 10 photos each. */
async function makeCorpus(): Promise<void> {
  if (existsSync(join(corpus, '.done'))) return;
  rmSync(corpus, { recursive: true, force: true });
  const started = Date.now();
  let made = 0;
  const dirFor = (i: number) => {
    const d = join(corpus, `d${Math.floor(i / 1000)}`);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const sizes = [[160, 120], [640, 480], [640, 480], [1280, 960]] as const;
  for (let i = 0; i < FILES; i++) {
    const d = dirFor(i);
    const kind = i % 100;
    const [w, h] = sizes[i % sizes.length];
    if (kind < 55) writeFileSync(join(d, `img${i}.${i % 7 === 0 ? 'png' : 'jpg'}`), await picture(i, { width: w, height: h, ...(i % 7 === 0 ? { format: 'png' as const } : {}) }));
    else if (kind < 65) copyFileSync(join(dirFor(i - 12), `img${i - 12}.${(i - 12) % 7 === 0 ? 'png' : 'jpg'}`), join(d, `copy${i}.dat`)); // an exact duplicate
    else if (kind < 75) writeFileSync(join(d, `near${i}.jpg`), await picture(i - 20, { width: w, height: h, brightness: 1.05, ...(i % 2 ? { rotate: 90 as const } : {}) }));
    else if (kind < 88) writeFileSync(join(d, `doc${i}.txt`), `Benign document ${i}\n`.repeat(50 + (i % 400)));
    else if (kind < 97) writeFileSync(join(d, `blob${i}.bin`), Buffer.alloc(4096 + (i % 50) * 1024, i % 251));
    else if (kind < 99) {
      const members = await Promise.all(Array.from({ length: 10 }, async (_, k) => ({ name: `photos/${k}.jpg`, data: await picture(1_000_000 + i * 10 + k, { width: 320, height: 240 }) })));
      writeFileSync(join(d, i % 2 ? `album${i}.zip` : `album${i}.tar.gz`), i % 2 ? makeZip(members.map((m) => ({ ...m, method: 0 as const }))) : await tarGz(members));
    } else {
      writeFileSync(join(d, `other${i}.jpg`), await picture(i, { width: 320, height: 240 }));
    }
    if (++made % 1000 === 0) process.stderr.write(`\rcorpus ${made}/${FILES}`);
  }
  // A few one-second videos (not in the file count's mix: at most 5).
  try {
    const ffmpeg = (await locateFfmpeg()).path;
    for (let v = 0; v < Math.min(5, Math.ceil(FILES / 2000)); v++) {
      execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', `testsrc=duration=1:size=320x240:rate=10`, '-pix_fmt', 'yuv420p', '-y', join(corpus, `clip${v}.mp4`)]);
    }
  } catch {
    process.stderr.write('(no ffmpeg: no videos in the corpus)\n');
  }
  writeFileSync(join(corpus, '.done'), '');
  process.stderr.write(`\rcorpus: ${FILES} files made in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

function corpusBytes(): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name !== '.done') {
        files++;
        bytes += statSync(join(d, e.name)).size;
      }
    }
  };
  walk(corpus);
  return { files, bytes };
}

/** `find | xargs sha256sum`, all cores (-P), as an investigator's shell would. */
function sha256sumSeconds(): number {
  const started = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', `find "${corpus}" -type f ! -name .done -print0 | xargs -0 -P ${THREADS} -n 200 sha256sum > /dev/null`], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('sha256sum failed');
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * CPU seconds per thread of this process (Linux /proc; empty elsewhere), by thread id. Sampled during the run
 * and kept at each thread's last value: the worker threads exit when the pool closes, before the run returns.
 */
const threadSeconds = new Map<number, number>();
function sampleThreads(): void {
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      threadSeconds.set(Number(tid), (Number(fields[11]) + Number(fields[12])) / 100); // utime + stime, USER_HZ 100
    }
  } catch {
    // not Linux, or a thread that ended between the listing and the read
  }
}
function threadCpu(): { main: number; others: number } {
  let others = 0;
  for (const [tid, seconds] of threadSeconds) if (tid !== process.pid) others += seconds;
  return { main: threadSeconds.get(process.pid) ?? 0, others };
}

async function main(): Promise<void> {
  await makeCorpus();
  const { files, bytes } = corpusBytes();
  const work = join(tmpdir(), `vigil-bench-triage-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const vigil = await createVigil(loadConfig({ env: {}, flags: { database: { url: join(work, 'vigil.db') }, log: { level: 'silent' } } }));
  try {
    // Banks as a triage would have them: a block bank of PDQs (10 from the corpus) and an NSRL-style allow bank.
    await vigil.banks.createBank('bench', { name: 'known', kind: 'block' });
    await vigil.banks.createBank('bench', { name: 'nsrl', kind: 'allow' });
    const { hashFile } = await import('../src/hashing/hash-file.js');
    const knownPdqs = [];
    for (let i = 0; i < 10; i++) {
      const p = join(work, `k${i}.jpg`);
      writeFileSync(p, await picture(i * 100, { width: 160, height: 120 }));
      knownPdqs.push({ type: 'pdq' as const, value: (await hashFile(p)).pdq!, labels: { projectVicCategory: 1 } });
    }
    await vigil.banks.addSignals('bench', 'known', knownPdqs);
    await vigil.matcher.sync();

    const floor1 = sha256sumSeconds();
    const caseDb = await CaseDb.open({ storeUrl: join(work, 'vigil.db'), casesDir: join(work, 'cases') }, 'bench', { create: true });
    const marks: { items: number; rssMb: number }[] = [];
    let next = 1000;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
    const threadSampler = setInterval(sampleThreads, 250);
    const started = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    sampleThreads();
    const threadsStart = threadCpu();
    const summary = await runTriage(caseDb, vigil.matcher, {
      roots: [corpus],
      threads: THREADS,
      views: VIEWS,
      onProgress: (p) => {
        if (p.items >= next) {
          marks.push({ items: next, rssMb: process.memoryUsage().rss / 1e6 });
          next *= 10;
        }
      },
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuStart);
    clearInterval(threadSampler);
    sampleThreads();
    const threadsEnd = threadCpu();
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    await caseDb.close();
    const floor2 = sha256sumSeconds();
    const floor = (floor1 + floor2) / 2;

    const mbps = bytes / 1e6 / seconds;
    const floorMbps = bytes / 1e6 / floor;
    const fps = files / seconds;
    const projectMin = 360_000 / fps / 60;
    console.log(`bench:triage — ${environment()} · ${THREADS} threads · views ${VIEWS ? 'on' : 'off'} · load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`corpus: ${files} files (${summary.items} items with archive members), ${fmt(bytes / 1e6)} MB`);
    console.log(`triage:    ${fmt(seconds)} s · ${fmt(fps)} files/s · ${fmt(mbps)} MB/s · known ${summary.known}, benign ${summary.knownBenign}, unknown ${summary.unknown}, errors ${summary.errors}, duplicate groups ${summary.duplicateGroups}, series ${summary.series}`);
    console.log(`sha256sum: ${fmt(floor)} s (${fmt(floor1)} / ${fmt(floor2)}) · ${fmt(floorMbps)} MB/s — triage is ${fmt(mbps / floorMbps, 2)}× the floor in MB/s (target ≥ 0.5×)`);
    console.log(`projection: 360,000 such files in ${fmt(projectMin)} min at this rate (target < 30 min on 2 cores)`);
    // On a shared machine the wall clock follows the load; the CPU spent (all threads) does not.
    const cpuMsPerFile = (cpuSeconds * 1000) / files;
    console.log(`CPU: ${fmt(cpuSeconds)} s for the run (all threads) = ${fmt(cpuMsPerFile)} ms per file → two idle cores: ${fmt(2000 / cpuMsPerFile)} files/s, 360,000 files in ${fmt(360_000 / (2000 / cpuMsPerFile) / 60)} min`);
    // Triage's own overhead (walk, reads, digests, archive reading, matching, checkpoints) runs on the main
    // thread; decoding and hashing pictures on the worker threads (and sharp's libuv threads; ffmpeg is a
    // child process, counted in neither). Up to 250 ms of a worker's CPU before it ends may be missed.
    if (threadSeconds.size > 0) {
      const mainMs = ((threadsEnd.main - threadsStart.main) * 1000) / files;
      console.log(`CPU by thread: main ${fmt(mainMs, 2)} ms per file (triage's own work) · workers and the rest ${fmt(((threadsEnd.others - threadsStart.others) * 1000) / files, 2)} ms per file`);
    }
    console.log(`memory: RSS ${marks.map((m) => `${m.items.toLocaleString('en-US')} items ${fmt(m.rssMb, 0)} MB`).join(' · ') || '(fewer than 1,000 items)'} · peak ${fmt(peak / 1e6, 0)} MB`);
  } finally {
    await vigil.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
