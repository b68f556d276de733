/**
 * Bank and signal changes as application operations, shared by every entry point (/v1 routes, the
 * HMA-compatible routes, the CLI): each validates, writes through the store and appends its audit entry in the
 * SAME unit of work (same actions whichever API was used; `via` says which), then brings the in-memory indexes
 * up to date.
 */
import type { AuditActor, AuditLog } from '../audit/log.js';
import type { Tx, VigilDatabase } from '../state/database.js';
import { VigilError } from '../core/errors.js';
import type { Labels, ListItem } from '../lists/types.js';
import { importListFile, type ImportFileOptions } from '../banks/list-io.js';
import { normalizeHexSignal, signalType, type SignalTypeName } from '../signals/registry.js';
import type { Bank, BankPatch, ImportOptions, ImportResult, NewBank, OpinionKind, Signal, Store } from '../store/types.js';

export interface NewSignal {
  type: SignalTypeName;
  value: string;
  labels?: Labels;
  sourceId?: string;
  fileName?: string;
  metadata?: Record<string, unknown>;
}

/** Extra audit details: which API made the change (`via: 'hma'`), what was asked. */
type Details = Record<string, unknown>;

/** Who acts: `'key:ID'`, `'user:NAME'`, `'cli:USER'`, or a full actor with the request id. */
export type Actor = string | AuditActor;

function by(actor: Actor): AuditActor {
  return typeof actor === 'string' ? { actor } : actor;
}

export class BankService {
  private readonly db: VigilDatabase;
  private readonly store: Store;
  private readonly audit: AuditLog;
  /** Called after every change (the matcher's sync), so the change is matched at once. */
  onChange: () => Promise<unknown>;
  /** Inside an opinion's unit of work (exchange feedback is queued there: exchanges/feedback.ts). */
  onOpinion: ((tx: Tx, signal: Signal, kind: OpinionKind, actor: AuditActor) => Promise<void>) | undefined;

  constructor(o: { db: VigilDatabase; store: Store; audit: AuditLog; onChange?: () => Promise<unknown> }) {
    this.db = o.db;
    this.store = o.store;
    this.audit = o.audit;
    this.onChange = o.onChange ?? (async () => undefined);
    this.onOpinion = undefined;
  }

  private async change<T>(fn: (store: Store, tx: Tx) => Promise<T>): Promise<T> {
    const result = await this.db.transaction((tx) => fn(this.store.in(tx), tx));
    await this.onChange();
    return result;
  }

  async requireBank(name: string): Promise<Bank> {
    const bank = await this.store.getBank(name);
    if (!bank) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${name}`);
    return bank;
  }

  async createBank(actor: Actor, input: NewBank, details: Details = {}): Promise<Bank> {
    return this.change(async (store, tx) => {
      const bank = await store.createBank(input);
      await this.audit.append(tx, { ...by(actor), action: 'bank.created', subject: `bank:${bank.name}`, details: { bank, ...details } });
      return bank;
    });
  }

  async updateBank(actor: Actor, name: string, patch: BankPatch, details: Details = {}): Promise<Bank> {
    return this.change(async (store, tx) => {
      const bank = await store.updateBank(name, patch);
      await this.audit.append(tx, { ...by(actor), action: 'bank.changed', subject: `bank:${name}`, details: { patch: patch as Details, ...details } });
      return bank;
    });
  }

  /** Deletes a bank: it stops matching and its name is free again; its history stays under its id. */
  async deleteBank(actor: Actor, name: string, details: Details = {}): Promise<Bank> {
    return this.change(async (store, tx) => {
      const bank = await store.deleteBank(name);
      await this.audit.append(tx, { ...by(actor), action: 'bank.deleted', subject: `bank:${name}`, details: { bankId: bank.id, ...details } });
      return bank;
    });
  }

  /** Adds several signals of one piece of content; returns them in order. */
  async addSignals(actor: Actor, bankName: string, signals: readonly NewSignal[], details: Details = {}): Promise<Signal[]> {
    return this.change(async (store, tx) => {
      const bank = await store.getBank(bankName);
      if (!bank) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${bankName}`);
      const stored: Signal[] = [];
      for (const signal of signals) stored.push(await this.put(store, bank, signal));
      await this.audit.appendMany(tx, stored.map((s) => ({ ...by(actor), action: 'signal.added', subject: `signal:${s.id}`, details: { bank: bank.name, ...details } })));
      return stored;
    });
  }

  async addSignal(actor: Actor, bankName: string, signal: NewSignal, details: Details = {}): Promise<Signal> {
    return (await this.addSignals(actor, bankName, [signal], details))[0]!;
  }

  /** Withdraws a signal from its bank (it stops matching); the row stays, marked deleted. */
  async withdrawSignal(actor: Actor, signal: Signal, details: Details = {}): Promise<Signal> {
    return this.change(async (store, tx) => {
      const bank = await store.getBankById(signal.bankId);
      if (!bank || bank.deletedAt) throw new VigilError('VIGIL_ERR_NOT_FOUND', 'No such signal');
      await this.put(store, bank, { type: signal.type, value: signal.value }, true);
      await this.audit.append(tx, { ...by(actor), action: 'signal.deleted', subject: `signal:${signal.id}`, details: { bank: bank.name, ...details } });
      return (await store.getSignal(signal.id))!;
    });
  }

  /** HMA's content switch: null enables, a unix time disables until then (0: until enabled again). */
  async setSignalDisabledUntil(actor: Actor, signal: Signal, disableUntilTs: number | null, details: Details = {}): Promise<Signal> {
    return this.change(async (store, tx) => {
      const updated = await store.setSignalDisabledUntil(signal.id, disableUntilTs);
      await this.audit.append(tx, { ...by(actor), action: 'signal.changed', subject: `signal:${signal.id}`, details: { bank: signal.bankName, disableUntilTs, ...details } });
      return updated;
    });
  }

  /**
   * A person's opinion of a signal (false positive, confirmed, disputed): it changes whether the signal
   * matches, so it is audited with the change.
   */
  async addOpinion(actor: Actor, signalId: number, opinion: { kind: OpinionKind; reason?: string }, details: Details = {}): Promise<Signal> {
    return this.change(async (store, tx) => {
      const signal = await store.addOpinion(signalId, { kind: opinion.kind, actor: by(actor).actor, ...(opinion.reason ? { reason: opinion.reason } : {}) });
      await this.onOpinion?.(tx, signal, opinion.kind, by(actor));
      await this.audit.append(tx, { ...by(actor), action: 'signal.opinion', subject: `signal:${signalId}`, details: { kind: opinion.kind, reason: opinion.reason ?? '', bank: signal.bankName, status: signal.status, ...details } });
      return signal;
    });
  }

  /**
   * addOpinion inside the caller's unit of work (a review decision and its opinions commit together). The
   * caller runs `onChange()` after its commit, so the matcher sees the new status.
   */
  async addOpinionIn(tx: Tx, actor: Actor, signalId: number, opinion: { kind: OpinionKind; reason?: string }, details: Details = {}): Promise<Signal> {
    const signal = await this.store.in(tx).addOpinion(signalId, { kind: opinion.kind, actor: by(actor).actor, ...(opinion.reason ? { reason: opinion.reason } : {}) });
    await this.onOpinion?.(tx, signal, opinion.kind, by(actor));
    await this.audit.append(tx, { ...by(actor), action: 'signal.opinion', subject: `signal:${signalId}`, details: { kind: opinion.kind, reason: opinion.reason ?? '', bank: signal.bankName, status: signal.status, ...details } });
    return signal;
  }

  /** A list file into a bank, audited with the import in one unit of work. */
  async importList(actor: Actor, bankName: string, items: AsyncIterable<ListItem> | Iterable<ListItem>, options: ImportOptions = {}, details: Details = {}): Promise<ImportResult> {
    // Parsing runs outside any transaction; the audit entry commits with the merge (ImportOptions.withinCommit).
    const result = await this.store.importList(bankName, items, { ...options, withinCommit: (tx, r) => this.audit.append(tx, importAudit(actor, bankName, r, options, details)).then(() => undefined) });
    await this.onChange();
    return result;
  }

  /**
   * A list file into a bank (`importListFile`: format detection, parsing off the event loop with `offThread`):
   * the import and its audit entry commit together; a bank created for it (`create`) is audited too.
   */
  async importFile(actor: Actor, bankName: string, path: string, options: Omit<ImportFileOptions, 'withinCommit' | 'createBank'> = {}, details: Details = {}): Promise<Awaited<ReturnType<typeof importListFile>>> {
    const fileName = options.fileName ?? options.displayName ?? path;
    const result = await importListFile(this.store, bankName, path, {
      ...options,
      createBank: (input) => this.createBank(actor, input, details),
      withinCommit: async (tx, r, format) => void (await this.audit.append(tx, importAudit(actor, bankName, r, { fileName, format }, details))),
    });
    await this.onChange();
    return result;
  }

  /** One signal through the store's idempotent import path (upsert on bank, type and value). */
  private async put(store: Store, bank: Bank, signal: NewSignal, deleted = false): Promise<Signal> {
    const value = signalType(signal.type).hexLength === undefined ? signal.value : normalizeHexSignal(signal.type, signal.value);
    const item: ListItem = {
      kind: 'record',
      line: 1,
      record: {
        signals: [{ type: signal.type, value }],
        labels: signal.labels ?? {},
        ...(signal.sourceId ? { sourceId: signal.sourceId } : {}),
        ...(signal.fileName ? { fileName: signal.fileName } : {}),
        ...(signal.metadata ? { metadata: signal.metadata } : {}),
        ...(deleted ? { deleted: true } : {}),
      },
    };
    const result = await store.importList(bank.name, [item], { format: 'api' });
    if (result.errorCount > 0) throw new VigilError('VIGIL_ERR_INVALID_HASH', result.errors[0]?.message ?? 'Invalid signal');
    const stored = (await store.findSignals(signal.type, value)).find((s) => s.bankId === bank.id);
    if (!stored && !deleted) throw new VigilError('VIGIL_ERR_INTERNAL', 'The signal was not stored');
    return stored!;
  }
}

/** The audit entry of an import: counts and provenance, never the hashes. */
export function importAudit(actor: Actor, bankName: string, r: ImportResult, options: ImportOptions, details: Details = {}) {
  return {
    ...by(actor), action: 'bank.imported', subject: `bank:${bankName}`,
    details: { importId: r.importId, rows: r.rows, inserted: r.inserted, updated: r.updated, deleted: r.deleted, errors: r.errorCount, ...(options.fileName ? { fileName: options.fileName } : {}), ...(options.format ? { format: options.format } : {}), ...details },
  };
}
