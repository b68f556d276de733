/**
 * The one record shape every hash-list format is read into and written from. The store consumes exactly
 * these types: a reader turns a file into `ListItem`s (records and per-row errors), a writer turns
 * `ListRecord`s back into text. Keep this file free of format details.
 */
import type { SignalTypeName } from '../signals/registry.js';

export interface ListSignal {
  type: SignalTypeName;
  /**
   * Normalised value: lower-case hex for md5/sha1/sha256/pdq; for vpdq the canonical JSON array string
   * (python-threatexchange's own serialisation, see `normalizeVpdqSignal`); for photodna the exchanged
   * text as-is (trimmed).
   */
  value: string;
}

export interface Labels {
  /** Project VIC (US) category number: 0 non-pertinent, 1 CAM, 2 exploitive/age difficult, 3 CGI, 4 comparison. */
  projectVicCategory?: number;
  /** UK Sentencing Council category (CAID, IWF, UK police). */
  ukCategory?: 'A' | 'B' | 'C';
  /** Industry classification (NCMEC hash sharing, CyberTipline `industryClassification`). */
  industryCategory?: 'A1' | 'A2' | 'B1' | 'B2';
  series?: string;
  tags?: string[];
}

export interface ListRecord {
  /** One source row may carry several hashes of the same file, e.g. VICS MD5+SHA1+PhotoDNA. */
  signals: ListSignal[];
  labels: Labels;
  /** Stable identity of the row in its source, where the format has one (re-imports upsert on it). */
  sourceId?: string;
  /** The source withdrew this record (NCMEC `deletedImage`/`deletedVideo`): remove it by `sourceId`. */
  deleted?: boolean;
  fileName?: string;
  fileSize?: number;
  /** Format-specific extras worth keeping, e.g. NCMEC member id, NSRL product code. */
  metadata?: Record<string, unknown>;
}

export type ListItem =
  | { kind: 'record'; line: number; record: ListRecord }
  | { kind: 'error'; line: number; code: 'VIGIL_ERR_LIST_ROW'; message: string };

/** Reported by readers as they go, so a caller can draw a progress bar (bytes against the file size). */
export interface ListProgress {
  /** Bytes consumed from the input so far (for SQLite readers: not set). */
  bytesRead?: number;
  /** Rows read so far (for SQLite readers: table rows). */
  rowsRead: number;
  records: number;
  errors: number;
  /** Total rows when the reader knows it up front (SQLite with `countRows`). */
  totalRows?: number;
}

export interface ReadOptions {
  /**
   * Longest accepted line (or, for VICS JSON, record; for NCMEC XML, text node) in bytes. A longer one is
   * one row error and is skipped without being buffered. Default 1 MiB (32 MiB for the ThreatExchange
   * format, where one vPDQ line holds a whole video).
   */
  maxLineBytes?: number;
  /**
   * Stop with VIGIL_ERR_LIST_FORMAT after this many row errors ("this is probably not that format").
   * Default: no limit.
   */
  maxErrors?: number;
  /** Called after each input chunk (and at the end) with running counts. */
  onProgress?: (progress: ListProgress) => void;
}

/** Input accepted by every stream reader: a file stream, a web stream, an array of buffers. */
export type ListInput = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export type ListReader<O extends ReadOptions = ReadOptions> = (input: ListInput, options?: O) => AsyncGenerator<ListItem>;

export interface WriteOptions {
  /**
   * Called for each record the format cannot carry (e.g. VICS without an MD5, hashdeep without a size),
   * with the reason. Such records are left out; the rest is written.
   */
  onSkip?: (record: ListRecord, reason: string) => void;
}

export type ListRecords = AsyncIterable<ListRecord> | Iterable<ListRecord>;

/** Writers yield text chunks (about 64 KiB each) to be written as UTF-8. */
export type ListWriter<O extends WriteOptions = WriteOptions> = (records: ListRecords, options?: O) => AsyncGenerator<string>;
