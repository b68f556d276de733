/**
 * `vigil triage <root>... --case NAME`: triage seized media into a case (src/triage/, docs/triage.md).
 * Ctrl-C stops taking new files, commits what is done and exits; the same command line continues.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Vigil } from '../../app/vigil.js';
import type { CaseLocation } from '../../triage/case-db.js';
import type { TriageProgress } from '../../triage/run.js';
import { EXIT } from '../exit-codes.js';
import { cliActor, withVigil, type Cli } from '../context.js';
import { isTerminal, writeLine } from '../output.js';
import { positiveInt } from './hash.js';

interface TriageCliOptions {
  case: string;
  threads?: number;
  seriesDistance?: number;
  checkpoint?: number;
  maxDepth?: number;
  maxMemberBytes?: number;
  maxRatio?: number;
  views: boolean;
  progress?: boolean;
  casesDir?: string;
}

function bits(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 128) throw new InvalidArgumentError('Expected a number of bits from 0 to 128');
  return n;
}

/** Where cases live: --cases-dir, else a `vigil-cases` folder beside an embedded store (PostgreSQL: in the store). */
export async function caseLocation(vigil: Vigil, casesDir?: string): Promise<CaseLocation> {
  const { stateDirOf } = await import('../../app/vigil.js');
  return { storeUrl: vigil.config.database.url, casesDir: casesDir ?? join(stateDirOf(vigil.config), 'vigil-cases'), ...(vigil.config.database.schema ? { schema: vigil.config.database.schema } : {}) };
}

const mb = (bytes: number) => bytes / 1e6;
function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** "1234/5000 files · 210.3 files/s · 45.1 MB/s · ETA 0:00:18" (ETA by bytes once the count is in). */
export function progressLine(p: TriageProgress): string {
  const s = Math.max(0.001, p.elapsedMs / 1000);
  const rate = p.bytes / s;
  const eta = p.totalBytes !== undefined && rate > 0 ? ` · ETA ${clock((p.totalBytes - p.bytes) / rate)}` : '';
  return `${p.files}${p.totalFiles !== undefined ? `/${p.totalFiles}` : ''} files · ${(p.files / s).toFixed(1)} files/s · ${mb(rate).toFixed(1)} MB/s · ${p.items} items${p.skipped ? ` · ${p.skipped} done before` : ''}${eta}`;
}

export function registerTriage(program: Command, cli: Cli): void {
  program
    .command('triage')
    .description('Triage seized media into a case: hash every file once (archives opened as streams), drop known-benign, flag known, group duplicates and series, read EXIF')
    .argument('<roots...>', 'folders, mounted images or files')
    .requiredOption('--case <name>', 'the case (created on first use; a re-run continues it)')
    .option('-j, --threads <n>', 'worker threads (default: one per core)', positiveInt)
    .option('--series-distance <bits>', 'near-duplicate series: PDQ distance (default 31)', bits)
    .option('--checkpoint <items>', 'items per checkpoint (default 256)', positiveInt)
    .option('--max-depth <n>', 'archives nested deeper than this are not opened (default 4)', positiveInt)
    .option('--max-member-bytes <n>', 'archive members and files held in memory up to this size; larger ones get digests only (default 256 MiB)', positiveInt)
    .option('--max-ratio <n>', 'compression ratio above which a member is a bomb (default 200)', positiveInt)
    .option('--no-views', 'match and cluster only the picture as stored')
    .option('--cases-dir <dir>', 'where SQLite case files go (default: vigil-cases beside the store)')
    .option('--progress', 'force the progress line on stderr')
    .option('--no-progress', 'never show progress')
    .action(async (roots: string[], opts: TriageCliOptions, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const [{ CaseDb }, { runTriage }] = await Promise.all([import('../../triage/case-db.js'), import('../../triage/run.js')]);
        await vigil.matcher.sync();
        const caseDb = await CaseDb.open(await caseLocation(vigil, opts.casesDir), opts.case, { create: true });
        // Reading seized media into a case is an investigator's act: audited before anything is read.
        await vigil.audit.appendNow({ actor: cliActor(), requestId: randomUUID(), action: 'case.triage', subject: `case:${opts.case}`, details: { roots } }).catch(async (err: unknown) => {
          await caseDb.close();
          throw err;
        });
        const abort = new AbortController();
        const onSignal = () => abort.abort();
        const real = cli.stderr === process.stderr;
        if (real) process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
        const draw = opts.progress ?? isTerminal(cli.stderr);
        try {
          const summary = await runTriage(caseDb, vigil.matcher, {
            roots,
            signal: abort.signal,
            ...(opts.threads ? { threads: opts.threads } : {}),
            ...(opts.seriesDistance !== undefined ? { seriesDistance: opts.seriesDistance } : {}),
            ...(opts.checkpoint ? { checkpointItems: opts.checkpoint } : {}),
            limits: { ...(opts.maxDepth ? { maxDepth: opts.maxDepth } : {}), ...(opts.maxMemberBytes ? { maxMemberBytes: opts.maxMemberBytes } : {}), ...(opts.maxRatio ? { maxRatio: opts.maxRatio } : {}) },
            views: opts.views,
            ...(draw ? { onProgress: (p: TriageProgress) => void cli.stderr.write(`\r${progressLine(p)}\x1b[K`) } : {}),
          });
          if (draw) cli.stderr.write('\n');
          // The exit status speaks for the case, not only this run (a resumed run may find nothing new).
          const inCase = await caseDb.statusCounts();
          await writeLine(cli.stdout, JSON.stringify({ case: opts.case, ...summary, inCase }));
          if (summary.interrupted) await writeLine(cli.stderr, `Interrupted: what was done is saved; run the same command again to continue.`);
          cli.exitCode = (inCase.known ?? 0) > 0 ? EXIT.MATCHED : (inCase.error ?? 0) > 0 ? EXIT.SOME_FAILED : EXIT.OK;
        } finally {
          if (real) process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
          await caseDb.close();
        }
      });
    });
}
