/**
 * The members of a zip whose end was cut off (a partial copy, a damaged disk): with no central directory, yauzl
 * (rightly) refuses the file, so the local headers are walked from the start. Hand-written because no
 * well-kept zip library salvages: they either need the central directory or stream without verifying.
 * A member counts only if it is whole: its local header carries its sizes (no data descriptor), all its bytes
 * are there, it inflates to the declared size and its CRC-32 matches. The walk stops at the first member
 * that is not whole.
 */
import { crc32, inflateRawSync } from 'node:zlib';
import type { ArchiveMember } from './archive.js';
import { decodeName } from './archive.js';

const LOCAL = 0x04034b50;

export interface SalvageLimits {
  maxMemberBytes: number;
  maxRatio: number;
  ratioFloorBytes: number;
}

export function* salvageZip(bytes: Buffer, limits: SalvageLimits): Generator<ArchiveMember> {
  let at = 0;
  while (at + 30 <= bytes.length && bytes.readUInt32LE(at) === LOCAL) {
    const flags = bytes.readUInt16LE(at + 6);
    const method = bytes.readUInt16LE(at + 8);
    const crc = bytes.readUInt32LE(at + 14);
    const compressed = bytes.readUInt32LE(at + 18);
    const size = bytes.readUInt32LE(at + 22);
    const nameLength = bytes.readUInt16LE(at + 26);
    const extraLength = bytes.readUInt16LE(at + 28);
    const start = at + 30 + nameLength + extraLength;
    if (flags & 0x08 || start + compressed > bytes.length) return; // sizes unknown here, or cut inside this member
    const name = decodeName(bytes.subarray(at + 30, at + 30 + nameLength));
    at = start + compressed;
    if (name.endsWith('/')) continue;
    const member: ArchiveMember = { kind: 'member', name, size };
    if (flags & 0x01) {
      member.error = { code: 'VIGIL_ERR_ARCHIVE_ENCRYPTED', message: 'Encrypted member: not read' };
      yield member;
      continue;
    }
    if (size > limits.maxMemberBytes || (size > limits.ratioFloorBytes && size / Math.max(1, compressed) > limits.maxRatio)) {
      member.error = { code: 'VIGIL_ERR_ARCHIVE_BOMB', message: `Not read: ${size} bytes from ${compressed} (salvaged from a truncated zip)` };
      yield member;
      continue;
    }
    let data: Buffer;
    try {
      const body = bytes.subarray(start, start + compressed);
      data = method === 0 ? Buffer.from(body) : method === 8 ? inflateRawSync(body, { maxOutputLength: Math.max(1, size) }) : Buffer.alloc(0);
      if (method !== 0 && method !== 8) throw new Error(`compression method ${method} is not supported`);
    } catch (err) {
      member.error = { code: 'VIGIL_ERR_ARCHIVE_CORRUPT', message: `Member could not be read: ${(err as Error).message}` };
      yield member;
      return;
    }
    if (data.length !== size || crc32(data) !== crc) return;
    member.bytes = data;
    yield member;
  }
}
