#!/usr/bin/env node
/**
 * The `vigil` command line. `main()` runs one command line against the given output streams and returns the
 * exit status (tests call it in-process); only `runAsProcess()` touches the real process. A command's module
 * is imported only when that command runs, so `vigil --version` or `vigil hash` does not load the service.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { VigilError } from '../core/errors.js';
import { VIGIL_VERSION } from '../core/version.js';
import type { Cli, CliIo } from './context.js';
import { EXIT } from './exit-codes.js';

export type { CliIo } from './context.js';

type Register = (program: Command, cli: Cli) => void;

const COMMANDS: Record<string, () => Promise<Register>> = {
  hash: async () => (await import('./commands/hash.js')).registerHash,
  match: async () => (await import('./commands/match.js')).registerMatch,
  bank: async () => (await import('./commands/bank.js')).registerBank,
  signal: async () => (await import('./commands/signal.js')).registerSignal,
  serve: async () => (await import('./commands/serve.js')).registerServe,
  key: async () => (await import('./commands/key.js')).registerKey,
  audit: async () => (await import('./commands/audit.js')).registerAudit,
  evidence: async () => (await import('./commands/evidence.js')).registerEvidence,
  user: async () => (await import('./commands/user.js')).registerUser,
  triage: async () => (await import('./commands/triage.js')).registerTriage,
  case: async () => (await import('./commands/case.js')).registerCase,
  cases: async () => (await import('./commands/cases.js')).registerCases,
  worker: async () => (await import('./commands/worker.js')).registerWorker,
  fleet: async () => (await import('./commands/fleet.js')).registerFleet,
  report: async () => (await import('./commands/report.js')).registerReport,
  exchange: async () => (await import('./commands/exchange.js')).registerExchange,
};

function baseProgram(cli: Cli): Command {
  return new Command('vigil')
    .description('Vigil: find, stop, report and investigate known abuse material by hash matching')
    .version(VIGIL_VERSION)
    .option('--config <file>', 'a JSON configuration file (docs/configuration.md; also $VIGIL_CONFIG); VIGIL_* variables and flags override it')
    .option('--db <url>', 'database (store and all state): a SQLite file path (default ./vigil.db, or $VIGIL_DB) or a postgres:// URL')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void cli.stdout.write(s), writeErr: (s) => void cli.stderr.write(s) })
    .showHelpAfterError();
}

/** The first word that is not a global option or its value: the command to load. */
function commandWord(program: Command, argv: string[]): string | undefined {
  const takesValue = new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return argv[i + 1];
    if (takesValue.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/**
 * The program with the command that `argv` names registered; none for `--version`; every command when it
 * names none we know (help, `vigil help x`, a misspelt command: commander then lists them all or suggests one).
 */
export async function buildProgram(cli: Cli, argv: string[] = []): Promise<Command> {
  const program = baseProgram(cli);
  const word = commandWord(program, argv);
  const names =
    word !== undefined && Object.hasOwn(COMMANDS, word) ? [word]
    : word === undefined && argv.some((a) => a === '-V' || a === '--version') ? []
    : Object.keys(COMMANDS);
  for (const register of await Promise.all(names.map((n) => COMMANDS[n]()))) register(program, cli);
  return program;
}

/** Runs one command line (`argv` without the node and script paths) and returns its exit status. */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const cli: Cli = { stdout: io.stdout ?? process.stdout, stderr: io.stderr ?? process.stderr, env: io.env ?? process.env, exitCode: EXIT.OK };
  try {
    const program = await buildProgram(cli, argv);
    await program.parseAsync(argv, { from: 'user' });
    return cli.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (err instanceof VigilError) {
      cli.stderr.write(`vigil: ${err.code}: ${err.message}\n`);
      return err.code === 'VIGIL_ERR_INVALID_ARGUMENT' ? EXIT.USAGE : EXIT.SOME_FAILED;
    }
    cli.stderr.write(`vigil: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.SOME_FAILED;
  }
}

/** The installed binary and `tsx src/cli/main.ts`: the real arguments, streams and exit status. */
export async function runAsProcess(): Promise<void> {
  // `vigil hash dir | head` closes our stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  process.exitCode = await main(process.argv.slice(2));
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) await runAsProcess();
