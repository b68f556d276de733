/** Raw SQL for tests on either engine: tampering as someone with database access would, around the API. */
import type { Tx, VigilDatabase } from './database.js';

/** `?` placeholders on both engines; several statements in one string when there are no parameters. */
export async function rawSql(db: VigilDatabase, text: string, params: unknown[] = []): Promise<void> {
  if (db.engine === 'sqlite') {
    await db.runExclusive(() => (params.length === 0 ? db.sqlite!.exec(text) : db.sqlite!.prepare(text).run(...params)));
    return;
  }
  let i = 0;
  await db.pool!.query(text.replace(/\?/g, () => `$${++i}`), params);
}

export async function rawSqlIn(tx: Tx, text: string, params: unknown[] = []): Promise<void> {
  if (tx.engine === 'sqlite') {
    tx.sqlite!.prepare(text).run(...params);
    return;
  }
  let i = 0;
  await tx.pg!.query(text.replace(/\?/g, () => `$${++i}`), params);
}

export async function rawCount(db: VigilDatabase, table: string): Promise<number> {
  if (db.engine === 'sqlite') return db.runExclusive(() => Number(db.sqlite!.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get()));
  return Number((await db.pool!.query(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0].n);
}
