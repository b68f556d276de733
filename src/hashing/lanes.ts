/**
 * Which hashing item runs next, by expected cost, so an ordinary upload is never stuck behind a burst of
 * expensive ones (issue #22: "an ordinary upload sent beside four of them answers within a second").
 *
 * Two rules:
 * - Heavy items (animations and videos, pictures over the whole-decode size) may hold at most
 *   `heavySlots` of the `slots` threads, so with two threads or more a light item always finds one free
 *   within one light item's time, however many heavy ones wait.
 * - Within a lane, the cheapest expected item goes first (ties: first come). An item passed over
 *   `maxPasses` times goes first regardless, so a steady flow of small items cannot starve a larger one.
 *
 * Pure scheduling: the task is any async function, so tests observe the order without threads or clocks.
 */

export interface LaneItem {
  /** Expected decoded pixels (see expected-cost.ts); orders items within a lane. */
  cost: number;
  heavy: boolean;
}

interface Waiting extends LaneItem {
  seq: number;
  passes: number;
  start: () => void;
}

export class LaneScheduler {
  private readonly light: Waiting[] = [];
  private readonly heavy: Waiting[] = [];
  private running = 0;
  private runningHeavy = 0;
  private seq = 0;

  /**
   * `heavySlots` defaults to all but one of `slots` (all of one): with one thread, heavy items still run,
   * but only when no light one waits.
   */
  constructor(
    readonly slots: number,
    readonly heavySlots = Math.max(1, slots - 1),
    readonly maxPasses = 4 * slots,
  ) {}

  /** Items started and not finished, and items waiting. */
  get counts(): { running: number; runningHeavy: number; waiting: number } {
    return { running: this.running, runningHeavy: this.runningHeavy, waiting: this.light.length + this.heavy.length };
  }

  /** Runs `task` when its turn comes; settles as the task does. */
  run<T>(item: LaneItem, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiting: Waiting = {
        cost: item.cost,
        heavy: item.heavy,
        seq: this.seq++,
        passes: 0,
        start: () => {
          this.running++;
          if (item.heavy) this.runningHeavy++;
          let settled: Promise<T>;
          try {
            settled = task();
          } catch (err) {
            settled = Promise.reject(err);
          }
          settled.then(resolve, reject).finally(() => {
            this.running--;
            if (item.heavy) this.runningHeavy--;
            this.pump();
          });
        },
      };
      (item.heavy ? this.heavy : this.light).push(waiting);
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.slots) {
      const lane = this.light.length > 0 ? this.light : this.heavy.length > 0 && this.runningHeavy < this.heavySlots ? this.heavy : undefined;
      if (!lane) return;
      this.take(lane).start();
    }
  }

  /** The next item of a lane: one passed over too often, else the cheapest (first come on ties). */
  private take(lane: Waiting[]): Waiting {
    let best = 0;
    for (let i = 1; i < lane.length; i++) {
      const a = lane[i]!;
      const b = lane[best]!;
      if (b.passes >= this.maxPasses) break;
      if (a.passes >= this.maxPasses || a.cost < b.cost || (a.cost === b.cost && a.seq < b.seq)) best = i;
    }
    const [chosen] = lane.splice(best, 1);
    for (const other of lane) if (other.seq < chosen!.seq) other.passes++;
    return chosen!;
  }
}
