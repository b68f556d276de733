/**
 * NIST NSRL RDS 2.x `NSRLFile.txt`: quoted CSV with a header naming the columns — the current
 * `"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"` or the older
 * `"SHA-1","FileName","FileSize","ProductCode","OpSystemCode","MD4","MD5","CRC32","SpecialCode"` — with
 * upper-case hex. It is known *software*, imported into an allow-list bank to skip files in review, never a
 * whitelist for anything else. The file is nominally UTF-8 but not reliably: a line that is not valid UTF-8
 * is read as Latin-1 (only file names are affected). The same SHA-1 appears once per product; consecutive
 * duplicates (the file is sorted by SHA-1) are dropped. There is no record id, so no `sourceId`.
 */
import { VigilError } from '../core/errors.js';
import { joinRecords, unterminated } from './_delimited.js';
import { prepareInput } from './_input.js';
import { readLineBatches } from './_lines.js';
import { DEFAULT_MAX_LINE_BYTES, messageOf, positiveIntOption, ReaderState } from './_reader.js';
import { normalizeSignal, parseFileSize } from './_values.js';
import type { ListInput, ListItem, ListRecord, ReadOptions } from './types.js';

export interface NsrlReadOptions extends ReadOptions {
  /** Drop a row whose SHA-1 and MD5 equal the previous row's (default true). */
  dedupeAdjacent?: boolean;
}

const REQUIRED = ['SHA-1', 'MD5', 'FileName', 'FileSize'];

export function readNsrl(input: ListInput, options: NsrlReadOptions = {}): AsyncGenerator<ListItem> {
  const state = new ReaderState(options);
  const maxLineBytes = positiveIntOption(options.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES);
  return nsrlItems(input, state, maxLineBytes, options.dedupeAdjacent ?? true);
}

async function* nsrlItems(input: ListInput, state: ReaderState, maxLineBytes: number, dedupe: boolean): AsyncGenerator<ListItem> {
  let col: Map<string, number> | undefined;
  let width = 0;
  let previous = '';
  const joinState = {};
  for await (const batch of readLineBatches(prepareInput(input, state.addBytes), { maxLineBytes, invalidUtf8: 'latin1' })) {
    for (const row of joinRecords(batch, joinState, ',', maxLineBytes)) {
      if ('blank' in row) {
        state.skip();
        continue;
      }
      if (!col) {
        const names = 'fields' in row ? row.fields.map((f) => f.trim()) : [];
        const missing = REQUIRED.filter((r) => !names.includes(r));
        if (missing.length > 0) {
          throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not an NSRL RDS 2.x NSRLFile.txt: the header (line ${row.line}) lacks ${missing.map((m) => `"${m}"`).join(', ')}`);
        }
        col = new Map(names.map((n, i) => [n, i]));
        width = names.length;
        state.skip();
        continue;
      }
      if ('error' in row) {
        yield state.error(row.line, row.error);
        continue;
      }
      const f = row.fields;
      if (f.length !== width) {
        yield state.error(row.line, `Expected ${width} fields but found ${f.length}`);
        continue;
      }
      const get = (name: string): string | undefined => {
        const i = col?.get(name);
        return i === undefined ? undefined : f[i];
      };
      try {
        const sha1 = normalizeSignal('sha1', get('SHA-1') ?? '');
        const md5 = normalizeSignal('md5', get('MD5') ?? '');
        const key = sha1 + md5;
        if (dedupe && key === previous) {
          state.skip();
          continue;
        }
        previous = key;
        const record: ListRecord = {
          signals: [{ type: 'sha1', value: sha1 }, { type: 'md5', value: md5 }],
          labels: {},
          fileSize: parseFileSize(get('FileSize'), 'FileSize'),
        };
        const name = get('FileName');
        if (name) record.fileName = name;
        const metadata: Record<string, unknown> = {};
        for (const [key, field] of [['crc32', 'CRC32'], ['productCode', 'ProductCode'], ['opSystemCode', 'OpSystemCode'], ['specialCode', 'SpecialCode'], ['md4', 'MD4']] as const) {
          const v = get(field)?.trim();
          if (v) metadata[key] = key === 'productCode' && /^[0-9]{1,15}$/.test(v) ? Number(v) : key === 'crc32' || key === 'md4' ? v.toLowerCase() : v;
        }
        record.metadata = metadata;
        yield state.record(row.line, record);
      } catch (err) {
        yield state.error(row.line, messageOf(err));
      }
    }
  }
  if (!col) throw new VigilError('VIGIL_ERR_LIST_FORMAT', 'Not an NSRL RDS 2.x NSRLFile.txt: the file is empty (no header line)');
  const open = unterminated(joinState);
  if (open) yield state.error(open.line, open.error);
  state.report();
}
