/**
 * Bank and signal changes as application operations, shared by Vigil's /v1 routes and the HMA-compatible
 * routes: each validates, writes through the store, appends its audit entry (same actions whichever API was
 * used; `via` says which) and brings the in-memory indexes up to date.
 */
import type { AuditLog } from '../audit/log.js';
import { VigilError } from '../core/errors.js';
import type { Labels, ListItem } from '../lists/types.js';
import { normalizeHexSignal, type SignalTypeName } from '../signals/registry.js';
import type { Bank, BankPatch, NewBank, Signal, Store } from '../store/types.js';

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

export class BankService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    /** Called after every change (the matcher's sync), so the change is matched at once. */
    private readonly onChange: () => Promise<unknown> = async () => undefined,
  ) {}

  async requireBank(name: string): Promise<Bank> {
    const bank = await this.store.getBank(name);
    if (!bank) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${name}`);
    return bank;
  }

  async createBank(actor: string, input: NewBank, details: Details = {}): Promise<Bank> {
    const bank = await this.store.createBank(input);
    this.audit.append({ actor, action: 'bank.created', subject: `bank:${bank.name}`, details: { bank, ...details } });
    await this.onChange();
    return bank;
  }

  async updateBank(actor: string, name: string, patch: BankPatch, details: Details = {}): Promise<Bank> {
    const bank = await this.store.updateBank(name, patch);
    this.audit.append({ actor, action: 'bank.changed', subject: `bank:${name}`, details: { patch: patch as Details, ...details } });
    await this.onChange();
    return bank;
  }

  /** Deletes a bank: it stops matching and its name is free again; its history stays under its id. */
  async deleteBank(actor: string, name: string, details: Details = {}): Promise<Bank> {
    const bank = await this.store.deleteBank(name);
    this.audit.append({ actor, action: 'bank.deleted', subject: `bank:${name}`, details: { bankId: bank.id, ...details } });
    await this.onChange();
    return bank;
  }

  /** Adds several signals of one piece of content; returns them in order (undefined where none was stored). */
  async addSignals(actor: string, bankName: string, signals: readonly NewSignal[], details: Details = {}): Promise<Signal[]> {
    const bank = await this.requireBank(bankName);
    const stored: Signal[] = [];
    for (const signal of signals) stored.push(await this.put(bank, signal));
    for (const s of stored) this.audit.append({ actor, action: 'signal.added', subject: `signal:${s.id}`, details: { bank: bank.name, ...details } });
    await this.onChange();
    return stored;
  }

  async addSignal(actor: string, bankName: string, signal: NewSignal, details: Details = {}): Promise<Signal> {
    return (await this.addSignals(actor, bankName, [signal], details))[0]!;
  }

  /** Withdraws a signal from its bank (it stops matching); the row stays, marked deleted. */
  async withdrawSignal(actor: string, signal: Signal, details: Details = {}): Promise<Signal> {
    const bank = await this.store.getBankById(signal.bankId);
    if (!bank || bank.deletedAt) throw new VigilError('VIGIL_ERR_NOT_FOUND', 'No such signal');
    await this.put(bank, { type: signal.type, value: signal.value }, true);
    this.audit.append({ actor, action: 'signal.deleted', subject: `signal:${signal.id}`, details: { bank: bank.name, ...details } });
    await this.onChange();
    return (await this.store.getSignal(signal.id))!;
  }

  /** HMA's content switch: null enables, a unix time disables until then (0: until enabled again). */
  async setSignalDisabledUntil(actor: string, signal: Signal, disableUntilTs: number | null, details: Details = {}): Promise<Signal> {
    const updated = await this.store.setSignalDisabledUntil(signal.id, disableUntilTs);
    this.audit.append({ actor, action: 'signal.changed', subject: `signal:${signal.id}`, details: { bank: signal.bankName, disableUntilTs, ...details } });
    return updated;
  }

  /** One signal through the store's idempotent import path (upsert on bank, type and value). */
  private async put(bank: Bank, signal: NewSignal, deleted = false): Promise<Signal> {
    const value = signal.type === 'vpdq' || signal.type === 'photodna' ? signal.value : normalizeHexSignal(signal.type, signal.value);
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
    const result = await this.store.importList(bank.name, [item], { format: 'api' });
    if (result.errorCount > 0) throw new VigilError('VIGIL_ERR_INVALID_HASH', result.errors[0]?.message ?? 'Invalid signal');
    const stored = (await this.store.findSignals(signal.type, value)).find((s) => s.bankId === bank.id);
    if (!stored && !deleted) throw new VigilError('VIGIL_ERR_INTERNAL', 'The signal was not stored');
    return stored!;
  }
}
