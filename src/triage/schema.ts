/**
 * The case database (component `triage`): one row per file, archive and archive member of a case, written in
 * checkpoints (batches, one transaction each), so a re-run after a crash continues from what was committed.
 * A case lives in its own SQLite file by default; with a PostgreSQL store, every case lives in the store's
 * database (the same tables, keyed by case name). Status and kind values are persisted: add, never rename.
 */
import type { Component } from '../state/migrate.js';

export const ITEM_STATUSES = ['known', 'known-benign', 'unknown', 'error'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];
/** file: on disk; member: inside an archive; archive / archive-member: an archive on disk or inside another. */
export const ITEM_KINDS = ['file', 'archive', 'member', 'archive-member'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

const sqlite = `
CREATE TABLE triage_cases (
  name TEXT PRIMARY KEY, roots TEXT NOT NULL, options TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT);
CREATE TABLE triage_items (
  case_name TEXT NOT NULL, path TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, parent TEXT,
  size INTEGER, mtime TEXT, ctime TEXT, type TEXT, md5 TEXT, sha1 TEXT, sha256 TEXT,
  pdq TEXT, quality INTEGER, pdq_all TEXT, vpdq TEXT, status TEXT NOT NULL, matches TEXT,
  exif TEXT, camera_serial TEXT, lat REAL, lon REAL, error_code TEXT, error_message TEXT,
  complete INTEGER NOT NULL DEFAULT 1, dup_group TEXT, series TEXT, vic_category INTEGER, uk_category TEXT,
  PRIMARY KEY (case_name, path));
CREATE INDEX triage_items_sha256 ON triage_items (case_name, sha256);
CREATE INDEX triage_items_seq ON triage_items (case_name, seq);
CREATE TABLE triage_series (
  case_name TEXT NOT NULL, series TEXT NOT NULL, vic_category INTEGER, uk_category TEXT, PRIMARY KEY (case_name, series));
CREATE TABLE triage_identifiers (
  case_name TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (case_name, path, kind, value));
`;

const postgres = sqlite.replace(/\bREAL\b/g, 'DOUBLE PRECISION').replace(/\bINTEGER\b/g, 'BIGINT');

export const TRIAGE_COMPONENT: Component = {
  name: 'triage',
  migrations: [{ version: 1, description: 'triage cases: items, series, identifiers', sqlite, postgres }],
};
