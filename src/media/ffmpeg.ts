/**
 * Locating and running the ffmpeg binary (video frame extraction is ffmpeg as a child process).
 *
 * Lookup order, first hit wins:
 *   1. `ffmpegPath` passed by the caller;
 *   2. the `VIGIL_FFMPEG` environment variable (a system ffmpeg the operator configured);
 *   3. the binary shipped inside npm by `@ffmpeg-installer/ffmpeg` (so `npm install` is enough);
 *   4. `ffmpeg` on the PATH (platforms the npm package does not cover).
 * The npm binary comes before the PATH because its version is pinned: the conformance figures in
 * docs/video.md were measured with it, and a distribution's ffmpeg may scale pixels differently.
 *
 * Every process started here is tracked until it has exited, is killed on timeout or abort, and
 * never outlives the operation that started it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { VigilError } from '../core/errors.js';

export type FfmpegSource = 'option' | 'env' | 'npm' | 'path';

export interface FfmpegBinary {
  path: string;
  /** Where the path came from (see the lookup order above). */
  source: FfmpegSource;
}

export interface FfmpegLocateOptions {
  /** Use this binary; fails with VIGIL_ERR_FFMPEG_MISSING if it is not an executable file. */
  ffmpegPath?: string;
  /** Environment to read VIGIL_FFMPEG and PATH from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(env: NodeJS.ProcessEnv, command = 'ffmpeg'): string | undefined {
  const name = process.platform === 'win32' && !command.endsWith('.exe') ? `${command}.exe` : command;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

let npmBinary: Promise<string | undefined> | undefined;

/** The binary from @ffmpeg-installer/ffmpeg, or undefined when the package has none for this platform. */
function npmFfmpeg(): Promise<string | undefined> {
  npmBinary ??= import('@ffmpeg-installer/ffmpeg').then(
    (m) => {
      const path = (m.default ?? m).path;
      return typeof path === 'string' && isExecutableFile(path) ? path : undefined;
    },
    // The package throws a string on unsupported platforms and when its binary package is missing.
    () => undefined,
  );
  return npmBinary;
}

/** Finds the ffmpeg to use. Throws VIGIL_ERR_FFMPEG_MISSING naming every place that was tried. */
export async function locateFfmpeg(options: FfmpegLocateOptions = {}): Promise<FfmpegBinary> {
  const env = options.env ?? process.env;
  const configured: [string | undefined, FfmpegSource, string][] = [
    [options.ffmpegPath, 'option', 'the ffmpegPath option'],
    [env.VIGIL_FFMPEG, 'env', 'VIGIL_FFMPEG'],
  ];
  for (const [path, source, label] of configured) {
    if (path === undefined || path === '') continue;
    if (!isAbsolute(path) && !path.includes('/') && !path.includes('\\')) {
      // A bare command name: look it up on the PATH.
      const found = onPath(env, path);
      if (found) return { path: found, source };
    } else if (isExecutableFile(path)) {
      return { path, source };
    }
    // An explicit choice that does not work is an error, never a silent fallback to another binary.
    throw new VigilError('VIGIL_ERR_FFMPEG_MISSING', `ffmpeg configured by ${label} is not an executable file: ${path}`);
  }
  const npm = await npmFfmpeg();
  if (npm) return { path: npm, source: 'npm' };
  const system = onPath(env);
  if (system) return { path: system, source: 'path' };
  throw new VigilError(
    'VIGIL_ERR_FFMPEG_MISSING',
    'No ffmpeg found: set VIGIL_FFMPEG to an ffmpeg binary, install @ffmpeg-installer/ffmpeg, or put ffmpeg on the PATH',
  );
}

const live = new Set<ChildProcess>();

/** Number of ffmpeg processes started by this module that have not exited yet (diagnostics, tests). */
export function liveFfmpegProcesses(): number {
  return live.size;
}

export interface FfmpegRunOptions {
  /** Kill the process and fail with VIGIL_ERR_TIMEOUT after this many milliseconds (0 = no limit). */
  timeoutMs?: number;
  /** Kill the process when this signal aborts; the operation rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Keep at most this many bytes of stderr (the tail). Default 64 KiB. */
  stderrLimit?: number;
}

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One running ffmpeg: stdout is for the caller, stdin is closed, stderr is kept (bounded tail).
 * `stop()` kills it (SIGKILL) and resolves once it has exited. `failure` is set when it was stopped
 * for a timeout or an abort, so the caller reports that instead of a broken pipe.
 */
export class FfmpegProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<FfmpegExit>;
  failure: unknown;
  private stderrChunks: Buffer[] = [];
  private stderrBytes = 0;
  private readonly stderrLimit: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort: (() => void) | undefined;
  private readonly signal: AbortSignal | undefined;

  constructor(binary: string, args: readonly string[], options: FfmpegRunOptions = {}) {
    this.stderrLimit = options.stderrLimit ?? 64 * 1024;
    if (options.signal?.aborted) throw abortError(options.signal);
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    this.child = child;
    live.add(child);
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        live.delete(child);
        this.cleanup();
        resolve({ code, signal });
      };
      child.once('error', (err) => {
        // Spawn failures (ENOENT, EACCES) come here and no 'close' may follow.
        this.failure ??= new VigilError('VIGIL_ERR_FFMPEG_MISSING', `ffmpeg could not be started (${binary}): ${err.message}`, { cause: err });
        done(null, null);
      });
      child.once('close', done);
    });
    child.stderr!.on('data', (chunk: Buffer) => this.keepStderr(chunk));
    const timeoutMs = options.timeoutMs ?? 0;
    if (timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.failure ??= new VigilError('VIGIL_ERR_TIMEOUT', `ffmpeg was stopped after ${timeoutMs} ms (timeout)`);
        this.kill();
      }, timeoutMs);
      this.timer.unref?.();
    }
    this.signal = options.signal;
    if (this.signal) {
      const signal = this.signal;
      this.onAbort = () => {
        this.failure ??= abortError(signal);
        this.kill();
      };
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  private keepStderr(chunk: Buffer): void {
    this.stderrChunks.push(chunk);
    this.stderrBytes += chunk.length;
    while (this.stderrBytes - this.stderrChunks[0].length >= this.stderrLimit) {
      this.stderrBytes -= this.stderrChunks.shift()!.length;
    }
  }

  /** stderr so far (its last `stderrLimit` bytes), as text. */
  stderr(): string {
    return Buffer.concat(this.stderrChunks).toString('utf8');
  }

  private cleanup(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.signal && this.onAbort) this.signal.removeEventListener('abort', this.onAbort);
  }

  private kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /** Kills the process if it is still running and waits for it to exit. Safe to call twice. */
  async stop(): Promise<FfmpegExit> {
    this.kill();
    return this.exited;
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** Runs ffmpeg to completion, discarding stdout; resolves with the exit status and stderr. */
export async function runFfmpeg(binary: string, args: readonly string[], options: FfmpegRunOptions = {}): Promise<FfmpegExit & { stderr: string }> {
  const proc = new FfmpegProcess(binary, args, options);
  proc.child.stdout!.resume();
  const exit = await proc.exited;
  if (proc.failure) throw proc.failure;
  return { ...exit, stderr: proc.stderr() };
}
