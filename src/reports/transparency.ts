/**
 * A transparency report for a period [from, to): items scanned, matches by bank and hash type, confirmed by a
 * person, false positives (overturned by a reviewer), reports filed and failed — the counts EU Regulation
 * 2021/1232 and the UK OSA ask per technology. JSON, CSV (metric,key,value) and a self-contained HTML page with
 * bar charts (inline SVG, no script). Vigil has no appeals yet: `appeals` is null with a note saying so in every
 * format, never left out (an absent count would read as zero).
 */
import type { VigilDatabase } from '../state/database.js';
import { escapeXml } from './xml.js';

export interface TransparencyReport {
  period: { from: string; to: string };
  itemsScanned: number;
  decisions: Record<string, number>;
  matchesByBank: Record<string, number>;
  matchesByHashType: Record<string, number>;
  confirmedByPerson: number;
  falsePositives: number;
  /** False positives per technology (hash type), from the reviewed items that matched it. */
  falsePositivesByHashType: Record<string, number>;
  reportsFiled: number;
  reportsFailed: number;
  reportsRetracted: number;
  /** Always null: Vigil has no appeals process yet (see appealsNote). */
  appeals: null;
  appealsNote: string;
}

export const APPEALS_NOTE = 'not tracked: Vigil has no appeals process yet';

const counted = (rows: { k: string | null; n: number | string | bigint }[]) => Object.fromEntries(rows.map((r) => [r.k ?? '(none)', Number(r.n)]));

export async function transparencyReport(db: VigilDatabase, from: string, to: string): Promise<TransparencyReport> {
  const k = db.k;
  const scanned = await k.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', 'decision.created').where('at', '>=', from).where('at', '<', to).executeTakeFirstOrThrow();
  const decisions = await k.selectFrom('decisions').select(['verdict as k', (eb) => eb.fn.countAll<number>().as('n')]).where('created_at', '>=', from).where('created_at', '<', to).groupBy('verdict').execute();
  const inPeriod = (q: 'bank' | 'signal_type') => k.selectFrom('decision_matches as m').innerJoin('decisions as d', 'd.id', 'm.decision_id')
    .select([`m.${q} as k`, (eb) => eb.fn.countAll<number>().as('n')]).where('d.created_at', '>=', from).where('d.created_at', '<', to).groupBy(`m.${q}`).execute();
  const outcome = (o: string) => k.selectFrom('review_items').select((eb) => eb.fn.countAll<number>().as('n')).where('outcome', '=', o).where('decided_at', '>=', from).where('decided_at', '<', to).executeTakeFirstOrThrow();
  const fpByType = await k.selectFrom('review_items as r').innerJoin('decision_matches as m', 'm.decision_id', 'r.decision_id')
    .select(['m.signal_type as k', (eb) => eb.fn.count<number>('r.id').distinct().as('n')])
    .where('r.outcome', '=', 'false_positive').where('r.decided_at', '>=', from).where('r.decided_at', '<', to).groupBy('m.signal_type').execute();
  const reports = (state: string, column: 'finished_at' | 'updated_at') => k.selectFrom('reports').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', state).where(column, '>=', from).where(column, '<', to).executeTakeFirstOrThrow();
  return {
    period: { from, to },
    itemsScanned: Number(scanned.n),
    decisions: counted(decisions),
    matchesByBank: counted(await inPeriod('bank')),
    matchesByHashType: counted(await inPeriod('signal_type')),
    confirmedByPerson: Number((await outcome('confirmed')).n),
    falsePositives: Number((await outcome('false_positive')).n),
    falsePositivesByHashType: counted(fpByType),
    reportsFiled: Number((await reports('finished', 'finished_at')).n),
    reportsFailed: Number((await reports('failed', 'updated_at')).n),
    reportsRetracted: Number((await reports('retracted', 'updated_at')).n),
    appeals: null,
    appealsNote: APPEALS_NOTE,
  };
}

function csvCell(v: string | number): string {
  const s = String(v);
  // A leading = + - @ would run as a formula in a spreadsheet: quoted and prefixed.
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function transparencyCsv(r: TransparencyReport): string {
  const rows: (string | number)[][] = [['metric', 'key', 'value'], ['period', 'from', r.period.from], ['period', 'to', r.period.to], ['items_scanned', '', r.itemsScanned]];
  for (const [metric, map] of [['decisions', r.decisions], ['matches_by_bank', r.matchesByBank], ['matches_by_hash_type', r.matchesByHashType], ['false_positives_by_hash_type', r.falsePositivesByHashType]] as const) {
    for (const [key, n] of Object.entries(map)) rows.push([metric, key, n]);
  }
  rows.push(['confirmed_by_person', '', r.confirmedByPerson], ['false_positives', '', r.falsePositives], ['reports_filed', '', r.reportsFiled], ['reports_failed', '', r.reportsFailed], ['reports_retracted', '', r.reportsRetracted], ['appeals', '', ''], ['appeals', 'note', r.appealsNote]);
  return rows.map((row) => row.map(csvCell).join(',')).join('\n') + '\n';
}

function bars(title: string, data: Record<string, number>): string {
  const entries = Object.entries(data);
  if (entries.length === 0) return `<h2>${escapeXml(title)}</h2><p>None in this period.</p>`;
  const max = Math.max(...entries.map(([, n]) => n), 1);
  const h = 24;
  const rows = entries.map(([k, n], i) => `<text x="0" y="${i * h + 16}">${escapeXml(k)}</text><rect x="160" y="${i * h + 4}" width="${Math.round((n / max) * 300)}" height="16" fill="#4a6fa5"/><text x="${170 + Math.round((n / max) * 300)}" y="${i * h + 16}">${n}</text>`).join('');
  return `<h2>${escapeXml(title)}</h2><svg role="img" aria-label="${escapeXml(title)}" width="520" height="${entries.length * h + 8}" font-family="sans-serif" font-size="13">${rows}</svg>`;
}

export function transparencyHtml(r: TransparencyReport): string {
  const totals = { 'Items scanned': r.itemsScanned, 'Confirmed by a person': r.confirmedByPerson, 'False positives': r.falsePositives, 'CyberTipline reports filed': r.reportsFiled, 'Reports failed': r.reportsFailed, 'Reports retracted': r.reportsRetracted };
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Transparency report ${escapeXml(r.period.from)} – ${escapeXml(r.period.to)}</title>
<style>body{font-family:sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}</style></head><body>
<h1>Transparency report</h1><p>Period: ${escapeXml(r.period.from)} to ${escapeXml(r.period.to)} (end excluded).</p>
<table>${Object.entries(totals).map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${v}</td></tr>`).join('')}<tr><th>Appeals</th><td>${escapeXml(r.appealsNote)}</td></tr></table>
${bars('Matches by list (bank)', r.matchesByBank)}${bars('Matches by technology (hash type)', r.matchesByHashType)}${bars('False positives by technology', r.falsePositivesByHashType)}${bars('Decisions by verdict', r.decisions)}
</body></html>
`;
}
