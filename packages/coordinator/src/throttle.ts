import { type Clock, sleep } from './clock.js';

/**
 * A token bucket shared by every background transfer of a node (rebalancing, a leave's drain, hint replay,
 * anti-entropy's pushes and pulls), so that together they send at most `bytesPerSecond` on average, after a burst
 * of at most one second's worth: the data a node moves in the background never crowds out its requests (Cassandra's
 * `stream_throughput_outbound`). Time is the injected clock's, so a fake clock drives it.
 *
 * A transfer asks before it sends (`take`), and one larger than the bucket waits for its whole cost rather than
 * being refused: batches are cut by bytes elsewhere, and a single record may exceed any bucket.
 */
export class Throttle {
  /** Bytes per ms; Infinity when unthrottled. */
  private readonly rate: number;
  private readonly burstMs: number;
  /**
   * When the bytes taken so far will have drained at `rate` (a theoretical arrival time, as in GCRA): a take may
   * send at once while this is at most `burstMs` ahead of now.
   */
  private due = Number.NEGATIVE_INFINITY;
  /** Bytes taken since the throttle was made: what the node's background transfers sent. */
  taken = 0;

  /** `bytesPerSecond` 0 (or Infinity) leaves transfers unthrottled. */
  constructor(
    private readonly clock: Clock,
    bytesPerSecond: number,
  ) {
    if (!(bytesPerSecond >= 0)) {
      throw new RangeError(`Expected \`bytesPerSecond\` to be a number from 0 and up, got ${bytesPerSecond}`);
    }
    this.rate = bytesPerSecond === 0 ? Number.POSITIVE_INFINITY : bytesPerSecond / 1_000;
    this.burstMs = 1_000;
  }

  /** Whether `take` ever waits. */
  get limited(): boolean {
    return Number.isFinite(this.rate);
  }

  /**
   * Resolves once `bytes` may be sent: at once within the burst, else when the bytes taken before have drained.
   * Takes are served in the order they are made. When `signal` aborts, resolves at once (the caller then checks it).
   */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    this.taken += bytes;
    if (!this.limited) return Promise.resolve();
    const now = this.clock.now();
    this.due = Math.max(this.due, now) + bytes / this.rate;
    const waitMs = this.due - this.burstMs - now;
    return waitMs > 0 ? sleep(this.clock, Math.ceil(waitMs), signal) : Promise.resolve();
  }
}

/** A throttle that never waits: for parts built without a node's shared one. */
export function unthrottled(clock: Clock): Throttle {
  return new Throttle(clock, 0);
}
