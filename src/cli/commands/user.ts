/**
 * `vigil user …`: people who sign in to the review UI. The password comes from $VIGIL_USER_PASSWORD, or is
 * generated and shown once. Every change is audited (actor cli:<OS user>); disabling or resetting a password ends
 * the person's sessions.
 */
import { randomBytes } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { AuditLog, type AuditActor } from '../../audit/log.js';
import { SessionStore } from '../../auth/sessions.js';
import { isRole, ROLES, UserStore, type Role, type User } from '../../auth/users.js';
import { VigilError } from '../../core/errors.js';
import type { VigilDatabase } from '../../state/database.js';
import { cliActor as cliUser, printJson, printTable, withVigil, type Cli } from '../context.js';
import { cliOperator } from './audit.js';

function roleOption(value: string): Role {
  if (!isRole(value)) throw new InvalidArgumentError(`Expected one of ${ROLES.join(', ')}`);
  return value;
}

function cliActor(): AuditActor {
  return { actor: cliUser(), details: cliOperator() };
}

function stores(db: VigilDatabase): { users: UserStore; sessions: SessionStore } {
  const users = new UserStore(db, new AuditLog(db));
  return { users, sessions: new SessionStore(db, users) };
}

/** The given password, or a generated one the command prints once. */
function passwordOf(cli: Cli): { password: string; generated: boolean } {
  const given = cli.env.VIGIL_USER_PASSWORD;
  return given ? { password: given, generated: false } : { password: randomBytes(15).toString('base64url'), generated: true };
}

async function requireUser(users: UserStore, name: string): Promise<User> {
  const user = await users.getByName(name);
  if (!user) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No user named ${JSON.stringify(name)}`);
  return user;
}

function publicUser(u: User): Record<string, unknown> {
  return { id: u.id, name: u.name, displayName: u.displayName, role: u.role, childSafety: u.childSafety, disabled: u.disabled, lockedUntil: u.lockedUntil, lastLoginAt: u.lastLoginAt, createdAt: u.createdAt };
}

export function registerUser(program: Command, cli: Cli): void {
  const user = program.command('user').description('People who sign in to the review UI: add, list, disable, reset a password');

  user
    .command('add')
    .description('Add a person (password from $VIGIL_USER_PASSWORD, or generated and shown once)')
    .argument('<name>', 'sign-in name')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`, roleOption)
    .option('--display-name <text>', 'the name shown in the UI')
    .option('--child-safety', 'may see child-safety review items (a separate grant from the role)')
    .option('--json', 'JSON output')
    .action(async (name: string, opts: { role: Role; displayName?: string; childSafety?: boolean; json?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async ({ db }) => {
        const { password, generated } = passwordOf(cli);
        const created = await stores(db).users.createNow({ name, role: opts.role, childSafety: opts.childSafety ?? false, password, ...(opts.displayName ? { displayName: opts.displayName } : {}) }, cliActor());
        if (opts.json) return printJson(cli.stdout, { user: publicUser(created), ...(generated ? { password } : {}) });
        cli.stdout.write(`Added ${created.name} (${created.role}${created.childSafety ? ', child-safety items' : ''})\n`);
        if (generated) {
          cli.stderr.write('Give this password to the person now: it is shown only once.\n');
          cli.stdout.write(`${password}\n`);
        }
      });
    });

  user
    .command('list')
    .description('List people (never their password hashes)')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async ({ db }) => {
        const list = await stores(db).users.list();
        if (opts.json) return printJson(cli.stdout, list.map(publicUser));
        const now = Date.now();
        printTable(cli.stdout, list.map((u) => ({
          name: u.name, role: u.role, 'child safety': u.childSafety ? 'yes' : 'no',
          status: u.disabled ? 'disabled' : u.lockedUntil && Date.parse(u.lockedUntil) > now ? `locked until ${u.lockedUntil}` : 'active', 'last sign-in': u.lastLoginAt ?? '',
        })), ['name', 'role', 'child safety', 'status', 'last sign-in']);
      });
    });

  user
    .command('disable')
    .description('Disable a person: no sign-in, every session ends')
    .argument('<name>', 'sign-in name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withVigil(cmd, cli, async ({ db }) => {
        const { users, sessions } = stores(db);
        const u = await requireUser(users, name);
        await db.transaction(async (tx) => {
          await users.disable(tx, u.id, cliActor());
          await sessions.endAll(tx, u.id);
        });
        cli.stdout.write(`Disabled ${u.name}\n`);
      });
    });

  user
    .command('reset-password')
    .description('Set a new password (from $VIGIL_USER_PASSWORD or generated), clear a lock-out, end every session')
    .argument('<name>', 'sign-in name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withVigil(cmd, cli, async ({ db }) => {
        const { users, sessions } = stores(db);
        const u = await requireUser(users, name);
        const { password, generated } = passwordOf(cli);
        const hashed = await users.hashPassword(password);
        await db.transaction(async (tx) => {
          await users.resetPassword(tx, u.id, hashed, cliActor());
          await sessions.endAll(tx, u.id);
        });
        cli.stdout.write(`New password set for ${u.name}\n`);
        if (generated) cli.stdout.write(`${password}\n`);
      });
    });
}
