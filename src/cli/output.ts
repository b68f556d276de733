/** Writing to stdout with backpressure, and a progress line on stderr when it is a terminal. */
import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** Whether a stream is a terminal (progress lines are drawn only there). */
export function isTerminal(stream: Writable): boolean {
  return (stream as Writable & { isTTY?: boolean }).isTTY === true;
}

export async function writeLine(out: Writable, line: string): Promise<void> {
  if (!out.write(line + '\n')) await once(out, 'drain');
}

export class Progress {
  private count = 0;
  private failed = 0;
  private lastDraw = 0;
  private readonly started = Date.now();

  constructor(
    private readonly enabled: boolean,
    private readonly noun: string,
    private readonly err: Writable,
  ) {}

  tick(failed: boolean): void {
    this.count++;
    if (failed) this.failed++;
    const now = Date.now();
    if (this.enabled && now - this.lastDraw > 100) {
      this.lastDraw = now;
      this.draw(now);
    }
  }

  private draw(now: number): void {
    const rate = this.count / Math.max(0.001, (now - this.started) / 1000);
    this.err.write(`\r${this.count} ${this.noun} · ${this.failed} failed · ${rate.toFixed(1)}/s\x1b[K`);
  }

  done(): void {
    if (this.enabled) {
      this.draw(Date.now());
      this.err.write('\n');
    }
  }
}
