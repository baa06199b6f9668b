import { CORE_WORKLOADS, type OperationMix } from './core-workloads.js';
import type { LoadPlan } from './load-generator.js';
import type { BenchOptions, Ratio } from './options.js';

/**
 * Splits a run among its workers: each gets a contiguous block of the request slots (slot `n` talks to target
 * `n % targets`, so every worker spreads over every target), with `--requests` a share of the requests and with
 * `--rate` a share of the rate, both in proportion to its slots, and its own keys to insert (every
 * `workers`th one from `loaded` on). `loaded`: the records present when the run starts.
 */
export function workerPlans(options: BenchOptions, loaded = options.keyspace): LoadPlan[] {
  const plans: LoadPlan[] = [];
  let firstSlot = 0;
  let requestsLeft = options.stop.requests ?? 0;
  for (let worker = 0; worker < options.workers; worker++) {
    const concurrency = share(options.concurrency, options.workers, worker);
    const base = loadPlan(options, loaded);
    base.workload.keys = { loaded, offset: worker, stride: options.workers };
    if (options.rate !== undefined) base.rate = (options.rate * concurrency) / options.concurrency;
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

/**
 * The plan of the unmeasured prefill (YCSB's load phase): one set of every key, in order, with the run's
 * concurrency, as fast as it goes.
 */
export function warmupPlan(options: BenchOptions): LoadPlan {
  const { rate: _, ...plan } = loadPlan(options, options.keyspace);
  return {
    ...plan,
    concurrency: Math.min(options.concurrency, options.keyspace),
    stop: { requests: options.keyspace },
    workload: { ...plan.workload, mix: { update: 1 }, sequential: true },
  };
}

/**
 * The plan of the unmeasured load after the prefill: the run's own workload, at its rate if it has one, for
 * `warmupMs`, in one process. Its inserts take the keys from the keyspace on, and the measured run's follow them.
 */
export function warmupLoadPlan(options: BenchOptions): LoadPlan {
  return { ...loadPlan(options, options.keyspace), stop: { durationMs: options.warmupMs } };
}

function loadPlan(options: BenchOptions, loaded: number): LoadPlan {
  const core = options.workload === undefined ? undefined : CORE_WORKLOADS[options.workload];
  return {
    targets: options.targets,
    concurrency: options.concurrency,
    stop: options.stop,
    timeoutMs: options.timeoutMs,
    workload: {
      mix: core?.mix ?? ratioMix(options.ratio),
      distribution: core?.distribution ?? 'uniform',
      keys: { loaded },
      valueSize: options.valueSize,
      records: core !== undefined,
      ...(options.consistency === undefined ? {} : { consistency: options.consistency }),
    },
    ...(options.rate === undefined ? {} : { rate: options.rate }),
    ...(options.authToken === undefined ? {} : { authToken: options.authToken }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  };
}

/** A get:set ratio as a mix of reads and updates. */
export function ratioMix(ratio: Ratio): OperationMix {
  const total = ratio.get + ratio.set;
  return { read: ratio.get / total, update: ratio.set / total };
}

/** The `index`th of `parts` near-equal integer shares of `total`, larger shares first. */
export function share(total: number, parts: number, index: number): number {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}
