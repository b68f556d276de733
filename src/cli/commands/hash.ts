/** `vigil hash <file|dir>...`: MD5/SHA-1/SHA-256 and PDQ of every file, as NDJSON or the reference's lines. */
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { HashPool } from '../../hashing/pool.js';
import type { FileHashRecord } from '../../hashing/hash-file.js';
import { walkFiles } from '../../media/walk.js';
import { DIHEDRAL_NAMES } from '../../signals/pdq/pdq.js';
import type { Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { isTerminal, Progress, writeLine } from '../output.js';

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || value.trim() === '') throw new InvalidArgumentError(`Expected a number ≥ 0 but received ${JSON.stringify(value)}`);
  return n;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`Expected a positive integer but received ${JSON.stringify(value)}`);
  return n;
}

/**
 * Worker threads for hashing these paths: at most one per file named when no folder is among them, since a
 * hashing thread costs about 0.2 s of CPU to start (`vigil hash one-file` starts one, not one per core).
 */
export async function threadsFor(paths: string[], requested?: number): Promise<number> {
  return (await hashingFor(paths, requested)).threads;
}

/** Threads as `threadsFor`; one file named (no folder) and no thread count asked for is hashed in process. */
export async function hashingFor(paths: string[], requested?: number): Promise<{ threads: number; inProcess: boolean }> {
  const threads = requested ?? availableParallelism();
  const isFolder = await Promise.all(paths.map((p) => stat(p).then((s) => s.isDirectory(), () => false)));
  if (isFolder.some(Boolean)) return { threads, inProcess: false };
  return { threads: Math.max(1, Math.min(threads, paths.length)), inProcess: paths.length === 1 && requested === undefined };
}

interface HashCommandOptions {
  format: 'ndjson' | 'reference';
  every?: number;
  dihedral?: boolean;
  threads?: number;
  exifOrientation?: boolean;
  referenceResize: boolean;
  sixteenBit: 'reference' | 'scaled';
  maxPixels?: number;
  progress?: boolean;
}

/**
 * The reference tools' lines: `hash,quality,filename` for pictures (8 per file with --dihedral, as
 * `--pdqdih`); for videos the vPDQ tool's `frameNumber,quality,hash,timestamp` lines, each followed by
 * `,filename` so several files can share one output.
 */
export function referenceLines(record: FileHashRecord, dihedral: boolean): string[] {
  if (record.media === 'video' && record.vpdq) {
    // Frame numbers and timestamps are recomputed from the sampling interval and rate (exact for
    // constant-frame-rate video; the compact HMA strings carry only 3 significant digits).
    const interval = record.video?.frameInterval ?? 1;
    const fps = record.video?.fps ?? 0;
    return record.vpdq.map((f, i) => {
      const [hash, quality, timestamp] = f.split(',');
      const frame = i * interval;
      const seconds = fps > 0 ? Math.fround(frame / Math.fround(fps)) : Number(timestamp);
      return `${frame},${quality},${hash},${seconds.toFixed(3)},${record.path}`;
    });
  }
  if (record.pdq === undefined) return [];
  if (!dihedral || !record.dihedral) return [`${record.pdq},${record.quality},${record.path}`];
  const hashes = [record.pdq, ...DIHEDRAL_NAMES.slice(1).map((name) => record.dihedral?.[name])];
  return hashes.map((h) => `${h},${record.quality},${record.path}`);
}

export function registerHash(program: Command, cli: Cli): void {
  program
    .command('hash')
    .description('Hash files and folders (recursively): MD5, SHA-1, SHA-256 and PDQ, one result per file')
    .argument('<paths...>', 'files or directories')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['ndjson', 'reference']).default('ndjson'))
    .option('--dihedral', 'also output the hashes of the 7 other rotations/flips')
    .option('-j, --threads <n>', 'worker threads (default: one per core)', positiveInt)
    .option('--exif-orientation', 'apply EXIF orientation before hashing (the reference ignores it)')
    .option('--no-reference-resize', 'do not pre-resize images over 512 px to 512×512 as the reference tool does')
    .addOption(new Option('--sixteen-bit <mode>', '16-bit images: "reference" keeps the low byte like the C++ tool, "scaled" hashes what the picture shows').choices(['reference', 'scaled']).default('reference'))
    .option('--max-pixels <n>', 'refuse images declaring more pixels than this', positiveInt)
    .option('--every <seconds>', 'videos and animations: hash one frame every this many seconds (0 = every frame; default 1, as HMA)', nonNegativeNumber)
    .option('--progress', 'force the progress line on stderr (default: when stderr is a terminal)')
    .option('--no-progress', 'never show progress')
    .action(async (paths: string[], opts: HashCommandOptions) => {
      const pool = new HashPool({
        ...(await hashingFor(paths, opts.threads)),
        dihedral: opts.dihedral === true,
        applyExifOrientation: opts.exifOrientation === true,
        referenceResize: opts.referenceResize,
        sixteenBit: opts.sixteenBit,
        ...(opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels } : {}),
        ...(opts.every !== undefined ? { secondsPerHash: opts.every } : {}),
      });
      const progress = new Progress(opts.progress ?? isTerminal(cli.stderr), 'files', cli.stderr);
      let failed = 0;
      try {
        for await (const record of pool.hashAll(walkFiles(paths))) {
          if (record.error) failed++;
          progress.tick(record.error !== undefined);
          if (opts.format === 'ndjson') {
            await writeLine(cli.stdout, JSON.stringify(record));
          } else {
            for (const line of referenceLines(record, opts.dihedral === true)) await writeLine(cli.stdout, line);
            if (record.error) cli.stderr.write(`${record.path}: ${record.error.code}: ${record.error.message}\n`);
          }
        }
      } finally {
        progress.done();
        await pool.close();
      }
      cli.exitCode = failed > 0 ? EXIT.SOME_FAILED : EXIT.OK;
    });
}
