/**
 * npm run bench:video-cpu — CPU (user + system, ffmpeg included, as /usr/bin/time counts it) of hashing the 14
 * conformance clips at 1 frame/s two files at a time (as a HashPool of 2), with ffmpeg's default decoder threads
 * and with `-threads 1`, against ffmpeg decoding the same files to nothing (`-f null`) both ways, in the same
 * run. Each row is a child process of its own (tsx start-up included, the same in every row).
 * Inputs: ../shared/conformance/vpdq/videos (~200 s of SD/HD H.264).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateFfmpeg, runFfmpeg } from '../src/media/ffmpeg.js';
import { hashVideo } from '../src/media/video-hash.js';
import { environment, fmt } from './_common.js';

const VIDEOS = fileURLToPath(new URL('../../shared/conformance/vpdq/videos/', import.meta.url));
const MODES = {
  decode: 'ffmpeg decode only (-f null), ffmpeg decoder threads',
  decode1: 'ffmpeg decode only, -threads 1',
  hash: 'vPDQ 1 frame/s, ffmpeg decoder threads',
  hash1: 'vPDQ 1 frame/s, -threads 1 (HashPool, several files)',
} as const;
type Mode = keyof typeof MODES;

async function child(mode: Mode): Promise<void> {
  const files = readdirSync(VIDEOS).filter((f) => f.endsWith('.mp4')).sort().map((f) => join(VIDEOS, f));
  const ffmpeg = (await locateFfmpeg()).path;
  const one = (f: string) =>
    mode === 'hash' ? hashVideo(f)
    : mode === 'hash1' ? hashVideo(f, { decoderThreads: 1 })
    : runFfmpeg(ffmpeg, ['-v', 'error', '-nostdin', ...(mode === 'decode1' ? ['-threads', '1'] : []), '-i', f, '-map', '0:v:0', '-f', 'null', '-']);
  await Promise.all([0, 1].map(async (k) => { for (let i = k; i < files.length; i += 2) await one(files[i]); }));
}

function main(): void {
  if (!existsSync('/usr/bin/time')) throw new Error('bench:video-cpu needs /usr/bin/time (GNU time)');
  console.log(`bench:video-cpu — ${environment()}`);
  const cpu = new Map<Mode, number>();
  for (const mode of Object.keys(MODES) as Mode[]) {
    const run = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), '--child', mode], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${mode} failed: ${run.stderr}`);
    const [user, system] = run.stderr.trim().split('\n').pop()!.split(' ').map(Number);
    cpu.set(mode, user + system);
  }
  const base = cpu.get('decode')!;
  console.log('| pipeline | CPU s | vs decode-only (ffmpeg decoder threads) |\n|---|---:|---:|');
  for (const [mode, s] of cpu) console.log(`| ${MODES[mode]} | ${fmt(s, 2)} | ${fmt(s / base, 2)}× |`);
  console.log(`vPDQ -threads 1 vs decode -threads 1: ${fmt(cpu.get('hash1')! / cpu.get('decode1')!, 2)}×; load average ${fmt(loadavg()[0], 2)} (1 min)`);
}

const at = process.argv.indexOf('--child');
if (at >= 0) await child(process.argv[at + 1] as Mode);
else main();
