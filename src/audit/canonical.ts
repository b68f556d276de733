/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, JSON.stringify's string and
 * number forms. For the values accepted here this is the same text as RFC 8785 (JCS), so an auditor can
 * recompute audit hashes with any JCS library.
 */
import { invalidArgument } from '../core/errors.js';

export function canonicalJson(value: unknown): string {
  return write(value, new Set(), '$');
}

function write(value: unknown, seen: Set<object>, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      // JSON.stringify would silently turn these into null: a record must hash what was meant.
      if (!Number.isFinite(value)) throw invalidArgument('a finite number', path, value);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw invalidArgument('a JSON value (string, number, boolean, null, array, object)', path, typeof value);
  }
  const obj = value as object;
  // Dates and similar: the same text JSON.stringify would store.
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') return write((obj as { toJSON(): unknown }).toJSON(), seen, path);
  if (seen.has(obj)) throw invalidArgument('an acyclic value', path, 'a cycle');
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      return '[' + obj.map((v, i) => {
        if (v === undefined) throw invalidArgument('a JSON value', `${path}[${i}]`, 'undefined');
        return write(v, seen, `${path}[${i}]`);
      }).join(',') + ']';
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) throw invalidArgument('a plain object', path, Object.prototype.toString.call(obj));
    const record = obj as Record<string, unknown>;
    const parts: string[] = [];
    // Default sort compares UTF-16 code units, as JCS requires.
    for (const key of Object.keys(record).sort()) {
      const v = record[key];
      if (v === undefined) continue; // as JSON.stringify: an absent field
      parts.push(JSON.stringify(key) + ':' + write(v, seen, `${path}.${key}`));
    }
    return '{' + parts.join(',') + '}';
  } finally {
    seen.delete(obj);
  }
}
