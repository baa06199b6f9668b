import pLimit, { type LimitFunction } from 'p-limit';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

export type Settled<T> =
  | { target: string; ok: true; value: T }
  | { target: string; ok: false; error: unknown };

export interface QuorumOutcome<T> {
  /** Whether `required` calls succeeded before the deadline. */
  reached: boolean;
  /** Whether the deadline passed before the outcome was known. */
  timedOut: boolean;
  /** Calls that succeeded by the time the outcome was decided. */
  succeeded: Array<{ target: string; value: T }>;
  /** Calls that failed by the time the outcome was decided. */
  failed: Array<{ target: string; error: unknown }>;
  /** Every call's result, once all have settled: late answers feed read repair and hints. */
  settled: Promise<Array<Settled<T>>>;
}

export interface QuorumOptions {
  required: number;
  timeoutMs: number;
  /** Decide only when every call has settled (or at the deadline), to collect every answer there is. */
  waitForAll?: boolean;
  /**
   * Once the quorum is out of reach, wait this long (within the deadline) for calls still in flight, so that the
   * failure reports every replica that did answer rather than those that happened to answer first.
   * @default 0
   */
  graceMs?: number;
}

export interface ParallelExecutorInit {
  /**
   * Most replica calls in flight at once, across all requests of this node.
   * @default 512
   */
  concurrency?: number;
}

/**
 * Runs one call per replica in parallel, bounded by p-limit, and resolves as soon as the outcome is known:
 * `required` successes, too many failures for that to happen, or the deadline. Calls still in flight run on;
 * their results arrive through `settled`.
 */
export class ParallelExecutor {
  private readonly limit: LimitFunction;
  private readonly clock: Clock;

  constructor(components: { clock?: Clock } = {}, init: ParallelExecutorInit = {}) {
    this.clock = components.clock ?? systemClock;
    this.limit = pLimit(init.concurrency ?? 512);
  }

  /** Calls running now. */
  get activeCount(): number {
    return this.limit.activeCount;
  }

  /** Calls waiting for a slot. */
  get pendingCount(): number {
    return this.limit.pendingCount;
  }

  quorum<T>(
    targets: readonly string[],
    call: (target: string) => Promise<T>,
    options: QuorumOptions,
  ): Promise<QuorumOutcome<T>> {
    const { required, timeoutMs, waitForAll = false, graceMs = 0 } = options;
    const succeeded: Array<{ target: string; value: T }> = [];
    const failed: Array<{ target: string; error: unknown }> = [];

    return new Promise((resolve) => {
      let decided = false;
      let timer: ReturnType<Clock['setTimeout']> | undefined;
      let grace: ReturnType<Clock['setTimeout']> | undefined;
      const decide = (reached: boolean, timedOut: boolean): void => {
        if (decided) return;
        decided = true;
        if (timer !== undefined) this.clock.clearTimeout(timer);
        if (grace !== undefined) this.clock.clearTimeout(grace);
        resolve({
          reached: reached || (timedOut && waitForAll && succeeded.length >= required),
          timedOut,
          succeeded: [...succeeded],
          failed: [...failed],
          settled,
        });
      };
      const check = (): void => {
        if (waitForAll) {
          if (succeeded.length + failed.length === targets.length)
            decide(succeeded.length >= required, false);
        } else if (succeeded.length >= required) decide(true, false);
        else if (failed.length > targets.length - required) {
          const inFlight = targets.length - succeeded.length - failed.length;
          if (inFlight === 0 || graceMs <= 0) decide(false, false);
          else grace ??= this.clock.setTimeout(() => decide(false, false), graceMs);
        }
      };

      const settled = Promise.all(
        targets.map((target) =>
          this.limit(() => call(target)).then(
            (value): Settled<T> => {
              succeeded.push({ target, value });
              check();
              return { target, ok: true, value };
            },
            (error: unknown): Settled<T> => {
              failed.push({ target, error });
              check();
              return { target, ok: false, error };
            },
          ),
        ),
      );

      if (required <= 0) decide(true, false);
      else if (required > targets.length) decide(false, false);
      else if (!decided) timer = this.clock.setTimeout(() => decide(false, true), timeoutMs);
    });
  }
}
