/**
 * Byte-level input preparation shared by every stream reader: byte counting for progress, BOM removal and
 * UTF-16 → UTF-8 transcoding, so the format readers only ever see UTF-8 (or whatever 8-bit bytes the file
 * really has) without a BOM.
 */
import { TextDecoder, TextEncoder } from 'node:util';
import { VigilError } from '../core/errors.js';
import type { ListInput } from './types.js';

const encoder = new TextEncoder();

function asBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  // fs streams opened with an encoding, or a caller passing strings: accept them as UTF-8 text.
  if (typeof chunk === 'string') return encoder.encode(chunk);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected Uint8Array chunks for list input but received ${typeof chunk}`);
}

/**
 * Yields the input's bytes with a leading BOM removed; UTF-16 (LE or BE, recognised by its BOM, as written
 * by Windows tools) is transcoded to UTF-8 on the fly. `onBytes` is called with the raw size of each chunk.
 */
export async function* prepareInput(input: ListInput, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  let head: Uint8Array | undefined = new Uint8Array(0);
  let utf16: TextDecoder | undefined;
  for await (const raw of input as AsyncIterable<unknown>) {
    const chunk = asBytes(raw);
    onBytes(chunk.byteLength);
    if (chunk.byteLength === 0) continue;
    if (head !== undefined) {
      // Sniff the BOM from the first 4 bytes, however the input is chunked.
      const joined: Uint8Array = new Uint8Array(head.length + chunk.length);
      joined.set(head, 0);
      joined.set(chunk, head.length);
      if (joined.length < 4) {
        head = joined;
        continue;
      }
      head = undefined;
      const start = sniffBom(joined);
      if (start.encoding !== 'utf-8') utf16 = new TextDecoder(start.encoding, { fatal: false, ignoreBOM: true });
      const body = joined.subarray(start.skip);
      if (utf16) yield encoder.encode(utf16.decode(body, { stream: true }));
      else yield body;
      continue;
    }
    if (utf16) yield encoder.encode(utf16.decode(chunk, { stream: true }));
    else yield chunk;
  }
  if (head !== undefined && head.length > 0) {
    const start = sniffBom(head);
    if (start.encoding !== 'utf-8') utf16 = new TextDecoder(start.encoding, { fatal: false, ignoreBOM: true });
    const body = head.subarray(start.skip);
    if (utf16) yield encoder.encode(utf16.decode(body, { stream: true }));
    else if (body.length > 0) yield body;
  }
  if (utf16) {
    const tail = utf16.decode();
    if (tail.length > 0) yield encoder.encode(tail);
  }
}

function sniffBom(b: Uint8Array): { encoding: 'utf-8' | 'utf-16le' | 'utf-16be'; skip: number } {
  if (b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) {
    throw new VigilError('VIGIL_ERR_LIST_FORMAT', 'The file is UTF-32 encoded (BOM FF FE 00 00); save it as UTF-8');
  }
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return { encoding: 'utf-8', skip: 3 };
  if (b[0] === 0xff && b[1] === 0xfe) return { encoding: 'utf-16le', skip: 2 };
  if (b[0] === 0xfe && b[1] === 0xff) return { encoding: 'utf-16be', skip: 2 };
  return { encoding: 'utf-8', skip: 0 };
}
