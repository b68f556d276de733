/**
 * Retroactive matching: hashes of content that matched nothing (kept only when the operator enables it, for
 * N days) are matched again whenever the banks change, so material that a list adds next week is still found.
 * Each retained submission remembers the change-feed position it was last checked at; a run checks only those
 * behind the store, then expired ones are purged.
 */
import type { BankMatcher } from '../banks/matcher.js';
import type { Store } from '../store/types.js';
import type { ContentPipeline, ContentResult } from './pipeline.js';
import { deserializeQuery } from './query.js';
import type { DecisionRecords } from '../records/decisions.js';

export interface RetroRunResult {
  checked: number;
  late: ContentResult[];
  purged: number;
}

export class RetroMatcher {
  private running: Promise<RetroRunResult> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: { store: Store; matcher: BankMatcher; records: DecisionRecords; pipeline: ContentPipeline; pageSize?: number; now?: () => Date; log?: (msg: string, err?: unknown) => void }) {}

  /** One pass; concurrent calls share it. */
  run(): Promise<RetroRunResult> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<RetroRunResult> {
    const { records, store, matcher } = this.o;
    const purged = await records.purgeExpired((this.o.now?.() ?? new Date()).toISOString());
    // The matcher must hold every change up to `seq` before a row can be marked checked at `seq`.
    const seq = await store.latestSeq();
    await matcher.sync();
    const late: ContentResult[] = [];
    let checked = 0;
    let afterId = 0;
    for (;;) {
      const page = await records.retainedBefore(seq, afterId, this.o.pageSize ?? 500);
      if (page.length === 0) break;
      const unmatched: number[] = [];
      for (const row of page) {
        const result = await this.o.pipeline.rematch(row, deserializeQuery(row.query));
        if (result) late.push(result);
        else unmatched.push(row.id);
        checked++;
      }
      await records.markRetainedChecked(unmatched, seq);
      afterId = page[page.length - 1].id;
    }
    return { checked, late, purged };
  }

  start(intervalMs = 60_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.run().catch((err: unknown) => this.o.log?.('retroactive matching failed', err)), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
