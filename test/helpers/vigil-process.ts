/**
 * `vigil` as a real child process, started from JavaScript compiled once per state of src/ rather than through
 * tsx: tsx re-hooks every module a child loads (~2 s of CPU per start on this machine), and the process tests
 * start dozens. The build is esbuild's per-file transform (what tsx does on the fly, so the same semantics),
 * laid out like the installed package — `<root>/dist/…`, `<root>/package.json`, `<root>/src` — under
 * node_modules/.cache/vigil-test/<hash of src, package.json, tsconfig.json>, and rebuilt when any of them
 * changes. Concurrent test files race to build it; the first rename wins and the others use it.
 * test/cli-process.test.ts keeps `node --import tsx src/cli/main.ts`, the way `npm run vigil` starts it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CACHE = join(REPO, 'node_modules', '.cache', 'vigil-test');

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sources(path, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

let built: string | undefined;

/** The compiled package root (built on first use in this process, or found already built). */
export function compiledRoot(): string {
  if (built) return built;
  const files = sources(join(REPO, 'src')).sort();
  const hash = createHash('sha256');
  for (const file of [...files, join(REPO, 'package.json'), join(REPO, 'tsconfig.json')]) hash.update(relative(REPO, file)).update('\0').update(readFileSync(file)).update('\0');
  const root = join(CACHE, hash.digest('hex').slice(0, 16));
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
    const tmp = join(CACHE, `tmp-${randomBytes(6).toString('hex')}`);
    mkdirSync(tmp, { recursive: true });
    buildSync({ entryPoints: files, outdir: join(tmp, 'dist'), outbase: join(REPO, 'src'), format: 'esm', platform: 'node', target: 'node20', logLevel: 'error' });
    cpSync(join(REPO, 'package.json'), join(tmp, 'package.json'));
    symlinkSync(join(REPO, 'src'), join(tmp, 'src')); // the client SDK's sources, which the service bundles
    writeFileSync(join(tmp, 'BUILT-FOR-TESTS'), 'Compiled by test/helpers/vigil-process.ts; safe to delete.\n');
    try {
      renameSync(tmp, root);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another test file built it first
    }
    // Builds of earlier states of src/ (an hour old: none a running test file could still be using).
    for (const name of readdirSync(CACHE)) {
      const old = join(CACHE, name);
      if (old !== root && statSync(old).mtimeMs < Date.now() - 3_600_000) rmSync(old, { recursive: true, force: true });
    }
  }
  return (built = root);
}

/** The arguments for `node` that run `vigil <args>` from the compiled build. */
export function vigilNodeArgs(args: string[]): string[] {
  return [join(compiledRoot(), 'dist', 'cli', 'main.js'), ...args];
}
