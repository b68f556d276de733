/** `vigil audit …`: verify and read the tamper-evident audit log. */
import { Command, InvalidArgumentError } from 'commander';
import { VigilError } from '../../core/errors.js';
import { formatAuditAnchor, parseAuditAnchor, type AuditAnchor } from '../../audit/log.js';
import { cliActor, printJson, printTable, withVigil, type Cli } from '../context.js';

function intOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`Expected a non-negative integer but received ${JSON.stringify(value)}`);
  return n;
}

function anchorOption(value: string): AuditAnchor {
  try {
    return parseAuditAnchor(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function registerAudit(program: Command, cli: Cli): void {
  const audit = program.command('audit').description('Verify and read the tamper-evident audit log (decisions, rule changes, key use, data access)');

  audit
    .command('verify')
    .description('Recompute the hash chain. Exit 0 and print the head to keep as the next --anchor; exit 1 naming the first bad entry if tampered')
    .option('--anchor <seq:hash>', 'a head printed by an earlier verify, kept outside the database: also detects truncation and rewrites up to it', anchorOption)
    .option('--json', 'JSON output')
    .action(async (opts: { anchor?: AuditAnchor; json?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const log = vigil.audit;
        const result = await log.verify(opts.anchor ? { anchor: opts.anchor } : {});
        // The verification is itself recorded; its entry extends the verified head and becomes the next anchor.
        const recorded = await log.appendNow({
          actor: cliActor(),
          action: 'audit.verified',
          details: { ...result, ...(opts.anchor ? { anchor: formatAuditAnchor(opts.anchor) } : {}) },
        });
        const anchor = formatAuditAnchor(recorded);
        if (opts.json) {
          printJson(cli.stdout, { ...result, ...(result.ok ? { anchor } : {}) });
        } else if (result.ok) {
          cli.stdout.write(
            `audit log ok: ${result.entries} entries verified${opts.anchor ? `, anchor ${opts.anchor.seq} matches` : ''}\n` +
              `anchor: ${anchor}\n` +
              `(keep the anchor outside this database and pass it as --anchor next time: it detects truncation and rewrites)\n`,
          );
        } else {
          cli.stdout.write(`audit log TAMPERED at entry ${result.firstBadSeq}: ${result.problem}\nentries 1..${result.headSeq} verified sound\n`);
        }
        if (!result.ok) {
          throw new VigilError('VIGIL_ERR_AUDIT_TAMPERED', `audit log tampered: first bad entry ${result.firstBadSeq}: ${result.problem}`);
        }
      });
    });

  audit
    .command('list')
    .description('Audit entries in order (page with --after)')
    .option('--after <seq>', 'only entries after this seq', intOption)
    .option('--limit <n>', 'at most n entries (default 100, at most 10000)', intOption)
    .option('--action <action>', "only this action ('key.created') or prefix ('key.*')")
    .option('--subject <subject>', 'only entries about this subject (key id, bank, decision …)')
    .option('--json', 'JSON output')
    .action(async (opts: { after?: number; limit?: number; action?: string; subject?: string; json?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const entries = await vigil.audit.list({
          ...(opts.after !== undefined ? { afterSeq: opts.after } : {}),
          ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
          ...(opts.action !== undefined ? { action: opts.action } : {}),
          ...(opts.subject !== undefined ? { subject: opts.subject } : {}),
        });
        if (opts.json) return printJson(cli.stdout, entries);
        printTable(
          cli.stdout,
          entries.map((e) => {
            const details = JSON.stringify(e.details);
            return { seq: e.seq, at: e.at, actor: e.actor, action: e.action, subject: e.subject ?? '', details: details.length > 80 ? details.slice(0, 79) + '…' : details };
          }),
          ['seq', 'at', 'actor', 'action', 'subject', 'details'],
        );
      });
    });
}
