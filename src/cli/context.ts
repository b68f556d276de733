/** Shared CLI plumbing: the streams a command writes to, which store to open (--db, VIGIL_DB, or ./vigil.db), printing. */
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { openStore, DEFAULT_STORE_URL } from '../store/store.js';
import type { Store } from '../store/types.js';
import { userInfo } from 'node:os';
import type { Vigil } from '../app/vigil.js';

/** What a command line runs against: the process's streams and environment, or a test's. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
}

/** One run of the command line: its streams, and the exit status its command chose. */
export interface Cli extends CliIo {
  exitCode: number;
}

export function storeUrl(command: Command, cli: Cli): string {
  const opts = command.optsWithGlobals() as { db?: string };
  return opts.db ?? cli.env.VIGIL_DB ?? DEFAULT_STORE_URL;
}

export async function withStore<T>(command: Command, cli: Cli, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(storeUrl(command, cli));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * The application core for one command: configuration from --db, the environment (VIGIL_*, VIGIL_CONFIG) and
 * defaults, validated once; then `createVigil`. State changes go through its services, which write their audit
 * entry in the change's own transaction. Loaded on use (a command that needs no core does not pay for it); no
 * hash pool starts unless the command hashes, no matcher runs, and the in-memory index is not kept up to date
 * (a running service follows the change feed).
 */
export async function withVigil<T>(command: Command, cli: Cli, fn: (vigil: Vigil) => Promise<T>): Promise<T> {
  const [{ loadConfig }, { createVigil }, { default: pino }] = await Promise.all([import('../app/config.js'), import('../app/vigil.js'), import('pino')]);
  const db = (command.optsWithGlobals() as { db?: string }).db;
  const config = loadConfig({ env: cli.env, flags: { ...(db ? { database: { url: db } } : {}), ...(cli.env.VIGIL_LOG_LEVEL ? {} : { log: { level: 'warn' } }) } });
  const vigil = await createVigil(config, { secrets: cli.env, logger: pino({ level: config.log.level, base: { service: 'vigil-cli' } }, cli.stderr) });
  vigil.banks.onChange = async () => undefined;
  try {
    return await fn(vigil);
  } finally {
    await vigil.close();
  }
}

/** Who runs the command: `cli:<OS user>` (`cli:unknown` where the OS cannot say). */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli:unknown';
  }
}

export function printJson(out: Writable, value: unknown): void {
  out.write(JSON.stringify(value, null, 2) + '\n');
}

/** A plain aligned table for humans; scripts use --json. */
export function printTable(out: Writable, rows: Record<string, unknown>[], columns: string[]): void {
  const cells = [columns, ...rows.map((r) => columns.map((c) => String(r[c] ?? '')))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  for (const row of cells) out.write(row.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd() + '\n');
}
