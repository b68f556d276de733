/**
 * One-file container for index snapshots (internal; used by hamming-index.ts and exact-index.ts).
 *
 * Layout (little-endian):
 *   0   8  magic "VIGILIDX"
 *   8   4  container format version (FORMAT_VERSION)
 *   12  4  header length H (bytes of UTF-8 JSON)
 *   16  4  CRC-32 of the header JSON
 *   20  4  reserved, 0
 *   24  H  header JSON: { kind, kindVersion, endian, fileBytes, meta, sections: [{name, offset, bytes, crc32}] }
 *   …      sections, each starting on a 64-byte boundary, in header order
 *
 * Loading reads the header, then each section straight into its final (shared) typed array in file
 * order — one sequential pass, no intermediate copies — and checks each section's CRC-32 while the
 * bytes are still in cache. Any mismatch (magic, version, kind, size, CRC, bounds) throws
 * VIGIL_ERR_INDEX_CORRUPT; the caller then rebuilds the index from the store. Saving writes a temporary
 * file beside the target, fsyncs it and renames it over the target, so a crash never leaves a torn file.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { VigilError } from '../core/errors.js';

export const MAGIC = 'VIGILIDX';
export const FORMAT_VERSION = 1;
const PREFIX = 24;
const ALIGN = 64;
const CHUNK = 64 << 20;
const MAX_HEADER = 16 << 20;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export interface SectionInfo {
  name: string;
  offset: number;
  bytes: number;
  crc32: number;
}

interface Header {
  kind: string;
  kindVersion: number;
  endian: 'little';
  fileBytes: number;
  meta: unknown;
  sections: SectionInfo[];
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function crcOf(data: Uint8Array): number {
  let c = 0;
  for (let o = 0; o < data.length; o += CHUNK) c = crc32(data.subarray(o, Math.min(data.length, o + CHUNK)), c);
  return c >>> 0;
}

function ensureLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new VigilError('VIGIL_ERR_INTERNAL', 'Vigil index files are little-endian; this host is big-endian');
}

/** Writes `sections` (typed-array views, written as their bytes) and `meta` to `path` atomically. */
export function writeIndexFile(path: string, kind: string, kindVersion: number, meta: unknown, sections: { name: string; data: ArrayBufferView }[]): void {
  ensureLittleEndian();
  const infos: SectionInfo[] = sections.map((s) => ({ name: s.name, offset: 0, bytes: s.data.byteLength, crc32: crcOf(bytesOf(s.data)) }));
  // Offsets depend on the header length, which depends on the offsets' digits: iterate to a fixed point.
  let json = '';
  let dataStart = 0;
  for (let attempt = 0; attempt < 8; attempt++) {
    let o = dataStart;
    for (const s of infos) {
      s.offset = o;
      o = align(o + s.bytes);
    }
    const header: Header = { kind, kindVersion, endian: 'little', fileBytes: infos.length ? infos[infos.length - 1].offset + infos[infos.length - 1].bytes : dataStart, meta, sections: infos };
    json = JSON.stringify(header);
    const need = align(PREFIX + Buffer.byteLength(json));
    if (need === dataStart) break;
    dataStart = need;
  }
  const headerBytes = Buffer.from(json);
  const prefix = Buffer.alloc(PREFIX);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(FORMAT_VERSION, 8);
  prefix.writeUInt32LE(headerBytes.length, 12);
  prefix.writeUInt32LE(crcOf(headerBytes), 16);

  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fd = openSync(tmp, 'w');
  try {
    let pos = 0;
    const put = (b: Uint8Array): void => {
      for (let o = 0; o < b.length; ) o += writeSync(fd, b, o, Math.min(CHUNK, b.length - o), pos + o);
      pos += b.length;
    };
    const pad = (to: number): void => {
      if (to > pos) put(new Uint8Array(to - pos));
    };
    put(prefix);
    put(headerBytes);
    for (let i = 0; i < sections.length; i++) {
      pad(infos[i].offset);
      put(bytesOf(sections[i].data));
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* never created */
    }
    throw err;
  }
}

/** An opened, header-validated index file. Read sections in header order for a sequential pass. */
export class IndexFileReader {
  readonly path: string;
  readonly meta: unknown;
  readonly kindVersion: number;
  private readonly fd: number;
  private readonly sections: Map<string, SectionInfo>;

  private constructor(path: string, fd: number, header: Header) {
    this.path = path;
    this.fd = fd;
    this.meta = header.meta;
    this.kindVersion = header.kindVersion;
    this.sections = new Map(header.sections.map((s) => [s.name, s]));
  }

  static open(path: string, kind: string, supportedKindVersions: number[]): IndexFileReader {
    ensureLittleEndian();
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new VigilError('VIGIL_ERR_UNREADABLE', `Cannot open index file ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const header = readHeader(path, fd, kind, supportedKindVersions);
      return new IndexFileReader(path, fd, header);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  has(name: string): boolean {
    return this.sections.has(name);
  }

  /** Byte length of a section (throws VIGIL_ERR_INDEX_CORRUPT if it is missing). */
  size(name: string): number {
    return this.info(name).bytes;
  }

  /** Reads a section into `dest` (whose byte length must equal the section's) and checks its CRC. */
  read(name: string, dest: ArrayBufferView): void {
    const s = this.info(name);
    const out = bytesOf(dest);
    if (out.length !== s.bytes) this.corrupt(`section ${name} holds ${s.bytes} bytes where ${out.length} are expected`);
    let c = 0;
    for (let o = 0; o < s.bytes; ) {
      const len = Math.min(CHUNK, s.bytes - o);
      let got = 0;
      while (got < len) {
        const n = readSync(this.fd, out, o + got, len - got, s.offset + o + got);
        if (n === 0) this.corrupt(`section ${name} ends early (truncated file)`);
        got += n;
      }
      c = crc32(out.subarray(o, o + len), c);
      o += len;
    }
    if (c >>> 0 !== s.crc32) this.corrupt(`section ${name} fails its CRC-32 check`);
  }

  close(): void {
    closeSync(this.fd);
  }

  corrupt(why: string): never {
    throw corruptError(this.path, why);
  }

  private info(name: string): SectionInfo {
    const s = this.sections.get(name);
    if (s === undefined) this.corrupt(`section ${name} is missing`);
    return s;
  }
}

export function corruptError(path: string, why: string): VigilError {
  return new VigilError('VIGIL_ERR_INDEX_CORRUPT', `Index file ${path} is unusable: ${why}. Rebuild the index from the store.`);
}

function readHeader(path: string, fd: number, kind: string, versions: number[]): Header {
  const fail = (why: string): never => {
    throw corruptError(path, why);
  };
  const size = fstatSync(fd).size;
  if (size < PREFIX) fail(`it is ${size} bytes long, shorter than the ${PREFIX}-byte prefix (truncated or not an index file)`);
  const prefix = Buffer.alloc(PREFIX);
  readSync(fd, prefix, 0, PREFIX, 0);
  if (prefix.toString('latin1', 0, 8) !== MAGIC) fail('it does not start with the VIGILIDX magic (not a Vigil index file)');
  const version = prefix.readUInt32LE(8);
  if (version !== FORMAT_VERSION) fail(`container format version ${version} is unknown (this build reads version ${FORMAT_VERSION})`);
  const hlen = prefix.readUInt32LE(12);
  if (hlen === 0 || hlen > MAX_HEADER || PREFIX + hlen > size) fail(`the header length ${hlen} does not fit in the ${size}-byte file (truncated)`);
  const hbytes = Buffer.alloc(hlen);
  readSync(fd, hbytes, 0, hlen, PREFIX);
  if (crc32(hbytes) >>> 0 !== prefix.readUInt32LE(16)) fail('the header fails its CRC-32 check');
  let header: Header;
  try {
    header = JSON.parse(hbytes.toString('utf8')) as Header;
  } catch {
    return fail('the header is not valid JSON');
  }
  if (header === null || typeof header !== 'object' || !Array.isArray(header.sections)) fail('the header is malformed');
  if (header.kind !== kind) fail(`it holds a ${JSON.stringify(header.kind)} index, not ${kind}`);
  if (!versions.includes(header.kindVersion)) fail(`${kind} version ${header.kindVersion} is unknown (this build reads ${versions.join(', ')})`);
  if (header.endian !== 'little') fail(`byte order ${JSON.stringify(header.endian)} is not supported`);
  if (header.fileBytes !== size) {
    fail(size < header.fileBytes ? `it is truncated: ${size} of ${header.fileBytes} bytes present` : `it has ${size - header.fileBytes} unexpected trailing bytes`);
  }
  for (const s of header.sections) {
    const ok = typeof s.name === 'string' && Number.isSafeInteger(s.offset) && Number.isSafeInteger(s.bytes) && s.offset >= PREFIX + hlen && s.bytes >= 0 && s.offset + s.bytes <= size && Number.isInteger(s.crc32);
    if (!ok) fail(`section ${JSON.stringify(s.name)} lies outside the file`);
  }
  return header;
}
