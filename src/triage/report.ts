/**
 * The offline HTML report of a case: one self-contained file (no scripts, fonts, tiles or links out), with
 * the summary, known vs unknown counts, series, cameras and places (an SVG plot on a latitude/longitude grid,
 * drawn here: no map service is contacted). Thumbnails are made from the files on disk, blurred and greyscale
 * at the pixel level by default (the clear picture is never in the file); members of archives have none.
 */
import { basename, join } from 'node:path';
import { sql } from 'kysely';
import type { CaseDb, CaseRow } from './case-db.js';

export interface ReportOptions {
  /** Clear thumbnails instead of blurred greyscale ones (an investigator's deliberate choice). */
  clearThumbnails?: boolean;
  /** At most this many thumbnails in the report (default 120). */
  maxThumbnails?: number;
}

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The file on disk behind a case path (undefined for archive members). */
function diskPathOf(roots: string[], row: CaseRow): string | undefined {
  if (row.kind !== 'file') return undefined;
  if (roots.length === 1) return roots[0].endsWith(row.path) && basename(roots[0]) === row.path ? roots[0] : join(roots[0], row.path);
  const [first, ...rest] = row.path.split('/');
  const root = roots.find((r) => basename(r) === first);
  return root ? join(root, ...rest) : undefined;
}

async function thumbnail(path: string, clear: boolean): Promise<string | undefined> {
  try {
    const { default: sharp } = await import('sharp');
    let img = sharp(path, { limitInputPixels: 40_000_000 }).rotate().resize(96, 96, { fit: 'inside' });
    if (!clear) img = img.greyscale().blur(6);
    return `data:image/jpeg;base64,${(await img.jpeg({ quality: 60 }).toBuffer()).toString('base64')}`;
  } catch {
    return undefined;
  }
}

export async function caseReport(caseDb: CaseDb, options: ReportOptions = {}): Promise<string> {
  const { name, db } = caseDb;
  const info = await caseDb.info();
  const count = async (where: ReturnType<typeof sql>) => Number((await sql<{ n: number }>`SELECT COUNT(*) AS n FROM triage_items WHERE case_name = ${name} AND ${where}`.execute(db.k)).rows[0].n);
  const byStatus = (await sql<{ status: string; n: number }>`SELECT status, COUNT(*) AS n FROM triage_items WHERE case_name = ${name} GROUP BY status`.execute(db.k)).rows;
  const status = Object.fromEntries(byStatus.map((r) => [r.status, Number(r.n)]));
  const archives = await count(sql`kind IN ('archive', 'archive-member')`);
  const dupGroups = Number((await sql<{ n: number }>`SELECT COUNT(DISTINCT dup_group) AS n FROM triage_items WHERE case_name = ${name} AND dup_group IS NOT NULL`.execute(db.k)).rows[0].n);
  const series = (await sql<{ series: string; n: number; vic: number | null; uk: string | null }>`SELECT i.series AS series, COUNT(*) AS n, MAX(s.vic_category) AS vic, MAX(s.uk_category) AS uk
    FROM triage_items i LEFT JOIN triage_series s ON s.case_name = i.case_name AND s.series = i.series
    WHERE i.case_name = ${name} AND i.series IS NOT NULL GROUP BY i.series ORDER BY COUNT(*) DESC, i.series LIMIT 200`.execute(db.k)).rows;
  const cameras = (await sql<{ exif: string; n: number }>`SELECT exif, COUNT(*) AS n FROM triage_items WHERE case_name = ${name} AND camera_serial IS NOT NULL GROUP BY camera_serial, exif ORDER BY n DESC LIMIT 500`.execute(db.k)).rows;
  const cams = new Map<string, { make: string; model: string; serial: string; n: number }>();
  for (const c of cameras) {
    const e = JSON.parse(c.exif) as { make?: string; model?: string; serial?: string };
    const key = `${e.make ?? ''}\0${e.model ?? ''}\0${e.serial ?? ''}`;
    const cur = cams.get(key) ?? { make: e.make ?? '', model: e.model ?? '', serial: e.serial ?? '', n: 0 };
    cur.n += Number(c.n);
    cams.set(key, cur);
  }
  const places = (await sql<{ path: string; lat: number; lon: number }>`SELECT path, lat, lon FROM triage_items WHERE case_name = ${name} AND lat IS NOT NULL LIMIT 5000`.execute(db.k)).rows;

  const maxThumbs = options.maxThumbnails ?? 120;
  let thumbs = 0;
  const seriesHtml: string[] = [];
  for (const s of series) {
    const rows = (await sql<Record<string, unknown>>`SELECT * FROM triage_items WHERE case_name = ${name} AND series = ${s.series} ORDER BY seq LIMIT 6`.execute(db.k)).rows;
    const cells: string[] = [];
    for (const r of rows) {
      const { rowToItem } = await import('./case-db.js');
      const item = rowToItem(r);
      const disk = thumbs < maxThumbs ? diskPathOf(info.roots, item) : undefined;
      const src = disk ? await thumbnail(disk, options.clearThumbnails === true) : undefined;
      if (src) thumbs++;
      cells.push(`<figure>${src ? `<img src="${src}" alt="">` : '<div class="none">no thumbnail</div>'}<figcaption>${esc(item.path)}</figcaption></figure>`);
    }
    const cat = [s.vic !== null ? `VIC ${s.vic}` : '', s.uk ? `UK ${esc(s.uk)}` : ''].filter(Boolean).join(', ') || 'uncategorised';
    seriesHtml.push(`<section class="series"><h3>${esc(s.series)} · ${Number(s.n)} files · ${cat}</h3><div class="grid">${cells.join('')}</div></section>`);
  }

  const svg = placesSvg(places.map((p) => ({ lat: Number(p.lat), lon: Number(p.lon), path: p.path })));
  const total = Object.values(status).reduce((a, b) => a + b, 0);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>Case ${esc(name)} — Vigil triage report</title><style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:.5em}figure{margin:0;width:120px}figure img{width:96px;height:auto;display:block}figcaption{font-size:11px;word-break:break-all}
.none{width:96px;height:72px;background:#ddd;font-size:11px;display:flex;align-items:center;justify-content:center}.known{color:#a00;font-weight:bold}
</style></head><body>
<h1>Case ${esc(name)}</h1>
<p>Roots: ${info.roots.map(esc).join(', ')} · started ${esc(info.startedAt)} · ${info.finishedAt ? `finished ${esc(info.finishedAt)}` : '<strong>not finished</strong>'}.
Thumbnails are ${options.clearThumbnails ? '<strong>clear</strong> (chosen)' : 'blurred and greyscale'}.</p>
<h2>Summary</h2><table>
<tr><th>Items</th><td>${total}</td></tr><tr><th>Known (block banks)</th><td class="known">${status.known ?? 0}</td></tr>
<tr><th>Unknown</th><td>${status.unknown ?? 0}</td></tr><tr><th>Known-benign (dropped)</th><td>${status['known-benign'] ?? 0}</td></tr>
<tr><th>Errors</th><td>${status.error ?? 0}</td></tr><tr><th>Archives</th><td>${archives}</td></tr>
<tr><th>Duplicate groups</th><td>${dupGroups}</td></tr><tr><th>Series</th><td>${series.length}</td></tr></table>
<h2>Series</h2>${seriesHtml.join('\n') || '<p>None.</p>'}
<h2>Cameras</h2>${cams.size ? `<table><tr><th>Make</th><th>Model</th><th>Serial</th><th>Files</th></tr>${[...cams.values()].map((c) => `<tr><td>${esc(c.make)}</td><td>${esc(c.model)}</td><td>${esc(c.serial)}</td><td>${c.n}</td></tr>`).join('')}</table>` : '<p>None with a serial number.</p>'}
<h2>Places</h2>${places.length ? svg : '<p>No GPS positions.</p>'}
</body></html>
`;
}

/** Positions on an equirectangular latitude/longitude grid fitted to them (no base map: offline). */
function placesSvg(points: { lat: number; lon: number; path: string }[]): string {
  if (points.length === 0) return '';
  const lats = points.map((p) => p.lat);
  const lons = points.map((p) => p.lon);
  const pad = 0.01;
  const [minLat, maxLat] = [Math.min(...lats) - pad, Math.max(...lats) + pad];
  const [minLon, maxLon] = [Math.min(...lons) - pad, Math.max(...lons) + pad];
  const w = 640;
  const h = 400;
  const x = (lon: number) => ((lon - minLon) / (maxLon - minLon)) * w;
  const y = (lat: number) => h - ((lat - minLat) / (maxLat - minLat)) * h;
  const grid: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const lat = minLat + ((maxLat - minLat) * i) / 4;
    const lon = minLon + ((maxLon - minLon) * i) / 4;
    grid.push(`<line x1="0" x2="${w}" y1="${y(lat)}" y2="${y(lat)}" stroke="#ddd"/><text x="2" y="${y(lat) - 2}" font-size="10">${lat.toFixed(3)}</text>`);
    grid.push(`<line y1="0" y2="${h}" x1="${x(lon)}" x2="${x(lon)}" stroke="#ddd"/><text x="${x(lon) + 2}" y="${h - 2}" font-size="10">${lon.toFixed(3)}</text>`);
  }
  const dots = points.map((p) => `<circle cx="${x(p.lon).toFixed(1)}" cy="${y(p.lat).toFixed(1)}" r="4" fill="#c33" opacity=".7"><title>${esc(p.path)} (${p.lat.toFixed(5)}, ${p.lon.toFixed(5)})</title></circle>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" style="border:1px solid #ccc">${grid.join('')}${dots.join('')}</svg>`;
}
