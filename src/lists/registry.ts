/**
 * Every hash-list format Vigil reads or writes, by its persisted name (CLI `--format`, import records),
 * and `detectListFormat`, which names the format of a file from its first few KiB.
 */
import { TextDecoder } from 'node:util';
import { invalidArgument } from '../core/errors.js';
import { readCsv, readTsv, writeCsv, writeTsv, isHashListHeader, type CsvReadOptions, type CsvWriteOptions } from './csv.js';
import { HASHDEEP_MAGIC, readHashdeep, writeHashdeep, type HashdeepWriteOptions } from './hashdeep.js';
import { readMd5sum, writeMd5sum, type Md5sumReadOptions, type Md5sumWriteOptions } from './md5sum.js';
import { readNcmecXml } from './ncmec-xml.js';
import { readNsrl, type NsrlReadOptions } from './nsrl.js';
import { readNsrlSqlite, type NsrlSqliteOptions } from './nsrl-sqlite.js';
import { readPlain, writePlain, type PlainReadOptions, type PlainWriteOptions } from './plain.js';
import { readThreatExchange, writeThreatExchange, type ThreatExchangeReadOptions, type ThreatExchangeWriteOptions } from './threatexchange.js';
import { signalTypeFromName } from './_values.js';
import type { ListInput, ListItem, ListRecords } from './types.js';
import { readVics, writeVics, type VicsReadOptions, type VicsWriteOptions } from './vics.js';
import { readVigilNdjson, writeVigilNdjson } from './vigil-ndjson.js';

/** Format names are persisted identifiers: never rename one. */
export const LIST_FORMAT_NAMES = ['plain', 'md5sum', 'csv', 'tsv', 'vics', 'nsrl', 'nsrl-v3', 'hashdeep', 'threatexchange', 'ncmec-xml', 'vigil-ndjson'] as const;
export type ListFormatName = (typeof LIST_FORMAT_NAMES)[number];

/** Every reader option of every format (each reader uses its own), so one bag can be passed to any reader. */
export type AnyListReadOptions = PlainReadOptions & Md5sumReadOptions & CsvReadOptions & VicsReadOptions & NsrlReadOptions & ThreatExchangeReadOptions & NsrlSqliteOptions;
/** Every writer option of every format (each writer uses its own). */
export type AnyListWriteOptions = PlainWriteOptions & Md5sumWriteOptions & CsvWriteOptions & HashdeepWriteOptions & VicsWriteOptions & ThreatExchangeWriteOptions;

interface ListFormatBase {
  name: ListFormatName;
  description: string;
  /** File name endings that suggest the format (lower-case, with the dot). */
  extensions: readonly string[];
  /** The bank kind the list belongs in: known material (block) or known-good files to skip (allow). */
  bankKind: 'block' | 'allow';
  canImport: true;
  canExport: boolean;
}

export interface StreamListFormat extends ListFormatBase {
  input: 'stream';
  read: (input: ListInput, options?: AnyListReadOptions) => AsyncGenerator<ListItem>;
  write?: (records: ListRecords, options?: AnyListWriteOptions) => AsyncGenerator<string>;
}

/** A format read from a file path (a database), not a stream. */
export interface FileListFormat extends ListFormatBase {
  input: 'file';
  readFile: (path: string, options?: NsrlSqliteOptions) => AsyncGenerator<ListItem>;
  write?: undefined;
}

export type ListFormat = StreamListFormat | FileListFormat;

export const LIST_FORMATS: readonly ListFormat[] = [
  { name: 'plain', input: 'stream', description: 'One hash per line; type given or inferred from the length', extensions: ['.lst'], bankKind: 'block', canImport: true, canExport: true, read: readPlain, write: writePlain },
  { name: 'md5sum', input: 'stream', description: 'md5sum/sha1sum/sha256sum and md5deep output (GNU or BSD tag form)', extensions: ['.md5', '.sha1', '.sha256', '.md5sum'], bankKind: 'block', canImport: true, canExport: true, read: readMd5sum, write: writeMd5sum },
  { name: 'csv', input: 'stream', description: 'CSV with a header row mapped to hash, label and file columns', extensions: ['.csv'], bankKind: 'block', canImport: true, canExport: true, read: readCsv, write: writeCsv },
  { name: 'tsv', input: 'stream', description: 'Tab-separated values with a header row', extensions: ['.tsv', '.tab'], bankKind: 'block', canImport: true, canExport: true, read: readTsv, write: writeTsv },
  { name: 'vics', input: 'stream', description: 'Project VIC VICS JSON 1.2/1.3/2.0 (Media records; also UK CAID exports)', extensions: ['.json'], bankKind: 'block', canImport: true, canExport: true, read: readVics, write: writeVics },
  { name: 'nsrl', input: 'stream', description: 'NIST NSRL RDS 2.x NSRLFile.txt (known software, for an allow list)', extensions: [], bankKind: 'allow', canImport: true, canExport: false, read: readNsrl },
  { name: 'nsrl-v3', input: 'file', description: 'NIST NSRL RDS v3 SQLite database (known software, for an allow list)', extensions: ['.db', '.sqlite', '.sqlite3'], bankKind: 'allow', canImport: true, canExport: false, readFile: readNsrlSqlite },
  { name: 'hashdeep', input: 'stream', description: 'hashdeep files (%%%% HASHDEEP-1.0, size,hashes,filename)', extensions: ['.hashdeep', '.hdp'], bankKind: 'block', canImport: true, canExport: true, read: readHashdeep, write: writeHashdeep },
  { name: 'threatexchange', input: 'stream', description: 'python-threatexchange / HMA local file: "<signal_type> <signal>" lines', extensions: [], bankKind: 'block', canImport: true, canExport: true, read: readThreatExchange, write: writeThreatExchange },
  { name: 'ncmec-xml', input: 'stream', description: 'NCMEC hash-sharing v2 entries XML (with deletions)', extensions: ['.xml'], bankKind: 'block', canImport: true, canExport: false, read: readNcmecXml },
  { name: 'vigil-ndjson', input: 'stream', description: "Vigil's own NDJSON (`vigil hash` output): digests, PDQ and vPDQ per file", extensions: ['.ndjson', '.jsonl'], bankKind: 'block', canImport: true, canExport: true, read: readVigilNdjson, write: writeVigilNdjson },
];

/**
 * The format of that name.
 * @throws VigilError VIGIL_ERR_INVALID_ARGUMENT for an unknown name.
 */
export function getListFormat(name: string): ListFormat {
  const format = LIST_FORMATS.find((f) => f.name === name);
  if (!format) throw invalidArgument(`one of ${LIST_FORMAT_NAMES.join(', ')}`, 'list format', name);
  return format;
}

/** Bytes `detectListFormat` looks at; pass at least this many when the file is that long. */
export const DETECT_BYTES = 64 * 1024;

const SQLITE_MAGIC = 'SQLite format 3\0';
const GNU_LINE_RE = /^\\?[0-9a-fA-F]{32}(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{32})?(?: [ *].*)?$/;
const BSD_LINE_RE = /^\\?(?:MD5|SHA1|SHA-1|SHA256|SHA-256|SHA2-256) ?\(.*\) ?= ?[0-9a-fA-F]+$/i;
const HEX_LINE_RE = /^[0-9a-fA-F]{32,64}$/;
const NSRL_HEADER_RE = /^"SHA-1","(?:MD5|FileName)"/;

/**
 * Names the format of a file from its first bytes (up to `DETECT_BYTES`) and, as a tie-breaker, its name.
 * Returns undefined when neither says.
 * @example detectListFormat(fs.readFileSync(path).subarray(0, DETECT_BYTES), path)
 */
export function detectListFormat(firstBytes: Uint8Array, fileName?: string): ListFormatName | undefined {
  const head = firstBytes.subarray(0, DETECT_BYTES);
  if (head.length >= 16 && new TextDecoder('latin1').decode(head.subarray(0, 16)) === SQLITE_MAGIC) return 'nsrl-v3';
  const byContent = detectFromText(decodeHead(head));
  if (byContent) return byContent;
  return fileName === undefined ? undefined : detectFromName(fileName);
}

function decodeHead(b: Uint8Array): string {
  if (b[0] === 0xff && b[1] === 0xfe) return new TextDecoder('utf-16le').decode(b.subarray(2));
  if (b[0] === 0xfe && b[1] === 0xff) return new TextDecoder('utf-16be').decode(b.subarray(2));
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return new TextDecoder('utf-8').decode(b.subarray(3));
  return new TextDecoder('utf-8').decode(b);
}

function detectFromText(text: string): ListFormatName | undefined {
  const start = text.trimStart();
  if (start.startsWith('<')) {
    return /<(?:[\w.-]+:)?queryResult[\s>/]/.test(start) || start.includes('hashsharing.ncmec.org') ? 'ncmec-xml' : undefined;
  }
  if (start.startsWith('{')) {
    if (/"(?:odata\.metadata|@odata\.context)"|ProjectVic|"MediaID"/i.test(start)) return 'vics';
    // `vigil hash` lines: one object per line, a file's path or hashes first.
    return /^\{"(?:path|bytes|md5|sha1|sha256|pdq|vpdq)":/.test(start) ? 'vigil-ndjson' : undefined;
  }
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  // Without a final newline the last line may be cut off by the sample: judge by the complete ones.
  if (!text.endsWith('\n') && lines.length > 1) lines.pop();
  const first = lines.find((l) => l.trim() !== '');
  if (first === undefined) return undefined;
  if (first.trim() === HASHDEEP_MAGIC) return 'hashdeep';
  if (NSRL_HEADER_RE.test(first.trim())) return 'nsrl';
  const data = lines.filter((l) => l.trim() !== '' && !l.startsWith('#')).slice(0, 50);
  if (data.length === 0) return undefined;
  const all = (test: (l: string) => boolean): boolean => data.every(test);
  // A checksum line names its file, which bare hashes (plain) do not. A minority of malformed lines (a
  // truncated or hand-edited line) does not stop the format being recognised: the import reports them per row.
  const checksumLines = data.filter((l) => GNU_LINE_RE.test(l) || BSD_LINE_RE.test(l));
  if (checksumLines.length * 2 > data.length && checksumLines.some((l) => !HEX_LINE_RE.test(l.trim()))) return 'md5sum';
  // The signal-type word makes this format unambiguous, so a few malformed rows (reported per row on
  // import) do not stop it being recognised: 90 % of the sampled lines suffice.
  const threatExchangeLine = (l: string) => {
    const m = /^(\S+)[ \t]+(\S.*)$/.exec(l.trim());
    return m !== null && signalTypeFromName(m[1]) !== undefined && /^(?:\[|[0-9a-fA-F]+$|[A-Za-z0-9+/=]+$)/.test(m[2]);
  };
  if (data.filter(threatExchangeLine).length >= Math.max(1, Math.ceil(data.length * 0.9))) return 'threatexchange';
  if (all((l) => HEX_LINE_RE.test(l.trim()))) return 'plain';
  if (first.includes('\t') && isHashListHeader(first.split('\t'))) return 'tsv';
  if ((first.includes(',') || first.includes(';')) && isHashListHeader(first.split(first.includes(',') ? ',' : ';').map((f) => f.replace(/^"|"$/g, '')))) return 'csv';
  return undefined;
}

function detectFromName(fileName: string): ListFormatName | undefined {
  const base = fileName.replace(/^.*[/\\]/, '').toLowerCase();
  if (base === 'nsrlfile.txt') return 'nsrl';
  const dot = base.lastIndexOf('.');
  if (dot === -1) return undefined;
  const ext = base.slice(dot);
  // .txt says nothing about which line format; only content decides those.
  if (ext === '.txt') return undefined;
  return LIST_FORMATS.find((f) => f.extensions.includes(ext))?.name;
}
