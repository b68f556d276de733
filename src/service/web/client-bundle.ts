/**
 * The browser bundles of the client SDK (src/client), built with esbuild from the TypeScript sources on first
 * use and kept in memory: `vigil serve` on a fresh clone serves the demo without a separate build step, and
 * what the page runs is exactly what is in src/client. esbuild is a development dependency (installed by
 * `npm ci`); where it is missing the demo says so instead of failing the service.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VigilError } from '../../core/errors.js';

export interface ClientBundles {
  /** The SDK (src/client/index.ts) as one ES module. */
  'client.js': string;
  /** The hashing worker (src/client/worker.ts) as one ES module. */
  'worker.js': string;
  /** Video (vPDQ through WebCodecs, src/client/video.ts, with its MP4 demuxer): client.js imports it lazily. */
  'video.js': string;
}

/** src/client, from this file in src/ (tsx) or in dist/ (compiled). */
export function clientSourceDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, '../../client'), join(here, '../../../src/client')]) {
    if (existsSync(join(candidate, 'index.ts'))) return candidate;
  }
  throw new VigilError('VIGIL_ERR_NOT_FOUND', 'The client SDK sources (src/client) are not beside this installation');
}

let built: Promise<ClientBundles> | undefined;

export function clientBundles(): Promise<ClientBundles> {
  built ??= buildClientBundles().catch((err: unknown) => {
    built = undefined;
    throw err;
  });
  return built;
}

export async function buildClientBundles(options: { minify?: boolean } = {}): Promise<ClientBundles> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new VigilError('VIGIL_ERR_UNAVAILABLE', 'The client demo needs esbuild (a development dependency): run `npm ci` without --omit=dev');
  }
  const dir = clientSourceDir();
  const build = async (entry: string) => {
    // './video.js' stays a separate file (loaded on first video) so the picture path stays small.
    const result = await esbuild.build({ entryPoints: [join(dir, entry)], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: options.minify ?? true, write: false, legalComments: 'none', external: entry === 'video.ts' ? [] : ['./video.js'] });
    return result.outputFiles[0].text;
  };
  const [client, worker, video] = await Promise.all([build('index.ts'), build('worker.ts'), build('video.ts')]);
  return { 'client.js': client, 'worker.js': worker, 'video.js': video };
}
