/** Hash-list formats: streaming readers and writers, the format registry and detection. */
export type { Labels, ListInput, ListItem, ListProgress, ListReader, ListRecord, ListRecords, ListSignal, ListWriter, ReadOptions, WriteOptions } from './types.js';
export { readPlain, writePlain, type PlainReadOptions, type PlainWriteOptions } from './plain.js';
export { readMd5sum, writeMd5sum, type Md5sumReadOptions, type Md5sumWriteOptions } from './md5sum.js';
export { readCsv, readTsv, writeCsv, writeTsv, CSV_FIELDS, type CsvColumns, type CsvField, type CsvReadOptions, type CsvWriteOptions } from './csv.js';
export { readVics, writeVics, VICS_MARKERS, type VicsReadOptions, type VicsVersion, type VicsWriteOptions } from './vics.js';
export { readNsrl, type NsrlReadOptions } from './nsrl.js';
export { readNsrlSqlite, type NsrlSqliteOptions } from './nsrl-sqlite.js';
export { readHashdeep, writeHashdeep, type HashdeepWriteOptions } from './hashdeep.js';
export { readThreatExchange, writeThreatExchange, type ThreatExchangeReadOptions, type ThreatExchangeWriteOptions } from './threatexchange.js';
export { readNcmecXml } from './ncmec-xml.js';
export { readVigilNdjson, writeVigilNdjson } from './vigil-ndjson.js';
export { normalizeVpdqSignal } from './_values.js';
export {
  detectListFormat, getListFormat, DETECT_BYTES, LIST_FORMAT_NAMES, LIST_FORMATS,
  type AnyListReadOptions, type AnyListWriteOptions, type FileListFormat, type ListFormat, type ListFormatName, type StreamListFormat,
} from './registry.js';
