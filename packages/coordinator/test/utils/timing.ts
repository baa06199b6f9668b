import sinon from 'sinon';

// Captured when the module loads, before any test fakes the globals, so polling keeps real time.
const realNow = Date.now;
const realSetImmediate = globalThis.setImmediate;

export interface EventuallyOptions {
  /** Give up after this many real ms. @default 2000 */
  timeoutMs?: number;
  /** What is awaited, for the failure message. */
  what?: string;
}

/**
 * Polls `condition` until it holds, yielding to the event loop in between, and fails after a real deadline.
 * For state that becomes true in the background (replication, read repair); never sleep and then assert.
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  options: EventuallyOptions = {},
): Promise<void> {
  const { timeoutMs = 2_000, what = 'the condition' } = options;
  const deadline = realNow() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (realNow() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise<void>((resolve) => realSetImmediate(resolve));
  }
}

/** Lets the real event loop turn once, fake timers or not: a rejection nobody handled is reported by then. */
export function realTurn(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve));
}

/**
 * Fake timers and `Date` at a realistic epoch. `nextTick` and `queueMicrotask` stay native: faking them would
 * stall promise-based code that never ticks the clock. Restore the result in `afterEach`.
 */
export function useFakeTimers(): sinon.SinonFakeTimers {
  return sinon.useFakeTimers({ now: 1_700_000_000_000, toNotFake: ['nextTick', 'queueMicrotask'] });
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/** A promise the test settles itself: a call held until the test lets it answer. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Whether a promise has settled yet, without awaiting it. */
export function track<T>(promise: Promise<T>): { readonly settled: boolean; promise: Promise<T> } {
  const state = { settled: false, promise };
  promise.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}
