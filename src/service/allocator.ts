/**
 * glibc's malloc and a burst of decoded pictures: after a large block is freed, glibc raises its mmap
 * threshold (up to 32 MB), so later frames of 4–16 MB are carved from per-thread arenas that fragmentation
 * keeps for good: each hostile burst left the service ~200 MB larger (docs/security.md). A fixed threshold
 * keeps large blocks mmapped, so they go back to the system when freed, and two arenas bound the rest.
 * glibc reads these variables only when a process starts: the cluster passes them to the processes it
 * forks, and a single-process `vigil serve` says how to set them.
 */
export const ALLOCATOR_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_ARENA_MAX: '2' };

/** Whether this process runs on glibc (musl and other platforms ignore the variables). */
export function onGlibc(): boolean {
  if (process.platform !== 'linux') return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return typeof header?.glibcVersionRuntime === 'string';
}

/** The settings the operator has not chosen (an explicit value, or GLIBC_TUNABLES, always wins). */
export function missingAllocatorEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (env.GLIBC_TUNABLES?.includes('glibc.malloc.')) return {};
  return Object.fromEntries(Object.entries(ALLOCATOR_ENV).filter(([name]) => env[name] === undefined));
}
