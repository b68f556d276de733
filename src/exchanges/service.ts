/**
 * Adding and removing exchange subscriptions, shared by the CLI and the API: one bank per subscription, created
 * with it (or an existing, empty one named). Removing keeps the bank and its history unless asked to delete it.
 */
import type { AuditActor } from '../audit/log.js';
import type { BankService } from '../app/banks.js';
import { VigilError } from '../core/errors.js';
import type { VigilDatabase } from '../state/database.js';
import type { Store } from '../store/types.js';
import { ExchangeConfigs, type Exchange } from './config.js';
import type { ExchangeFetcher, ExchangeStatus } from './fetcher.js';

export interface ExchangeDeps {
  db: VigilDatabase;
  store: Store;
  banks: BankService;
  exchanges: ExchangeConfigs;
  exchangeFetcher: ExchangeFetcher;
}

export const EXCHANGE_NAME_RE = /^[A-Z_][A-Z0-9_]*$/;

export async function addExchange(v: ExchangeDeps, actor: string | AuditActor, input: { name: string; api: string; config: Record<string, unknown>; enabled?: boolean }): Promise<Exchange> {
  if (!EXCHANGE_NAME_RE.test(input.name)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'An exchange name (also its bank\'s) must match /^[A-Z_][A-Z0-9_]*$/');
  const config = ExchangeConfigs.checkConfig(input.api, input.config);
  if (await v.exchanges.get(input.name)) throw new VigilError('VIGIL_ERR_CONFLICT', `An exchange named ${input.name} already exists`);
  if (await v.store.getBank(input.name)) throw new VigilError('VIGIL_ERR_CONFLICT', `A bank named ${input.name} already exists: an exchange fills a bank of its own`);
  const bank = await v.banks.createBank(actor, { name: input.name, source: `exchange:${input.api}`, provenance: { exchange: input.name, api: input.api } });
  return v.exchanges.create(actor, { name: input.name, api: input.api, bankId: bank.id, enabled: input.enabled ?? true, config });
}

export async function removeExchange(v: ExchangeDeps, actor: string | AuditActor, name: string, options: { deleteBank?: boolean } = {}): Promise<void> {
  const e = await v.exchanges.get(name);
  if (!e) throw new VigilError('VIGIL_ERR_NOT_FOUND', `Exchange '${name}' not found`);
  await v.exchanges.delete(actor, name, (tx) => v.exchangeFetcher.forget(tx, name));
  if (options.deleteBank) {
    const bank = await v.store.getBankById(e.bankId);
    if (bank && !bank.deletedAt) await v.banks.deleteBank(actor, bank.name, { exchange: name });
  }
}

export async function exchangeStatuses(v: ExchangeDeps): Promise<ExchangeStatus[]> {
  return Promise.all((await v.exchanges.list()).map((n) => v.exchangeFetcher.status(n)));
}
