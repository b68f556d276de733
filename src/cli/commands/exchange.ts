/**
 * `vigil exchange …`: subscriptions to hash-sharing programs (NCMEC, StopNCII, ThreatExchange, a list file at a
 * URL, another Vigil), each filling its own bank. Credentials are read from a file or an environment variable,
 * never from the command line (other users see it in the process list). docs/exchanges.md.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { EXCHANGE_APIS } from '../../exchanges/config.js';
import { addExchange, exchangeStatuses, removeExchange } from '../../exchanges/service.js';
import { EXIT } from '../exit-codes.js';
import { cliActor, printJson, printTable, withVigil, type Cli } from '../context.js';

function jsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(`${what} is not JSON`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new InvalidArgumentError(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

const ago = (ms: number | null) => (ms === null ? 'never' : ms < 120_000 ? `${Math.round(ms / 1000)} s` : ms < 7_200_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 3_600_000)} h`);

export function registerExchange(program: Command, cli: Cli): void {
  const ex = program.command('exchange').description('Subscribe banks to hash-sharing programs and fetch them (docs/exchanges.md)');

  ex.command('add <name>')
    .description('Add an exchange and the bank it fills (NAME in capitals, also the bank\'s name)')
    .requiredOption('--api <api>', `one of ${Object.keys(EXCHANGE_APIS).join(', ')}`)
    .option('--api-config <json>', 'the API\'s config as JSON (vigil exchange apis lists the fields)', '{}')
    .option('--disabled', 'add it without scheduled fetches')
    .option('--json', 'JSON output')
    .action(async (name: string, opts: { api: string; apiConfig: string; disabled?: boolean; json?: boolean }, cmd: Command) => {
      const config = jsonObject(opts.apiConfig, '--api-config');
      await withVigil(cmd, cli, async (vigil) => {
        const e = await addExchange(vigil, cliActor(), { name, api: opts.api, config, enabled: !opts.disabled });
        if (opts.json) return printJson(cli.stdout, e);
        cli.stdout.write(`Added exchange ${e.name} (${e.api}) filling bank ${e.name}\n`);
      });
    });

  ex.command('apis')
    .description('The exchange APIs with their config and credential fields')
    .action(() => printJson(cli.stdout, EXCHANGE_APIS));

  ex.command('credentials <api>')
    .description('Set an exchange API\'s credentials (stored encrypted; never shown again)')
    .option('--file <path>', 'a JSON file with the credentials')
    .option('--env <variable>', 'an environment variable holding the credentials as JSON')
    .option('--clear', 'remove them')
    .action(async (api: string, opts: { file?: string; env?: string; clear?: boolean }, cmd: Command) => {
      let creds: Record<string, unknown> | null = null;
      if (!opts.clear) {
        const text = opts.file ? readFileSync(opts.file, 'utf8') : opts.env ? cli.env[opts.env] : undefined;
        if (text === undefined) throw new InvalidArgumentError(opts.env ? `$${opts.env} is not set` : 'Give --file, --env or --clear (never the secret itself on the command line)');
        creds = jsonObject(text, 'The credentials');
      }
      await withVigil(cmd, cli, async (vigil) => {
        await vigil.exchanges.setCredentials(cliActor(), api, creds);
        cli.stdout.write(creds ? `Credentials of ${api} set (fields: ${Object.keys(creds).sort().join(', ')})\n` : `Credentials of ${api} cleared\n`);
      });
    });

  ex.command('list')
    .description('Exchanges with their fetch status')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const all = await exchangeStatuses(vigil);
        if (opts.json) return printJson(cli.stdout, all);
        printTable(cli.stdout, all.map((s) => ({ name: s.name, api: s.api, enabled: s.enabled ? 'yes' : 'no', state: s.consecutiveFailures > 0 ? `FAILING (${s.consecutiveFailures})` : s.upToDate ? 'up to date' : s.lastAttemptAt ? 'behind' : 'never fetched', lag: ago(s.lagMs), added: s.total.added, deleted: s.total.deleted })), ['name', 'api', 'enabled', 'state', 'lag', 'added', 'deleted']);
      });
    });

  ex.command('status <name>')
    .description('One exchange\'s fetch status: last success, lag, counts, the last error')
    .option('--json', 'JSON output')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const s = await vigil.exchangeFetcher.status(name);
        if (opts.json) return printJson(cli.stdout, s);
        cli.stdout.write(`${s.name} (${s.api}) → bank ${s.bank}, ${s.enabled ? 'enabled' : 'disabled'}\n` +
          `  last success: ${s.lastSuccessAt ?? 'never'} (lag ${ago(s.lagMs)}), ${s.upToDate ? 'up to date' : 'not up to date'}\n` +
          `  last run: +${s.lastRun.added} −${s.lastRun.deleted}, ${s.lastRun.errors} row errors, ${s.lastRun.pages} pages; total +${s.total.added} −${s.total.deleted}\n` +
          (s.consecutiveFailures > 0 ? `  FAILING: ${s.consecutiveFailures} fetch(es) in a row, last at ${s.lastFailureAt}: ${s.lastError}\n` : ''));
        if (s.consecutiveFailures > 0) cli.exitCode = EXIT.SOME_FAILED;
      });
    });

  ex.command('fetch [name]')
    .description('Fetch one exchange (or all enabled ones) now, from its checkpoint')
    .option('--max-pages <n>', 'stop after this many pages (the next fetch resumes)', (v) => Number(v))
    .option('--json', 'JSON output')
    .action(async (name: string | undefined, opts: { maxPages?: number; json?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const names = name ? [name] : (await Promise.all((await vigil.exchanges.list()).map((n) => vigil.exchanges.get(n)))).filter((e) => e?.enabled).map((e) => e!.name);
        const results = [];
        for (const n of names) results.push(await vigil.exchangeFetcher.fetch(n, cliActor(), opts.maxPages ? { maxPages: opts.maxPages } : {}));
        if (opts.json) printJson(cli.stdout, results);
        else for (const r of results) cli.stdout.write(r.ok ? `${r.exchange}: ${r.pages} pages, +${r.added} ~${r.updated} −${r.deleted}, ${r.errors} row errors${r.skipped ? `, ${r.skipped} entries without a matchable fingerprint` : ''}${r.partial ? ' (stopped early: fetch again to go on)' : ''}\n` : `${r.exchange}: FAILED after ${r.pages} pages: ${r.error}\n`);
        if (results.some((r) => !r.ok)) cli.exitCode = EXIT.SOME_FAILED;
      });
    });

  ex.command('remove <name>')
    .description('Remove an exchange (its bank stays unless --delete-bank)')
    .option('--delete-bank', 'delete its bank too')
    .action(async (name: string, opts: { deleteBank?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        await removeExchange(vigil, cliActor(), name, { deleteBank: opts.deleteBank === true });
        cli.stdout.write(`Removed exchange ${name}${opts.deleteBank ? ' and its bank' : ''}\n`);
      });
    });
}
