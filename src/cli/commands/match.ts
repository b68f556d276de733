/**
 * `vigil match <file|dir>...`: hashes files (with derived views and all 8 orientations) and prints every
 * match against the enabled banks. Exit status 3 when an actionable block-list match was found.
 */
import { Command, Option } from 'commander';
import { createDigestIndex } from '../../banks/digest-index.js';
import { BankMatcher, type BankMatch } from '../../banks/matcher.js';
import { matchQueryOfRecord } from '../../pipeline/query.js';
import type { FileHashRecord } from '../../hashing/hash-file.js';
import { HashPool } from '../../hashing/pool.js';
import { walkFiles } from '../../media/walk.js';
import { signalType } from '../../signals/registry.js';
import { EXIT } from '../exit-codes.js';
import { withStore, type Cli } from '../context.js';
import { isTerminal, Progress, writeLine } from '../output.js';
import { nonNegativeNumber, positiveInt, threadsFor } from './hash.js';

interface MatchOptions {
  format: 'ndjson' | 'text';
  every?: number;
  threads?: number;
  all?: boolean;
  views: boolean;
  loose?: boolean;
  progress?: boolean;
}

function describe(m: BankMatch): string {
  const at = m.timestamp !== undefined ? ` at ${m.timestamp.toFixed(1)} s of the ${m.timestampIn === 'known' ? 'known video' : 'video'}` : '';
  const where = m.video
    ? ` ${m.video.queryMatchPercent.toFixed(0)} % of this video's frames, ${m.video.comparedMatchPercent.toFixed(0)} % of the known video's (${m.video.queryRanges.map((r) => `${r.start.toFixed(1)}–${r.end.toFixed(1)} s`).join(', ')}; ${m.view})`
    : signalType(m.signalType).defaultThreshold !== undefined
      ? ` distance ${m.distance} (${m.view}${m.dihedral && m.dihedral !== 'orig' ? `, ${m.dihedral}` : ''}; ${m.rule ? `${m.rule.rule} rule ≤ ${m.rule.maxDistance}, ` : ''}${m.confidence} confidence)${at}`
      : '';
  const labels = Object.entries(m.labels).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : String(v)}`).join(' ');
  const flags = [m.bankKind === 'allow' ? 'known-good' : '', m.actionable ? '' : `not actionable: ${m.status}`, m.downranked ? 'down-ranked' : ''].filter(Boolean).join(', ');
  return `  ${m.bank}: ${m.signalType}${where} signal ${m.signalId}${m.sourceId ? ` source ${m.sourceId}` : ''}${labels ? ` [${labels}]` : ''}${flags ? ` (${flags})` : ''}`;
}

export function registerMatch(program: Command, cli: Cli): void {
  program
    .command('match')
    .description('Hash files and folders and match them against the enabled banks')
    .argument('<paths...>', 'files or directories')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['ndjson', 'text']).default('ndjson'))
    .option('-j, --threads <n>', 'worker threads (default: one per core)', positiveInt)
    .option('--all', 'also print files without matches')
    .option('--no-views', 'match only the picture as stored (no border trimming, no EXIF orientation)')
    .option('--loose', 'triage / investigation: every view and orientation at the bank threshold (more false matches; never high confidence)')
    .option('--every <seconds>', 'videos and animations: hash one frame every this many seconds (0 = every frame; default 1)', nonNegativeNumber)
    .option('--progress', 'force the progress line on stderr')
    .option('--no-progress', 'never show progress')
    .action(async (paths: string[], opts: MatchOptions, cmd: Command) => {
      await withStore(cmd, cli, async (store) => {
        const matcher = new BankMatcher(store, { digestIndex: createDigestIndex, ...(opts.loose ? { precision: 'loose' as const } : {}) });
        await matcher.sync();
        const pool = new HashPool({ threads: await threadsFor(paths, opts.threads), dihedral: true, views: opts.views, ...(opts.every !== undefined ? { secondsPerHash: opts.every } : {}) });
        const progress = new Progress(opts.progress ?? isTerminal(cli.stderr), 'files', cli.stderr);
        let matched = false;
        let failed = 0;
        try {
          for await (const record of pool.hashAll(walkFiles(paths))) {
            progress.tick(record.error !== undefined);
            if (record.error) failed++;
            const matches = record.md5 ? await matcher.match(matchQueryOfRecord(record)) : [];
            if (matches.some((m) => m.actionable && m.bankKind === 'block')) matched = true;
            await emit(cli, record, matches, opts);
          }
        } finally {
          progress.done();
          await pool.close();
        }
        cli.exitCode = matched ? EXIT.MATCHED : failed > 0 ? EXIT.SOME_FAILED : EXIT.OK;
      });
    });
}

async function emit(cli: Cli, record: FileHashRecord, matches: BankMatch[], opts: MatchOptions): Promise<void> {
  if (matches.length === 0 && !opts.all && !record.error) return;
  if (opts.format === 'ndjson') {
    const { path, md5, sha1, sha256, pdq, quality, error, warning } = record;
    await writeLine(cli.stdout, JSON.stringify({ path, md5, sha1, sha256, pdq, quality, ...(warning ? { warning } : {}), ...(error ? { error } : {}), matches }));
    return;
  }
  if (record.error) await writeLine(cli.stdout, `${record.path}: ${record.error.code}: ${record.error.message}`);
  else await writeLine(cli.stdout, `${record.path}: ${matches.length === 0 ? 'no match' : `${matches.length} match${matches.length > 1 ? 'es' : ''}`}`);
  for (const m of matches) await writeLine(cli.stdout, describe(m));
}
