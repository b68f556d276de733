/** Shared bench helpers: environment line, percentiles, a synthetic-image cache outside git. */
import { cpus } from 'node:os';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CACHE_DIR = fileURLToPath(new URL('../.bench-cache/', import.meta.url));
mkdirSync(CACHE_DIR, { recursive: true });

export function environment(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu} × ${cpus().length} · Node ${process.version} · ${process.platform}/${process.arch}`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
