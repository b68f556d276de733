/**
 * npm run bench:report [-- --reports N] [--latency MS] [--concurrency N] [--mib N] — CyberTipline reports
 * completed per minute against the local NCMEC server (test/helpers/ncmec-server.ts) answering each call after
 * --latency ms (default 50), through the real queue worker and state machine (submit, upload, fileinfo,
 * finish: four calls a report), next to the ceiling that latency allows at that concurrency; then the evidence
 * store's encrypt/decrypt MiB/s next to a plain file copy of the same bytes, in the same run. Benign bytes only.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pino from 'pino';
import { parseConfig } from '../src/app/config.js';
import { seedReviewItem } from '../src/app/_review-seed.js';
import { createVigil } from '../src/app/vigil.js';
import { bufferSource } from '../src/evidence/store.js';
import { FakeNcmec } from '../test/helpers/ncmec-server.js';
import { environment, fmt } from './_common.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const REPORTS = arg('reports', 200);
const LATENCY = arg('latency', 50);
const CONCURRENCY = arg('concurrency', 8);
const MIB = arg('mib', 64);
const CALLS_PER_REPORT = 4;

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-report-'));
const server = await new FakeNcmec({ latencyMs: LATENCY }).start();
const keys = `bench:${randomBytes(32).toString('base64')}`;
const vigil = await createVigil(parseConfig({
  database: { url: join(dir, 'vigil.db') },
  evidence: { dir: join(dir, 'evidence'), keys },
  matching: { snapshots: false },
  queue: { concurrency: CONCURRENCY, leaseMs: 60_000 },
  log: { level: 'silent' },
  reporting: { ncmec: { baseUrl: server.url, username: 'esp', password: 'secret', timeoutMs: 30_000 }, reporter: { email: 'safety@example.org' } },
}), { logger: pino({ level: 'silent' }) });
try {
  console.log(`CyberTipline reports: ${REPORTS} reports (one 64 KiB benign file each), local NCMEC with ${LATENCY} ms per call, worker concurrency ${CONCURRENCY} · ${environment()}`);
  await vigil.banks.createBank('bench', { name: 'BENCH', description: 'benign bench hashes', kind: 'block', source: 'bench' });
  const signal = await vigil.banks.addSignal('bench', 'BENCH', { type: 'md5', value: '0'.repeat(31) + '1' });
  const store = await vigil.evidence();
  const incidents: number[] = [];
  for (let i = 0; i < REPORTS; i++) {
    const ev = await store.put(bufferSource(randomBytes(64 * 1024)), `bench-${i}`);
    incidents.push(await vigil.db.transaction(async (tx) => {
      const item = await seedReviewItem(tx, vigil.records, { contentId: `bench-${i}`, signals: [signal], evidenceId: ev.id, evidence: { keyId: ev.keyId, sha256: ev.sha256, size: ev.size }, at: new Date().toISOString() });
      return Number((await tx.k.selectFrom('review_items').select('incident_id').where('id', '=', item).executeTakeFirstOrThrow()).incident_id);
    }));
  }
  const start = process.hrtime.bigint();
  for (const id of incidents) await vigil.reports.open(id, { actor: 'bench' });
  while ((await vigil.worker.runOnce()) > 0) { /* until the queue is drained */ }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const finished = (await vigil.reports.counts()).byState.finished ?? 0;
  const perMinute = (finished / seconds) * 60;
  const ceiling = (CONCURRENCY * 60_000) / (CALLS_PER_REPORT * LATENCY);
  console.log(`reports finished            ${finished}/${REPORTS} in ${fmt(seconds, 2)} s`);
  console.log(`reports per minute          ${fmt(perMinute, 0).padStart(8)}  (${fmt(perMinute / ceiling, 2)}× the ${fmt(ceiling, 0)}/min that ${CALLS_PER_REPORT} calls × ${LATENCY} ms allow at concurrency ${CONCURRENCY})`);
  if (finished !== REPORTS) process.exitCode = 1;

  // Evidence throughput beside a plain copy of the same file, same run.
  const input = join(dir, 'input.bin');
  const piece = randomBytes(1 << 20);
  const out = createWriteStream(input);
  for (let i = 0; i < MIB; i++) if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((r) => out.end(() => r()));
  const timed = async (fn: () => Promise<unknown>) => {
    const t0 = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  const copy = Math.min(await timed(() => pipeline(createReadStream(input), createWriteStream(join(dir, 'copy.bin')))), await timed(() => pipeline(createReadStream(input), createWriteStream(join(dir, 'copy2.bin')))));
  const put = await timed(() => store.put(createReadStream(input), 'bench-big'));
  const get = await timed(async () => pipeline(await store.open('bench-big'), createWriteStream(join(dir, 'out.bin'))));
  console.log(`plain file copy             ${fmt(MIB / copy).padStart(8)} MiB/s  (${MIB} MiB)`);
  console.log(`evidence encrypt (put)      ${fmt(MIB / put).padStart(8)} MiB/s  (${fmt(copy / put, 2)}× plain copy)`);
  console.log(`evidence decrypt (open)     ${fmt(MIB / get).padStart(8)} MiB/s  (${fmt(copy / get, 2)}× plain copy)`);
  console.log(`load average ${loadavg().map((l) => fmt(l, 2)).join(' ')}`);
} finally {
  await vigil.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
