/**
 * The CyberTipline documents, built from what Vigil knows about an incident. Every element list is in the
 * XSD's sequence order (../shared/reference/formats.md §1.3–1.4): `REPORT_ORDER` and `FILE_DETAILS_ORDER` are
 * also what the test server enforces, so a reordering here fails the tests.
 */
import { el, opt, toXml, type XmlElement } from './xml.js';

export const REPORT_ORDER = ['batchedReport', 'incidentSummary', 'internetDetails', 'lawEnforcement', 'reporter', 'personOrUserReported', 'intendedRecipient', 'victim', 'additionalInfo'] as const;
export const INCIDENT_SUMMARY_ORDER = ['incidentType', 'platform', 'escalateToHighPriority', 'reportAnnotations', 'incidentDateTime', 'incidentDateTimeDescription'] as const;
export const PERSON_REPORTED_ORDER = ['personOrUserReportedPerson', 'vehicleDescription', 'espIdentifier', 'espService', 'compromisedAccount', 'screenName', 'displayName', 'profileUrl', 'profileBio', 'ipCaptureEvent', 'deviceId', 'thirdPartyUserReported', 'priorCTReports', 'groupIdentifier', 'accountTemporarilyDisabled', 'accountPermanentlyDisabled', 'estimatedLocation', 'allEmailsReported', 'associatedAccount', 'additionalInfo'] as const;
export const FILE_DETAILS_ORDER = ['reportId', 'fileId', 'fileName', 'originalFileName', 'uploadedToEspTimestamp', 'locationOfFile', 'fileViewedByEsp', 'exifViewedByEsp', 'publiclyAvailable', 'fileRelevance', 'fileAnnotations', 'industryClassification', 'originalFileHash', 'ipCaptureEvent', 'deviceId', 'details', 'additionalInfo'] as const;
export const IP_CAPTURE_ORDER = ['ipAddress', 'eventName', 'dateTime', 'possibleProxy', 'port'] as const;

export const INCIDENT_TYPES = [
  'Child Pornography (possession, manufacture, and distribution)', 'Child Sex Trafficking', 'Child Sex Tourism', 'Child Sexual Molestation',
  'Misleading Domain Name', 'Misleading Words or Digital Images on the Internet', 'Online Enticement of Children for Sexual Acts', 'Unsolicited Obscene Material Sent to a Child',
] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];
export const INDUSTRY_CLASSES = ['A1', 'A2', 'B1', 'B2'] as const;

export interface Reporter {
  email: string;
  firstName?: string | undefined;
  lastName?: string | undefined;
  /** Boilerplate NCMEC keeps on file (legal-process address, retention, 24 h phone). */
  companyTemplate?: string | undefined;
}

/** What a report is generated from: the incident record, its matches and the reviewer's decision. */
export interface ReportFacts {
  incidentType: IncidentType;
  platform?: string | undefined;
  occurredAt: string;
  accountId: string | null;
  screenName?: string | undefined;
  ip: { address: string; at: string } | null;
  /** A text-only or URL incident (no file): the text / URL reported. */
  url?: string | undefined;
  text?: string | undefined;
  /** NCMEC report ids this one follows up (a supplemental report). */
  priorReports: string[];
  /** Matches summarised for NCMEC: bank, hash type, distance. */
  matchSummary: string;
  /** The reviewer's decision, if a person reviewed it. */
  review: { outcome: string; classification: string | null; by: string; at: string } | null;
}

export interface FileFacts {
  fileName: string;
  originalFileName?: string | undefined;
  uploadedAt: string;
  viewedByPerson: boolean;
  classification: string | null;
  sha256: string;
  md5?: string | null | undefined;
  ip: { address: string; at: string } | null;
  supplemental?: boolean;
}

function ipCaptureEvent(ip: { address: string; at: string }, eventName = 'Upload'): XmlElement {
  return el('ipCaptureEvent', [el('ipAddress', ip.address), el('eventName', eventName), el('dateTime', ip.at)]);
}

function additionalInfo(f: ReportFacts): string {
  const review = f.review
    ? `Reviewed by a person (${f.review.by}) at ${f.review.at}: ${f.review.outcome}${f.review.classification ? `, classification ${f.review.classification}` : ''}.`
    : 'Not reviewed by a person before this report (automatic report of an exact match in a human-verified list).';
  return `${f.matchSummary} ${review}`.trim();
}

export function reportDocument(f: ReportFacts, reporter: Reporter): XmlElement {
  const internet = f.url
    ? el('internetDetails', [el('webPageIncident', [el('url', f.url), opt('additionalInfo', f.text)])])
    : f.text
      ? el('internetDetails', [el('chatImIncident', [opt('chatClient', f.platform), el('content', f.text)])])
      : null;
  const person = f.accountId || f.ip
    ? el('personOrUserReported', [
      opt('espIdentifier', f.accountId),
      opt('espService', f.platform),
      opt('screenName', f.screenName),
      f.ip ? ipCaptureEvent(f.ip) : null,
      ...f.priorReports.map((r) => el('priorCTReports', r)),
    ])
    : null;
  return el('report', [
    el('incidentSummary', [el('incidentType', f.incidentType), opt('platform', f.platform), el('incidentDateTime', f.occurredAt)]),
    internet,
    el('reporter', [
      el('reportingPerson', [opt('firstName', reporter.firstName), opt('lastName', reporter.lastName), el('email', reporter.email)]),
      opt('companyTemplate', reporter.companyTemplate),
    ]),
    person,
    el('additionalInfo', additionalInfo(f)),
  ], { 'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', 'xsi:noNamespaceSchemaLocation': 'https://report.cybertip.org/ispws/xsd' });
}

export function reportXml(f: ReportFacts, reporter: Reporter): string {
  return toXml(reportDocument(f, reporter));
}

export function fileDetailsXml(reportId: string, fileId: string, f: FileFacts): string {
  const relevance = f.supplemental ? 'Supplemental Reported' : 'Reported';
  // NCMEC allows an industry classification only on "Reported" files; Vigil sends it only when a person viewed
  // the file and chose it (never inferred from a list label).
  const cls = !f.supplemental && f.viewedByPerson && (INDUSTRY_CLASSES as readonly string[]).includes(f.classification ?? '') ? f.classification : null;
  return toXml(el('fileDetails', [
    el('reportId', reportId),
    el('fileId', fileId),
    el('fileName', f.fileName),
    opt('originalFileName', f.originalFileName),
    el('uploadedToEspTimestamp', f.uploadedAt),
    // US v. Wilson: true only when a person actually opened the file, from the review log — never assumed.
    el('fileViewedByEsp', f.viewedByPerson),
    el('exifViewedByEsp', false),
    el('fileRelevance', relevance),
    opt('industryClassification', cls),
    f.md5 ? el('originalFileHash', f.md5, { hashType: 'MD5' }) : null,
    el('originalFileHash', f.sha256, { hashType: 'SHA256' }),
    f.ip ? ipCaptureEvent(f.ip) : null,
  ], { 'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', 'xsi:noNamespaceSchemaLocation': 'https://report.cybertip.org/ispws/xsd' }));
}
