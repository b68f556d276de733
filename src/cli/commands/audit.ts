/** `vigil audit …`: verify and read the tamper-evident audit log. */
import { Command, InvalidArgumentError } from 'commander';
import { VigilError } from '../../core/errors.js';
import { userInfo } from 'node:os';
import { writeFileSync } from 'node:fs';
import { formatAuditAnchor, parseAuditAnchor, type AuditAnchor, type AuditVerifyResult } from '../../audit/log.js';
import { AuditCheckpointer, generateCheckpointKey, keyIdOf, loadSigningKey, loadVerifyKey, readCheckpoints, verifyAgainstCheckpoints } from '../../audit/checkpoint.js';
import { crossCheckDecisions } from '../../audit/cross-check.js';
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

/** The operating-system user behind a CLI change (audit details). */
export function cliOperator(): { osUser?: string } {
  try {
    return { osUser: userInfo().username };
  } catch {
    return {};
  }
}

export function registerAudit(program: Command, cli: Cli): void {
  const audit = program.command('audit').description('Verify and read the tamper-evident audit log (decisions, rule changes, key use, data access)');

  const checkpointFile = (opts: { checkpoints?: string }) => opts.checkpoints ?? cli.env.VIGIL_AUDIT_CHECKPOINTS;
  const checkpointKey = (opts: { checkpointKey?: string }) => opts.checkpointKey ?? cli.env.VIGIL_AUDIT_CHECKPOINT_KEY;

  audit
    .command('verify')
    .description('Recompute the hash chain, check it against the signed checkpoints, and cross-check decisions and review outcomes with their entries. Exit 0 and print the head; exit 1 naming the first bad entry')
    .option('--anchor <seq:hash>', 'a head printed by an earlier verify, kept outside the database: also detects truncation and rewrites up to it', anchorOption)
    .option('--checkpoints <file>', 'the signed checkpoint file written by the service or `audit checkpoint` (default $VIGIL_AUDIT_CHECKPOINTS)')
    .option('--checkpoint-key <file>', 'the checkpoint key: its public key PEM, or the private key file (default $VIGIL_AUDIT_CHECKPOINT_KEY)')
    .option('--json', 'JSON output')
    .action(async (opts: { anchor?: AuditAnchor; checkpoints?: string; checkpointKey?: string; json?: boolean }, cmd: Command) => {
      const file = checkpointFile(opts);
      const keyFile = checkpointKey(opts);
      if (file && !keyFile) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Checking checkpoints needs their key: --checkpoint-key FILE (the public key PEM or the private key file)');
      const checkpoints = file && keyFile ? readCheckpoints(file, loadVerifyKey(keyFile)) : undefined;
      await withVigil(cmd, cli, async (vigil) => {
        const db = vigil.db;
        const log = vigil.audit;
        let result: AuditVerifyResult & { checkpoint?: { seq: number; at: string }; checkpoints?: number } = await log.verify(opts.anchor ? { anchor: opts.anchor } : {});
        if (result.ok && checkpoints) result = await verifyAgainstCheckpoints(db, checkpoints);
        // The rows of decisions and review outcomes must agree with their (chained) entries.
        const crossCheck = result.ok ? await crossCheckDecisions(db) : undefined;
        const ok = result.ok && (crossCheck?.ok ?? true);
        // The verification is itself recorded; its entry extends the verified head and becomes the next anchor.
        const recorded = await log.appendNow({
          actor: cliActor(),
          action: 'audit.verified',
          details: { ...cliOperator(), ...result, ok, ...(crossCheck ? { crossCheck: { decisions: crossCheck.decisions, reviewOutcomes: crossCheck.reviewOutcomes, problems: crossCheck.problems } } : {}), ...(opts.anchor ? { anchor: formatAuditAnchor(opts.anchor) } : {}) },
        });
        const anchor = formatAuditAnchor(recorded);
        if (opts.json) {
          printJson(cli.stdout, { ...result, ok, ...(crossCheck ? { crossCheck } : {}), ...(ok ? { anchor } : {}) });
        } else if (ok) {
          const cp = result.checkpoint ? `, checkpoint ${result.checkpoint.seq} of ${result.checkpoint.at} matches (${result.checkpoints} checked)` : '';
          cli.stdout.write(
            `audit log ok: ${result.entries} entries verified${opts.anchor ? `, anchor ${opts.anchor.seq} matches` : ''}${cp}\n` +
              `anchor: ${anchor}\n` +
              `records: ${crossCheck!.decisions} decisions and ${crossCheck!.reviewOutcomes} review outcomes agree with their audit entries\n` +
              (checkpoints ? '' : '(keep the anchor outside this database and pass it as --anchor next time, or configure signed checkpoints: docs/security.md)\n'),
          );
        } else if (!result.ok) {
          cli.stdout.write(`audit log TAMPERED at entry ${result.firstBadSeq}: ${result.problem}\nentries 1..${result.headSeq} verified sound\n`);
        } else {
          cli.stdout.write(`audit log ok, but records disagree with it:\n${crossCheck!.problems.map((p) => `  ${p}`).join('\n')}\n`);
        }
        if (!result.ok) {
          throw new VigilError('VIGIL_ERR_AUDIT_TAMPERED', `audit log tampered: first bad entry ${result.firstBadSeq}: ${result.problem}`);
        }
        if (!ok) throw new VigilError('VIGIL_ERR_AUDIT_TAMPERED', `records tampered: ${crossCheck!.problems[0]}`);
      });
    });

  audit
    .command('checkpoint')
    .description("Sign the chain's head now and append it to the checkpoint file (and POST it to --webhook): what verify checks against")
    .option('--checkpoints <file>', 'the checkpoint file (default $VIGIL_AUDIT_CHECKPOINTS)')
    .option('--checkpoint-key <file>', 'the Ed25519 private key file (default $VIGIL_AUDIT_CHECKPOINT_KEY)')
    .option('--webhook <url>', 'also POST the checkpoint here (default $VIGIL_AUDIT_CHECKPOINT_WEBHOOK)')
    .option('--json', 'JSON output')
    .action(async (opts: { checkpoints?: string; checkpointKey?: string; webhook?: string; json?: boolean }, cmd: Command) => {
      const file = checkpointFile(opts);
      const keyFile = checkpointKey(opts);
      if (!file || !keyFile) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Pass --checkpoints FILE and --checkpoint-key FILE (or set VIGIL_AUDIT_CHECKPOINTS and VIGIL_AUDIT_CHECKPOINT_KEY)');
      const key = loadSigningKey(keyFile);
      const webhookUrl = opts.webhook ?? cli.env.VIGIL_AUDIT_CHECKPOINT_WEBHOOK;
      await withVigil(cmd, cli, async (vigil) => {
        const failures: unknown[] = [];
        const c = (await new AuditCheckpointer({ audit: vigil.audit, file, key, ...(webhookUrl ? { webhookUrl } : {}), onError: (err) => failures.push(err) }).checkpoint())!;
        if (opts.json) printJson(cli.stdout, c);
        else cli.stdout.write(`checkpoint ${c.seq}:${c.hash} signed by ${c.keyId}, appended to ${file}\n`);
        for (const err of failures) cli.stderr.write(`warning: ${(err as Error).message}\n`);
      });
    });

  audit
    .command('keygen')
    .description('Create the Ed25519 key that signs audit checkpoints (0600; keep it off the database host\'s backups of the database)')
    .argument('<file>', 'where to write the private key (PEM); refused if it exists')
    .action((file: string) => {
      const { privateKeyPem, publicKeyPem } = generateCheckpointKey();
      try {
        writeFileSync(file, privateKeyPem, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Cannot write ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); an existing key is never overwritten`);
      }
      cli.stdout.write(`checkpoint key ${keyIdOf(loadVerifyKey(file))} written to ${file}\npublic key (for verifiers, e.g. --checkpoint-key public.pem):\n${publicKeyPem}`);
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
