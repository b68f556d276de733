/** Paths into ../shared (conformance vectors beside the repository root). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
export const PDQ_DIR = join(SHARED, 'conformance/pdq');

export function requireShared(): void {
  if (!existsSync(PDQ_DIR)) throw new Error(`Conformance data not found at ${PDQ_DIR}: ../shared must sit beside the repository`);
}

/** Reads a TSV with a header row into objects keyed by column name. */
export function readTsv(path: string): Record<string, string>[] {
  const [header, ...rows] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const columns = header.split('\t');
  return rows.map((row) => Object.fromEntries(row.split('\t').map((v, i) => [columns[i], v])));
}
