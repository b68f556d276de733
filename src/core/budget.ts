/**
 * The work one item (a file, an upload) may cost: decoded pixels across all its frames, frames, and wall
 * time, plus cancellation. One object travels from the route or CLI through the hashing pool into the
 * worker and the decoders, which charge it before each piece of work, so a file whose header promises a
 * huge canvas, or thousands of frames, stops at the budget instead of at the machine's limits.
 *
 * Across the worker boundary it travels as `ItemBudgetInit` (plain data) plus a shared cancel flag: the
 * caller's AbortSignal sets the flag, the worker's decoders see it at their next charge.
 */
import { VigilError } from './errors.js';

export interface BudgetLimits {
  /** Pixels the decoders may produce for this item, counting every frame they compose (canvas size × frames). */
  pixels: number;
  /** Frames decoded (animations, videos). */
  frames: number;
  /** Wall time for the whole item, in milliseconds. */
  timeoutMs: number;
}

/**
 * Defaults: a still up to 128 megapixels (a JPEG up to 8 gigapixels, decoded at 1/8 scale); an animation
 * may compose 128 M canvas pixels (1,000 frames of 360×360, 60 of 1080p), about a second of decoding
 * and hashing on one core.
 */
export const DEFAULT_BUDGET: BudgetLimits = { pixels: 128_000_000, frames: 20_000, timeoutMs: 120_000 };

/** What crosses to a worker thread: the limits, the absolute deadline, and the shared cancel flag. */
export interface ItemBudgetInit {
  limits: BudgetLimits;
  deadline: number;
  /** Int32Array over a SharedArrayBuffer; non-zero once cancelled. */
  cancelFlag?: Int32Array;
}

export class ItemBudget {
  readonly limits: BudgetLimits;
  readonly deadline: number;
  private pixelsUsed = 0;
  private framesUsed = 0;
  private readonly flag: Int32Array;
  private readonly controller = new AbortController();

  constructor(limits: Partial<BudgetLimits> = {}, options: { signal?: AbortSignal; deadline?: number; cancelFlag?: Int32Array } = {}) {
    this.limits = { ...DEFAULT_BUDGET, ...limits };
    this.deadline = options.deadline ?? Date.now() + this.limits.timeoutMs;
    this.flag = options.cancelFlag ?? new Int32Array(new SharedArrayBuffer(4));
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) this.cancel();
      else signal.addEventListener('abort', () => this.cancel(), { once: true });
    }
  }

  static fromInit(init: ItemBudgetInit): ItemBudget {
    return new ItemBudget(init.limits, { deadline: init.deadline, ...(init.cancelFlag ? { cancelFlag: init.cancelFlag } : {}) });
  }

  toInit(): ItemBudgetInit {
    return { limits: this.limits, deadline: this.deadline, cancelFlag: this.flag };
  }

  cancel(): void {
    Atomics.store(this.flag, 0, 1);
    if (!this.controller.signal.aborted) this.controller.abort(new VigilError('VIGIL_ERR_CANCELLED', 'Hashing was cancelled (the client went away)'));
  }

  get cancelled(): boolean {
    return Atomics.load(this.flag, 0) !== 0;
  }

  /**
   * Aborts on cancellation (in this thread) or at the deadline: for ffmpeg and anything else that takes
   * a signal. A cancel set by another thread is seen by `check()`.
   */
  get signal(): AbortSignal {
    const remaining = this.remainingMs();
    return AbortSignal.any([this.controller.signal, AbortSignal.timeout(Math.max(1, remaining))]);
  }

  remainingMs(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  /** Whole seconds left, at least 1: sharp's `timeout` (libvips stops evaluating after it). */
  remainingSeconds(): number {
    return Math.max(1, Math.ceil(this.remainingMs() / 1000));
  }

  get pixelsLeft(): number {
    return Math.max(0, this.limits.pixels - this.pixelsUsed);
  }

  get framesLeft(): number {
    return Math.max(0, this.limits.frames - this.framesUsed);
  }

  get used(): { pixels: number; frames: number } {
    return { pixels: this.pixelsUsed, frames: this.framesUsed };
  }

  /** Throws VIGIL_ERR_CANCELLED or VIGIL_ERR_TIMEOUT; call between pieces of work. */
  check(): void {
    if (this.cancelled) throw new VigilError('VIGIL_ERR_CANCELLED', 'Hashing was cancelled (the client went away)');
    if (Date.now() > this.deadline) throw new VigilError('VIGIL_ERR_TIMEOUT', `Hashing was stopped after ${this.limits.timeoutMs} ms (the per-item time budget)`);
  }

  /** True when `pixels` (and `frames`) fit in what is left; charges nothing. */
  fits(pixels: number, frames = 0): boolean {
    return pixels <= this.pixelsLeft && frames <= this.framesLeft;
  }

  /** Charges work about to be done; throws VIGIL_ERR_BUDGET (naming the budget) when it does not fit. */
  charge(pixels: number, frames = 0, what = 'decoding'): void {
    this.check();
    if (pixels > this.pixelsLeft) {
      throw new VigilError('VIGIL_ERR_BUDGET', `Stopped: ${what} needs ${pixels} more decoded pixels, over the per-item budget of ${this.limits.pixels} (${this.pixelsUsed} used)`);
    }
    if (frames > this.framesLeft) {
      throw new VigilError('VIGIL_ERR_BUDGET', `Stopped: ${what} needs ${frames} more frames, over the per-item budget of ${this.limits.frames} frames (${this.framesUsed} used)`);
    }
    this.pixelsUsed += pixels;
    this.framesUsed += frames;
  }
}
