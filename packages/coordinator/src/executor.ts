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
  /**
   * Call only the first `fanout` targets to begin with; each failure calls the next one in order, and so does
   * every target still uncalled after `hedgeMs`. Reads use it to ask just a quorum (the local replica first)
   * instead of every replica: half the replica traffic of a read, at the price of repairing only the replicas
   * asked. @default every target at once
   */
  fanout?: number;
  /** With `fanout`: how long to wait for the first calls before calling every other target too. */
  hedgeMs?: number;
}

/** The call's result as a `Settled`, which never rejects. */
function settledOf<T>(target: string, promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ target, ok: true, value }),
    (error: unknown) => ({ target, ok: false, error }),
  );
}

export interface ParallelExecutorInit {
  /**
   * Most replica calls in flight at once, across all requests of this node (calls made with `alone` aside).
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

  /**
   * A quorum of one call that skips the queue: how a coordinator asks its own replica when that is a request's
   * only target (every request to a single node), where p-limit's bookkeeping would cost more than the call.
   * The same deadline bounds it.
   */
  alone<T>(target: string, call: () => Promise<T>, timeoutMs: number): Promise<QuorumOutcome<T>> {
    const result = settledOf(target, call());
    const settled = result.then((one) => [one]);
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(
        () => resolve({ reached: false, timedOut: true, succeeded: [], failed: [], settled }),
        timeoutMs,
      );
      void result.then((one) => {
        this.clock.clearTimeout(timer);
        resolve({
          reached: one.ok,
          timedOut: false,
          succeeded: one.ok ? [{ target, value: one.value }] : [],
          failed: one.ok ? [] : [{ target, error: one.error }],
          settled,
        });
      });
    });
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
      let hedge: ReturnType<Clock['setTimeout']> | undefined;
      const decide = (reached: boolean, timedOut: boolean): void => {
        if (decided) return;
        decided = true;
        if (timer !== undefined) this.clock.clearTimeout(timer);
        if (grace !== undefined) this.clock.clearTimeout(grace);
        if (hedge !== undefined) this.clock.clearTimeout(hedge);
        if (finished === started) settle(results.filter((entry) => entry !== undefined));
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

      const results: Array<Settled<T>> = [];
      let started = 0;
      let finished = 0;
      let settle: (results: Array<Settled<T>>) => void = () => {};
      const settled = new Promise<Array<Settled<T>>>((resolve) => {
        settle = resolve;
      });
      const start = (index: number): void => {
        const target = targets[index]!;
        started++;
        const record = (result: Settled<T>): void => {
          results[index] = result;
          finished++;
          if (result.ok) succeeded.push({ target, value: result.value });
          else {
            failed.push({ target, error: result.error });
            if (!decided && started < targets.length) start(started);
          }
          check();
          if (finished === started && (decided || started === targets.length)) {
            settle(results.filter((entry) => entry !== undefined));
          }
        };
        void settledOf(
          target,
          this.limit(() => call(target)),
        ).then(record);
      };
      const fanout = Math.min(targets.length, Math.max(options.fanout ?? targets.length, required));
      for (let index = 0; index < fanout; index++) start(index);
      if (fanout < targets.length && options.hedgeMs !== undefined) {
        hedge = this.clock.setTimeout(() => {
          while (!decided && started < targets.length) start(started);
        }, options.hedgeMs);
      }

      if (required <= 0) decide(true, false);
      else if (required > targets.length) decide(false, false);
      else if (!decided) timer = this.clock.setTimeout(() => decide(false, true), timeoutMs);
    });
  }
}
