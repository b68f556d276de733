/** `vigil signal …`: opinions on individual signals (hash reputation). */
import type { Command } from 'commander';
import { VigilError } from '../../core/errors.js';
import type { OpinionKind } from '../../store/types.js';
import { cliActor, printJson, withStore, withVigil, type Cli } from '../context.js';

function signalId(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a signal id (positive integer) but received ${JSON.stringify(value)}`);
  return n;
}

export function registerSignal(program: Command, cli: Cli): void {
  const signal = program.command('signal').description('Inspect signals and record opinions on them');

  signal
    .command('show')
    .description('A signal with its bank, labels, provenance, status, match count and opinions')
    .argument('<id>')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withStore(cmd, cli, async (store) => {
        const found = await store.getSignal(signalId(id));
        if (!found) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No signal with id ${id}`);
        printJson(cli.stdout, { ...found, opinions: await store.listOpinions(found.id) });
      });
    });

  const opinion = (verb: string, kind: OpinionKind, description: string) =>
    signal
      .command(verb)
      .description(description)
      .argument('<id>', 'signal id (from vigil match or bank export)')
      .option('--by <name>', 'on whose behalf (recorded in the audit entry; the actor is cli:<OS user>)')
      .option('--reason <text>', 'why (recorded)')
      .action(async (id: string, opts: { by?: string; reason?: string }, cmd: Command) => {
        await withVigil(cmd, cli, async (vigil) => {
          const updated = await vigil.banks.addOpinion(cliActor(), signalId(id), { kind, ...(opts.reason ? { reason: opts.reason } : {}) }, opts.by ? { onBehalfOf: opts.by } : {});
          cli.stdout.write(`signal ${updated.id} (${updated.bankName}, ${updated.type}): ${updated.status}\n`);
        });
      });

  opinion('mark-false-positive', 'false_positive', 'Mark a signal as a false positive: it stops matching, or is down-ranked, per its bank policy');
  opinion('confirm', 'confirmed', 'Confirm a signal (restores a false-positive or quarantined signal to active)');
  opinion('dispute', 'disputed', 'Record a dispute about a signal (no effect on matching)');
}
