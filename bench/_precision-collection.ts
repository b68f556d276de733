/**
 * The benign collection behind bench:precision: Debian packages of game art, icons, clipart, wallpapers,
 * documentation and sky pictures, fetched with `apt-get download` into a cache outside the repository
 * (VIGIL_PRECISION_CACHE, default ~/.cache/vigil-precision), unpacked with `dpkg-deb -x`, hashed once
 * (with every view) and the records cached as JSON lines next to them.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { HashPool } from '../src/hashing/pool.js';
import type { FileHashRecord } from '../src/hashing/hash-file.js';

export const CACHE = process.env.VIGIL_PRECISION_CACHE ?? join(homedir(), '.cache', 'vigil-precision');

// Split by package, each side a mix of icons, clipart, game sprites and textures, wallpapers and
// documentation or sky pictures (flat, gradient, tiled, transparent and UI pictures, not only photos).
export const BANK_PACKAGES = ['oxygen-icon-theme', 'tango-icon-theme', 'freeciv-data', 'supertux-data', 'minetest-data', 'desktop-base', 'mate-backgrounds', 'gimp-help-en', 'neverball-data', 'lincity-ng-data'];
export const QUERY_PACKAGES = ['adwaita-icon-theme', 'lxde-icon-theme', 'elementary-xfce-icon-theme', 'gnome-icon-theme', 'openclipart-png', 'frozen-bubble-data', 'hedgewars-data', 'pingus-data', 'extremetuxracer-data', 'tuxpaint-data', 'kstars-data', 'gnome-backgrounds', 'warzone2100-data'];
/** Pictures taken per package at most (a fixed pseudo-random choice): the large icon themes would dominate. */
const PER_PACKAGE = 3000;
const PICTURE = /\.(png|jpe?g|gif|webp|bmp|tga|tiff?|ico)$/i;

export interface Picture {
  pkg: string;
  /** Path inside the package. */
  path: string;
  record: Omit<FileHashRecord, 'path'>;
}

function ensurePackage(pkg: string): string {
  const debs = join(CACHE, 'debs');
  const dir = join(CACHE, 'x', pkg);
  mkdirSync(debs, { recursive: true });
  if (existsSync(join(dir, '.unpacked'))) return dir;
  let deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) {
    execFileSync('apt-get', ['download', pkg], { cwd: debs, stdio: ['ignore', 'ignore', 'inherit'] });
    deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${debs}`);
  }
  mkdirSync(dir, { recursive: true });
  execFileSync('dpkg-deb', ['-x', join(debs, deb), dir]);
  writeFileSync(join(dir, '.unpacked'), deb);
  return dir;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile() && PICTURE.test(e.name)) out.push(p);
  }
  return out;
}

/** Lines written since views of strips were dropped carry this version. */
const RECORD_VERSION = 2;
const aspect = (w: number, h: number) => Math.max(w / h, h / w);
const isStrip = (r: Omit<FileHashRecord, 'path'>) => aspect(r.width ?? 1, r.height ?? 1) > 4 || (r.views ?? []).some((v) => v.box !== undefined && aspect(v.box.width, v.box.height) > 4);

const order = (s: string) => createHash('sha1').update(s).digest('hex');

/** Every picture of the collection, hashed with views (cached), errors included. */
export async function loadCollection(log: (line: string) => void): Promise<Picture[]> {
  const cacheFile = join(CACHE, 'hashes-v1.jsonl');
  const cached = new Map<string, Picture & { v?: number }>();
  if (existsSync(cacheFile)) {
    for (const line of readFileSync(cacheFile, 'utf8').split('\n')) {
      if (!line) continue;
      const p = JSON.parse(line) as Picture & { size: number; v?: number };
      cached.set(`${p.pkg}\t${p.path}\t${p.size}`, p);
    }
  }
  const pictures: Picture[] = [];
  const todo: { pkg: string; path: string; file: string; size: number }[] = [];
  for (const pkg of [...BANK_PACKAGES, ...QUERY_PACKAGES]) {
    const dir = ensurePackage(pkg);
    const files = walk(dir).map((f) => relative(dir, f)).sort((a, b) => order(a).localeCompare(order(b))).slice(0, PER_PACKAGE);
    for (const path of files) {
      const size = statSync(join(dir, path)).size;
      const hit = cached.get(`${pkg}\t${path}\t${size}`);
      // A file without a hash is tried again (decoders are added over time), and so is a strip, whose
      // views were dropped after the first hashing (MAX_VIEW_ASPECT): the only records those changes touch.
      if (hit && hit.record.pdq !== undefined && (hit.v === RECORD_VERSION || !isStrip(hit.record))) pictures.push({ pkg, path, record: hit.record });
      else todo.push({ pkg, path, file: join(dir, path), size });
    }
  }
  if (todo.length > 0) {
    log(`hashing ${todo.length} pictures (cached in ${cacheFile}) …`);
    const pool = new HashPool({ views: true });
    const started = Date.now();
    let done = 0;
    const window = 16;
    for (let i = 0; i < todo.length; i += window) {
      const batch = todo.slice(i, i + window);
      const records = await Promise.all(batch.map((t) => pool.hash(t.file)));
      const lines = records.map((record, k) => {
        const { pkg, path, size } = batch[k];
        const { path: _p, sha1: _s1, sha256: _s256, ...rest } = record;
        pictures.push({ pkg, path, record: rest });
        return JSON.stringify({ pkg, path, size, v: RECORD_VERSION, record: rest });
      });
      appendFileSync(cacheFile, lines.join('\n') + '\n');
      done += batch.length;
      if (done % 2000 < window) log(`  ${done}/${todo.length} (${((Date.now() - started) / done).toFixed(1)} ms each)`);
    }
    await pool.close();
  }
  return pictures;
}
