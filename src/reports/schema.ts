/**
 * Component `reports`: CyberTipline reports with their persisted state machine, the files each carries, and
 * every response NCMEC sent (kept as evidence of what was filed). States and failure classes are persisted:
 * add, never rename.
 */
import type { Component } from '../state/migrate.js';

/** draft → submitted → files_uploaded → details_sent → finished; or retracted / failed. */
export const REPORT_STATES = ['draft', 'submitted', 'files_uploaded', 'details_sent', 'finished', 'retracted', 'failed'] as const;
export type ReportState = (typeof REPORT_STATES)[number];
export const TERMINAL_STATES: readonly ReportState[] = ['finished', 'retracted', 'failed'];

export interface ReportsTable {
  id: number;
  incident_id: number;
  decision_id: number;
  /** The first report this one supplements (NCMEC: a new report naming the prior one in priorCTReports). */
  supplements: number | null;
  state: string;
  /** NCMEC's id for the report in flight (null before submit; replaced when an ambiguous upload restarts it). */
  ncmec_report_id: string | null;
  jurisdiction: string;
  /** Classified last failure (credentials, rate_limit, …) and whether a retry can help; null when none. */
  failure_class: string | null;
  retryable: number;
  last_error: string | null;
  /** The state a failed report was in: where a retry resumes. */
  failed_from: string | null;
  attempts: number;
  /** The <report> document as generated (and, once submitted, as sent). */
  xml: string;
  opened_by: string;
  submitted_at: string | null;
  finished_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ReportFilesTable {
  report_id: number;
  ordinal: number;
  evidence_id: string;
  file_name: string;
  sha256: string;
  /** Whether a person viewed the file (NCMEC fileViewedByEsp: never assumed). */
  viewed_by_person: number;
  ncmec_file_id: string | null;
  /** MD5 NCMEC computed of what it received. */
  ncmec_md5: string | null;
  details_sent: number;
}

export interface ReportResponsesTable {
  id: number;
  report_id: number;
  step: string;
  http_status: number | null;
  response_code: number | null;
  request_id: string | null;
  body: string;
  at: string;
}

/** What the platform answered to the signed webhook asking for the account's information and its preservation. */
export interface ReportAccountInfoTable {
  id: number;
  report_id: number;
  /** The account information the platform sent (JSON). */
  info: string;
  /** Whether the platform confirmed it preserves the account's own data, and until when. */
  preserved: number;
  preserved_until: string | null;
  answered_by: string;
  at: string;
}

export interface ReportTables {
  report_account_info: ReportAccountInfoTable;
  reports: ReportsTable;
  report_files: ReportFilesTable;
  report_responses: ReportResponsesTable;
}

function tables(ID: string, INT: string): string {
  return `
    CREATE TABLE reports (
      id ${ID}, incident_id ${INT} NOT NULL REFERENCES incidents (id), decision_id ${INT} NOT NULL,
      supplements ${INT} REFERENCES reports (id),
      state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'files_uploaded', 'details_sent', 'finished', 'retracted', 'failed')),
      ncmec_report_id TEXT, jurisdiction TEXT NOT NULL, failure_class TEXT, retryable INTEGER NOT NULL DEFAULT 0,
      last_error TEXT, failed_from TEXT, attempts INTEGER NOT NULL DEFAULT 0, xml TEXT NOT NULL, opened_by TEXT NOT NULL,
      submitted_at TEXT, finished_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE UNIQUE INDEX reports_first_per_incident ON reports (incident_id) WHERE supplements IS NULL;
    CREATE INDEX reports_state ON reports (state, updated_at);
    CREATE TABLE report_files (
      report_id ${INT} NOT NULL REFERENCES reports (id), ordinal INTEGER NOT NULL, evidence_id TEXT NOT NULL,
      file_name TEXT NOT NULL, sha256 TEXT NOT NULL, viewed_by_person INTEGER NOT NULL,
      ncmec_file_id TEXT, ncmec_md5 TEXT, details_sent INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (report_id, ordinal));
    CREATE TABLE report_responses (
      id ${ID}, report_id ${INT} NOT NULL REFERENCES reports (id), step TEXT NOT NULL, http_status INTEGER,
      response_code INTEGER, request_id TEXT, body TEXT NOT NULL, at TEXT NOT NULL);
    CREATE INDEX report_responses_report ON report_responses (report_id, id);
  `;
}

function accountInfo(ID: string, INT: string): string {
  return `
    CREATE TABLE report_account_info (
      id ${ID}, report_id ${INT} NOT NULL REFERENCES reports (id), info TEXT NOT NULL, preserved INTEGER NOT NULL,
      preserved_until TEXT, answered_by TEXT NOT NULL, at TEXT NOT NULL);
    CREATE INDEX report_account_info_report ON report_account_info (report_id, id);
  `;
}

export const REPORTS_COMPONENT: Component = {
  name: 'reports',
  migrations: [
    { version: 1, description: 'CyberTipline reports, their files and NCMEC responses', sqlite: tables('INTEGER PRIMARY KEY', 'INTEGER'), postgres: tables('BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY', 'BIGINT') },
    { version: 2, description: 'platform answers (account information, preservation) tracked with each report', sqlite: accountInfo('INTEGER PRIMARY KEY', 'INTEGER'), postgres: accountInfo('BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY', 'BIGINT') },
  ],
};
