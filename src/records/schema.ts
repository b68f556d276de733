/**
 * The decision domain's tables: a decision and its match, rule and action rows; the incident a report is
 * built from; the review item a person works (claim with a lease, assignee, outcome, decided-by); report
 * drafts; evidence records; hashes retained for retroactive matching; persisted settings.
 * Enum values are persisted: add, never rename.
 */
import type { Component, Migration } from '../state/migrate.js';

export const REVIEW_STATES = ['open', 'claimed', 'decided'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];
export const REVIEW_OUTCOMES = ['confirmed', 'false_positive', 'escalated', 'skipped'] as const;
export type ReviewOutcome = (typeof REVIEW_OUTCOMES)[number];
export const INCIDENT_STATES = ['open', 'confirmed', 'dismissed', 'reported'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export interface DecisionsTable {
  id: number;
  content_id: string;
  fingerprint: string;
  account_id: string | null;
  verdict: string;
  late: number;
  md5: string | null;
  sha1: string | null;
  sha256: string | null;
  context: string;
  rules_version: string;
  evidence_id: string | null;
  actor: string;
  request_id: string | null;
  created_at: string;
}

export interface DecisionMatchesTable {
  decision_id: number;
  ordinal: number;
  signal_id: number;
  bank: string;
  signal_type: string;
  distance: number;
  actionable: number;
  /** The whole match as the matcher explained it (view, orientation, labels, provenance): for reviewers. */
  detail: string;
}

export interface DecisionRulesTable {
  decision_id: number;
  ordinal: number;
  rule_id: string;
  reason: string;
  detail: string;
}

export interface DecisionActionsTable {
  decision_id: number;
  ordinal: number;
  type: string;
  status: string;
  rule_id: string;
  note: string | null;
  job_id: number | null;
  review_item_id: number | null;
  report_draft_id: number | null;
  evidence_id: string | null;
  detail: string;
}

export interface IncidentsTable {
  id: number;
  decision_id: number;
  content_id: string;
  account_id: string | null;
  state: string;
  /** The uploader's IP and the upload time, when the platform sent them (context.ip / context.uploadedAt). */
  ip: string | null;
  occurred_at: string;
  created_at: string;
  updated_at: string;
}

export interface ReviewItemsTable {
  id: number;
  decision_id: number;
  incident_id: number | null;
  queue: string;
  priority: number;
  state: string;
  assignee: string | null;
  claimed_at: string | null;
  lease_until: string | null;
  outcome: string | null;
  classification: string | null;
  note: string | null;
  decided_by: string | null;
  decided_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ReportDraftsTable {
  id: number;
  decision_id: number;
  incident_id: number | null;
  state: string;
  created_at: string;
  updated_at: string;
}

export interface EvidenceTable {
  id: string;
  decision_id: number | null;
  key_id: string;
  sha256: string;
  size: number;
  media_type: string | null;
  created_at: string;
  retain_until: string | null;
  legal_hold: number;
  deleted_at: string | null;
}

export interface RetainedHashesTable {
  id: number;
  content_id: string;
  fingerprint: string;
  account_id: string | null;
  context: string;
  query: string;
  created_at: string;
  expires_at: string;
  checked_seq: number;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface RecordTables {
  decisions: DecisionsTable;
  decision_matches: DecisionMatchesTable;
  decision_rules: DecisionRulesTable;
  decision_actions: DecisionActionsTable;
  incidents: IncidentsTable;
  review_items: ReviewItemsTable;
  report_drafts: ReportDraftsTable;
  evidence: EvidenceTable;
  retained_hashes: RetainedHashesTable;
  settings: SettingsTable;
}

/** Tables shared by both engines, written once: `ID` is the engine's auto-increment primary key. */
function domainTables(ID: string): string {
  return `
    CREATE TABLE decision_matches (
      decision_id INTEGER NOT NULL REFERENCES decisions (id), ordinal INTEGER NOT NULL,
      signal_id INTEGER NOT NULL, bank TEXT NOT NULL, signal_type TEXT NOT NULL, distance INTEGER NOT NULL,
      actionable INTEGER NOT NULL, detail TEXT NOT NULL,
      PRIMARY KEY (decision_id, ordinal));
    CREATE INDEX decision_matches_signal ON decision_matches (signal_id);
    CREATE TABLE decision_rules (
      decision_id INTEGER NOT NULL REFERENCES decisions (id), ordinal INTEGER NOT NULL,
      rule_id TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
      PRIMARY KEY (decision_id, ordinal));
    CREATE TABLE decision_actions (
      decision_id INTEGER NOT NULL REFERENCES decisions (id), ordinal INTEGER NOT NULL,
      type TEXT NOT NULL, status TEXT NOT NULL, rule_id TEXT NOT NULL, note TEXT,
      job_id INTEGER, review_item_id INTEGER, report_draft_id INTEGER, evidence_id TEXT, detail TEXT NOT NULL,
      PRIMARY KEY (decision_id, ordinal));
    CREATE TABLE incidents (
      id ${ID}, decision_id INTEGER NOT NULL UNIQUE REFERENCES decisions (id),
      content_id TEXT NOT NULL, account_id TEXT,
      state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'confirmed', 'dismissed', 'reported')),
      ip TEXT, occurred_at TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE INDEX incidents_account ON incidents (account_id);
    CREATE TABLE evidence (
      id TEXT PRIMARY KEY, decision_id INTEGER REFERENCES decisions (id), key_id TEXT NOT NULL,
      sha256 TEXT NOT NULL, size INTEGER NOT NULL, media_type TEXT, created_at TEXT NOT NULL,
      retain_until TEXT, legal_hold INTEGER NOT NULL DEFAULT 0, deleted_at TEXT);
  `;
}

const REVIEW_COLUMNS = `
      incident_id INTEGER REFERENCES incidents (id),
      queue TEXT NOT NULL DEFAULT 'child_safety',
      priority INTEGER NOT NULL,
      state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'claimed', 'decided')),
      assignee TEXT, claimed_at TEXT, lease_until TEXT,
      outcome TEXT CHECK (outcome IN ('confirmed', 'false_positive', 'escalated', 'skipped')),
      classification TEXT, note TEXT, decided_by TEXT, decided_at TEXT,
      created_at TEXT NOT NULL, updated_at TEXT NOT NULL`;

const POSTGRES_V1 = `
  CREATE TABLE decisions (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    content_id TEXT NOT NULL, fingerprint TEXT NOT NULL, account_id TEXT,
    verdict TEXT NOT NULL CHECK (verdict IN ('allow', 'review', 'block')), late INTEGER NOT NULL DEFAULT 0,
    md5 TEXT, sha1 TEXT, sha256 TEXT, context TEXT NOT NULL DEFAULT '{}', rules_version TEXT NOT NULL,
    evidence_id TEXT, actor TEXT NOT NULL, request_id TEXT, created_at TEXT NOT NULL,
    UNIQUE (content_id, fingerprint));
  CREATE INDEX decisions_account ON decisions (account_id);
  ${domainTables('BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY')}
  CREATE TABLE review_items (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    decision_id BIGINT NOT NULL UNIQUE REFERENCES decisions (id), ${REVIEW_COLUMNS});
  CREATE INDEX review_items_queue ON review_items (state, priority DESC, id);
  CREATE TABLE report_drafts (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    decision_id BIGINT NOT NULL UNIQUE REFERENCES decisions (id), incident_id BIGINT REFERENCES incidents (id),
    state TEXT NOT NULL DEFAULT 'draft', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE TABLE retained_hashes (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    content_id TEXT NOT NULL, fingerprint TEXT NOT NULL, account_id TEXT, context TEXT NOT NULL DEFAULT '{}',
    query TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, checked_seq BIGINT NOT NULL DEFAULT 0,
    UNIQUE (content_id, fingerprint));
  CREATE INDEX retained_hashes_expiry ON retained_hashes (expires_at);
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);
`;

/** SQLite databases of the first release have decisions with JSON columns (component `pipeline`, version 1). */
const SQLITE_V1 = `
  CREATE TABLE decisions (
    id INTEGER PRIMARY KEY, content_id TEXT NOT NULL, fingerprint TEXT NOT NULL, account_id TEXT,
    verdict TEXT NOT NULL CHECK (verdict IN ('allow', 'review', 'block')), late INTEGER NOT NULL DEFAULT 0,
    md5 TEXT, sha1 TEXT, sha256 TEXT, matches TEXT NOT NULL, fired TEXT NOT NULL, actions TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '{}', rules_version TEXT NOT NULL, evidence_id TEXT, actor TEXT NOT NULL,
    created_at TEXT NOT NULL, UNIQUE (content_id, fingerprint));
  CREATE INDEX decisions_account ON decisions (account_id);
  CREATE TABLE review_items (
    id INTEGER PRIMARY KEY, decision_id INTEGER NOT NULL UNIQUE REFERENCES decisions (id), priority INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'claimed', 'closed')), created_at TEXT NOT NULL);
  CREATE INDEX review_items_queue ON review_items (state, priority DESC, id);
  CREATE TABLE report_drafts (
    id INTEGER PRIMARY KEY, decision_id INTEGER NOT NULL UNIQUE REFERENCES decisions (id),
    state TEXT NOT NULL DEFAULT 'draft', created_at TEXT NOT NULL);
  CREATE TABLE retained_hashes (
    id INTEGER PRIMARY KEY, content_id TEXT NOT NULL, fingerprint TEXT NOT NULL, account_id TEXT,
    context TEXT NOT NULL DEFAULT '{}', query TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,
    checked_seq INTEGER NOT NULL DEFAULT 0, UNIQUE (content_id, fingerprint));
  CREATE INDEX retained_hashes_expiry ON retained_hashes (expires_at);
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);
`;

/** Rows out of the JSON columns (json_each keeps array order in `key`), then the tables rebuilt without them. */
const SQLITE_V2 = `
  ${domainTables('INTEGER PRIMARY KEY')}
  INSERT INTO decision_matches
    SELECT d.id, CAST(m.key AS INTEGER), json_extract(m.value, '$.signalId'), json_extract(m.value, '$.bank'),
      json_extract(m.value, '$.signalType'), json_extract(m.value, '$.distance'),
      CASE WHEN json_extract(m.value, '$.actionable') THEN 1 ELSE 0 END, m.value
    FROM decisions d, json_each(d.matches) m;
  INSERT INTO decision_rules
    SELECT d.id, CAST(r.key AS INTEGER), json_extract(r.value, '$.ruleId'), json_extract(r.value, '$.reason'), r.value
    FROM decisions d, json_each(d.fired) r;
  INSERT INTO decision_actions
    SELECT d.id, CAST(a.key AS INTEGER), json_extract(a.value, '$.type'), json_extract(a.value, '$.status'),
      json_extract(a.value, '$.ruleId'), json_extract(a.value, '$.note'), json_extract(a.value, '$.jobId'),
      json_extract(a.value, '$.reviewItemId'), json_extract(a.value, '$.reportDraftId'), json_extract(a.value, '$.evidenceId'), a.value
    FROM decisions d, json_each(d.actions) a;
  INSERT INTO incidents (decision_id, content_id, account_id, state, ip, occurred_at, created_at, updated_at)
    SELECT id, content_id, account_id, 'open', json_extract(context, '$.ip'), created_at, created_at, created_at
    FROM decisions WHERE verdict <> 'allow';
  CREATE TABLE decisions_v2 (
    id INTEGER PRIMARY KEY, content_id TEXT NOT NULL, fingerprint TEXT NOT NULL, account_id TEXT,
    verdict TEXT NOT NULL CHECK (verdict IN ('allow', 'review', 'block')), late INTEGER NOT NULL DEFAULT 0,
    md5 TEXT, sha1 TEXT, sha256 TEXT, context TEXT NOT NULL DEFAULT '{}', rules_version TEXT NOT NULL,
    evidence_id TEXT, actor TEXT NOT NULL, request_id TEXT, created_at TEXT NOT NULL, UNIQUE (content_id, fingerprint));
  INSERT INTO decisions_v2 SELECT id, content_id, fingerprint, account_id, verdict, late, md5, sha1, sha256, context,
    rules_version, evidence_id, actor, NULL, created_at FROM decisions;
  CREATE TABLE review_items_v2 (id INTEGER PRIMARY KEY, decision_id INTEGER NOT NULL UNIQUE REFERENCES decisions (id), ${REVIEW_COLUMNS});
  INSERT INTO review_items_v2 (id, decision_id, incident_id, priority, state, outcome, created_at, updated_at)
    SELECT r.id, r.decision_id, i.id, r.priority, CASE r.state WHEN 'closed' THEN 'decided' ELSE 'open' END,
      CASE r.state WHEN 'closed' THEN 'skipped' END, r.created_at, r.created_at
    FROM review_items r LEFT JOIN incidents i ON i.decision_id = r.decision_id;
  CREATE TABLE report_drafts_v2 (
    id INTEGER PRIMARY KEY, decision_id INTEGER NOT NULL UNIQUE REFERENCES decisions (id), incident_id INTEGER REFERENCES incidents (id),
    state TEXT NOT NULL DEFAULT 'draft', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  INSERT INTO report_drafts_v2 SELECT r.id, r.decision_id, i.id, r.state, r.created_at, r.created_at
    FROM report_drafts r LEFT JOIN incidents i ON i.decision_id = r.decision_id;
  DROP TABLE review_items; DROP TABLE report_drafts; DROP TABLE decisions;
  ALTER TABLE decisions_v2 RENAME TO decisions;
  ALTER TABLE review_items_v2 RENAME TO review_items;
  ALTER TABLE report_drafts_v2 RENAME TO report_drafts;
  CREATE INDEX decisions_account ON decisions (account_id);
  CREATE INDEX review_items_queue ON review_items (state, priority DESC, id);
`;

/** Component `pipeline` (its name in databases of the first release). */
export const RECORD_MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'decisions, review items, report drafts, retained hashes, settings', sqlite: SQLITE_V1, postgres: POSTGRES_V1 },
  { version: 2, description: 'normalised decisions: match, rule and action rows; incidents; review claims; evidence records', sqlite: SQLITE_V2, postgres: 'SELECT 1', rebuildsTables: true },
];

export const RECORDS_COMPONENT: Component = { name: 'pipeline', migrations: RECORD_MIGRATIONS };
