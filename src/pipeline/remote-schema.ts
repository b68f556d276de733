/**
 * The remote checks of recorded decisions (pipeline/remote.ts): which remote matcher was asked, whether it
 * answered, how many matches it gave, and why it failed. Its own component: the records' tables are not changed.
 */
import { sql } from 'kysely';
import type { Component } from '../state/migrate.js';
import type { Tx } from '../state/database.js';
import type { RemoteCheck } from './remote.js';

const TABLE = `
  CREATE TABLE decision_remote_checks (
    decision_id INTEGER NOT NULL REFERENCES decisions (id), matcher TEXT NOT NULL, status TEXT NOT NULL,
    matches INTEGER NOT NULL, error TEXT, PRIMARY KEY (decision_id, matcher));`;

export const REMOTE_CHECKS_COMPONENT: Component = {
  name: 'remote_checks',
  migrations: [{ version: 1, description: 'remote checks of recorded decisions', sqlite: TABLE, postgres: TABLE }],
};

/** Inside the decision's unit of work. */
export async function recordRemoteChecks(tx: Tx, decisionId: number, checks: readonly RemoteCheck[]): Promise<void> {
  for (const c of checks) {
    await sql`INSERT INTO decision_remote_checks (decision_id, matcher, status, matches, error) VALUES (${decisionId}, ${c.matcher}, ${c.status}, ${c.matches}, ${c.error ?? null})`.execute(tx.k);
  }
}

/** A recorded decision's remote checks (replays answer with them). */
export async function remoteChecksOf(db: { k: Tx['k'] }, decisionId: number): Promise<RemoteCheck[]> {
  const { rows } = await sql<{ matcher: string; status: RemoteCheck['status']; matches: number; error: string | null }>`SELECT matcher, status, matches, error FROM decision_remote_checks WHERE decision_id = ${decisionId} ORDER BY matcher`.execute(db.k);
  return rows.map((r) => ({ matcher: r.matcher, status: r.status, matches: Number(r.matches), ...(r.error !== null ? { error: r.error } : {}) }));
}
