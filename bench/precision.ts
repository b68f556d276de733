/**
 * npm run bench:precision — false and true matches on a large benign collection (bench/_precision-collection.ts:
 * Debian packages, split by package into a bank and queries), for Meta's reference rule (the picture's own
 * PDQ hash, quality ≥ 50 on both sides) and for Vigil's matcher (defaults, and the loose settings that
 * triage may ask for), per threshold; what each view and orientation would cost without its gate; and the
 * recall on the project's edited copies (bench:robustness) in the same run.
 *
 * Pairs are judged by eye: bench/precision-verdicts.tsv holds one line per (query file MD5, bank PDQ hash)
 * with its verdict, never a picture. `--sheets` writes contact sheets of the pairs not yet judged to
 * /tmp/vigil-precision-sheets (query left, bank right) with a TSV to copy verdicts from.
 * `--no-robustness` skips the recall run. `--dump FILE` writes every candidate pair (JSON) for calibration.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import { createDigestIndex } from '../src/banks/digest-index.js';
import { BankMatcher, pdqQueriesOf, type BankMatch, type MatcherOptions } from '../src/banks/matcher.js';
import { HammingIndex256 } from '../src/matching/hamming-index.js';
import { hammingDistance256, hash256FromHex } from '../src/signals/pdq/hash256.js';
import { hashInformation } from '../src/signals/pdq/degenerate.js';
import { DIHEDRAL_NAMES } from '../src/signals/pdq/pdq.js';
import { openStore } from '../src/store/store.js';
import { environment, fmt } from './_common.js';
import { BANK_PACKAGES, CACHE, QUERY_PACKAGES, loadCollection, type Picture } from './_precision-collection.js';

const VERDICTS = new URL('./precision-verdicts.tsv', import.meta.url).pathname;
const THRESHOLDS = [0, 8, 16, 24, 31];
const args = process.argv.slice(2);
const log = (line: string) => console.log(line);

type Verdict = 'true' | 'false';
interface Pair {
  query: Picture;
  bankPdq: string;
  distance: number;
  view?: string;
  dihedral?: string;
  rule?: string;
  confidence?: string;
}

function loadVerdicts(): Map<string, Verdict> {
  const verdicts = new Map<string, Verdict>();
  if (!existsSync(VERDICTS)) return verdicts;
  for (const line of readFileSync(VERDICTS, 'utf8').split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [md5, pdq, verdict] = line.split('\t');
    if (verdict === 'true' || verdict === 'false') verdicts.set(`${md5}\t${pdq}`, verdict);
  }
  return verdicts;
}

const fileOf = (p: Picture) => join(CACHE, 'x', p.pkg, p.path);

async function main(): Promise<void> {
  console.log(`bench:precision · ${environment()} · load average ${(await import('node:os')).loadavg().map((l) => fmt(l, 2)).join(' ')}`);
  const all = await loadCollection(log);
  const ok = all.filter((p) => p.record.pdq !== undefined);
  const failed = all.filter((p) => p.record.pdq === undefined);
  const byFormat = new Map<string, number>();
  for (const p of failed) byFormat.set(p.path.split('.').pop()!.toLowerCase(), (byFormat.get(p.path.split('.').pop()!.toLowerCase()) ?? 0) + 1);
  const bankSide = new Set(BANK_PACKAGES);
  // Distinct pictures (by MD5): the first package that holds a file keeps it.
  const seen = new Set<string>();
  const distinct = ok.filter((p) => !seen.has(p.record.md5!) && seen.add(p.record.md5!));
  const bankPictures = distinct.filter((p) => bankSide.has(p.pkg));
  const queries = distinct.filter((p) => !bankSide.has(p.pkg));
  const bank = new Map<string, { quality: number; picture: Picture }>();
  for (const p of bankPictures) if (!bank.has(p.record.pdq!)) bank.set(p.record.pdq!, { quality: p.record.quality!, picture: p });
  const degenerateBank = [...bank.keys()].filter((h) => hashInformation(hash256FromHex(h)).degenerate).length;
  console.log(`collection: ${all.length} files from ${BANK_PACKAGES.length + QUERY_PACKAGES.length} packages, ${distinct.length} distinct pictures; not decoded: ${failed.length} (${[...byFormat].map(([f, n]) => `${f} ${n}`).join(', ')})`);
  console.log(`bank: ${bank.size} distinct PDQ hashes from ${bankPictures.length} pictures (${BANK_PACKAGES.length} packages; ${degenerateBank} degenerate), imported as a plain list (no quality); queries: ${queries.length} pictures (${QUERY_PACKAGES.length} packages)`);

  // Vigil: a plain list in a block bank, as a new user would import it.
  const store = await openStore(join(mkdtempSync(join(tmpdir(), 'vigil-precision-')), 'p.db'));
  await store.createBank({ name: 'precision', source: 'benign Debian pictures' });
  await store.importList('precision', [...bank.keys()].map((pdq, i) => ({ kind: 'record' as const, line: i + 1, record: { signals: [{ type: 'pdq' as const, value: pdq }], labels: {} } })));
  const runs: [string, Pair[]][] = [];
  for (const [name, options] of [['Vigil defaults', {}], ['Vigil strict', { precision: 'strict' }], ['Vigil loose (triage)', { precision: 'loose' }]] as [string, Partial<MatcherOptions>][]) {
    const matcher = new BankMatcher(store, { digestIndex: createDigestIndex, ...options });
    await matcher.sync();
    const pairs: Pair[] = [];
    for (const q of queries) {
      const matches: BankMatch[] = await matcher.match({ pdq: pdqQueriesOf(q.record) });
      for (const m of matches) pairs.push({ query: q, bankPdq: m.value, distance: m.distance, view: m.view, dihedral: m.dihedral, ...(m.rule ? { rule: m.rule.rule } : {}), confidence: m.confidence });
    }
    runs.push([name, pairs]);
  }
  await store.close();

  // The reference rule: the picture's own hash, quality ≥ 50 on both sides.
  const good = [...bank].filter(([, b]) => b.quality >= 50).map(([h]) => h);
  const refIndex = new HammingIndex256();
  good.forEach((h, i) => refIndex.add(i, hash256FromHex(h)));
  const reference: Pair[] = [];
  for (const q of queries) {
    if (q.record.quality! < 50) continue;
    for (const m of refIndex.search(hash256FromHex(q.record.pdq!), 31)) reference.push({ query: q, bankPdq: good[m.id], distance: m.distance });
  }
  runs.unshift(['reference (plain PDQ, quality ≥ 50)', reference]);

  // Every candidate of every view and orientation at ≤ 31, ungated (what each would cost on its own).
  const allIndex = new HammingIndex256();
  const bankHashes = [...bank.keys()];
  bankHashes.forEach((h, i) => allIndex.add(i, hash256FromHex(h)));
  const candidates: (Pair & { viewQuality: number })[] = [];
  for (const q of queries) {
    for (const v of pdqQueriesOf(q.record)) {
      for (let k = 0; k < v.hashes.length; k++) {
        for (const m of allIndex.search(v.hashes[k], 31)) candidates.push({ query: q, bankPdq: bankHashes[m.id], distance: m.distance, view: v.view, dihedral: DIHEDRAL_NAMES[k], viewQuality: v.quality });
      }
    }
  }

  // Before this calibration, every view and orientation matched at the bank's threshold (quality ≥ 50 on the view).
  runs.splice(1, 0, ['before: every view + orientation', candidates.filter((c) => c.viewQuality >= 50)]);
  const verdicts = loadVerdicts();
  const key = (p: Pair) => `${p.query.record.md5}\t${p.bankPdq}`;
  const judge = (p: Pair): Verdict | 'unjudged' => verdicts.get(key(p)) ?? 'unjudged';
  const unjudged = new Map<string, Pair>();
  const count = (pairs: Pair[], t: number) => {
    const distinctPairs = new Map<string, Pair>();
    for (const p of pairs) if (p.distance <= t) distinctPairs.set(key(p), p);
    const c = { pairs: distinctPairs.size, true: 0, false: 0, unjudged: 0, falseQueries: new Set<string>() };
    for (const p of distinctPairs.values()) {
      const v = judge(p);
      if (v === 'unjudged') {
        c.unjudged++;
        unjudged.set(key(p), p);
      } else c[v]++;
      if (v === 'false') c.falseQueries.add(p.query.record.md5!);
    }
    return c;
  };
  console.log('\nrule                                  ≤ t  pairs  true  false  unjudged  queries falsely matched');
  for (const [name, pairs] of runs) {
    for (const t of THRESHOLDS) {
      const c = count(pairs, t);
      console.log(`${name.padEnd(37)} ${String(t).padStart(3)} ${String(c.pairs).padStart(6)} ${String(c.true).padStart(5)} ${String(c.false).padStart(6)} ${String(c.unjudged).padStart(9)}  ${c.falseQueries.size}`);
    }
  }

  // What the defaults still get wrong, and what would block (high confidence) against the reference.
  const defaults = runs.find(([n]) => n === 'Vigil defaults')![1];
  const judged = (pairs: Pair[], v: Verdict) => new Set(pairs.filter((p) => p.distance <= 31 && judge(p) === v).map(key)).size;
  const high = defaults.filter((p) => p.confidence === 'high');
  console.log(`\nVigil defaults at ≤ 31, high confidence only (what the default rules block): ${judged(high, 'true')} true, ${judged(high, 'false')} false pairs`);
  for (const p of defaults) if (p.distance <= 31 && judge(p) === 'false') console.log(`  false: ${p.rule} d=${p.distance} ${p.view}/${p.dihedral} ${p.confidence} · ${p.query.pkg}/${p.query.path.split('/').pop()} vs ${bank.get(p.bankPdq)!.picture.pkg}/${bank.get(p.bankPdq)!.picture.path.split('/').pop()}`);

  // Cost of each view and orientation alone, ungated (every candidate at ≤ 31) and at the query quality gate.
  const cost = new Map<string, { false: Set<string>; true: Set<string>; falseGated: Set<string>; trueGated: Set<string> }>();
  for (const c of candidates) {
    const v = judge(c);
    if (v === 'unjudged') continue;
    const name = `${c.view}${c.dihedral === 'orig' ? '' : ' (turned/flipped)'}`;
    const row = cost.get(name) ?? { false: new Set(), true: new Set(), falseGated: new Set(), trueGated: new Set() };
    row[v].add(key(c));
    if (c.viewQuality >= 50) row[v === 'true' ? 'trueGated' : 'falseGated'].add(key(c));
    cost.set(name, row);
  }
  console.log('\nwhat each view / orientation finds alone at ≤ 31 (judged pairs): false, true; then with view quality ≥ 50');
  for (const [name, r] of [...cost].sort((a, b) => b[1].false.size - a[1].false.size)) console.log(`  ${name.padEnd(40)} ${String(r.false.size).padStart(5)} ${String(r.true.size).padStart(5)}   ${String(r.falseGated.size).padStart(5)} ${String(r.trueGated.size).padStart(5)}`);
  if (unjudged.size > 0) console.log(`\n${unjudged.size} pairs not judged yet: run with --sheets and add verdicts to bench/precision-verdicts.tsv`);

  const dump = args.indexOf('--dump');
  if (dump >= 0) {
    // Per pair: every query hash's distance to the bank hash (view, orientation, quality), for agreement rules.
    const vectors = new Map<string, [string, string, number, number][]>();
    for (const c of candidates) {
      if (vectors.has(key(c))) continue;
      const b = hash256FromHex(c.bankPdq);
      vectors.set(key(c), pdqQueriesOf(c.query.record).flatMap((v) => v.hashes.map((h, k): [string, string, number, number] => [v.view, DIHEDRAL_NAMES[k], v.quality, hammingDistance256(h, b)])));
    }
    writeFileSync(args[dump + 1] + '.vectors', JSON.stringify(Object.fromEntries(vectors)));
    writeFileSync(args[dump + 1], JSON.stringify(candidates.map((c) => ({ md5: c.query.record.md5, query: `${c.query.pkg}/${c.query.path}`, qq: c.query.record.quality, bank: c.bankPdq, bq: bank.get(c.bankPdq)!.quality, bankFile: `${bank.get(c.bankPdq)!.picture.pkg}/${bank.get(c.bankPdq)!.picture.path}`, view: c.view, dihedral: c.dihedral, vq: c.viewQuality, distance: c.distance, verdict: judge(c) }))));
  }
  if (args.includes('--sheets')) await sheets([...unjudged.values()], bank);
  if (!args.includes('--no-robustness')) robustness();
}

/** Contact sheets of unjudged pairs: 4 pairs a row, 6 rows a sheet, query left and bank picture right. */
async function sheets(unjudged: Pair[], bank: Map<string, { picture: Picture }>): Promise<void> {
  let pairs = unjudged;
  const dir = '/tmp/vigil-precision-sheets';
  mkdirSync(dir, { recursive: true });
  const tile = async (file: string) => sharp(file).resize(128, 128, { fit: 'contain', background: { r: 200, g: 200, b: 200, alpha: 1 } }).flatten({ background: { r: 200, g: 200, b: 200 } }).png().toBuffer().catch(() => sharp({ create: { width: 128, height: 128, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer());
  const lines: string[] = [];
  // Identical decoded pixels are copies whatever the hash: pre-labelled, the rest is judged by eye.
  const pixels = (file: string) => sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true }).then(({ data, info }) => `${info.width}x${info.height}:${createHash('md5').update(data).digest('hex')}`).catch(() => file);
  const identical = new Map<Pair, boolean>();
  for (const p of pairs) identical.set(p, (await pixels(fileOf(p.query))) === (await pixels(fileOf(bank.get(p.bankPdq)!.picture))));
  pairs = [...pairs.filter((p) => !identical.get(p)), ...pairs.filter((p) => identical.get(p))];
  for (let s = 0; s * 24 < pairs.length; s++) {
    const composites: OverlayOptions[] = [];
    for (const [i, p] of pairs.slice(s * 24, s * 24 + 24).entries()) {
      const x = (i % 4) * 280;
      const y = Math.floor(i / 4) * 144;
      const b = bank.get(p.bankPdq)!.picture;
      composites.push({ input: await tile(fileOf(p.query)), left: x, top: y }, { input: await tile(fileOf(b)), left: x + 132, top: y });
      lines.push([p.query.record.md5, p.bankPdq, identical.get(p) ? 'true' : '?', `${p.query.pkg}/${p.query.path}`, `${b.pkg}/${b.path}`, `sheet ${s} #${i} d=${p.distance} ${p.view ?? ''} ${p.dihedral ?? ''}`].join('\t'));
    }
    await sharp({ create: { width: 1120, height: 864, channels: 3, background: { r: 40, g: 40, b: 40 } } }).composite(composites).png().toFile(join(dir, `sheet-${String(s).padStart(3, '0')}.png`));
  }
  writeFileSync(join(dir, 'pairs.tsv'), lines.join('\n') + '\n');
  console.log(`contact sheets: ${dir} (${Math.ceil(pairs.length / 24)} sheets, pairs.tsv)`);
}

function robustness(): void {
  console.log('\nrecall on edited copies (bench:robustness, same run):');
  const out = execFileSync(process.execPath, ['--import', 'tsx', new URL('./robustness.ts', import.meta.url).pathname], { encoding: 'utf8', maxBuffer: 16 << 20 });
  for (const line of out.split('\n')) if (/^(overall recall|false matches|matched through)/.test(line)) console.log(`  ${line}`);
}

await main();
