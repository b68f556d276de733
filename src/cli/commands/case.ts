/**
 * `vigil case …`: one triaged case — export it, categorise items and series, attach identifiers, make a
 * categorised series a bank, write the offline HTML report (src/triage/, docs/triage.md).
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import type { Vigil } from '../../app/vigil.js';
import type { CaseDb } from '../../triage/case-db.js';
import type { Category, IdentifierKind } from '../../triage/case-service.js';
import { cliActor, withVigil, type Cli } from '../context.js';
import { writeLine } from '../output.js';
import { caseLocation } from './triage.js';

interface CaseOpts {
  casesDir?: string;
}

async function withCase<T>(cmd: Command, cli: Cli, name: string, fn: (vigil: Vigil, caseDb: CaseDb) => Promise<T>): Promise<T> {
  const opts = cmd.optsWithGlobals() as CaseOpts;
  return withVigil(cmd, cli, async (vigil) => {
    const { CaseDb } = await import('../../triage/case-db.js');
    const caseDb = await CaseDb.open(await caseLocation(vigil, opts.casesDir), name);
    try {
      return await fn(vigil, caseDb);
    } finally {
      await caseDb.close();
    }
  });
}

async function service(vigil: Vigil) {
  const { CaseService } = await import('../../triage/case-service.js');
  return new CaseService({ db: vigil.db, audit: vigil.audit, banks: vigil.banks });
}

const actor = () => ({ actor: cliActor(), requestId: randomUUID() });

function category(opts: { vic?: string; uk?: string }): Category {
  return { ...(opts.vic !== undefined ? { projectVic: Number(opts.vic) } : {}), ...(opts.uk !== undefined ? { uk: opts.uk.toUpperCase() as 'A' | 'B' | 'C' } : {}) };
}

async function writeAll(out: Writable, chunks: AsyncIterable<string>): Promise<void> {
  for await (const chunk of chunks) if (!out.write(chunk)) await once(out, 'drain');
}

export function registerCase(program: Command, cli: Cli): void {
  const c = program.command('case').description('Work with a triaged case').option('--cases-dir <dir>', 'where SQLite case files are (default: vigil-cases beside the store)');

  c.command('export')
    .description('Export a case: json (one record per file), csv, vics (new unknown media for sharing), hashdeep (manifest)')
    .argument('<name>')
    .addOption(new Option('-f, --format <format>', 'export format').choices(['json', 'csv', 'vics', 'hashdeep']).default('json'))
    .option('-o, --out <file>', 'write to a file (created 0600) instead of stdout')
    .action(async (name: string, opts: { format: 'json' | 'csv' | 'vics' | 'hashdeep'; out?: string }, cmd: Command) => {
      await withCase(cmd, cli, name, async (vigil, caseDb) => {
        const { exportCase } = await import('../../triage/export.js');
        await vigil.audit.appendNow({ ...actor(), action: 'case.exported', subject: `case:${name}`, details: { format: opts.format, ...(opts.out ? { out: opts.out } : {}) } });
        if (!opts.out) return writeAll(cli.stdout, exportCase(caseDb, opts.format));
        const file = createWriteStream(opts.out, { mode: 0o600 });
        await writeAll(file, exportCase(caseDb, opts.format));
        file.end();
        await once(file, 'close');
      });
    });

  c.command('categorise')
    .alias('categorize')
    .description('Set a category on an item (--item PATH) or a series (--series ID): Project VIC 0–4 and/or UK A–C')
    .argument('<name>')
    .option('--item <path>', 'the item path as exported')
    .option('--series <id>', 'a series id')
    .option('--vic <n>', 'Project VIC category 0–4')
    .option('--uk <cat>', 'UK category A, B or C')
    .action(async (name: string, opts: { item?: string; series?: string; vic?: string; uk?: string }, cmd: Command) => {
      if ((opts.item === undefined) === (opts.series === undefined)) throw new (await import('../../core/errors.js')).VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected exactly one of --item or --series');
      await withCase(cmd, cli, name, async (vigil, caseDb) => {
        const s = await service(vigil);
        if (opts.item !== undefined) await s.categoriseItem(actor(), caseDb, opts.item, category(opts));
        else await s.categoriseSeries(actor(), caseDb, opts.series!, category(opts));
        await writeLine(cli.stdout, JSON.stringify({ case: name, ...(opts.item ? { item: opts.item } : { series: opts.series }), ...category(opts) }));
      });
    });

  c.command('identify')
    .description('Attach an identifier investigators found (an account name, an e-mail address…) to an item; `cases link` connects cases through it')
    .argument('<name>')
    .requiredOption('--item <path>', 'the item path')
    .addOption(new Option('--kind <kind>', 'identifier kind').choices(['account', 'email', 'phone', 'handle', 'other']).makeOptionMandatory())
    .requiredOption('--value <value>', 'the identifier')
    .action(async (name: string, opts: { item: string; kind: IdentifierKind; value: string }, cmd: Command) => {
      await withCase(cmd, cli, name, async (vigil, caseDb) => {
        await (await service(vigil)).addIdentifier(actor(), caseDb, opts.item, opts.kind, opts.value);
        await writeLine(cli.stdout, JSON.stringify({ case: name, item: opts.item, kind: opts.kind }));
      });
    });

  c.command('series-to-bank')
    .description('Add every picture of a categorised series (SHA-256, MD5, PDQ, with its categories) to a bank')
    .argument('<name>')
    .requiredOption('--series <id>', 'the series id')
    .requiredOption('--bank <bank>', 'the bank (must exist)')
    .action(async (name: string, opts: { series: string; bank: string }, cmd: Command) => {
      await withCase(cmd, cli, name, async (vigil, caseDb) => {
        const r = await (await service(vigil)).seriesToBank(actor(), caseDb, opts.series, opts.bank);
        await writeLine(cli.stdout, JSON.stringify({ case: name, series: opts.series, bank: opts.bank, ...r }));
      });
    });

  c.command('report')
    .description('Write the offline HTML report (thumbnails blurred and greyscale unless --clear-thumbnails)')
    .argument('<name>')
    .requiredOption('-o, --out <file>', 'the HTML file (created 0600)')
    .option('--clear-thumbnails', 'clear thumbnails (a deliberate, audited choice)')
    .action(async (name: string, opts: { out: string; clearThumbnails?: boolean }, cmd: Command) => {
      await withCase(cmd, cli, name, async (vigil, caseDb) => {
        const { caseReport } = await import('../../triage/report.js');
        const { writeFile } = await import('node:fs/promises');
        await vigil.audit.appendNow({ ...actor(), action: 'case.report', subject: `case:${name}`, details: { out: opts.out, clearThumbnails: opts.clearThumbnails === true } });
        await writeFile(opts.out, await caseReport(caseDb, { clearThumbnails: opts.clearThumbnails === true }), { mode: 0o600 });
        await writeLine(cli.stdout, opts.out);
      });
    });
}
