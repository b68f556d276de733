/** `vigil cases list|link`: every case in the store; the graph of cases connected by media, cameras, places and identifiers. */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { cliActor, printTable, withVigil, type Cli } from '../context.js';
import { writeLine } from '../output.js';
import { caseLocation } from './triage.js';

function meters(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 100_000) throw new InvalidArgumentError('Expected metres from 0 to 100000');
  return n;
}

export function registerCases(program: Command, cli: Cli): void {
  const c = program.command('cases').description('All triaged cases').option('--cases-dir <dir>', 'where SQLite case files are (default: vigil-cases beside the store)');
  c.command('list')
    .description('List the cases')
    .action(async (_opts: unknown, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const { CaseDb } = await import('../../triage/case-db.js');
        for (const name of await CaseDb.names(await caseLocation(vigil, (cmd.optsWithGlobals() as { casesDir?: string }).casesDir))) await writeLine(cli.stdout, name);
      });
    });
  c.command('link')
    .description('Which cases are connected: shared media (exact, PDQ-near), camera serial numbers, places, identifiers')
    .option('--json', 'one JSON edge per case pair and kind, with every file on each side')
    .option('--html <file>', 'also write an offline HTML view (created 0600)')
    .option('--meters <m>', 'places within this distance link (default 500)', meters)
    .option('--pdq-distance <bits>', 'near media: PDQ distance (default 31)', (v) => Number(v))
    .action(async (opts: { json?: boolean; html?: string; meters?: number; pdqDistance?: number }, cmd: Command) => {
      await withVigil(cmd, cli, async (vigil) => {
        const [{ CaseDb }, { linkCases, linksHtml }] = await Promise.all([import('../../triage/case-db.js'), import('../../triage/link.js')]);
        const location = await caseLocation(vigil, (cmd.optsWithGlobals() as { casesDir?: string }).casesDir);
        const names = await CaseDb.names(location);
        const cases: Awaited<ReturnType<typeof CaseDb.open>>[] = [];
        try {
          for (const n of names) cases.push(await CaseDb.open(location, n));
          await vigil.audit.appendNow({ actor: cliActor(), requestId: randomUUID(), action: 'cases.linked', subject: 'cases', details: { cases: names.length } });
          const edges = await linkCases(cases, { ...(opts.meters !== undefined ? { placeMeters: opts.meters } : {}), ...(opts.pdqDistance !== undefined ? { pdqDistance: opts.pdqDistance } : {}) });
          if (opts.html) await writeFile(opts.html, linksHtml(names, edges), { mode: 0o600 });
          if (opts.json) {
            for (const e of edges) await writeLine(cli.stdout, JSON.stringify(e));
            return;
          }
          printTable(cli.stdout, edges.map((e) => ({ case: e.cases[0], other: e.cases[1], kind: e.kind, links: e.via.length, files: `${e.files[e.cases[0]].length}/${e.files[e.cases[1]].length}` })), ['case', 'other', 'kind', 'links', 'files']);
        } finally {
          for (const cs of cases) await cs.close();
        }
      });
    });
}
