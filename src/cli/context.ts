/** Shared CLI plumbing: the streams a command writes to, which store to open (--db, VIGIL_DB, or ./vigil.db), printing. */
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { openStore, DEFAULT_STORE_URL } from '../store/store.js';
import type { Store } from '../store/types.js';
import { openStateDb, stateDbPathFor, type StateDb } from '../state/sqlite.js';
import { openDatabase, type VigilDatabase } from '../state/database.js';
import { STORE_COMPONENT } from '../store/migrations.js';
import { migrate, type Component } from '../state/migrate.js';

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

/** The service state (keys, audit log, queue) for the chosen store: same SQLite file, or --state beside PostgreSQL. */
export function withStateDb<T>(command: Command, cli: Cli, fn: (db: StateDb) => T | Promise<T>): Promise<T> {
  const opts = command.optsWithGlobals() as { state?: string };
  const db = openStateDb(stateDbPathFor(storeUrl(command, cli), opts.state ?? cli.env.VIGIL_STATE_DB));
  return Promise.resolve()
    .then(() => fn(db))
    .finally(() => db.close());
}

/**
 * The same state database as withStateDb, opened as a VigilDatabase with the given components migrated.
 * (Where it lives follows withStateDb until the composition root decides it from configuration.)
 */
export async function withStateDatabase<T>(command: Command, cli: Cli, components: readonly Component[], fn: (db: VigilDatabase) => Promise<T>): Promise<T> {
  const opts = command.optsWithGlobals() as { state?: string };
  // The state lives in the store's database (SQLite file or PostgreSQL), migrated as one.
  void opts;
  const db = await openDatabase(storeUrl(command, cli));
  try {
    await migrate(db, [STORE_COMPONENT, ...components]);
    return await fn(db);
  } finally {
    await db.close();
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
