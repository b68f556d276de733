/**
 * After a run: identical files as duplicate groups (by SHA-256; empty and known-benign files never group),
 * and near-duplicates as series (PDQ within a distance in any orientation or derived view, across archive
 * boundaries: member paths are ordinary items). Series are the connected components, found with a Hamming
 * index (multi-index hashing) and union-find; ids are stable: derived from the series' smallest SHA-256.
 * Memory: one 32-byte hash per picture plus its query hashes while it is searched (11 MB per 360,000 pictures).
 */
import { sql } from 'kysely';
import { HammingIndex256 } from '../matching/hamming-index.js';
import { hash256FromHex } from '../signals/pdq/hash256.js';
import type { CaseDb } from './case-db.js';

/** Below this PDQ quality a picture is too flat to compare (pdq/README.md). */
const MIN_QUALITY = 50;

export async function assignGroups(caseDb: CaseDb, distance: number): Promise<{ duplicateGroups: number; series: number }> {
  const { db, name } = caseDb;
  await db.transaction(async (tx) => {
    await sql`UPDATE triage_items SET dup_group = NULL WHERE case_name = ${name}`.execute(tx.k);
    await sql`UPDATE triage_items SET dup_group = 'dup-' || substr(sha256, 1, 16)
      WHERE case_name = ${name} AND size > 0 AND status <> 'known-benign' AND kind <> 'archive' AND kind <> 'archive-member' AND sha256 IN (
        SELECT sha256 FROM triage_items WHERE case_name = ${name} AND size > 0 AND status <> 'known-benign' AND sha256 IS NOT NULL
        GROUP BY sha256 HAVING COUNT(*) > 1)`.execute(tx.k);
  });
  const duplicateGroups = Number((await sql<{ n: number }>`SELECT COUNT(DISTINCT dup_group) AS n FROM triage_items WHERE case_name = ${name} AND dup_group IS NOT NULL`.execute(db.k)).rows[0].n);

  // One entry per distinct picture (sha256); identical copies share it. Every pass pages through the pictures
  // in sha256 order, so a picture's id is its position: nothing is kept per picture but typed arrays and the
  // index (no strings, no maps: memory stays a few dozen bytes per picture however many files).
  const index = new HammingIndex256();
  const page = 2000;
  type Row = { sha256: string; pdq: string; pdq_all: string | null };
  const each = async (fn: (row: Row, id: number) => void | Promise<void>, k = db.k) => {
    let after = '';
    let id = 0;
    for (;;) {
      const rows = (await sql<{ sha256: string; pdq: string; pdq_all: string | null }>`SELECT sha256, MIN(pdq) AS pdq, MIN(pdq_all) AS pdq_all FROM triage_items
        WHERE case_name = ${name} AND pdq IS NOT NULL AND quality >= ${MIN_QUALITY} AND status <> 'known-benign' AND sha256 > ${after}
        GROUP BY sha256 ORDER BY sha256 LIMIT ${page}`.execute(k)).rows;
      for (const r of rows) await fn(r, id++);
      if (rows.length < page) return id;
      after = rows.at(-1)!.sha256;
    }
  };
  const count = await each((r, id) => index.add(id, hash256FromHex(r.pdq)));
  const parent = Int32Array.from({ length: count }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  await each((r, id) => {
    if (id >= count) return; // a picture committed since the first pass (a triage running alongside)
    const hashes = (r.pdq_all ? (JSON.parse(r.pdq_all) as string[]) : [r.pdq]).map(hash256FromHex);
    for (let i = 0; i < hashes.length; i += 8) {
      for (const m of index.searchDihedral(hashes.slice(i, i + 8), distance)) {
        const a = find(id);
        const b = find(m.id);
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
    }
  });
  // Components of one picture are not series. The root is the smallest id = the smallest sha256 (ids follow
  // sha256 order), met first in the last pass: its 48-bit prefix (exact in a double) names the series.
  const size = new Int32Array(count);
  for (let i = 0; i < count; i++) size[find(i)]++;
  const rootPrefix = new Float64Array(count);
  let series = 0;
  await db.transaction(async (tx) => {
    await sql`UPDATE triage_items SET series = NULL WHERE case_name = ${name}`.execute(tx.k);
    await each(async (r, i) => {
      if (i >= count) return;
      const root = find(i);
      if (size[root] < 2) return;
      if (root === i) {
        rootPrefix[i] = Number.parseInt(r.sha256.slice(0, 12), 16);
        series++;
      }
      const id = `series-${rootPrefix[root].toString(16).padStart(12, '0')}`;
      await sql`UPDATE triage_items SET series = ${id} WHERE case_name = ${name} AND sha256 = ${r.sha256}`.execute(tx.k);
    }, tx.k);
  });
  return { duplicateGroups, series };
}
