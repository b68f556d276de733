/**
 * Gathers what a report is generated from — the incident, its decision (matches, context, hashes), the review
 * decision, whether a person viewed the file, the preserved evidence — inside the caller's unit of work.
 */
import { VigilError } from '../core/errors.js';
import type { Tx } from '../state/database.js';
import { INCIDENT_TYPES, type FileFacts, type IncidentType, type ReportFacts } from './documents.js';

export interface ReportFile extends FileFacts {
  evidenceId: string;
}

export interface GatheredIncident {
  incidentId: number;
  decisionId: number;
  facts: ReportFacts;
  files: ReportFile[];
}

export interface OpenOptions {
  incidentType?: IncidentType;
  /** A text-only incident: the text reported (e.g. an enticement message). */
  text?: string;
  url?: string;
  platform?: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export async function gatherIncident(tx: Tx, incidentId: number, o: OpenOptions & { priorReports?: string[] }): Promise<GatheredIncident> {
  const incident = await tx.k.selectFrom('incidents').selectAll().where('id', '=', incidentId).executeTakeFirst();
  if (!incident) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No incident ${incidentId}`);
  const decisionId = Number(incident.decision_id);
  const decision = await tx.k.selectFrom('decisions').selectAll().where('id', '=', decisionId).executeTakeFirstOrThrow();
  const context = JSON.parse(decision.context) as Record<string, unknown>;
  const matches = await tx.k.selectFrom('decision_matches').select(['bank', 'signal_type', 'distance']).where('decision_id', '=', decisionId).orderBy('ordinal').execute();
  const item = await tx.k.selectFrom('review_items').select(['id', 'outcome', 'classification', 'decided_by', 'decided_at']).where('decision_id', '=', decisionId).executeTakeFirst();
  const viewed = item ? (await tx.k.selectFrom('review_views').select('id').where('review_item_id', '=', item.id).limit(1).executeTakeFirst()) !== undefined : false;
  const ip = incident.ip ? { address: incident.ip, at: incident.occurred_at } : null;
  const matchSummary = matches.length > 0
    ? `Matched ${matches.length} known hash${matches.length === 1 ? '' : 'es'}: ${matches.map((m) => `${m.signal_type} distance ${m.distance} in list ${m.bank}`).join('; ')}.`
    : '';
  const incidentType = o.incidentType ?? (str(context.incidentType) && (INCIDENT_TYPES as readonly string[]).includes(context.incidentType as string) ? (context.incidentType as IncidentType) : INCIDENT_TYPES[0]);
  const facts: ReportFacts = {
    incidentType,
    platform: o.platform ?? str(context.surface),
    occurredAt: incident.occurred_at,
    accountId: incident.account_id,
    screenName: str(context.screenName),
    ip,
    url: o.url ?? str(context.url),
    text: o.text ?? str(context.text),
    priorReports: o.priorReports ?? [],
    matchSummary,
    review: item?.outcome && item.decided_by && item.decided_at ? { outcome: item.outcome, classification: item.classification, by: item.decided_by, at: item.decided_at } : null,
  };
  const files: ReportFile[] = [];
  if (decision.evidence_id) {
    const ev = await tx.k.selectFrom('evidence').selectAll().where('id', '=', decision.evidence_id).executeTakeFirst();
    if (!ev || ev.deleted_at !== null) throw new VigilError('VIGIL_ERR_NOT_FOUND', `Incident ${incidentId}: its evidence ${decision.evidence_id} is no longer stored`);
    const ext = (ev.media_type ?? 'bin').replace(/[^a-z0-9]/gi, '').slice(0, 10) || 'bin';
    files.push({
      evidenceId: ev.id,
      fileName: `${decision.content_id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100)}.${ext}`,
      originalFileName: str(context.fileName),
      uploadedAt: incident.occurred_at,
      viewedByPerson: viewed,
      classification: item?.outcome === 'confirmed' ? item.classification : null,
      sha256: ev.sha256,
      md5: decision.md5,
      ip,
    });
  }
  if (files.length === 0 && !facts.text && !facts.url && matches.length === 0) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Incident ${incidentId} has no file, text or URL to report`);
  }
  return { incidentId, decisionId, facts, files };
}
