/**
 * npm run bench:hostile [-- --rounds 3 --beside 4]
 *
 * The service under a hostile burst, as an attacker would send it: `vigil serve` runs as a child process; each
 * round uploads every file of ../shared/hostile (plus a generated 2000×2000 GIF of 3,000 one-pixel frames) `--beside`
 * times at once, together with one ordinary ~1 MP JPEG. Printed: the ordinary upload's latency beside the burst
 * next to the same upload alone (the baseline, same run), every hostile answer's status and error code, and the
 * server's resident memory before, at its peak (VmHWM) and after each burst (does memory ratchet up?).
 * Goals (issue #22): the ordinary upload answers within a second beside four hostile files; memory comes back.
 * Memory is read right after each burst and again once the service has been idle for 3 s (threads that ran
 * heavy items end after 1 s idle). The server inherits this process's environment: compare glibc's defaults
 * with `MALLOC_MMAP_THRESHOLD_=131072 MALLOC_ARENA_MAX=2 npm run bench:hostile` (src/service/allocator.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { HOSTILE, onePixelFrameGif } from '../test/helpers/hostile.js';
import { loadavg } from 'node:os';
import { environment } from './_common.js';
import { ALLOCATOR_ENV } from '../src/service/allocator.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, beside: { type: 'string', default: '4' } } });
const rounds = Number(values.rounds);
const beside = Number(values.beside);

function memory(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
}

async function upload(url: string, key: string, name: string, bytes: Uint8Array, id: string): Promise<{ status: number; code?: string; ms: number }> {
  const form = new FormData();
  form.set('contentId', id);
  form.set("file", new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
  const started = performance.now();
  const res = await fetch(`${url}/v1/content`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
  const body = (await res.json()) as { error?: { code: string }; media?: { error?: { code: string } } };
  return { status: res.status, ...((body.error?.code ?? body.media?.error?.code) ? { code: body.error?.code ?? body.media?.error?.code } : {}), ms: performance.now() - started };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-hostile-'));
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), '--db', join(dir, 'vigil.db'), 'serve', '--port', '0', '--no-log'], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const m = /listening on (http:\/\/[^\s]+)/.exec(text);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`vigil serve exited (${code}): ${text}`)));
    });
    const key = readFileSync(join(dir, 'vigil-demo', 'demo-api-key'), 'utf8').trim();
    const files: { name: string; bytes: Uint8Array }[] = readdirSync(HOSTILE).filter((f) => !f.endsWith('.md')).map((f) => ({ name: f, bytes: readFileSync(join(HOSTILE, f)) }));
    files.push({ name: 'gif_2000sq_3000_frames.gif', bytes: onePixelFrameGif(2000, 2000, 3000) });
    const ordinary = await sharp({ create: { width: 1280, height: 800, channels: 3, background: { r: 90, g: 140, b: 200 } } })
      .composite([{ input: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="1280" height="800"><circle cx="640" cy="400" r="300" fill="#f5c542"/><rect x="100" y="600" width="1080" height="120" fill="#2c3e50"/></svg>'), top: 0, left: 0 }])
      .jpeg({ quality: 90 }).toBuffer();

    const pid = child.pid!;
    let n = 0;
    const alone: number[] = [];
    for (let i = 0; i < 3; i++) alone.push((await upload(url, key, 'ordinary.jpg', ordinary, `alone-${n++}`)).ms);
    const start = memory(pid);
    const tuned = Object.keys(ALLOCATOR_ENV).filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`).join(' ');
    console.log(`${environment()} · load ${loadavg().map((l) => l.toFixed(1)).join(' ')} · allocator: ${tuned || "glibc's defaults"}\nserver RSS at start ${start.rssMb} MB; ordinary upload alone: ${alone.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    for (let r = 1; r <= rounds; r++) {
      const hostile = files.flatMap((f) => Array.from({ length: beside }, () => upload(url, key, f.name, f.bytes, `hostile-${n++}`).then((res) => ({ file: f.name, ...res }))));
      // The ordinary upload goes in while the hostile ones are in flight.
      const ordinaryResult = await upload(url, key, 'ordinary.jpg', ordinary, `ordinary-${n++}`);
      const results = await Promise.all(hostile);
      const after = memory(pid);
      const worst = Math.max(...results.map((x) => x.ms));
      const codes = [...new Set(results.map((x) => `${x.status} ${x.code ?? ''}`.trim()))].join(', ');
      console.log(`round ${r}: ${results.length} hostile uploads (${files.length} files × ${beside}) → ${codes}; slowest hostile answer ${worst.toFixed(0)} ms`);
      console.log(`  ordinary upload beside them: ${ordinaryResult.ms.toFixed(0)} ms (status ${ordinaryResult.status}), ${(ordinaryResult.ms / Math.min(...alone)).toFixed(2)}× alone`);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      console.log(`  server RSS after the burst ${after.rssMb} MB, 3 s later ${memory(pid).rssMb} MB (start ${start.rssMb} MB), peak so far ${after.peakMb} MB`);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
