/** `vigil key …`: API keys for the service. Creation and revocation are audited (actor cli:<OS user>). */
import { Command, InvalidArgumentError } from 'commander';
import { parseScopes, type ApiKey, type Scope } from '../../auth/keys.js';
import { cliActor, printJson, printTable, withVigil, type Cli } from '../context.js';

function intOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`Expected a non-negative integer but received ${JSON.stringify(value)}`);
  return n;
}

function scopesOption(value: string): Scope[] {
  try {
    return parseScopes(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function status(key: ApiKey, now: number): string {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && Date.parse(key.expiresAt) <= now) return 'expired';
  return 'active';
}

export function registerKey(program: Command, cli: Cli): void {
  const key = program.command('key').description('Create, list and revoke API keys (stored hashed; the secret is shown once)');

  key
    .command('create')
    .description('Create an API key and print its secret once')
    .requiredOption('--name <name>', 'what the key is for (who holds it)')
    .requiredOption('--scope <scopes>', 'comma-separated: submit, lookup, curate, review, admin (admin implies all), device (one per device: hashes and range lookups only)', scopesOption)
    .option('--rate-limit <n>', 'requests per minute (default 6000; 0 = unlimited)', intOption)
    .option('--expires <iso>', 'expiry, ISO 8601 (default never)')
    .option('--json', 'JSON output: {key, secret}')
    .action(async (opts: { name: string; scope: Scope[]; rateLimit?: number; expires?: string; json?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const created = await vigil.keys.createNow({
          name: opts.name,
          scopes: opts.scope,
          ...(opts.rateLimit !== undefined ? { rateLimitPerMinute: opts.rateLimit } : {}),
          ...(opts.expires !== undefined ? { expiresAt: opts.expires } : {}),
        }, { actor: cliActor() });
        cli.stderr.write('Store this secret now: it is shown only once (Vigil keeps only its SHA-256). Revoke the key if it leaks.\n');
        if (opts.json) return printJson(cli.stdout, created);
        const k = created.key;
        cli.stdout.write(
          `Created API key ${k.id} (${k.name}): scopes ${k.scopes.join(',')}, ` +
            `${k.rateLimitPerMinute === 0 ? 'no rate limit' : `${k.rateLimitPerMinute} requests/minute`}, expires ${k.expiresAt ?? 'never'}\n` +
            `${created.secret}\n`,
        );
      });
    });

  key
    .command('list')
    .description('List API keys (never their secrets)')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const keys = await vigil.keys.list();
        if (opts.json) return printJson(cli.stdout, keys);
        const now = Date.now();
        printTable(
          cli.stdout,
          keys.map((k) => ({
            id: k.id, name: k.name, scopes: k.scopes.join(','), 'rate/min': k.rateLimitPerMinute || 'unlimited', status: status(k, now),
            created: k.createdAt, expires: k.expiresAt ?? '', 'last used': k.lastUsedAt ?? '',
          })),
          ['id', 'name', 'scopes', 'rate/min', 'status', 'created', 'expires', 'last used'],
        );
      });
    });

  key
    .command('revoke')
    .description('Revoke an API key: it stops authenticating at once in this process, within a second in others (docs/service.md)')
    .argument('<id>', "the key's id (k_…)")
    .option('--json', 'JSON output')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const keys = vigil.keys;
        const { revoked, already } = await vigil.db.transaction(async (tx) => {
          const before = await keys.get(id, tx);
          const after = await keys.revoke(tx, id, { actor: cliActor() }); // NOT_FOUND for an unknown id; audited when it changes
          return { revoked: after, already: before?.revokedAt != null };
        });
        if (opts.json) return printJson(cli.stdout, revoked);
        cli.stdout.write(already ? `${id} was already revoked at ${revoked.revokedAt}\n` : `Revoked ${id} (${revoked.name})\n`);
      });
    });
}
