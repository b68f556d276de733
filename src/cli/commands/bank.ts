/** `vigil bank …`: hash banks (lists of known material, or known-good allow lists) in the store. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { VigilError } from '../../core/errors.js';
import type { BankPatch, NewBank } from '../../store/types.js';
import { cliActor, printJson, printTable, withStore, withVigil, type Cli } from '../context.js';
import { registerBankImportExport } from './bank-io.js';
import { countDegenerate } from '../../banks/list-io.js';

function intOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`Expected a non-negative integer but received ${JSON.stringify(value)}`);
  return n;
}

interface BankOptions {
  description?: string;
  kind?: 'block' | 'allow';
  source?: string;
  pdqThreshold?: number;
  vpdqThreshold?: number;
  fpPolicy?: 'suppress' | 'downrank';
  spikeThreshold?: number;
  degenerate?: 'exact' | 'none';
  json?: boolean;
}

function bankFields(opts: BankOptions): BankPatch {
  const thresholds = {
    ...(opts.pdqThreshold !== undefined ? { pdq: opts.pdqThreshold } : {}),
    ...(opts.vpdqThreshold !== undefined ? { vpdq: opts.vpdqThreshold } : {}),
  };
  return {
    ...(opts.description !== undefined ? { description: opts.description } : {}),
    ...(opts.kind !== undefined ? { kind: opts.kind } : {}),
    ...(opts.source !== undefined ? { source: opts.source } : {}),
    ...(Object.keys(thresholds).length > 0 ? { thresholds } : {}),
    ...(opts.fpPolicy !== undefined ? { falsePositivePolicy: opts.fpPolicy } : {}),
    ...(opts.spikeThreshold !== undefined ? { spikeThreshold: opts.spikeThreshold } : {}),
    ...(opts.degenerate !== undefined ? { degeneratePolicy: opts.degenerate } : {}),
  };
}

function withBankOptions(cmd: Command): Command {
  return cmd
    .option('--description <text>', 'what the list is')
    .addOption(new Option('--kind <kind>', 'block list of known material, or allow list of known-good files').choices(['block', 'allow']))
    .option('--source <text>', 'where the list comes from (provenance)')
    .option('--pdq-threshold <n>', 'max PDQ Hamming distance for a match (default 31)', intOption)
    .option('--vpdq-threshold <n>', 'max per-frame distance for vPDQ (default 31)', intOption)
    .addOption(new Option('--fp-policy <policy>', 'what a false-positive opinion does').choices(['suppress', 'downrank']))
    .option('--spike-threshold <n>', 'quarantine a signal matching more than n times in an hour (0 = off)', intOption)
    .addOption(new Option('--degenerate <policy>', 'what a degenerate PDQ hash (flat, one value, periodic) may match: the identical hash only (default), or nothing').choices(['exact', 'none']));
}

export function registerBank(program: Command, cli: Cli): void {
  const bank = program.command('bank').description('Create, inspect, import and export hash banks');

  withBankOptions(bank.command('create').description('Create a bank').argument('<name>', 'bank name (letters, digits, _ . -)'))
    .option('--json', 'print the bank as JSON')
    .action(async (name: string, opts: BankOptions, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const created = await vigil.banks.createBank(cliActor(), { name, ...bankFields(opts) } as NewBank);
        if (opts.json) printJson(cli.stdout, created);
        else cli.stdout.write(`Created ${created.kind} bank ${created.name}\n`);
      });
    });

  withBankOptions(bank.command('update').description("Change a bank's settings").argument('<name>'))
    .option('--rename <name>', 'new name')
    .action(async (name: string, opts: BankOptions & { rename?: string }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => printJson(cli.stdout, await vigil.banks.updateBank(cliActor(), name, { ...bankFields(opts), ...(opts.rename ? { name: opts.rename } : {}) })));
    });

  bank
    .command('list')
    .description('List banks')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withStore(cmd, cli, async (store) => {
        const banks = await store.listBanks();
        if (opts.json) return printJson(cli.stdout, banks);
        printTable(cli.stdout, banks.map((b) => ({ name: b.name, kind: b.kind, enabled: b.enabled ? 'yes' : 'no', source: b.source, pdq: b.thresholds.pdq ?? 31, fp: b.falsePositivePolicy })), ['name', 'kind', 'enabled', 'source', 'pdq', 'fp']);
      });
    });

  bank
    .command('show')
    .description("A bank's settings and statistics, as JSON")
    .argument('<name>')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withStore(cmd, cli, async (store) => {
        const found = await store.getBank(name);
        if (!found) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No bank named ${name}`);
        printJson(cli.stdout, { ...found, stats: { ...(await store.bankStats(name)), degeneratePdq: await countDegenerate(store, name) } });
      });
    });

  bank
    .command('stats')
    .description('Signal counts by type and status, matches, imports')
    .argument('<name>')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withStore(cmd, cli, async (store) => printJson(cli.stdout, { ...(await store.bankStats(name)), degeneratePdq: await countDegenerate(store, name) }));
    });

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    bank
      .command(verb)
      .description(`${enabled ? 'Enable' : 'Disable'} matching against a bank (takes effect at the matcher's next sync)`)
      .argument('<name>')
      .action(async (name: string, _opts: unknown, cmd: Command) => {
        await withVigil(cmd, cli, async (vigil) => {
          await vigil.banks.updateBank(cliActor(), name, { enabled });
          cli.stdout.write(`${name} ${enabled ? 'enabled' : 'disabled'}\n`);
        });
      });
  }

  bank
    .command('delete')
    .description('Delete a bank: it stops matching and its name is free again (its history stays, under its id)')
    .argument('<name>')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        await vigil.banks.deleteBank(cliActor(), name);
        cli.stdout.write(`${name} deleted\n`);
      });
    });

  registerBankImportExport(bank, cli);
}
