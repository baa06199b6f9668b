import { QuorumNotReachedError, reasonOf } from '@kvdb/core';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { DEFAULT_CONCURRENCY } from './defaults.js';

export type Settled<T> =
  | { target: string; ok: true; value: T }
  | { target: string; ok: false; error: unknown };

/** A target's answer that the caller has begun itself: see `QuorumOptions.own`. */
export type OwnAnswer<T> = Settled<T> | { target: string; pending: Promise<T> };

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
  /** Calls still running when the outcome was decided; with none, `settled` holds `succeeded` and `failed`. */
  inFlight: number;
}

export interface QuorumOptions<T = unknown> {
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
  /**
   * One target's answer, begun by the caller before the quorum (a coordinator asks its own replica directly, not
   * through a call): settled already when the replica answered at once, which costs no promise, queue slot or
   * microtask, or still `pending`. That target is not called, and its answer counts as one of the first `fanout`.
   * An answer from a target not among the targets is ignored.
   */
  own?: OwnAnswer<T>;
}

/** The error of an operation whose quorum was not reached: who answered, who failed and why. */
export function quorumFailure(
  operation: string,
  key: string | undefined,
  replicas: readonly string[],
  required: number,
  outcome: Pick<QuorumOutcome<unknown>, 'succeeded' | 'failed' | 'timedOut'>,
): QuorumNotReachedError {
  return QuorumNotReachedError.fromFailure({
    operation,
    key,
    required,
    acked: outcome.succeeded.length,
    replicas: [...replicas],
    failed: outcome.failed.map(({ target, error }) => ({ replica: target, reason: reasonOf(error) })),
    timedOut: outcome.timedOut,
  });
}

/** The call's result as a `Settled`, which never rejects. */
function settledOf<T>(target: string, promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ target, ok: true, value }),
    (error: unknown) => ({ target, ok: false, error }),
  );
}

/**
 * The outcome of a quorum whose one target's answer is known before it starts (every request to a single node):
 * decided at once, without a call, a timer or a promise per step.
 */
function decidedBy<T>(answer: Settled<T>, required: number): QuorumOutcome<T> {
  return {
    reached: answer.ok ? required <= 1 : required <= 0,
    timedOut: false,
    succeeded: answer.ok ? [{ target: answer.target, value: answer.value }] : [],
    failed: answer.ok ? [] : [{ target: answer.target, error: answer.error }],
    settled: Promise.resolve([answer]),
    inFlight: 0,
  };
}

export interface ParallelExecutorInit {
  /**
   * Most replica calls in flight at once, across all requests of this node (its own replica's answers aside).
   * @default DEFAULT_CONCURRENCY
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
    this.limit = pLimit(init.concurrency ?? DEFAULT_CONCURRENCY);
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
    options: QuorumOptions<T>,
  ): Promise<QuorumOutcome<T>> {
    const { required, timeoutMs, waitForAll = false, graceMs = 0, own } = options;
    if (targets.length === 1 && own !== undefined && !('pending' in own) && own.target === targets[0]) {
      return Promise.resolve(decidedBy(own, required));
    }
    const known = own === undefined ? -1 : targets.indexOf(own.target);
    // An answer from a target not among the targets is ignored; one still on its way must not reject unheard.
    if (own !== undefined && known === -1 && 'pending' in own) own.pending.catch(() => {});
    const succeeded: Array<{ target: string; value: T }> = [];
    const failed: Array<{ target: string; error: unknown }> = [];

    return new Promise((resolve) => {
      let decided = false;
      /** The hedge while one is due, then the deadline: one timer at a time. */
      let timer: ReturnType<Clock['setTimeout']> | undefined;
      let grace: ReturnType<Clock['setTimeout']> | undefined;
      const decide = (reached: boolean, timedOut: boolean): void => {
        if (decided) return;
        decided = true;
        if (timer !== undefined) this.clock.clearTimeout(timer);
        if (grace !== undefined) this.clock.clearTimeout(grace);
        if (finished === started) settle(results.filter((entry) => entry !== undefined));
        resolve({
          reached: reached || (timedOut && waitForAll && succeeded.length >= required),
          timedOut,
          succeeded: [...succeeded],
          failed: [...failed],
          settled,
          inFlight: started - finished,
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
      // Targets called (the own answer counts as called), answers recorded, and the next target to call.
      let started = 0;
      let finished = 0;
      let next = 0;
      let settle: (results: Array<Settled<T>>) => void = () => {};
      const settled = new Promise<Array<Settled<T>>>((resolve) => {
        settle = resolve;
      });
      const record = (index: number, result: Settled<T>): void => {
        results[index] = result;
        finished++;
        if (result.ok) succeeded.push({ target: result.target, value: result.value });
        else {
          failed.push({ target: result.target, error: result.error });
          if (!decided && started < targets.length) startNext();
        }
        check();
        if (finished === started && (decided || started === targets.length)) {
          settle(results.filter((entry) => entry !== undefined));
        }
      };
      const startNext = (): void => {
        if (next === known) next++;
        const index = next++;
        const target = targets[index];
        if (target === undefined) throw new RangeError(`no target ${index} of ${targets.length} to call`);
        started++;
        void settledOf(
          target,
          this.limit(() => call(target)),
        ).then((result) => record(index, result));
      };
      const fanout = Math.min(targets.length, Math.max(options.fanout ?? targets.length, required));
      // The calls leave before the own answer is recorded, so that a quorum it completes on its own still
      // collects theirs in `settled`.
      const ownAnswer = known === -1 ? undefined : own;
      if (ownAnswer !== undefined) started++;
      while (started < fanout) startNext();
      if (ownAnswer !== undefined && 'pending' in ownAnswer) {
        void settledOf(ownAnswer.target, ownAnswer.pending).then((result) => record(known, result));
      } else if (ownAnswer !== undefined) record(known, ownAnswer);

      if (required <= 0) decide(true, false);
      else if (required > targets.length) decide(false, false);
      else if (!decided) {
        const { hedgeMs } = options;
        const deadline = (ms: number) => this.clock.setTimeout(() => decide(false, true), ms);
        if (started < targets.length && hedgeMs !== undefined && hedgeMs < timeoutMs) {
          timer = this.clock.setTimeout(() => {
            while (!decided && started < targets.length) startNext();
            if (!decided) timer = deadline(timeoutMs - hedgeMs);
          }, hedgeMs);
        } else timer = deadline(timeoutMs);
      }
    });
  }
}
