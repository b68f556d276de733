/**
 * `vigil evidence …`: the preserved-evidence store. `rotate-key` re-wraps every item's data key under the
 * active master key (content untouched); `verify` reads items through and checks them. Audited (actor cli:<OS user>).
 */
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { VigilError } from '../../core/errors.js';
import { evidenceConfigFromEnv, keyFileOf, openEvidenceStore, type EvidenceConfig } from '../../evidence/open.js';
import { appendKeyToFile } from '../../evidence/keyring.js';
import type { EvidenceStore } from '../../evidence/store.js';
import { isPostgresUrl } from '../../state/database.js';
import { cliActor, printJson, storeUrl, withVigil, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';

/** The same evidence store `vigil serve` uses: VIGIL_EVIDENCE_*, else the PostgreSQL database, else `vigil-evidence` beside the SQLite file. */
function configOf(cmd: Command, cli: Cli, location?: string): EvidenceConfig {
  const url = storeUrl(cmd, cli);
  const fallback = isPostgresUrl(url) ? url : join(dirname(resolve(url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url)), 'vigil-evidence');
  const config = evidenceConfigFromEnv(cli.env, fallback);
  return location ? { ...config, location } : config;
}

async function withEvidence<T>(cli: Cli, config: EvidenceConfig, fn: (store: EvidenceStore) => Promise<T>): Promise<T> {
  const { store, warnings } = await openEvidenceStore(config);
  for (const w of warnings) cli.stderr.write(`vigil: warning: ${w}\n`);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function registerEvidence(program: Command, cli: Cli): void {
  const evidence = program.command('evidence').description('The encrypted evidence store: key rotation, verification');

  evidence
    .command('rotate-key')
    .description('Re-wrap every item\'s data key under the active master key (the last configured, or VIGIL_EVIDENCE_ACTIVE_KEY); content is not rewritten')
    .option('--generate', 'first add a new key to the key file and make it active (key-file set-ups only)')
    .option('--evidence <location>', 'evidence folder or postgres:// URL (default $VIGIL_EVIDENCE_STORE, or vigil-evidence beside the state DB)')
    .option('--json', 'JSON output')
    .action(async (opts: { generate?: boolean; evidence?: string; json?: boolean }, cmd: Command) => {
      const config = configOf(cmd, cli, opts.evidence);
      let generated: string | undefined;
      if (opts.generate) {
        const keyFile = keyFileOf(config);
        if (!keyFile) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', '--generate adds to a key file, but the keys come from VIGIL_EVIDENCE_KEYS: add the new key there (it becomes active as the last entry) and run rotate-key again');
        await withEvidence(cli, config, async () => undefined); // creates the store and key file when missing
        generated = appendKeyToFile(keyFile);
      }
      const result = await withEvidence(cli, config, (store) => store.rotate());
      await withVigil(cmd, cli, async (vigil) => {
        await vigil.audit.appendNow({ actor: cliActor(), action: 'evidence.key_rotated', subject: `evidence-key:${result.keyId}`, details: { generated: generated ?? null, rewrapped: result.rewrapped, unchanged: result.unchanged, failed: result.failed.map((f) => f.id) } });
      });
      if (opts.json) printJson(cli.stdout, { ...result, ...(generated ? { generated } : {}) });
      else {
        cli.stdout.write(`${generated ? `Generated evidence key ${generated}. ` : ''}Evidence now under key ${result.keyId}: ${result.rewrapped} re-wrapped, ${result.unchanged} already under it, ${result.failed.length} failed\n`);
        for (const f of result.failed) cli.stdout.write(`  ${f.id}: ${f.code}: ${f.message}\n`);
      }
      if (result.failed.length > 0) cli.exitCode = EXIT.SOME_FAILED;
    });

  evidence
    .command('verify')
    .description('Read evidence items through (all, or the ids given) and check every chunk, the size and the SHA-256')
    .argument('[ids...]', 'evidence ids (default: every item)')
    .option('--evidence <location>', 'evidence folder or postgres:// URL')
    .option('--json', 'JSON output')
    .action(async (ids: string[], opts: { evidence?: string; json?: boolean }, cmd: Command) => {
      const results = await withEvidence(cli, configOf(cmd, cli, opts.evidence), async (store) => {
        const out: { id: string; ok: boolean; keyId?: string; size?: number; sha256?: string; code?: string; message?: string }[] = [];
        const all = ids.length > 0 ? ids : store.ids();
        for await (const id of all) {
          try {
            out.push({ ok: true, ...(await store.verify(id)) });
          } catch (err) {
            out.push({ id, ok: false, code: (err as VigilError).code ?? 'VIGIL_ERR_INTERNAL', message: (err as Error).message });
          }
        }
        return out;
      });
      await withVigil(cmd, cli, async (vigil) => {
        await vigil.audit.appendNow({ actor: cliActor(), action: 'evidence.verified', subject: 'evidence', details: { items: results.length, failed: results.filter((r) => !r.ok).map((r) => r.id) } });
      });
      if (opts.json) printJson(cli.stdout, results);
      else for (const r of results) cli.stdout.write(r.ok ? `ok      ${r.id}  ${r.size} bytes  key ${r.keyId}  sha256 ${r.sha256}\n` : `FAILED  ${r.id}  ${r.code}: ${r.message}\n`);
      if (results.some((r) => !r.ok)) cli.exitCode = EXIT.SOME_FAILED;
    });
}
