/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by module (package or source
 * file), so bench:api can say where a request's time goes without opening DevTools.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  functions: { name: string; where: string; ms: number; share: number }[];
  modules: { module: string; ms: number; share: number }[];
}

/** node_modules/<pkg>, src/<dir>/<file>, node:<internal>, or a V8 pseudo-frame such as (garbage collector). */
function moduleOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const src = /\/(src\/.+|bench\/.+)$/.exec(url);
  if (src) return src[1];
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '');
}

/**
 * `fromUs`: only samples taken at or after this monotonic time in µs (`process.hrtime.bigint() / 1000n` in
 * any process of this machine: V8 stamps profiles with the same clock), e.g. to leave out start-up.
 */
export function summariseProfile(path: string, options: { top?: number; fromUs?: number } = {}): ProfileSummary {
  const top = options.top ?? 20;
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (options.fromUs !== undefined && at < options.fromUs) continue;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + delta);
  }
  const fns = new Map<string, { name: string; where: string; us: number }>();
  const mods = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const module = moduleOf(url, functionName);
    total += us;
    const name = functionName || '(anonymous)';
    // tsx-compiled sources report line 1 for everything: a line number only where it means something.
    const where = url && lineNumber > 0 ? `${module}:${lineNumber + 1}` : module;
    const key = `${name}@${where}`;
    const f = fns.get(key) ?? { name, where, us: 0 };
    f.us += us;
    fns.set(key, f);
    mods.set(module, (mods.get(module) ?? 0) + us);
  }
  return {
    totalMs: total / 1000,
    functions: [...fns.values()].sort((a, b) => b.us - a.us).slice(0, top).map((f) => ({ name: f.name, where: f.where, ms: f.us / 1000, share: f.us / total })),
    modules: [...mods].sort((a, b) => b[1] - a[1]).slice(0, top).map(([module, us]) => ({ module, ms: us / 1000, share: us / total })),
  };
}
