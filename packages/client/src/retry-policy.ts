/** How a client retries a call that got no answer (see `KVClientOptions.retry`). */
export interface RetryPolicy {
  /** Tries per call, the first included; 1 turns retries off. @default 5 */
  attempts?: number;
  /**
   * The backoff before the first retry that goes back to a node already tried in the call; each such retry waits
   * twice as long as the one before (from half of it to all of it, at random). A retry on a node not yet tried
   * goes at once. @default 25
   */
  baseDelayMs?: number;
  /** The longest backoff, and the longest wait between two probes of a node that is down. @default 1000 */
  maxDelayMs?: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<Required<RetryPolicy>> = Object.freeze({
  attempts: 5,
  baseDelayMs: 25,
  maxDelayMs: 1000,
});

/** The policy with its defaults; a TypeError naming the option for a value out of range. */
export function resolveRetryPolicy(policy: RetryPolicy = {}): Required<RetryPolicy> {
  if (typeof policy !== 'object' || policy === null) {
    throw new TypeError(`Expected \`retry\` to be an object, got \`${String(policy)}\``);
  }
  const unknown = Object.keys(policy).filter((name) => !(name in DEFAULT_RETRY_POLICY));
  if (unknown.length > 0) {
    throw new TypeError(`Unknown option \`retry.${unknown[0]}\`: expected attempts, baseDelayMs, maxDelayMs`);
  }
  const resolved = { ...DEFAULT_RETRY_POLICY, ...definedOnly(policy) };
  if (!Number.isInteger(resolved.attempts) || resolved.attempts < 1) {
    throw new TypeError(
      `Expected \`retry.attempts\` to be an integer from 1 and up, got \`${resolved.attempts}\``,
    );
  }
  for (const name of ['baseDelayMs', 'maxDelayMs'] as const) {
    const value = resolved[name];
    if (!Number.isFinite(value) || value < 0) {
      throw new TypeError(`Expected \`retry.${name}\` to be a number from 0 and up, got \`${value}\``);
    }
  }
  return resolved;
}

/**
 * The wait before the `round`-th return to nodes already tried (1 for the first): exponential, capped, with "equal
 * jitter" (half fixed, half random), so that clients that failed together do not come back together.
 */
export function backoffDelay(round: number, policy: Required<RetryPolicy>, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, round - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function definedOnly<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as Partial<T>;
}
