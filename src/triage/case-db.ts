/**
 * One case's records: where they live (a SQLite file per case under the cases folder, or the store's
 * PostgreSQL database), checkpointed writes, and paged reads (exports never hold a case in memory).
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { sql } from 'kysely';
import { VigilError } from '../core/errors.js';
import { isPostgresUrl, openDatabase, type Tx, type VigilDatabase } from '../state/database.js';
import { migrate } from '../state/migrate.js';
import type { ExifFacts } from './exif.js';
import type { ItemError } from './archive.js';
import { TRIAGE_COMPONENT, type ItemKind, type ItemStatus } from './schema.js';

export interface StoredMatch {
  bank: string;
  signalType: string;
  distance: number;
  signalId: number;
  view?: string;
  dihedral?: string;
  categories: { projectVic?: number; uk?: string };
}

export interface CaseItem {
  path: string;
  kind: ItemKind;
  parent?: string;
  size?: number;
  mtime?: string;
  ctime?: string;
  type?: string;
  md5?: string;
  sha1?: string;
  sha256?: string;
  pdq?: string;
  quality?: number;
  /** Every PDQ of the item (dihedrals and derived views), for series across orientations. */
  pdqAll?: string[];
  vpdq?: string[];
  status: ItemStatus;
  matches?: StoredMatch[];
  exif?: ExifFacts;
  error?: ItemError;
  /** Archives: false until every member has been recorded (a resumed run re-opens it). */
  complete?: boolean;
}

export interface CaseRow extends CaseItem {
  seq: number;
  dupGroup?: string;
  series?: string;
  vicCategory?: number;
  ukCategory?: string;
}

export interface CaseLocation {
  /** The store's database URL: PostgreSQL keeps cases there. */
  storeUrl: string;
  /** Where SQLite case files go. */
  casesDir: string;
  schema?: string;
}

const CASE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkCaseName(name: string): string {
  if (!CASE_NAME.test(name)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected a case name of letters, digits, ".", "_" and "-" (at most 128) but received ${JSON.stringify(name)}`);
  return name;
}

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const parse = <T>(v: unknown): T | undefined => (typeof v === 'string' ? (JSON.parse(v) as T) : undefined);
const num = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));
const str = (v: unknown) => (v === null || v === undefined ? undefined : String(v));

const ITEM_COLUMNS = ['case_name', 'path', 'seq', 'kind', 'parent', 'size', 'mtime', 'ctime', 'type', 'md5', 'sha1', 'sha256', 'pdq', 'quality', 'pdq_all', 'vpdq',
  'status', 'matches', 'exif', 'camera_serial', 'lat', 'lon', 'error_code', 'error_message', 'complete'];
/** A path recorded again (an archive completed, a resumed member) replaces its row. */
const ON_CONFLICT = `ON CONFLICT (case_name, path) DO UPDATE SET ${ITEM_COLUMNS.slice(2).map((c) => `${c} = excluded.${c}`).join(', ')}`;

export class CaseDb {
  private seq = 0;
  private insert: Database.Statement | undefined;

  private constructor(
    readonly db: VigilDatabase,
    readonly name: string,
    private readonly owned: boolean,
  ) {}

  /** Opens (creating with `create`) a case. */
  static async open(location: CaseLocation, name: string, options: { create?: boolean } = {}): Promise<CaseDb> {
    checkCaseName(name);
    let db: VigilDatabase;
    let owned = true;
    if (isPostgresUrl(location.storeUrl)) {
      db = await openDatabase(location.storeUrl, { poolSize: 4, ...(location.schema ? { schema: location.schema } : {}) });
    } else {
      const file = join(resolve(location.casesDir), `${name}.sqlite`);
      if (!options.create && !readdirSafe(location.casesDir).includes(`${name}.sqlite`)) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No case named ${JSON.stringify(name)} in ${location.casesDir}`);
      mkdirSync(resolve(location.casesDir), { recursive: true, mode: 0o700 });
      db = await openDatabase(file);
      // A case is written in order and read in pages: a small page cache keeps the triage's memory flat as
      // the case grows (the store's 256 MiB is for imports' random-key B-trees).
      db.sqlite?.pragma('cache_size = -32768');
    }
    try {
      await migrate(db, [TRIAGE_COMPONENT]);
      const c = new CaseDb(db, name, owned);
      if (!options.create && !(await c.exists())) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No case named ${JSON.stringify(name)}`);
      c.seq = Number((await sql<{ m: number | null }>`SELECT MAX(seq) AS m FROM triage_items WHERE case_name = ${name}`.execute(db.k)).rows[0]?.m ?? 0);
      owned = true;
      return c;
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** Every case in the store (PostgreSQL) or the cases folder (SQLite). */
  static async names(location: CaseLocation): Promise<string[]> {
    if (!isPostgresUrl(location.storeUrl)) return readdirSafe(location.casesDir).filter((f) => f.endsWith('.sqlite')).map((f) => f.slice(0, -'.sqlite'.length)).filter((n) => CASE_NAME.test(n)).sort();
    const db = await openDatabase(location.storeUrl, { poolSize: 1, ...(location.schema ? { schema: location.schema } : {}) });
    try {
      await migrate(db, [TRIAGE_COMPONENT]);
      return (await sql<{ name: string }>`SELECT name FROM triage_cases ORDER BY name`.execute(db.k)).rows.map((r) => r.name);
    } finally {
      await db.close();
    }
  }

  private async exists(): Promise<boolean> {
    return (await sql`SELECT 1 FROM triage_cases WHERE name = ${this.name}`.execute(this.db.k)).rows.length > 0;
  }

  async begin(roots: string[], options: unknown, now: Date): Promise<void> {
    await this.db.transaction(async (tx) => {
      await sql`INSERT INTO triage_cases (name, roots, options, started_at) VALUES (${this.name}, ${JSON.stringify(roots)}, ${JSON.stringify(options)}, ${now.toISOString()})
        ON CONFLICT (name) DO UPDATE SET roots = excluded.roots, options = excluded.options, finished_at = NULL`.execute(tx.k);
    });
  }

  async finish(now: Date): Promise<void> {
    await sql`UPDATE triage_cases SET finished_at = ${now.toISOString()} WHERE name = ${this.name}`.execute(this.db.k);
  }

  async info(): Promise<{ roots: string[]; startedAt: string; finishedAt?: string }> {
    const row = (await sql<{ roots: string; started_at: string; finished_at: string | null }>`SELECT roots, started_at, finished_at FROM triage_cases WHERE name = ${this.name}`.execute(this.db.k)).rows[0];
    return { roots: JSON.parse(row.roots) as string[], startedAt: row.started_at, ...(row.finished_at ? { finishedAt: row.finished_at } : {}) };
  }

  /** Whether the case holds any item (a re-run looks paths up before hashing them; a first run need not). */
  async hasItems(): Promise<boolean> {
    return (await sql`SELECT 1 FROM triage_items WHERE case_name = ${this.name} LIMIT 1`.execute(this.db.k)).rows.length > 0;
  }

  /** What a previous run recorded for this path (resume). */
  async recorded(path: string): Promise<{ complete: boolean } | undefined> {
    const row = (await sql<{ complete: number }>`SELECT complete FROM triage_items WHERE case_name = ${this.name} AND path = ${path}`.execute(this.db.k)).rows[0];
    return row ? { complete: Number(row.complete) === 1 } : undefined;
  }

  /** One checkpoint: the items in one transaction. */
  async write(items: readonly CaseItem[]): Promise<void> {
    if (items.length === 0) return;
    await this.db.transaction(async (tx) => {
      for (const item of items) await this.put(tx, item);
    });
  }

  private async put(tx: Tx, i: CaseItem): Promise<void> {
    const values = [this.name, i.path, ++this.seq, i.kind, i.parent ?? null, i.size ?? null, i.mtime ?? null, i.ctime ?? null, i.type ?? null,
      i.md5 ?? null, i.sha1 ?? null, i.sha256 ?? null, i.pdq ?? null, i.quality ?? null, json(i.pdqAll), json(i.vpdq),
      i.status, json(i.matches), json(i.exif), i.exif?.serial ?? null, i.exif?.gps?.lat ?? null, i.exif?.gps?.lon ?? null,
      i.error?.code ?? null, i.error?.message ?? null, i.complete === false ? 0 : 1];
    // SQLite: one prepared statement, run synchronously inside the transaction (a query builder per row
    // cost more than the insert itself).
    if (tx.sqlite) {
      (this.insert ??= tx.sqlite.prepare(`INSERT INTO triage_items (${ITEM_COLUMNS.join(', ')}) VALUES (${ITEM_COLUMNS.map(() => '?').join(', ')}) ${ON_CONFLICT}`)).run(values);
      return;
    }
    await sql`INSERT INTO triage_items (${sql.raw(ITEM_COLUMNS.join(', '))}) VALUES (${sql.join(values)}) ${sql.raw(ON_CONFLICT)}`.execute(tx.k);
  }

  /** Items per status over the whole case (all runs). */
  async statusCounts(): Promise<Record<string, number>> {
    const rows = (await sql<{ status: string; n: number }>`SELECT status, COUNT(*) AS n FROM triage_items WHERE case_name = ${this.name} GROUP BY status`.execute(this.db.k)).rows;
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** Marks an archive whole once all its members are recorded. */
  async markComplete(path: string): Promise<void> {
    await sql`UPDATE triage_items SET complete = 1 WHERE case_name = ${this.name} AND path = ${path}`.execute(this.db.k);
  }

  /** Items in recording order, a page at a time. */
  async *items(pageSize = 500): AsyncGenerator<CaseRow> {
    let after = 0;
    for (;;) {
      const rows = (await sql<Record<string, unknown>>`SELECT * FROM triage_items WHERE case_name = ${this.name} AND seq > ${after} ORDER BY seq LIMIT ${pageSize}`.execute(this.db.k)).rows;
      for (const r of rows) yield rowToItem(r);
      if (rows.length < pageSize) return;
      after = Number(rows.at(-1)!.seq);
    }
  }

  async close(): Promise<void> {
    if (this.owned) await this.db.close();
  }
}

export function rowToItem(r: Record<string, unknown>): CaseRow {
  const item: CaseRow = { seq: Number(r.seq), path: String(r.path), kind: r.kind as ItemKind, status: r.status as ItemStatus };
  const set = <K extends keyof CaseRow>(k: K, v: CaseRow[K] | undefined) => {
    if (v !== undefined) item[k] = v;
  };
  set('parent', str(r.parent));
  set('size', num(r.size));
  set('mtime', str(r.mtime));
  set('ctime', str(r.ctime));
  set('type', str(r.type));
  set('md5', str(r.md5));
  set('sha1', str(r.sha1));
  set('sha256', str(r.sha256));
  set('pdq', str(r.pdq));
  set('quality', num(r.quality));
  set('pdqAll', parse<string[]>(r.pdq_all));
  set('vpdq', parse<string[]>(r.vpdq));
  set('matches', parse<StoredMatch[]>(r.matches));
  set('exif', parse<ExifFacts>(r.exif));
  if (r.error_code) item.error = { code: r.error_code as ItemError['code'], message: String(r.error_message ?? '') };
  item.complete = Number(r.complete) === 1;
  set('dupGroup', str(r.dup_group));
  set('series', str(r.series));
  set('vicCategory', num(r.vic_category));
  set('ukCategory', str(r.uk_category));
  return item;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
