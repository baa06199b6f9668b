import type { LoadPlan } from './load-generator.js';
import type { BenchOptions } from './options.js';

/**
 * Splits a run among its workers: each gets a contiguous block of the request slots (slot `n` talks to target
 * `n % targets`, so every worker spreads over every target) and, with `--requests`, a share of the requests in
 * proportion to its slots.
 */
export function workerPlans(options: BenchOptions): LoadPlan[] {
  const plans: LoadPlan[] = [];
  let firstSlot = 0;
  let requestsLeft = options.stop.requests ?? 0;
  for (let worker = 0; worker < options.workers; worker++) {
    const concurrency = share(options.concurrency, options.workers, worker);
    const base = loadPlan(options);
    if (options.stop.requests !== undefined) {
      const requests =
        worker === options.workers - 1
          ? requestsLeft
          : Math.round((options.stop.requests * concurrency) / options.concurrency);
      requestsLeft -= requests;
      base.stop = { requests };
    }
    plans.push({ ...base, concurrency, firstSlot });
    firstSlot += concurrency;
  }
  return plans;
}

/** The plan of the unmeasured prefill: one set of every key, in order, with the run's concurrency. */
export function warmupPlan(options: BenchOptions): LoadPlan {
  const plan = loadPlan(options);
  return {
    ...plan,
    concurrency: Math.min(options.concurrency, options.keyspace),
    stop: { requests: options.keyspace },
    workload: { ...plan.workload, ratio: { get: 0, set: 1 }, sequential: true },
  };
}

/** The plan of the unmeasured load after the prefill: the run's own workload, for `warmupMs`, in one process. */
export function warmupLoadPlan(options: BenchOptions): LoadPlan {
  return { ...loadPlan(options), stop: { durationMs: options.warmupMs } };
}

function loadPlan(options: BenchOptions): LoadPlan {
  return {
    targets: options.targets,
    concurrency: options.concurrency,
    stop: options.stop,
    timeoutMs: options.timeoutMs,
    workload: {
      ratio: options.ratio,
      keyspace: options.keyspace,
      valueSize: options.valueSize,
      ...(options.consistency === undefined ? {} : { consistency: options.consistency }),
    },
    ...(options.authToken === undefined ? {} : { authToken: options.authToken }),
  };
}

/** The `index`th of `parts` near-equal integer shares of `total`, larger shares first. */
export function share(total: number, parts: number, index: number): number {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}
