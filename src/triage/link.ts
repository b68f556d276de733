/**
 * `vigil cases link`: which cases are connected, and through what. Edges, one per case pair and kind:
 * - media-exact: the same file (SHA-256) in both;
 * - media-near: pictures within the PDQ distance (any orientation or derived view of either side);
 * - camera-serial: EXIF make + serial number in both;
 * - place: capture places (EXIF GPS) within `placeMeters` of each other;
 * - identifier: an identifier (account, e-mail…) an investigator attached in both.
 * Known-benign and empty files never link (system files and the empty file are in every seizure).
 * Memory: the linkable facts of every case (hashes, serials, places), not the cases' records.
 */
import { sql } from 'kysely';
import { HammingIndex256 } from '../matching/hamming-index.js';
import { hash256FromHex } from '../signals/pdq/hash256.js';
import type { CaseDb } from './case-db.js';

export const LINK_KINDS = ['media-exact', 'media-near', 'camera-serial', 'place', 'identifier'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

export interface LinkEdge {
  cases: [string, string];
  kind: LinkKind;
  /** What links them: SHA-256s, "make serial", "lat,lon", "kind:value"… (distinct, sorted). */
  via: string[];
  /** Every file on each side, by case name. */
  files: Record<string, string[]>;
}

export interface LinkOptions {
  pdqDistance?: number;
  placeMeters?: number;
}

interface Fact {
  caseIdx: number;
  path: string;
  key: string;
}

const EARTH_M = 6_371_000;
export function metersBetween(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

export async function linkCases(cases: CaseDb[], options: LinkOptions = {}): Promise<LinkEdge[]> {
  const pdqDistance = options.pdqDistance ?? 31;
  const placeMeters = options.placeMeters ?? 500;
  const edges = new Map<string, { kind: LinkKind; a: number; b: number; via: Set<string>; files: [Set<string>, Set<string>] }>();
  const add = (kind: LinkKind, x: Fact, y: Fact, via: string) => {
    if (x.caseIdx === y.caseIdx) return;
    const [p, q] = x.caseIdx < y.caseIdx ? [x, y] : [y, x];
    const k = `${p.caseIdx}\0${q.caseIdx}\0${kind}`;
    let e = edges.get(k);
    if (!e) edges.set(k, (e = { kind, a: p.caseIdx, b: q.caseIdx, via: new Set(), files: [new Set(), new Set()] }));
    e.via.add(via);
    e.files[0].add(p.path);
    e.files[1].add(q.path);
  };
  const byKey = new Map<string, Fact[]>();
  const keyed = (kind: string, f: Fact) => {
    const k = `${kind}\0${f.key}`;
    const list = byKey.get(k);
    if (list) list.push(f);
    else byKey.set(k, [f]);
  };
  const pictures: { fact: Fact; hashes: string[] }[] = [];
  const places: (Fact & { lat: number; lon: number })[] = [];
  for (const [caseIdx, c] of cases.entries()) {
    for await (const row of c.items()) {
      if (row.status === 'known-benign' || !row.sha256 || !row.size) continue;
      keyed('media-exact', { caseIdx, path: row.path, key: row.sha256 });
      if (row.pdq && (row.quality ?? 0) >= 50) pictures.push({ fact: { caseIdx, path: row.path, key: row.sha256 }, hashes: row.pdqAll ?? [row.pdq] });
      const serial = row.exif?.serial;
      if (serial) keyed('camera-serial', { caseIdx, path: row.path, key: `${row.exif?.make ?? ''} ${serial}`.trim() });
      if (row.exif?.gps) places.push({ caseIdx, path: row.path, key: `${row.exif.gps.lat.toFixed(5)},${row.exif.gps.lon.toFixed(5)}`, ...row.exif.gps });
    }
    const ids = (await sql<{ path: string; kind: string; value: string }>`SELECT path, kind, value FROM triage_identifiers WHERE case_name = ${c.name}`.execute(c.db.k)).rows;
    for (const r of ids) keyed('identifier', { caseIdx, path: r.path, key: `${r.kind}:${r.value}` });
  }
  for (const [k, facts] of byKey) {
    const kind = k.slice(0, k.indexOf('\0')) as LinkKind;
    if (new Set(facts.map((f) => f.caseIdx)).size < 2) continue;
    for (let i = 0; i < facts.length; i++) for (let j = i + 1; j < facts.length; j++) add(kind, facts[i], facts[j], facts[i].key);
  }
  // Near: every picture's PDQ in one index; each queried with all its hashes (orientations, views).
  const index = new HammingIndex256();
  pictures.forEach((p, id) => index.add(id, hash256FromHex(p.hashes[0])));
  for (const p of pictures) {
    const hashes = p.hashes.map(hash256FromHex);
    for (let i = 0; i < hashes.length; i += 8) {
      for (const m of index.searchDihedral(hashes.slice(i, i + 8), pdqDistance)) {
        const other = pictures[m.id];
        if (other.fact.caseIdx !== p.fact.caseIdx && other.fact.key !== p.fact.key) add('media-near', p.fact, other.fact, [p.fact.key, other.fact.key].sort().join('~'));
      }
    }
  }
  // Places: a grid of cells about `placeMeters` high; neighbours are compared exactly.
  const cellDeg = placeMeters / 111_000;
  const grid = new Map<string, typeof places>();
  const cellOf = (lat: number, lon: number) => [Math.floor(lat / cellDeg), Math.floor(lon / (cellDeg / Math.max(0.01, Math.cos((lat * Math.PI) / 180))))];
  for (const p of places) {
    const [y, x] = cellOf(p.lat, p.lon);
    const k = `${y},${x}`;
    (grid.get(k) ?? grid.set(k, []).get(k)!).push(p);
  }
  for (const p of places) {
    const [y, x] = cellOf(p.lat, p.lon);
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        for (const q of grid.get(`${y + dy},${x + dx}`) ?? []) {
          if (q.caseIdx > p.caseIdx && metersBetween(p, q) <= placeMeters) add('place', p, q, [p.key, q.key].join('~'));
        }
      }
    }
  }
  return [...edges.values()]
    .map((e) => ({ cases: [cases[e.a].name, cases[e.b].name] as [string, string], kind: e.kind, via: [...e.via].sort(), files: { [cases[e.a].name]: [...e.files[0]].sort(), [cases[e.b].name]: [...e.files[1]].sort() } }))
    .sort((x, y) => x.cases[0].localeCompare(y.cases[0]) || x.cases[1].localeCompare(y.cases[1]) || LINK_KINDS.indexOf(x.kind) - LINK_KINDS.indexOf(y.kind));
}

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The links as one offline HTML page: the cases on a circle joined by their edges, then every edge with its files. */
export function linksHtml(cases: string[], edges: LinkEdge[]): string {
  const r = 160;
  const at = new Map(cases.map((c, i) => [c, { x: 200 + r * Math.cos((2 * Math.PI * i) / Math.max(1, cases.length)), y: 200 + r * Math.sin((2 * Math.PI * i) / Math.max(1, cases.length)) }]));
  const colour: Record<LinkKind, string> = { 'media-exact': '#c33', 'media-near': '#e80', 'camera-serial': '#36c', place: '#393', identifier: '#939' };
  const lines = edges.map((e) => {
    const a = at.get(e.cases[0])!;
    const b = at.get(e.cases[1])!;
    return `<line x1="${a.x.toFixed(1)}" y1="${a.y.toFixed(1)}" x2="${b.x.toFixed(1)}" y2="${b.y.toFixed(1)}" stroke="${colour[e.kind]}" stroke-width="${Math.min(8, 1 + Math.log2(1 + e.via.length))}" opacity=".6"><title>${esc(e.cases.join(' – '))}: ${e.kind} (${e.via.length})</title></line>`;
  });
  const nodes = cases.map((c) => `<circle cx="${at.get(c)!.x.toFixed(1)}" cy="${at.get(c)!.y.toFixed(1)}" r="6" fill="#222"/><text x="${(at.get(c)!.x + 8).toFixed(1)}" y="${(at.get(c)!.y + 4).toFixed(1)}" font-size="12">${esc(c)}</text>`);
  const rows = edges.map((e) => `<tr><td>${esc(e.cases[0])}</td><td>${esc(e.cases[1])}</td><td style="color:${colour[e.kind]}">${e.kind}</td><td>${e.via.length}</td><td><details><summary>${e.files[e.cases[0]].length} / ${e.files[e.cases[1]].length} files</summary>${e.cases.map((c) => `<p><b>${esc(c)}</b><br>${e.files[c].map(esc).join('<br>')}</p>`).join('')}</details></td></tr>`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Vigil — linked cases</title><style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}</style></head><body>
<h1>Linked cases</h1><p>${cases.length} cases, ${edges.length} links. Known-benign and empty files never link.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="520" height="400" viewBox="0 0 520 400">${lines.join('')}${nodes.join('')}</svg>
<table><tr><th>Case</th><th>Other case</th><th>Kind</th><th>Links</th><th>Files</th></tr>${rows.join('')}</table></body></html>
`;
}
