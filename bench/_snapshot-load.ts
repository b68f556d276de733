/**
 * Child process of bench/scale.ts: loads a matcher snapshot folder with the production reader (what a fleet
 * process does at start) in a fresh process, and prints the load time, the resident-memory growth it caused
 * and the process's RSS after. Usage: tsx bench/_snapshot-load.ts DIR
 */
import { readSnapshot } from '../src/banks/snapshot.js';
import { ExactIndex } from '../src/matching/exact-index.js';

const [dir] = process.argv.slice(2);
const before = process.memoryUsage().rss;
const t = performance.now();
const s = readSnapshot(dir!, { digests: ['md5'], photos: ['pdq'] }, (path) => ExactIndex.load(path));
const ms = performance.now() - t;
const after = process.memoryUsage().rss;
process.stdout.write(JSON.stringify({ ms, rssBefore: before, rssDelta: after - before, rss: after, signals: s.bankOf.length, pdq: s.photos.pdq!.size, md5: s.digests.md5!.size }) + '\n');
