/**
 * Project VIC VICS JSON (OData), versions 1.2 (UK CAID exports), 1.3 (`odata.metadata`) and 2.0
 * (`@odata.context`): one object with a data-model marker and a `value` array of Media records
 * (`MediaID, Category, MD5, SHA1, PhotoDNA, MediaSize, Series, Tags, VictimIdentified, …`). Case exports
 * (`…$metadata#Cases`) hold the Media under `value[].Media[]` and are read the same way.
 *
 * The file is streamed: only one Media record is held at a time, capped in bytes and depth, and anything
 * outside the records is skipped by counting brackets (so a nesting bomb costs a counter, not a stack).
 * Field names are matched case-insensitively (as IPED does); booleans may be JSON booleans or the strings
 * "true"/"false". `line` is the line of the record's `{`; messages also give the record's 1-based index.
 */
import { invalidArgument, VigilError } from '../core/errors.js';
import { prepareInput } from './_input.js';
import { JsonLexer, JsonSyntaxError, JsonValueBuilder, type JsonToken, type JsonValue } from './_json.js';
import { formatBytes } from './_lines.js';
import { DEFAULT_MAX_LINE_BYTES, messageOf, positiveIntOption, ReaderState, TextBatcher } from './_reader.js';
import {
  isCanonicalSignal, normalizeSignal, parseBoolean, parseFileSize, parseProjectVicCategory, parseTags, show, signalTypeFromName,
} from './_values.js';
import type { ListInput, ListItem, ListRecord, ListRecords, ListSignal, ReadOptions, WriteOptions } from './types.js';

export type VicsVersion = '1.2' | '1.3' | '2.0';

/** Data-model markers (IPED `HashDBTool`: `vicDataModel*`, `caidDataModel*`). */
export const VICS_MARKERS: Record<VicsVersion, { key: string; value: string }> = {
  '1.2': { key: 'odata.metadata', value: 'http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Media' },
  '1.3': { key: 'odata.metadata', value: 'http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media' },
  '2.0': { key: '@odata.context', value: 'http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media' },
};

export interface VicsReadOptions extends ReadOptions {
  /**
   * What `Category` numbers mean: 'projectvic' (default; US scheme 0–4 → `projectVicCategory`) or 'uk'
   * (UK CAID exports: mapped to `ukCategory` through `ukCategoryMap`).
   */
  categoryScheme?: 'projectvic' | 'uk';
  /** For `categoryScheme: 'uk'`: Category number → UK letter. Default { 1: 'A', 2: 'B', 3: 'C' } (unverified; see docs/lists.md). */
  ukCategoryMap?: Record<number, 'A' | 'B' | 'C'>;
  /** Deepest nesting inside one Media record (default 16). */
  maxDepth?: number;
}

export interface VicsWriteOptions extends WriteOptions {
  /** Data-model version to write (default '2.0'). */
  version?: VicsVersion;
}

/** Booleans kept from a Media record, VICS name → metadata key. */
const BOOLEAN_FIELDS: [string, string][] = [
  ['VictimIdentified', 'victimIdentified'], ['OffenderIdentified', 'offenderIdentified'], ['IsDistributed', 'isDistributed'],
  ['IsPrecategorized', 'isPrecategorized'], ['IsSuspected', 'isSuspected'], ['SelfGenerated', 'selfGenerated'],
];
/** Text fields kept from a Media record. */
const TEXT_FIELDS: [string, string][] = [
  ['DateUpdated', 'dateUpdated'], ['PrecategorizationSource', 'precategorizationSource'], ['Comments', 'comments'],
  ['MimeType', 'mimeType'], ['RelativeFilePath', 'relativeFilePath'],
];

const MARKER_KEYS = new Set(['odata.metadata', '@odata.context']);
const MODEL_RE = /ProjectVic\/DataModels\/([0-9]+\.[0-9]+)\.xml.*#(Media|Cases)$/i;

/** Largest piece of input lexed at once (bounds the token array built per step). */
const LEX_SLICE = 64 * 1024;

export function readVics(input: ListInput, options: VicsReadOptions = {}): AsyncGenerator<ListItem> {
  const state = new ReaderState(options);
  const maxRecordBytes = positiveIntOption(options.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES);
  const maxDepth = positiveIntOption(options.maxDepth, 'maxDepth', 16);
  const scheme = options.categoryScheme ?? 'projectvic';
  if (scheme !== 'projectvic' && scheme !== 'uk') throw invalidArgument("'projectvic' or 'uk'", 'categoryScheme', scheme);
  const ukMap = options.ukCategoryMap ?? { 1: 'A', 2: 'B', 3: 'C' };
  return vicsItems(input, state, { maxRecordBytes, maxDepth, scheme, ukMap });
}

interface VicsConfig {
  maxRecordBytes: number;
  maxDepth: number;
  scheme: 'projectvic' | 'uk';
  ukMap: Record<number, 'A' | 'B' | 'C'>;
}

/** Container on the path from the root to the records (never deeper than the record path). */
interface Frame {
  kind: 'obj' | 'arr';
  /** Path segment of this container's current child: the key, or '*' for array elements. */
  key: string | undefined;
  expect: 'key' | 'keyOrEnd' | 'colon' | 'value' | 'valueOrEnd' | 'commaOrEnd';
}

async function* vicsItems(input: ListInput, state: ReaderState, cfg: VicsConfig): AsyncGenerator<ListItem> {
  const lexer = new JsonLexer(cfg.maxRecordBytes);
  const stack: Frame[] = [];
  let recordPath = ['value', '*'];
  let version: string | undefined;
  let sawRoot = false;
  let sawValue = false;
  let finished = false;
  let recordIndex = 0;
  // A record being built, or a value being skipped by bracket counting.
  let build: { builder: JsonValueBuilder; line: number; offset: number; index: number } | undefined;
  let skip: { depth: number; error?: { line: number; message: string } } | undefined;
  const out: ListItem[] = [];

  const path = (): string[] => stack.map((f) => f.key ?? '');
  const isPrefix = (p: string[]): boolean => p.length < recordPath.length && p.every((s, i) => s === recordPath[i]);
  const isRecord = (p: string[]): boolean => p.length === recordPath.length && p.every((s, i) => s === recordPath[i]);
  const valueDone = (): void => {
    const top = stack[stack.length - 1];
    if (top) top.expect = 'commaOrEnd';
    else finished = true;
  };
  const recordError = (line: number, index: number, message: string): void => {
    out.push(state.error(line, `Record ${index}: ${message}`));
  };

  const onToken = (tok: JsonToken): void => {
    if (finished) throw new JsonSyntaxError('Unexpected data after the end of the JSON document', tok.line);
    if (skip) {
      if (tok.t === '{' || tok.t === '[') skip.depth++;
      else if (tok.t === '}' || tok.t === ']') skip.depth--;
      if (skip.depth === 0) {
        if (skip.error) out.push(state.error(skip.error.line, skip.error.message));
        skip = undefined;
        valueDone();
      }
      return;
    }
    if (build) {
      const b = build;
      if (tok.offset - b.offset > cfg.maxRecordBytes) {
        build = undefined;
        skip = { depth: b.builder.depth, error: { line: b.line, message: `Record ${b.index}: larger than ${formatBytes(cfg.maxRecordBytes)}; skipped` } };
        onToken(tok);
        return;
      }
      const r = b.builder.push(tok);
      if ('limit' in r) {
        build = undefined;
        skip = { depth: b.builder.depth + 1, error: { line: b.line, message: `Record ${b.index}: ${r.limit}; skipped` } };
        return;
      }
      if (r.done) {
        build = undefined;
        if (b.builder.bad) recordError(b.line, b.index, b.builder.bad);
        else {
          try {
            out.push(state.record(b.line, mediaToRecord(r.value, cfg, version)));
          } catch (err) {
            recordError(b.line, b.index, messageOf(err));
          }
        }
        valueDone();
      }
      return;
    }
    const top = stack[stack.length - 1];
    if (!top) {
      if (sawRoot) throw new JsonSyntaxError('Unexpected data after the end of the JSON document', tok.line);
      if (tok.t !== '{') throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not a VICS file: the JSON document is not an object (line ${tok.line})`);
      sawRoot = true;
      stack.push({ kind: 'obj', key: undefined, expect: 'keyOrEnd' });
      return;
    }
    // Grammar of the containers on the way to the records.
    switch (top.expect) {
      case 'key':
      case 'keyOrEnd':
        if (tok.t === '}' && top.expect === 'keyOrEnd') return close();
        if (tok.t !== 'string') throw new JsonSyntaxError('Expected an object key', tok.line);
        top.key = tok.v;
        top.expect = 'colon';
        return;
      case 'colon':
        if (tok.t !== ':') throw new JsonSyntaxError('Expected ":" after an object key', tok.line);
        top.expect = 'value';
        return;
      case 'commaOrEnd':
        if (tok.t === ',') {
          top.expect = top.kind === 'obj' ? 'key' : 'value';
          return;
        }
        if (tok.t === (top.kind === 'obj' ? '}' : ']')) return close();
        throw new JsonSyntaxError(`Expected "," or "${top.kind === 'obj' ? '}' : ']'}"`, tok.line);
      case 'valueOrEnd':
        if (tok.t === ']') return close();
        break;
      case 'value':
        break;
    }
    // A value starts at path p.
    const p = path();
    if (isRecord(p)) {
      recordIndex++;
      if (tok.t === '{') {
        build = { builder: new JsonValueBuilder(cfg.maxDepth), line: tok.line, offset: tok.offset, index: recordIndex };
        build.builder.push(tok);
      } else if (tok.t === '[') {
        skip = { depth: 1, error: { line: tok.line, message: `Record ${recordIndex}: expected a Media object but found an array` } };
      } else if (tok.t === 'string' || tok.t === 'number' || tok.t === 'literal') {
        recordError(tok.line, recordIndex, `expected a Media object but found ${tok.t === 'string' ? 'a string' : String(tok.v)}`);
        valueDone();
      } else {
        throw new JsonSyntaxError(`Unexpected "${tok.t}"`, tok.line);
      }
      return;
    }
    if (tok.t === '{' || tok.t === '[') {
      if (p.length === 1 && p[0] === 'value') {
        if (tok.t !== '[') throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not a VICS file: "value" is not an array (line ${tok.line})`);
        sawValue = true;
      }
      if (isPrefix(p)) {
        stack.push({ kind: tok.t === '{' ? 'obj' : 'arr', key: tok.t === '[' ? '*' : undefined, expect: tok.t === '{' ? 'keyOrEnd' : 'valueOrEnd' });
      } else {
        skip = { depth: 1 };
      }
      return;
    }
    if (tok.t === 'string' || tok.t === 'number' || tok.t === 'literal') {
      if (p.length === 1 && MARKER_KEYS.has(p[0])) {
        if (tok.t !== 'string') throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not a VICS file: ${p[0]} is not a string (line ${tok.line})`);
        const m = MODEL_RE.exec(tok.v);
        if (!m) throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not a VICS file: unknown data model ${show(tok.v)} (line ${tok.line})`);
        version = m[1];
        if (m[2].toLowerCase() === 'cases') recordPath = ['value', '*', 'Media', '*'];
      } else if (p.length === 1 && p[0] === 'value') {
        throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not a VICS file: "value" is not an array (line ${tok.line})`);
      }
      valueDone();
      return;
    }
    throw new JsonSyntaxError(`Unexpected "${tok.t}"`, tok.line);
  };

  const close = (): void => {
    stack.pop();
    valueDone();
  };

  try {
    for await (const chunk of prepareInput(input, state.addBytes)) {
      for (let i = 0; i < chunk.length; i += LEX_SLICE) {
        lexer.write(chunk.subarray(i, Math.min(chunk.length, i + LEX_SLICE)), onToken);
        if (out.length > 0) {
          yield* out;
          out.length = 0;
        }
      }
    }
    lexer.end(onToken);
  } catch (err) {
    if (err instanceof JsonSyntaxError) {
      throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Invalid JSON: ${err.message}${recordIndex > 0 ? ` (in or after record ${recordIndex})` : ''}`, { cause: err });
    }
    throw err;
  }
  yield* out;
  if (!sawRoot) throw new VigilError('VIGIL_ERR_LIST_FORMAT', 'Not a VICS file: it is empty');
  if (!finished) throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Invalid JSON: the file ends before the document does (after record ${recordIndex})`);
  if (!sawValue) throw new VigilError('VIGIL_ERR_LIST_FORMAT', 'Not a VICS file: no "value" array of Media records');
  state.report();
}

type JsonObject = { [key: string]: JsonValue };

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Case-insensitive field access (IPED compares VICS names with equalsIgnoreCase). */
function fieldsOf(obj: JsonObject): (name: string) => JsonValue | undefined {
  const map = new Map<string, JsonValue>();
  for (const k of Object.keys(obj)) map.set(k.toLowerCase(), obj[k]);
  return (name) => {
    const v = map.get(name.toLowerCase());
    return v === null || v === '' ? undefined : v;
  };
}

function mediaToRecord(value: JsonValue, cfg: VicsConfig, version: string | undefined): ListRecord {
  if (!isObject(value)) throw new Error('expected a Media object');
  const get = fieldsOf(value);
  const signals: ListSignal[] = [];
  const addSignal = (name: string, raw: JsonValue | undefined): void => {
    if (raw === undefined) return;
    const type = signalTypeFromName(name);
    if (type === undefined) return;
    if (typeof raw !== 'string') throw new Error(`Expected text for ${name} but received ${show(raw)}`);
    let v: string;
    try {
      v = normalizeSignal(type, raw);
    } catch (err) {
      throw new Error(`${name}: ${messageOf(err)}`, { cause: err });
    }
    if (!signals.some((s) => s.type === type && s.value === v)) signals.push({ type, value: v });
  };
  for (const name of ['MD5', 'SHA1', 'SHA256', 'PhotoDNA', 'PDQ']) addSignal(name, get(name));
  // VICS 2.0 nests further hashes as [{ HashName, HashValue }] (IPED reads PhotoDNA from there).
  const otherHashes: Record<string, string> = {};
  for (const k of Object.keys(value)) {
    const arr = value[k];
    if (!Array.isArray(arr)) continue;
    for (const item of arr) {
      if (!isObject(item)) continue;
      const g = fieldsOf(item);
      const name = g('HashName');
      const hv = g('HashValue');
      if (typeof name !== 'string' || hv === undefined) continue;
      if (signalTypeFromName(name) !== undefined) addSignal(name.trim(), hv);
      else if (typeof hv === 'string') otherHashes[name.trim()] = hv.trim();
    }
  }
  if (signals.length === 0) throw new Error('no MD5, SHA1, SHA256, PhotoDNA or PDQ hash');
  const record: ListRecord = { signals, labels: {} };
  const metadata: Record<string, unknown> = {};
  if (version) metadata.vicsVersion = version;

  const id = get('MediaID');
  if (id !== undefined) {
    if (typeof id !== 'number' && typeof id !== 'string') throw new Error(`Expected a number for MediaID but received ${show(id)}`);
    record.sourceId = String(id);
  }
  const category = get('Category');
  if (category !== undefined) {
    const n = parseProjectVicCategory(category);
    if (cfg.scheme === 'projectvic') record.labels.projectVicCategory = n;
    else {
      metadata.category = n;
      if (Object.hasOwn(cfg.ukMap, n)) record.labels.ukCategory = cfg.ukMap[n];
    }
  }
  let series = get('Series');
  if (isObject(series)) series = fieldsOf(series)('Name');
  if (series !== undefined) {
    if (typeof series !== 'string') throw new Error(`Expected text for Series but received ${show(series)}`);
    if (series.trim() !== '') record.labels.series = series.trim();
  }
  const tags = get('Tags');
  if (tags !== undefined) {
    const list = parseTags(tags);
    if (list.length > 0) record.labels.tags = list;
  }
  const size = get('MediaSize');
  if (size !== undefined) record.fileSize = parseFileSize(size, 'MediaSize');
  let fileName = get('FileName');
  const files = get('MediaFiles');
  if (fileName === undefined && Array.isArray(files) && isObject(files[0])) fileName = fieldsOf(files[0])('FileName');
  if (typeof fileName === 'string') record.fileName = fileName;
  for (const [field, key] of BOOLEAN_FIELDS) {
    const v = get(field);
    if (v !== undefined) metadata[key] = parseBoolean(v, field);
  }
  for (const [field, key] of TEXT_FIELDS) {
    const v = get(field);
    if (typeof v === 'string') metadata[key] = v;
  }
  if (Object.keys(otherHashes).length > 0) metadata.otherHashes = otherHashes;
  if (Object.keys(metadata).length > 0) record.metadata = metadata;
  return record;
}

/**
 * Writes a VICS JSON file of the given version (default 2.0), upper-case hex as real files have it. MD5 is
 * mandatory in VICS: records without one are skipped. SHA-256 and PDQ, which the public data model does not
 * name, go into a `Hashes: [{ HashName, HashValue }]` array (read back by this reader and by IPED-style
 * readers that look for HashName/HashValue); vPDQ, UK and industry categories are not written.
 */
export function writeVics(records: ListRecords, options: VicsWriteOptions = {}): AsyncGenerator<string> {
  const version = options.version ?? '2.0';
  if (!Object.hasOwn(VICS_MARKERS, version)) throw invalidArgument("'1.2', '1.3' or '2.0'", 'version', version);
  return vicsText(records, version, options);
}

async function* vicsText(records: ListRecords, version: VicsVersion, options: VicsWriteOptions): AsyncGenerator<string> {
  const out = new TextBatcher();
  const marker = VICS_MARKERS[version];
  out.push(`{${JSON.stringify(marker.key)}:${JSON.stringify(marker.value)},"value":[`);
  let mediaId = 0;
  for await (const record of records) {
    const md5 = record.signals.find((s) => s.type === 'md5');
    if (record.deleted) {
      options.onSkip?.(record, 'deleted records are not written to hash lists');
      continue;
    }
    if (!md5) {
      options.onSkip?.(record, 'no md5 signal (MD5 is mandatory in VICS)');
      continue;
    }
    if (!record.signals.every(isCanonicalSignal)) {
      options.onSkip?.(record, 'a signal value is not in canonical form');
      continue;
    }
    mediaId++;
    // MediaID is a record number within the file: renumbered 1..n (source ids of other formats are not numbers).
    const media: Record<string, unknown> = { MediaID: mediaId };
    if (record.labels.projectVicCategory !== undefined) media.Category = record.labels.projectVicCategory;
    media.MD5 = md5.value.toUpperCase();
    const sha1 = record.signals.find((s) => s.type === 'sha1');
    if (sha1) media.SHA1 = sha1.value.toUpperCase();
    const pdna = record.signals.find((s) => s.type === 'photodna');
    if (pdna) media.PhotoDNA = pdna.value;
    if (record.fileSize !== undefined) media.MediaSize = record.fileSize;
    if (record.labels.series !== undefined) media.Series = record.labels.series;
    if (record.labels.tags?.length) media.Tags = record.labels.tags.join(', ');
    if (record.fileName !== undefined) media.FileName = record.fileName;
    const meta = record.metadata ?? {};
    for (const [field, key] of BOOLEAN_FIELDS) if (typeof meta[key] === 'boolean') media[field] = meta[key];
    for (const [field, key] of TEXT_FIELDS) if (typeof meta[key] === 'string') media[field] = meta[key];
    const hashes = record.signals.filter((s) => s.type === 'sha256' || s.type === 'pdq').map((s) => ({ HashName: s.type === 'sha256' ? 'SHA256' : 'PDQ', HashValue: s.type === 'sha256' ? s.value.toUpperCase() : s.value }));
    if (hashes.length > 0) media.Hashes = hashes;
    const chunk = out.push(`${mediaId === 1 ? '' : ','}\n${JSON.stringify(media)}`);
    if (chunk) yield chunk;
  }
  out.push('\n]}\n');
  const rest = out.flush();
  if (rest) yield rest;
}
