/**
 * Vigil's one canonical JSON: object keys sorted by UTF-16 code units, no whitespace, JSON.stringify's string and
 * number forms. For the values accepted by default this is the same text as RFC 8785 (JCS), so an auditor can
 * recompute audit hashes (and rules versions) with any JCS library. Absent (`undefined`) object fields are left
 * out, as JSON.stringify does; `toJSON` (dates) is honoured.
 *
 * What JSON cannot represent — non-finite numbers, `undefined` in an array or as the whole value — throws by
 * default: a hashed record must hash what was meant. `unrepresentable: 'null'` writes `null` there instead, as
 * JSON.stringify does: the store keeps labels and metadata in that form, and the text of rows written so far
 * must not change (re-imports compare it to detect "unchanged").
 */
import { invalidArgument } from './errors.js';

export interface CanonicalJsonOptions {
  unrepresentable?: 'throw' | 'null';
}

export function canonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  return new Writer(options.unrepresentable === 'null').write(value);
}

class Writer {
  private readonly seen = new Set<object>();
  /** Keys and indexes down to the value being written: named in an error only. */
  private readonly path: (string | number)[] = [];

  constructor(private readonly lenient: boolean) {}

  write(value: unknown): string {
    if (value === null) return 'null';
    switch (typeof value) {
      case 'string':
        return JSON.stringify(value);
      case 'boolean':
        return value ? 'true' : 'false';
      case 'number':
        if (Number.isFinite(value)) return JSON.stringify(value);
        return this.unrepresentable('a finite number', value);
      case 'object':
        return this.object(value);
      case 'undefined':
      case 'function':
      case 'symbol':
        return this.unrepresentable('a JSON value (string, number, boolean, null, array, object)', typeof value);
      default:
        // bigint: JSON.stringify throws too.
        throw invalidArgument('a JSON value (string, number, boolean, null, array, object)', this.where(), typeof value);
    }
  }

  private unrepresentable(expected: string, received: unknown): string {
    if (this.lenient) return 'null';
    throw invalidArgument(expected, this.where(), received);
  }

  private where(): string {
    return '$' + this.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
  }

  private object(obj: object): string {
    // Dates and similar: the same text JSON.stringify would store.
    if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') return this.write((obj as { toJSON(): unknown }).toJSON());
    if (this.seen.has(obj)) throw invalidArgument('an acyclic value', this.where(), 'a cycle');
    if (Array.isArray(obj)) {
      this.seen.add(obj);
      let out = '[';
      for (let i = 0; i < obj.length; i++) {
        this.path.push(i);
        out += (i > 0 ? ',' : '') + this.write(obj[i]);
        this.path.pop();
      }
      this.seen.delete(obj);
      return out + ']';
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) throw invalidArgument('a plain object', this.where(), Object.prototype.toString.call(obj));
    const record = obj as Record<string, unknown>;
    const keys = Object.keys(record);
    // Hot path of imports: most rows carry no labels or metadata.
    if (keys.length === 0) return '{}';
    // The default sort compares UTF-16 code units, as JCS requires.
    keys.sort();
    this.seen.add(obj);
    let out = '';
    for (const key of keys) {
      const v = record[key];
      if (v === undefined) continue; // as JSON.stringify: an absent field
      this.path.push(key);
      out += `${out ? ',' : ''}${JSON.stringify(key)}:${this.write(v)}`;
      this.path.pop();
    }
    this.seen.delete(obj);
    return `{${out}}`;
  }
}
