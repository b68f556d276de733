/** `vigil bank import|export`: hash-list files in and out of banks. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CSV_FIELDS } from '../../lists/csv.js';
import { bankRecords, listWriter } from '../../banks/list-io.js';
import { LIST_FORMAT_NAMES, LIST_FORMATS, type AnyListReadOptions, type ListFormatName } from '../../lists/registry.js';
import { parseSignalType, type SignalTypeName } from '../../signals/registry.js';
import { cliActor, withStore, withVigil, type Cli } from '../context.js';
import { isTerminal } from '../output.js';
import { EXIT } from '../exit-codes.js';

function columnMapping(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq < 1) throw new InvalidArgumentError(`Expected FIELD=Header for --column but received ${JSON.stringify(value)}`);
  const field = value.slice(0, eq);
  if (!(CSV_FIELDS as readonly string[]).includes(field)) throw new InvalidArgumentError(`Expected one of ${CSV_FIELDS.join(', ')} before "=" in --column but received ${JSON.stringify(field)}`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function registerBankImportExport(bank: Command, cli: Cli): void {
  bank
    .command('import')
    .description('Import a hash-list file into a bank (one transaction; re-importing the same file changes nothing)')
    .argument('<bank>')
    .argument('<file>')
    .addOption(new Option('--format <format>', 'list format (default: detected)').choices(['auto', ...LIST_FORMAT_NAMES]).default('auto'))
    .option('--type <type>', 'signal type of bare hashes where the length does not say (64 hex: sha256 or pdq)', parseSignalType)
    .option('--column <field=Header>', 'CSV/TSV header mapping, repeatable (fields: md5, sha1, sha256, pdq, hash, signalType, category, ukCategory, industryCategory, series, tags, fileName, fileSize, sourceId, deleted)', columnMapping)
    .option('--create', 'create the bank if it does not exist')
    .option('--json', 'print the result as JSON')
    .option('--no-progress', 'never show progress')
    .action(async (bankName: string, file: string, opts: { format: ListFormatName | 'auto'; type?: SignalTypeName; column?: Record<string, string>; create?: boolean; json?: boolean; progress: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const showProgress = opts.progress && isTerminal(cli.stderr);
        let last = 0;
        const readOptions = { ...(opts.type ? { signalType: opts.type } : {}), ...(opts.column ? { columns: opts.column } : {}) } as AnyListReadOptions;
        const result = await vigil.banks.importFile(cliActor(), bankName, file, {
          format: opts.format,
          readOptions,
          create: opts.create === true,
          onProgress: ({ bytesRead, totalBytes, rows }) => {
            const now = Date.now();
            if (!showProgress || now - last < 100) return;
            last = now;
            const pct = totalBytes > 0 ? Math.min(100, (bytesRead / totalBytes) * 100) : 0;
            const bar = '#'.repeat(Math.round(pct / 4)).padEnd(25, '.');
            cli.stderr.write(`\r[${bar}] ${pct.toFixed(0)}% · ${rows.toLocaleString('en-US')} rows\x1b[K`);
          },
        });
        if (showProgress) cli.stderr.write('\n');
        const bankPolicyText = (await vigil.store.getBank(result.bank))?.degeneratePolicy === 'none' ? 'never (bank policy none)' : 'exactly only (bank policy exact)';
        if (opts.json) cli.stdout.write(JSON.stringify(result, null, 2) + '\n');
        else {
          cli.stdout.write(`${result.bank} ← ${file} (${result.format}): ${result.rows} rows, ${result.inserted} added, ${result.updated} updated, ${result.unchanged} unchanged, ${result.deleted} deleted, ${result.errorCount} invalid${result.degeneratePdq.total > 0 ? `; ${result.degeneratePdq.total} degenerate PDQ hashes (${result.degeneratePdq.constant} near-constant, ${result.degeneratePdq['one-value']} mostly one value, ${result.degeneratePdq.periodic} periodic, ${result.degeneratePdq.striped} striped), matched ${bankPolicyText}` : ''}\n`);
          for (const e of result.errors.slice(0, 20)) cli.stderr.write(`  line ${e.line}: ${e.message}\n`);
          if (result.errorCount > 20) cli.stderr.write(`  … ${result.errorCount - 20} more (use --json for the first ${result.errors.length})\n`);
        }
        cli.exitCode = result.errorCount > 0 ? EXIT.SOME_FAILED : EXIT.OK;
      });
    });

  bank
    .command('export')
    .description("Write a bank's signals as a hash-list file")
    .argument('<bank>')
    .addOption(new Option('--format <format>', 'list format').choices(LIST_FORMATS.filter((f) => f.canExport).map((f) => f.name)).default('threatexchange'))
    .option('--type <type>', 'only signals of this type', parseSignalType)
    .option('--vics-version <version>', 'VICS JSON version to write (1.2, 1.3 or 2.0)')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (bankName: string, opts: { format: ListFormatName; type?: SignalTypeName; vicsVersion?: string; out?: string }, cmd: Command) => {
      await withStore(cmd, cli, async (store) => {
        const write = listWriter(opts.format);
        const out: Writable = opts.out ? createWriteStream(opts.out) : cli.stdout;
        let skipped = 0;
        const options = { ...(opts.type ? { signalType: opts.type } : {}), ...(opts.vicsVersion ? { version: opts.vicsVersion } : {}), onSkip: () => skipped++ } as Parameters<typeof write>[1];
        for await (const chunk of write(bankRecords(store, bankName, opts.type), options)) {
          if (!out.write(chunk)) await once(out, 'drain');
        }
        if (opts.out) {
          out.end();
          await once(out, 'finish');
        }
        if (skipped > 0) cli.stderr.write(`${skipped} records could not be written in the ${opts.format} format (see docs/lists.md)\n`);
      });
    });
}
