/**
 * Retroactive matching: hashes of content that matched nothing (kept only when the operator enables it, for
 * N days) are matched again when the banks gain signals, so material that a list adds next week is still found.
 * Each retained submission remembers the change-feed position it was last checked at (the matcher's position
 * when it was submitted). A run looks the signals added or changed since the oldest such position up in an
 * index of the retained hashes (retained-index.ts), re-matches only the submissions they may match, marks the
 * rest checked, then purges expired ones. Retained rows are read whole once, when first indexed.
 */
import type { BankMatcher } from '../banks/matcher.js';
import { SIGNAL_TYPE_INFO, thresholdSignalTypes } from '../signals/registry.js';
import type { Store } from '../store/types.js';
import type { ContentPipeline, ContentResult } from './pipeline.js';
import { deserializeQuery } from './query.js';
import type { DecisionRecords } from '../records/decisions.js';
import { RetainedIndex } from './retained-index.js';

export interface RetroRunResult {
  /** Retained submissions brought up to date with the change feed. */
  checked: number;
  /** Of those, the ones a new signal was near: re-matched through the matcher. */
  rematched: number;
  late: ContentResult[];
  purged: number;
}

const FEED_PAGE = 10_000;
const MARK_PAGE = 500;

export class RetroMatcher {
  private running: Promise<RetroRunResult> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly index = new RetainedIndex();
  private readonly expiresAt = new Map<number, string>();

  constructor(private readonly o: { store: Store; matcher: BankMatcher; records: DecisionRecords; pipeline: ContentPipeline; pageSize?: number; now?: () => Date; log?: (msg: string, err?: unknown) => void }) {}

  /** One pass; concurrent calls share it. */
  run(): Promise<RetroRunResult> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private forget(id: number): void {
    this.index.remove(id);
    this.expiresAt.delete(id);
  }

  private async pass(): Promise<RetroRunResult> {
    const { records, store, matcher, pipeline } = this.o;
    const now = (this.o.now?.() ?? new Date()).toISOString();
    const purged = await records.purgeExpired(now);
    for (const [id, at] of this.expiresAt) if (at <= now) this.forget(id);
    // The matcher must hold every change up to `seq` before a row can be marked checked at `seq`.
    const seq = await store.latestSeq();
    await matcher.sync();

    // The rows behind the feed, and their positions; rows not indexed yet are read and indexed.
    const behind = new Map<number, number>();
    let oldest = seq;
    for (let afterId = 0; ;) {
      const page = await records.retainedPositionsBefore(seq, afterId, this.o.pageSize ?? 5000);
      if (page.length === 0) break;
      for (const r of page) {
        behind.set(r.id, r.checkedSeq);
        oldest = Math.min(oldest, r.checkedSeq);
      }
      for (const row of await records.retainedByIds(page.filter((r) => !this.index.has(r.id)).map((r) => r.id))) {
        this.index.add(row.id, deserializeQuery(row.query));
        this.expiresAt.set(row.id, row.expiresAt);
      }
      afterId = page[page.length - 1]!.id;
    }
    if (behind.size === 0) return { checked: 0, rematched: 0, late: [], purged };

    // Each change since the oldest position, looked up among the retained hashes (the widest threshold of any
    // bank: the matcher applies each bank's own when it re-matches).
    const banks = await store.listBanks();
    const radius = Math.max(...thresholdSignalTypes().flatMap((t) => [SIGNAL_TYPE_INFO[t].defaultThreshold!, ...banks.map((b) => b.thresholds[t] ?? 0)]));
    const candidates = new Set<number>();
    for (let after = oldest; after < seq; ) {
      const changes = await store.changesSince(after, FEED_PAGE);
      for (const change of changes) {
        if (change.seq > seq) break;
        if (change.deleted) continue;
        for (const id of this.index.candidates(change, radius)) {
          const checkedSeq = behind.get(id);
          if (checkedSeq !== undefined && checkedSeq < change.seq) candidates.add(id);
        }
      }
      if (changes.length < FEED_PAGE) break;
      after = changes[changes.length - 1]!.seq;
    }

    // Only the candidates are re-matched, through the matcher and the rules like any submission.
    const late: ContentResult[] = [];
    const sorted = [...candidates].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length; i += MARK_PAGE) {
      const rows = await records.retainedByIds(sorted.slice(i, i + MARK_PAGE));
      const found = new Set(rows.map((r) => r.id));
      // Gone meanwhile (expired, or matched through another route): nothing to re-match.
      for (const id of sorted.slice(i, i + MARK_PAGE)) if (!found.has(id)) this.forget(id);
      for (const row of rows) {
        const result = await pipeline.rematch(row, deserializeQuery(row.query));
        if (!result) continue;
        late.push(result);
        behind.delete(row.id);
        this.forget(row.id);
      }
    }
    const ids = [...behind.keys()];
    for (let i = 0; i < ids.length; i += MARK_PAGE) await records.markRetainedChecked(ids.slice(i, i + MARK_PAGE), seq);
    return { checked: ids.length + late.length, rematched: candidates.size, late, purged };
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
