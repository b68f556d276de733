/**
 * Flat-scan kernels in WebAssembly, assembled here byte by byte (internal).
 *
 * Why hand-written: the flat scan is the hot loop for large radii, small segments and dihedral batches,
 * and JavaScript has no 64-bit popcount (a 32-bit bit-trick popcount costs ~7 ns per stored hash; the
 * `i64.popcnt` kernel below ~2.7 ns, close to memory bandwidth). The project has no WASM toolchain and
 * no npm package offers an exact Hamming scan over a SharedArrayBuffer, so the two tiny functions are
 * emitted directly (≈150 bytes); their behaviour is pinned by the property tests against linear.ts.
 *
 * Each segment keeps its hashes in a shared `WebAssembly.Memory` (its buffer is a SharedArrayBuffer,
 * so worker threads read the same bytes); row i is the 32 bytes at offset 32·i. The kernels only read
 * memory: queries are passed as i32 parameters, so concurrent threads never write a scratch area.
 *
 *   scan1(start, end, r, q0..q7)       → first row in [start, end) with distance(row, q) ≤ r, else end
 *   scan8(start, end, r, 8 × q0..q7)   → first row whose distance to any of the 8 queries is ≤ r
 *                                       (early exit per query after 128 bits: ~4× cheaper than 8 scans)
 */
import { I32, I64, name, section, uleb, vec } from '../core/wasm-encoding.js';

/** The slice of the WebAssembly JS API used here (the project's `lib` is ES2022 only, without DOM types). */
export interface HashMemory {
  readonly buffer: SharedArrayBuffer;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => HashMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const get = (i: number): number[] => [0x20, ...uleb(i)];
const set = (i: number): number[] => [0x21, ...uleb(i)];

/** Body of a scan over `v` queries. Params: 0 start, 1 end, 2 r, 3.. the 8·v query words. */
function scanFunction(v: number): { type: number[]; code: number[] } {
  const nParams = 3 + 8 * v;
  const qLocal = nParams; // 4·v i64 query locals
  const rowLocal = qLocal + 4 * v; // 4 i64 row words
  const pLocal = rowLocal + 4; // i32 byte pointer
  const endLocal = pLocal + 1; // i32 end pointer
  const type = [0x60, ...vec(Array.from({ length: nParams }, () => [I32])), ...vec([[I32]])];
  const locals = vec([
    [...uleb(4 * v + 4), I64],
    [2, I32],
  ]);
  const body: number[] = [];
  // Q[v][i] = q[2i] | q[2i+1] << 32 (little-endian i64 over the same bytes as the two u32 words).
  for (let j = 0; j < 4 * v; j++) {
    body.push(...get(3 + 2 * j), 0xad, ...get(4 + 2 * j), 0xad, 0x42, 32, 0x86, 0x84, ...set(qLocal + j));
  }
  body.push(...get(0), 0x41, 5, 0x74, ...set(pLocal)); // p = start << 5
  body.push(...get(1), 0x41, 5, 0x74, ...set(endLocal)); // endp = end << 5
  body.push(0x02, 0x40, 0x03, 0x40); // block, loop
  body.push(...get(pLocal), ...get(endLocal), 0x4f, 0x0d, 1); // if p >= endp: break
  for (let i = 0; i < 4; i++) body.push(...get(pLocal), 0x29, 3, ...uleb(8 * i), ...set(rowLocal + i));
  const popPair = (q: number, i: number): number[] => [
    ...get(rowLocal + i), ...get(qLocal + 4 * q + i), 0x85, 0x7b, // popcnt(row_i ^ Q_i)
    ...get(rowLocal + i + 1), ...get(qLocal + 4 * q + i + 1), 0x85, 0x7b, 0x7c, // + popcnt(row_i+1 ^ Q_i+1)
  ];
  if (v === 1) {
    // Memory-bound: all four words, one test.
    body.push(...popPair(0, 0), ...popPair(0, 2), 0x7c);
    body.push(0xa7, ...get(2), 0x4d, 0x04, 0x40, ...get(pLocal), 0x41, 5, 0x76, 0x0f, 0x0b);
  } else {
    // Compute-bound: per query, the first 128 bits; only if they are within r, the other 128.
    for (let q = 0; q < v; q++) {
      body.push(...popPair(q, 0), 0xa7, ...get(2), 0x4d, 0x04, 0x40); // if (d128 <= r) {
      body.push(...popPair(q, 0), ...popPair(q, 2), 0x7c, 0xa7, ...get(2), 0x4d, 0x04, 0x40); //   if (d256 <= r)
      body.push(...get(pLocal), 0x41, 5, 0x76, 0x0f, 0x0b, 0x0b); //     return p >> 5 }
    }
  }
  body.push(...get(pLocal), 0x41, 32, 0x6a, ...set(pLocal), 0x0c, 0, 0x0b, 0x0b); // p += 32; continue
  body.push(...get(1), 0x0b); // return end
  const code = [...locals, ...body];
  return { type, code: [...uleb(code.length), ...code] };
}

function moduleBytes(): Uint8Array {
  const f1 = scanFunction(1);
  const f8 = scanFunction(8);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([f1.type, f8.type])),
    // import env.mem: shared memory (limits flag 3 = shared + maximum), 1..65536 pages
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x03, ...uleb(1), ...uleb(65536)]])),
    ...section(3, vec([[0], [1]])),
    ...section(7, vec([[...name('scan1'), 0x00, 0], [...name('scan8'), 0x00, 1]])),
    ...section(10, vec([f1.code, f8.code])),
  ];
  return new Uint8Array(bytes);
}

let compiled: object | undefined;

export type Scan1 = (start: number, end: number, r: number, ...q: number[]) => number;

export interface Scanner {
  scan1: Scan1;
  scan8: Scan1;
}

const scanners = new WeakMap<HashMemory, Scanner>();

/** The kernels bound to one hash memory (instantiated once per memory per thread). */
export function scannerFor(memory: HashMemory): Scanner {
  let s = scanners.get(memory);
  if (s === undefined) {
    compiled ??= new WA.Module(moduleBytes());
    const inst = new WA.Instance(compiled, { env: { mem: memory } });
    s = { scan1: inst.exports.scan1 as Scan1, scan8: inst.exports.scan8 as Scan1 };
    scanners.set(memory, s);
  }
  return s;
}

/** A shared memory holding `rows` hashes (at least one page). Pages are committed as they are written. */
export function createHashMemory(rows: number): HashMemory {
  const pages = Math.max(1, Math.ceil((rows * 32) / 65536));
  if (pages > 65536) throw new RangeError(`a hash memory holds at most 134217728 rows, asked for ${rows}`);
  return new WA.Memory({ initial: pages, maximum: pages, shared: true });
}
