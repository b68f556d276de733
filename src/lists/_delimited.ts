/**
 * RFC 4180 field splitting and quoting for CSV, TSV and NSRL text, line by line so line numbers and the
 * line-length bound of `readLineBatches` carry over. A quoted field may span lines: the caller feeds the
 * next line when `splitRecord` says the record is incomplete.
 *
 * Why not csv-parse (declared once, never used, dropped): records here stay tied to the line reader's numbered,
 * length-bounded lines — per-row errors name their line, and a hostile line is refused before it is split —
 * and a row without quotes costs one String.split, the path bench:import measures. csv-parse would add its own
 * buffering and record bounds beside the line reader's, for the same RFC 4180 rules.
 */
import type { RawLine } from './_lines.js';

export type SplitResult = { fields: string[] } | { incomplete: true } | { error: string };

/**
 * Splits one record. Quotes are only special at the start of a field (a stray quote inside an unquoted
 * field is kept literally, as most tools do); after a closing quote only the delimiter or the end may follow.
 */
export function splitRecord(text: string, delimiter: string): SplitResult {
  if (!text.includes('"')) return { fields: text.split(delimiter) };
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q === -1) return { incomplete: true };
        value += text.slice(j, q);
        if (text[q + 1] === '"') {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === text.length) return { fields };
      if (text[i] !== delimiter) return { error: `Unexpected character after a closing quote in field ${fields.length}` };
      i++;
    } else {
      const d = text.indexOf(delimiter, i);
      if (d === -1) {
        fields.push(text.slice(i));
        return { fields };
      }
      fields.push(text.slice(i, d));
      i = d + 1;
    }
  }
}

/**
 * Joins physical lines into delimited records (quoted fields may contain newlines), bounded by
 * `maxRecordChars`. Yields records with the line number they start on, or errors.
 */
export function* joinRecords(
  lines: Iterable<RawLine>,
  state: { pending?: { line: number; text: string; broken?: string } },
  delimiter: string,
  maxRecordChars: number,
): Generator<{ line: number; fields: string[] } | { line: number; error: string } | { line: number; blank: true }> {
  for (const l of lines) {
    const pending = state.pending;
    if (l.error !== undefined) {
      if (pending) {
        // The bad line is inside a quoted field: the whole record is lost, report it once at its start.
        pending.broken ??= `line ${l.line}: ${l.error}`;
        continue;
      }
      yield { line: l.line, error: l.error };
      continue;
    }
    if (pending) {
      pending.text += '\n' + l.text;
      if (pending.text.length > maxRecordChars) {
        state.pending = undefined;
        yield { line: pending.line, error: `Quoted field is not closed within ${maxRecordChars} characters (record starting at line ${pending.line}); skipped up to line ${l.line}` };
        continue;
      }
    } else if (l.text.length === 0 || l.text.trim().length === 0) {
      yield { line: l.line, blank: true };
      continue;
    }
    const text = pending ? pending.text : l.text;
    const start = pending ? pending.line : l.line;
    const result = splitRecord(text, delimiter);
    if ('incomplete' in result) {
      state.pending = pending ?? { line: l.line, text: l.text };
      continue;
    }
    state.pending = undefined;
    if (pending?.broken !== undefined) yield { line: start, error: `Record spans lines and one is unreadable (${pending.broken})` };
    else if ('error' in result) yield { line: start, error: result.error };
    else yield { line: start, fields: result.fields };
  }
}

/** Error for a record still open at the end of the file. */
export function unterminated(state: { pending?: { line: number } }): { line: number; error: string } | undefined {
  if (!state.pending) return undefined;
  const line = state.pending.line;
  state.pending = undefined;
  return { line, error: `Quoted field opened at line ${line} is never closed` };
}

/** Quotes a field when it holds the delimiter, a quote, a line break or edge spaces. */
export function quoteField(value: string, delimiter: string): string {
  if (value === '') return value;
  if (value.includes(delimiter) || value.includes('"') || value.includes('\n') || value.includes('\r') || value.trim() !== value) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}
