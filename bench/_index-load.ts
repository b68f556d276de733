/**
 * Child process of bench/index.ts: loads an index file in a fresh process and prints load time and
 * the resident-memory growth it caused (the honest bytes-per-hash figure: no build temporaries).
 * Usage: tsx bench/_index-load.ts FILE hamming|exact
 */
import { HammingIndex256 } from '../src/matching/hamming-index.js';
import { ExactIndex } from '../src/matching/exact-index.js';

const [file, kind] = process.argv.slice(2);
const before = process.memoryUsage().rss;
const t = performance.now();
const size = kind === 'exact' ? ExactIndex.load(file).size : HammingIndex256.load(file).size;
const ms = performance.now() - t;
const after = process.memoryUsage().rss;
process.stdout.write(JSON.stringify({ ms, rssDelta: after - before, size }) + '\n');
