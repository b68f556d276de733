#!/usr/bin/env node
/** The `vigil` command line. Only this file prints uncaught errors and chooses the exit status. */
import { Command, CommanderError } from 'commander';
import { VigilError } from '../core/errors.js';
import { registerAudit } from './commands/audit.js';
import { registerEvidence } from './commands/evidence.js';
import { registerBank } from './commands/bank.js';
import { registerHash } from './commands/hash.js';
import { registerKey } from './commands/key.js';
import { registerMatch } from './commands/match.js';
import { registerServe } from './commands/serve.js';
import { registerSignal } from './commands/signal.js';
import { EXIT } from './exit-codes.js';

export function buildProgram(): Command {
  const program = new Command('vigil')
    .description('Vigil: find, stop, report and investigate known abuse material by hash matching')
    .version('0.1.0')
    .option('--db <url>', 'store: a SQLite file path (default ./vigil.db, or $VIGIL_DB) or a postgres:// URL')
    .option('--state <path>', 'service state (keys, audit log, jobs): default the --db SQLite file, or ./vigil-state.db beside PostgreSQL ($VIGIL_STATE_DB)')
    .exitOverride()
    .showHelpAfterError();
  registerHash(program);
  registerMatch(program);
  registerBank(program);
  registerSignal(program);
  registerServe(program);
  registerKey(program);
  registerAudit(program);
  registerEvidence(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (err instanceof VigilError) {
      process.stderr.write(`vigil: ${err.code}: ${err.message}\n`);
      return err.code === 'VIGIL_ERR_INVALID_ARGUMENT' ? EXIT.USAGE : EXIT.SOME_FAILED;
    }
    process.stderr.write(`vigil: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.SOME_FAILED;
  }
}

// `vigil hash dir | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
process.exitCode = await main(process.argv);
