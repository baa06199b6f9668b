/**
 * Time as the coordinator sees it. Injected so that one test process can run a whole cluster on a fake clock;
 * `systemClock` calls the global timer functions at call time, so `sinon.useFakeTimers()` fakes it too.
 */
export interface Clock {
  /** Milliseconds since the epoch; should never go backwards by much, since versions are stamped from it. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = { readonly __timer: unique symbol } | number | object;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    timer.unref?.();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Resolves after `ms` of the clock's time, or at once when `signal` aborts: how a task waits between its steps. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const wake = (): void => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', wake);
      resolve();
    };
    const timer = clock.setTimeout(wake, ms);
    signal?.addEventListener('abort', wake, { once: true });
  });
}

/** A loop started by `repeat`. */
export interface Repeating {
  stop(): void;
}

/**
 * Runs `task` every `intervalMs`, measured from the end of one run to the start of the next, so runs never
 * overlap; a run that fails goes to `onError` and the loop goes on. The background loops of a node (probing,
 * anti-entropy, rebalancing, hint replay, tombstone collection) all run this way. A function for `intervalMs` is
 * asked for each pause, so a task can space its runs by what the last one cost.
 */
export function repeat(
  clock: Clock,
  intervalMs: number | (() => number),
  task: () => unknown,
  onError: (error: unknown) => void,
): Repeating {
  let running = true;
  let timer: TimerHandle | undefined;
  const pause = typeof intervalMs === 'number' ? () => intervalMs : intervalMs;
  const tick = (): void => {
    Promise.resolve()
      .then(task)
      .catch(onError)
      .finally(() => {
        if (running) timer = clock.setTimeout(tick, pause());
      });
  };
  timer = clock.setTimeout(tick, pause());
  return {
    stop: () => {
      running = false;
      if (timer !== undefined) clock.clearTimeout(timer);
    },
  };
}
