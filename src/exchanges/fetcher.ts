/**
 * Applies an exchange's pages to its bank. Each page goes through the store's bulk import (upsert on bank, type
 * and value; deletions by entry key) and, in the SAME transaction, its checkpoint, the fetch counters and an
 * audit entry: a fetch killed anywhere leaves the last applied page and its checkpoint, and the next fetch
 * resumes there, ending with the same bank as an uninterrupted one. Each signal keeps its entry's provenance in
 * its metadata (exchange, member, entry id, classification, timestamp) and the entry key as its source id.
 */
import { sql } from 'kysely';
import type { AuditActor, AuditLog } from '../audit/log.js';
import { VigilError } from '../core/errors.js';
import type { ListItem } from '../lists/types.js';
import type { Tx, VigilDatabase } from '../state/database.js';
import type { Component } from '../state/migrate.js';
import type { ImportResult, Store } from '../store/types.js';
import type { Exchange, ExchangeConfigs } from './config.js';
import type { Checkpoint, ExchangeClient, ExchangeItem, ExchangePage } from './types.js';

const table = `
  CREATE TABLE exchange_sync (
    name TEXT PRIMARY KEY,
    checkpoint TEXT,
    up_to_date INTEGER NOT NULL DEFAULT 0,
    last_attempt_at BIGINT, last_success_at BIGINT, last_failure_at BIGINT, last_error TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    added_total BIGINT NOT NULL DEFAULT 0, deleted_total BIGINT NOT NULL DEFAULT 0, errors_total BIGINT NOT NULL DEFAULT 0,
    run_added BIGINT NOT NULL DEFAULT 0, run_deleted BIGINT NOT NULL DEFAULT 0, run_errors BIGINT NOT NULL DEFAULT 0, run_pages BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT, lease_until BIGINT
  );`;

export const EXCHANGE_SYNC_COMPONENT: Component = {
  name: 'exchange-sync',
  migrations: [{ version: 1, description: 'exchange fetch state: checkpoint, counters, failures, fleet lease', sqlite: table, postgres: table }],
};

export interface ExchangeStatus {
  name: string;
  api: string;
  bank: string;
  enabled: boolean;
  upToDate: boolean;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  /** Time since the last fetch that reached the program's present; null before the first. */
  lagMs: number | null;
  total: { added: number; deleted: number; errors: number };
  lastRun: { added: number; deleted: number; errors: number; pages: number };
  checkpoint: Checkpoint;
  leaseOwner: string | null;
}

export interface FetchResult {
  exchange: string;
  ok: boolean;
  pages: number;
  added: number;
  updated: number;
  deleted: number;
  errors: number;
  /** Entries with no fingerprint Vigil can match (kept nowhere but counted). */
  skipped: number;
  error?: string;
  /** True when the run stopped at `maxPages` before the program's present. */
  partial: boolean;
}

export type ClientFactory = (exchange: Exchange, credentials: Record<string, unknown> | undefined) => ExchangeClient;

export interface FetcherOptions {
  db: VigilDatabase;
  store: Store;
  audit: AuditLog;
  configs: ExchangeConfigs;
  clientFor: ClientFactory;
  /** The matcher's sync, after each applied page (the new signals match at once). */
  onChange?: () => Promise<unknown>;
  now?: () => number;
  log?: { error: (obj: object, msg: string) => void; info: (obj: object, msg: string) => void };
}

type Row = Record<string, unknown>;
const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const isoOf = (v: unknown) => (v === null || v === undefined ? null : new Date(Number(v)).toISOString());
const by = (actor: string | AuditActor): AuditActor => (typeof actor === 'string' ? { actor } : actor);

export class ExchangeFetcher {
  private readonly now: () => number;

  constructor(private readonly o: FetcherOptions) {
    this.now = o.now ?? Date.now;
  }

  private async row(name: string): Promise<Row | undefined> {
    return (await sql`SELECT * FROM exchange_sync WHERE name = ${name}`.execute(this.o.db.k)).rows[0] as Row | undefined;
  }

  private async ensureRow(name: string): Promise<void> {
    await sql`INSERT INTO exchange_sync (name) VALUES (${name}) ON CONFLICT (name) DO NOTHING`.execute(this.o.db.k);
  }

  private async requireExchange(name: string): Promise<Exchange> {
    const e = await this.o.configs.get(name);
    if (!e) throw new VigilError('VIGIL_ERR_NOT_FOUND', `Exchange '${name}' not found`);
    return e;
  }

  /**
   * One fetch: from the stored checkpoint to the program's present (or `maxPages` pages). Failures are recorded
   * (status, audit, log) and returned, never thrown: the scheduler goes on with the next exchange.
   */
  async fetch(name: string, actor: string | AuditActor, options: { signal?: AbortSignal; maxPages?: number; leaseOwner?: string } = {}): Promise<FetchResult> {
    const exchange = await this.requireExchange(name);
    const bank = await this.o.store.getBankById(exchange.bankId);
    const result: FetchResult = { exchange: name, ok: false, pages: 0, added: 0, updated: 0, deleted: 0, errors: 0, skipped: 0, partial: false };
    await this.ensureRow(name);
    const started = this.now();
    await sql`UPDATE exchange_sync SET last_attempt_at = ${started}, run_added = 0, run_deleted = 0, run_errors = 0, run_pages = 0 WHERE name = ${name}`.execute(this.o.db.k);
    await sql`UPDATE exchanges SET running_fetch_start_ts = ${Math.floor(started / 1000)} WHERE name = ${name}`.execute(this.o.db.k);
    try {
      if (!bank || bank.deletedAt) throw new VigilError('VIGIL_ERR_NOT_FOUND', `The bank of exchange '${name}' was deleted`);
      const client = this.o.clientFor(exchange, await this.o.configs.credentials(exchange.api));
      const stored = (await this.row(name))?.checkpoint;
      const checkpoint = stored ? (JSON.parse(String(stored)) as Checkpoint) : null;
      for await (const page of client.fetch(checkpoint, options.signal)) {
        await this.applyPage(exchange, bank.name, page, actor, result, options.leaseOwner);
        await this.o.onChange?.();
        if (options.maxPages !== undefined && result.pages >= options.maxPages) {
          result.partial = true;
          break;
        }
      }
      result.ok = true;
    } catch (err) {
      result.error = err instanceof Error ? err.message : String(err);
    }
    const at = this.now();
    await this.o.db.transaction(async (tx) => {
      if (result.ok) {
        await sql`UPDATE exchange_sync SET last_success_at = ${at}, up_to_date = ${result.partial ? 0 : 1}, consecutive_failures = 0, last_error = NULL WHERE name = ${name}`.execute(tx.k);
        await sql`UPDATE exchanges SET running_fetch_start_ts = NULL, last_fetch_complete_ts = ${Math.floor(at / 1000)}, last_fetch_succeeded = 1 WHERE name = ${name}`.execute(tx.k);
      } else {
        await sql`UPDATE exchange_sync SET last_failure_at = ${at}, up_to_date = 0, consecutive_failures = consecutive_failures + 1, last_error = ${result.error ?? ''} WHERE name = ${name}`.execute(tx.k);
        await sql`UPDATE exchanges SET running_fetch_start_ts = NULL, last_fetch_complete_ts = ${Math.floor(at / 1000)}, last_fetch_succeeded = 0 WHERE name = ${name}`.execute(tx.k);
      }
      const { exchange: _name, ...counts } = result;
      await this.o.audit.append(tx, { ...by(actor), action: result.ok ? 'exchange.fetched' : 'exchange.fetch_failed', subject: `exchange:${name}`, details: { ...counts, ms: at - started } });
    });
    if (result.ok) this.o.log?.info({ ...result }, 'exchange fetched');
    else this.o.log?.error({ exchange: name, error: result.error, pages: result.pages }, 'EXCHANGE FETCH FAILED');
    return result;
  }

  private async applyPage(exchange: Exchange, bankName: string, page: ExchangePage, actor: string | AuditActor, result: FetchResult, leaseOwner: string | undefined): Promise<void> {
    const counts = { skipped: 0 };
    // A withdrawal makes the store look for the key's signals across the bank: only keys it holds get one.
    const present = Array.isArray(page.items) ? await this.presentKeys(exchange.bankId, page.items as ExchangeItem[]) : undefined;
    const items = toListItems(exchange, page.items, counts, page.snapshot ? this.o.store : undefined, bankName, present);
    const r = await this.o.store.importList(bankName, items, {
      format: `exchange:${exchange.api}`,
      fileName: `exchange:${exchange.name}`,
      keepErrors: 20,
      withinCommit: async (tx: Tx, r: ImportResult) => {
        if (leaseOwner !== undefined) {
          const holder = (await sql`SELECT lease_owner FROM exchange_sync WHERE name = ${exchange.name}`.execute(tx.k)).rows[0] as Row | undefined;
          if (holder?.lease_owner !== leaseOwner) throw new VigilError('VIGIL_ERR_CONFLICT', `Another process holds exchange '${exchange.name}' now`);
        }
        await sql`UPDATE exchange_sync SET checkpoint = ${JSON.stringify(page.checkpoint)},
          added_total = added_total + ${r.inserted}, deleted_total = deleted_total + ${r.deleted}, errors_total = errors_total + ${r.errorCount},
          run_added = run_added + ${r.inserted}, run_deleted = run_deleted + ${r.deleted}, run_errors = run_errors + ${r.errorCount}, run_pages = run_pages + 1
          WHERE name = ${exchange.name}`.execute(tx.k);
        await sql`UPDATE exchanges SET checkpoint_ts = ${Math.floor(this.now() / 1000)}, fetched_items = fetched_items + ${r.inserted + r.updated} WHERE name = ${exchange.name}`.execute(tx.k);
        await this.o.audit.append(tx, {
          ...by(actor), action: 'exchange.page_applied', subject: `exchange:${exchange.name}`,
          details: { bank: bankName, importId: r.importId, inserted: r.inserted, updated: r.updated, deleted: r.deleted, errors: r.errorCount, firstErrors: r.errors.slice(0, 5).map((e) => e.message) },
        });
      },
    });
    result.pages++;
    result.added += r.inserted;
    result.updated += r.updated;
    result.deleted += r.deleted;
    result.errors += r.errorCount;
    result.skipped += counts.skipped;
  }

  /** The keys of these items that the bank holds live signals of (index signals_source). */
  private async presentKeys(bankId: number, items: readonly ExchangeItem[]): Promise<Set<string>> {
    const keys = [...new Set(items.flatMap((i) => (i.kind === 'error' ? [] : [i.key])))];
    const present = new Set<string>();
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const rows = (await sql<{ source_id: string }>`SELECT DISTINCT source_id FROM signals WHERE bank_id = ${bankId} AND source_id IN (${sql.join(chunk)}) AND deleted_at IS NULL`.execute(this.o.db.k)).rows;
      for (const r of rows) present.add(r.source_id);
    }
    return present;
  }

  async status(name: string): Promise<ExchangeStatus> {
    const e = await this.requireExchange(name);
    const r = (await this.row(name)) ?? {};
    const bank = await this.o.store.getBankById(e.bankId);
    const lastSuccess = n(r.last_success_at);
    return {
      name, api: e.api, bank: bank?.name ?? `#${e.bankId}`, enabled: e.enabled,
      upToDate: Number(r.up_to_date ?? 0) === 1,
      lastAttemptAt: isoOf(r.last_attempt_at), lastSuccessAt: isoOf(r.last_success_at), lastFailureAt: isoOf(r.last_failure_at),
      lastError: (r.last_error as string | null | undefined) ?? null,
      consecutiveFailures: Number(r.consecutive_failures ?? 0),
      lagMs: lastSuccess === null ? null : Math.max(0, this.now() - lastSuccess),
      total: { added: Number(r.added_total ?? 0), deleted: Number(r.deleted_total ?? 0), errors: Number(r.errors_total ?? 0) },
      lastRun: { added: Number(r.run_added ?? 0), deleted: Number(r.run_deleted ?? 0), errors: Number(r.run_errors ?? 0), pages: Number(r.run_pages ?? 0) },
      checkpoint: r.checkpoint ? (JSON.parse(String(r.checkpoint)) as Checkpoint) : null,
      leaseOwner: r.lease_owner && Number(r.lease_until ?? 0) > this.now() ? String(r.lease_owner) : null,
    };
  }

  /** Takes (or renews) the exchange's lease: in a fleet, one process fetches each exchange. */
  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    await this.ensureRow(name);
    const now = this.now();
    const r = await sql`UPDATE exchange_sync SET lease_owner = ${owner}, lease_until = ${now + ttlMs}
      WHERE name = ${name} AND (lease_owner IS NULL OR lease_owner = ${owner} OR lease_until IS NULL OR lease_until < ${now})`.execute(this.o.db.k);
    return Number(r.numAffectedRows ?? 0) > 0;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await sql`UPDATE exchange_sync SET lease_owner = NULL, lease_until = NULL WHERE name = ${name} AND lease_owner = ${owner}`.execute(this.o.db.k);
  }

  /** Forgets an exchange's fetch state (its checkpoint: a new exchange of that name starts from the beginning). */
  async forget(tx: Tx, name: string): Promise<void> {
    await sql`DELETE FROM exchange_sync WHERE name = ${name}`.execute(tx.k);
  }
}

/**
 * Exchange items as the store's list items. An update first withdraws its key (the store then deletes the
 * key's signals that the update does not list again), so an entry's changed fingerprints replace the old ones.
 * A snapshot page ends with a deletion of every signal of the bank it did not list.
 */
async function* toListItems(exchange: Exchange, items: AsyncIterable<ExchangeItem> | Iterable<ExchangeItem>, counts: { skipped: number }, snapshotOf: Store | undefined, bankName: string, present: Set<string> | undefined): AsyncGenerator<ListItem> {
  let line = 0;
  const seen = snapshotOf ? new Set<string>() : undefined;
  const inPage = new Set<string>();
  for await (const item of items) {
    line++;
    if (item.kind === 'error') {
      yield { kind: 'error', line, code: 'VIGIL_ERR_LIST_ROW', message: item.key ? `${item.key}: ${item.message}` : item.message };
      continue;
    }
    // `present` undefined: not known (a streamed page), withdraw every key; a key met earlier in the page too.
    if (!present || present.has(item.key) || inPage.has(item.key)) yield { kind: 'record', line, record: { signals: [], labels: {}, sourceId: item.key, deleted: true } };
    if (present) inPage.add(item.key);
    if (item.kind === 'delete') continue;
    if (item.signals.length === 0) {
      counts.skipped++;
      continue;
    }
    for (const s of item.signals) seen?.add(`${s.type}\u0000${s.value}`);
    yield {
      kind: 'record', line,
      record: { signals: item.signals, labels: item.labels ?? {}, sourceId: item.key, metadata: { exchange: exchange.name, api: exchange.api, ...item.provenance } },
    };
  }
  if (snapshotOf && seen) {
    for await (const s of snapshotOf.listSignals(bankName)) {
      if (!seen.has(`${s.type}\u0000${s.value}`)) yield { kind: 'record', line: ++line, record: { signals: [{ type: s.type, value: s.value }], labels: {}, deleted: true } };
    }
  }
}
