/**
 * `vigil report …`: CyberTipline reports — list (`--stuck` for what needs a person: exit status 1 when any),
 * show (with every NCMEC response), open, retry, retract — and preservation: legal holds and the purge.
 * Every change is audited (actor cli:<OS user>).
 */
import type { Command } from 'commander';
import { VigilError } from '../../core/errors.js';
import { INCIDENT_TYPES, type IncidentType } from '../../reports/documents.js';
import { REPORT_STATES, type ReportState } from '../../reports/schema.js';
import type { ReportView } from '../../reports/service.js';
import { cliActor, printJson, printTable, withVigil, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';

function id(value: string, what = 'report id'): number {
  if (!/^\d{1,15}$/.test(value)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a ${what} (a number) but received ${JSON.stringify(value)}`);
  return Number(value);
}

function row(r: ReportView): Record<string, unknown> {
  return {
    id: r.id, incident: r.incidentId, state: r.state, ncmec: r.ncmecReportId ?? '', files: r.files.length,
    failure: r.failure ? `${r.failure.class}${r.failure.retryable ? ' (retrying)' : ''}` : '', stuck: r.stuck ? 'STUCK' : '', updated: r.updatedAt,
  };
}

export function registerReport(program: Command, cli: Cli): void {
  const report = program.command('report').description('CyberTipline reports: list, show, open, retry, retract; evidence holds and purge');

  report.command('list')
    .description('Reports, newest first')
    .option('--stuck', 'only reports that failed, are failing, or have not moved for reporting.stuckAfterMs (exit status 1 when any)')
    .option('--state <state>', `one state (${REPORT_STATES.join(', ')})`)
    .option('--incident <id>', 'reports of one incident')
    .option('--limit <n>', 'at most n', '100')
    .option('--json', 'JSON output')
    .action(async (opts: { stuck?: boolean; state?: string; incident?: string; limit: string; json?: boolean }, cmd: Command) => {
      if (opts.state && !(REPORT_STATES as readonly string[]).includes(opts.state)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a state (${REPORT_STATES.join(', ')}) but received ${opts.state}`);
      const list = await withVigil(cmd, cli, (v) => v.reports.list({
        ...(opts.stuck ? { stuck: true } : {}), ...(opts.state ? { state: opts.state as ReportState } : {}),
        ...(opts.incident ? { incidentId: id(opts.incident, 'incident id') } : {}), limit: id(opts.limit, 'limit'),
      }));
      if (opts.json) printJson(cli.stdout, list);
      else if (list.length === 0) cli.stdout.write(opts.stuck ? 'No stuck or failed reports\n' : 'No reports\n');
      else printTable(cli.stdout, list.map(row), ['id', 'incident', 'state', 'ncmec', 'files', 'failure', 'stuck', 'updated']);
      if (opts.stuck && list.length > 0) cli.exitCode = EXIT.SOME_FAILED;
    });

  report.command('show')
    .description('One report: its state, files (whether a person viewed each), failure, and every NCMEC response')
    .argument('<id>')
    .option('--json', 'JSON output')
    .action(async (raw: string, opts: { json?: boolean }, cmd: Command) => {
      const out = await withVigil(cmd, cli, async (v) => {
        const r = await v.reports.get(id(raw));
        if (!r) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No report ${raw}`);
        return { ...r, responses: (await v.reports.responses(r.id)).map(({ body, ...rest }) => ({ ...rest, body: body.slice(0, 2000) })) };
      });
      if (opts.json) return printJson(cli.stdout, out);
      cli.stdout.write(`Report ${out.id} (incident ${out.incidentId}${out.supplements ? `, supplements report ${out.supplements}` : ''}): ${out.state}${out.stuck ? ' — STUCK' : ''}\n`);
      cli.stdout.write(`  NCMEC report id: ${out.ncmecReportId ?? '(none yet)'}; jurisdiction ${out.jurisdiction}; opened by ${out.openedBy} at ${out.createdAt}\n`);
      if (out.failure) cli.stdout.write(`  Failure: ${out.failure.class} (${out.failure.retryable ? 'retrying by itself' : 'needs a person: fix it, then `vigil report retry`'}): ${out.failure.message ?? ''}\n`);
      for (const f of out.files) cli.stdout.write(`  File ${f.ordinal}: ${f.fileName} sha256 ${f.sha256} viewed by a person: ${f.viewedByPerson ? 'yes' : 'no'}; NCMEC file ${f.ncmecFileId ?? '-'}${f.detailsSent ? ', details sent' : ''}\n`);
      for (const r of out.responses) cli.stdout.write(`  ${r.at} ${r.step}: HTTP ${r.httpStatus ?? '-'} code ${r.responseCode ?? '-'}${r.requestId ? ` Request-ID ${r.requestId}` : ''}\n`);
    });

  report.command('open')
    .description('Open a report for an incident (idempotent: its first report is returned when it exists)')
    .argument('<incident-id>')
    .option('--type <incidentType>', `NCMEC incident type (default: from the incident, else "${INCIDENT_TYPES[0]}")`)
    .option('--text <text>', 'a text-only incident: the text reported')
    .option('--url <url>', 'a URL incident')
    .option('--supplements <report-id>', 'a supplemental report following a finished one')
    .option('--jurisdiction <cc>', 'the jurisdiction whose preservation period applies (default reporting.defaultJurisdiction)')
    .action(async (raw: string, opts: { type?: string; text?: string; url?: string; supplements?: string; jurisdiction?: string }, cmd: Command) => {
      if (opts.type && !(INCIDENT_TYPES as readonly string[]).includes(opts.type)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected an incident type (${INCIDENT_TYPES.join('; ')})`);
      const r = await withVigil(cmd, cli, (v) => v.reports.open(id(raw, 'incident id'), { actor: cliActor() }, {
        ...(opts.type ? { incidentType: opts.type as IncidentType } : {}), ...(opts.text ? { text: opts.text } : {}), ...(opts.url ? { url: opts.url } : {}),
        ...(opts.supplements ? { supplements: id(opts.supplements) } : {}), ...(opts.jurisdiction ? { jurisdiction: opts.jurisdiction } : {}),
      }));
      cli.stdout.write(`${r.created ? 'Opened' : 'Already open:'} report ${r.id}; the service's worker sends it\n`);
    });

  report.command('retry')
    .description('Re-queue a failed report, resuming at the step it failed in (after fixing what its failure names), or a stuck one that has no job left')
    .argument('<id>')
    .action(async (raw: string, _opts: unknown, cmd: Command) => {
      const r = await withVigil(cmd, cli, (v) => v.reports.retry(id(raw), { actor: cliActor() }));
      cli.stdout.write(`Report ${r.id} queued again at ${r.state}\n`);
    });

  report.command('retract')
    .description('Cancel an unfinished report (NCMEC retract); a finished report cannot be retracted')
    .argument('<id>')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .action(async (raw: string, opts: { reason: string }, cmd: Command) => {
      const r = await withVigil(cmd, cli, (v) => v.reports.retract(id(raw), { actor: cliActor() }, opts.reason));
      cli.stdout.write(`Report ${r.id} retracted\n`);
    });

  report.command('add-to-bank')
    .description('Add a filed report\'s media hashes (SHA-256, MD5) to a bank, with the report as provenance: the next copy is caught without review')
    .argument('<id>')
    .requiredOption('--bank <name>', 'the bank (a block bank of verified material)')
    .action(async (raw: string, opts: { bank: string }, cmd: Command) => {
      const added = await withVigil(cmd, cli, async (v) => (await import('../../reports/to-bank.js')).addReportedToBank(v, id(raw), opts.bank, { actor: cliActor() }));
      cli.stdout.write(`Added ${added.length} signal(s) to ${opts.bank}: ${added.map((s) => `${s.type}:${s.value}`).join(', ')}\n`);
    });

  report.command('export')
    .description('A law-enforcement package in a new folder: report XML, NCMEC responses, the files (verified), a hashdeep manifest and an Ed25519-signed summary')
    .argument('<id>')
    .requiredOption('--out <dir>', 'a new (or empty) folder; created 0700, files 0600')
    .requiredOption('--key <pem>', 'the Ed25519 private key (PEM) that signs summary.json (e.g. made with `vigil audit keygen`)')
    .action(async (raw: string, opts: { out: string; key: string }, cmd: Command) => {
      const [{ exportPackage }, { loadSigningKey }] = await Promise.all([import('../../reports/export.js'), import('../../audit/checkpoint.js')]);
      const key = loadSigningKey(opts.key);
      // The command line is the operator's: it reads evidence as an administrator, audited as cli:<OS user>.
      const pkg = await withVigil(cmd, cli, (v) => exportPackage(v, id(raw), opts.out, { actor: cliActor(), role: 'admin' }, key));
      cli.stdout.write(`Package for report ${raw} in ${pkg.dir}: ${pkg.files.length} files, summary signed by key ${pkg.keyId} (sha256 ${pkg.summarySha256})\n`);
    });

  report.command('transparency')
    .description('A transparency report for a period: items scanned, matches by bank and hash type, confirmed, false positives, reports filed and failed')
    .requiredOption('--from <date>', 'start (ISO 8601, included)')
    .requiredOption('--to <date>', 'end (ISO 8601, excluded)')
    .option('--format <format>', 'json, csv or html', 'json')
    .action(async (opts: { from: string; to: string; format: string }, cmd: Command) => {
      const [from, to] = [opts.from, opts.to].map((d) => {
        const t = Date.parse(d);
        if (Number.isNaN(t)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected an ISO 8601 date but received ${JSON.stringify(d)}`);
        return new Date(t).toISOString();
      }) as [string, string];
      if (!['json', 'csv', 'html'].includes(opts.format)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a format (json, csv, html) but received ${opts.format}`);
      const t = await import('../../reports/transparency.js');
      const r = await withVigil(cmd, cli, async (v) => {
        const report = await t.transparencyReport(v.db, from, to);
        await v.audit.appendNow({ actor: cliActor(), action: 'report.transparency_generated', subject: 'transparency', details: { from, to } });
        return report;
      });
      if (opts.format === 'json') printJson(cli.stdout, r);
      else cli.stdout.write(opts.format === 'csv' ? t.transparencyCsv(r) : t.transparencyHtml(r));
    });

  report.command('hold')
    .description('Place (or with --release lift) a legal hold on an evidence item: it is not purged while held')
    .argument('<evidence-id>')
    .requiredOption('--reason <text>', 'the request or case it serves (kept in the audit log)')
    .option('--release', 'lift the hold')
    .action(async (evidenceId: string, opts: { reason: string; release?: boolean }, cmd: Command) => {
      await withVigil(cmd, cli, (v) => v.retention.setLegalHold(evidenceId, !opts.release, opts.reason, { actor: cliActor() }));
      cli.stdout.write(`Legal hold ${opts.release ? 'lifted from' : 'placed on'} evidence ${evidenceId}\n`);
    });

  report.command('purge')
    .description('Delete evidence past its preservation date and not on legal hold (each deletion audited); the service does this hourly')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const result = await withVigil(cmd, cli, (v) => v.retention.purge(cliActor()));
      if (opts.json) printJson(cli.stdout, result);
      else cli.stdout.write(`Purged ${result.purged.length} evidence item(s); ${result.held} past their date kept on legal hold; ${result.failed.length} failed\n`);
      if (result.failed.length > 0) cli.exitCode = EXIT.SOME_FAILED;
    });
}
