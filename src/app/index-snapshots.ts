/**
 * When the matcher's snapshot (banks/snapshot.ts) is read and written: read once before the first sync of a
 * process; written by the process that runs the background work, soon after it starts (so the next start is
 * fast), then at most every `intervalMs` when the feed has moved, and after a compaction (the index then sits
 * in its final segments, which load without another compaction). Writing is synchronous (one consistent
 * state); at 1M signals it blocks the event loop for about the time the file write takes — see bench:cold-start.
 */
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { BankMatcher } from '../banks/matcher.js';
import { hasSnapshot } from '../banks/snapshot.js';

/** Loads the snapshot in `dir` into a fresh matcher; anything unusable is logged and the whole feed replayed. */
export async function restoreIndex(matcher: BankMatcher, dir: string, log: Logger): Promise<number | undefined> {
  if (!hasSnapshot(dir)) {
    log.info({ dir }, 'no index snapshot yet: loading the indexes from the whole change feed');
    return undefined;
  }
  const started = performance.now();
  try {
    const { position } = await matcher.restoreSnapshot(dir);
    log.info({ dir, position, ms: Math.round(performance.now() - started) }, 'index snapshot loaded; applying the change feed since it');
    return position;
  } catch (err) {
    log.warn({ err, dir }, 'index snapshot unusable: loading the indexes from the whole change feed');
    return undefined;
  }
}

export class IndexSnapshots {
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Immediate | undefined;
  private savedPosition: number;
  private savedAt = 0;

  constructor(private readonly o: { matcher: BankMatcher; dir: string; intervalMs: number; log: Logger; restoredPosition?: number; now?: () => number }) {
    this.savedPosition = o.restoredPosition ?? -1;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.save(), this.o.intervalMs);
    this.timer.unref();
    // Soon, not now: the caller finishes starting first.
    this.first = setImmediate(() => this.save()).unref();
  }

  /** After a compaction: worth a snapshot unless one was written less than a tenth of the interval ago. */
  compacted(): void {
    if (this.timer && this.now() - this.savedAt >= this.o.intervalMs / 10) this.save();
  }

  /** Writes a snapshot when the feed moved since the last one; failures are logged (the feed stays the truth). */
  save(): boolean {
    const { matcher, dir, log } = this.o;
    if (matcher.position === this.savedPosition) return false;
    const started = performance.now();
    try {
      mkdirSync(dir, { recursive: true });
      const position = matcher.position;
      if (!matcher.saveSnapshot(dir)) return false;
      this.savedPosition = position;
      this.savedAt = this.now();
      log.info({ dir, position, ms: Math.round(performance.now() - started) }, 'index snapshot written');
      return true;
    } catch (err) {
      log.error({ err, dir }, 'index snapshot failed');
      return false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.first) clearImmediate(this.first);
    this.timer = undefined;
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }
}
