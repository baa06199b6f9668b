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
