import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { KVClient } from '@kvdb/client';
import { ConnectionError, errorFromRpc, KVError, TimeoutError, UnavailableError } from '@kvdb/core';
import { PROGRESS_INTERVAL_MS } from './constants.js';
import { countErrors, errorKinds, mergeTallies } from './errors-tally.js';
import { mergeHistograms } from './histogram.js';
import { LoadGenerator, type LoadPlan, type LoadProgress, type LoadResult } from './load-generator.js';
import { type BenchOptions, formatTarget, type Target } from './options.js';
import { warmupLoadPlan, warmupPlan, workerPlans } from './plan.js';
import {
  decodeResult,
  type EncodedLoadResult,
  mergeOperations,
  type WorkerMessage,
} from './worker-messages.js';

/** A finished run: the options it ran with and what every worker did, merged. */
export interface BenchResult extends LoadResult {
  options: BenchOptions;
  /** Successful operations per second. */
  throughput: number;
  /** CPU time this process (every worker included) spent during the measured run: the generator's own cost. */
  clientCpuMs: number;
}

export interface RunHooks {
  /** Called every PROGRESS_INTERVAL_MS while the measured run goes on. */
  onProgress?(progress: LoadProgress & { elapsedMs: number }): void;
  /** Called when the warmup starts, with the number of keys it sets. */
  onWarmup?(keys: number): void;
  /** Called when the unmeasured warmup load starts, with how long it runs. */
  onWarmupLoad?(durationMs: number): void;
}

/**
 * Checks every target, prefills the keyspace when asked, runs the unmeasured warmup load when asked, then runs the
 * measured load. A target that cannot be benchmarked rejects it: with a `ConnectionError` if it cannot be reached or
 * is no kvdb node, with the class of its error code if it refuses ping (`UnauthorizedError`, …), and with an
 * `UnavailableError` if the warmup's requests fail.
 */
export async function runBenchmark(options: BenchOptions, hooks: RunHooks = {}): Promise<BenchResult> {
  await Promise.all(options.targets.map((target) => ping(target, options)));
  if (options.warmup) {
    hooks.onWarmup?.(options.keyspace);
    await warmup(options);
  }
  let loaded = options.keyspace;
  if (options.warmupMs > 0) {
    hooks.onWarmupLoad?.(options.warmupMs);
    loaded += await warmupLoad(options);
  }
  const cpu: CpuWindow = {};
  const plans = workerPlans(options, loaded);
  const parts =
    options.workers === 1 ? [await runHere(plans, hooks, cpu)] : await runInWorkers(plans, hooks, cpu);
  const durationMs = Math.max(...parts.map((part) => part.durationMs));
  const clientCpuMs = cpu.used === undefined ? 0 : (cpu.used.user + cpu.used.system) / 1_000;
  return summarize(options, parts, durationMs, clientCpuMs);
}

/**
 * One result from several parts: counts added, errors and histograms merged, throughput over `durationMs`. Parts
 * that ran side by side (workers) span the longest one's time; parts that ran one after another (rounds), the sum.
 */
export function summarize(
  options: BenchOptions,
  parts: readonly LoadResult[],
  durationMs: number,
  clientCpuMs: number,
): BenchResult {
  const sum = (pick: (part: LoadResult) => number) => parts.reduce((total, part) => total + pick(part), 0);
  const ok = sum((part) => part.ok);
  return {
    options,
    completed: sum((part) => part.completed),
    ok,
    gets: sum((part) => part.gets),
    sets: sum((part) => part.sets),
    misses: sum((part) => part.misses),
    operations: mergeOperations(parts.map((part) => part.operations)),
    unsent: sum((part) => part.unsent),
    errors: mergeTallies(parts.map((part) => part.errors)),
    durationMs,
    throughput: durationMs > 0 ? (ok * 1_000) / durationMs : 0,
    histogram:
      parts.length === 1 && parts[0] !== undefined
        ? parts[0].histogram
        : mergeHistograms(parts.map((part) => part.histogram)),
    clientCpuMs,
  };
}

/**
 * Asks the target for `pong` through `KVClient`, the way an app reaches a node: a target that cannot be reached,
 * or is no kvdb node, is a `ConnectionError`, one that does not answer in time a `TimeoutError`, and one that
 * refuses (a wrong token, say) rejects with its error's class.
 */
async function ping(target: Target, options: BenchOptions): Promise<void> {
  const address = formatTarget(target);
  const client = new KVClient({
    host: target.host,
    port: target.port,
    timeoutMs: options.timeoutMs,
    authToken: options.authToken,
    tls: options.tls,
    // One try: a benchmark of a node that does not answer stops at once.
    retry: { attempts: 1 },
  });
  try {
    const answer: unknown = await client.call('ping', {});
    if (answer !== 'pong') {
      throw new ConnectionError(`${address} is not a kvdb node: ping answered ${JSON.stringify(answer)}`);
    }
  } catch (error) {
    const status =
      error instanceof ConnectionError ? (error.data as { status?: number } | undefined)?.status : undefined;
    if (status !== undefined) {
      throw new ConnectionError(`${address} is not a kvdb node: ping answered HTTP ${status}`, {
        cause: error,
      });
    }
    if (!(error instanceof KVError) || error instanceof ConnectionError || error instanceof TimeoutError)
      throw error;
    throw errorFromRpc({
      code: error.code,
      message: `${address} refused ping: ${error.message} (code ${error.code})`,
    });
  } finally {
    await client.close();
  }
}

async function warmup(options: BenchOptions): Promise<void> {
  const result = await runPlan(new LoadGenerator(warmupPlan(options)));
  const errors = countErrors(result.errors);
  if (errors.total > 0) {
    throw new UnavailableError(
      `the warmup failed: ${errors.total} of ${result.completed} sets failed (${errorKinds(result.errors)})`,
    );
  }
}

/**
 * Some requests of the warmup load may fail (the measured run reports its own); all of them may not. Returns the
 * keys its inserts took, which the measured run's inserts then follow.
 */
async function warmupLoad(options: BenchOptions): Promise<number> {
  const generator = new LoadGenerator(warmupLoadPlan(options));
  const result = await runPlan(generator);
  if (result.ok === 0) {
    const kinds = errorKinds(result.errors) || 'none completed';
    throw new UnavailableError(
      `the warmup load failed: none of its ${result.completed} requests succeeded (${kinds})`,
    );
  }
  return generator.workload.inserts.issued;
}

async function runPlan(
  generator: LoadGenerator,
  onTick?: (progress: LoadProgress) => void,
): Promise<LoadResult> {
  const timer = onTick ? setInterval(() => onTick(generator.progress), PROGRESS_INTERVAL_MS) : undefined;
  try {
    return await generator.run();
  } finally {
    clearInterval(timer);
    await generator.close();
  }
}

/** CPU time of the whole process (every thread) from the start of the measured load to its end. */
type CpuWindow = { since?: NodeJS.CpuUsage; used?: NodeJS.CpuUsage };

async function runHere(plans: LoadPlan[], hooks: RunHooks, cpu: CpuWindow): Promise<LoadResult> {
  const started = performance.now();
  const [plan] = plans;
  if (plan === undefined) throw new Error('runHere: a run plans at least one worker');
  cpu.since = process.cpuUsage();
  const result = await runPlan(new LoadGenerator(plan), (progress) =>
    hooks.onProgress?.({ ...progress, elapsedMs: performance.now() - started }),
  );
  cpu.used = process.cpuUsage(cpu.since);
  return result;
}

async function runInWorkers(plans: LoadPlan[], hooks: RunHooks, cpu: CpuWindow): Promise<LoadResult[]> {
  const progress = plans.map(() => ({ completed: 0, errors: 0 }));
  const workers = plans.map(
    (plan) => new Worker(new URL('./worker.js', import.meta.url), { workerData: { plan } }),
  );
  let started = 0;
  const report = () => {
    const sum = (pick: (one: LoadProgress) => number) =>
      progress.reduce((total, one) => total + pick(one), 0);
    hooks.onProgress?.({
      completed: sum((one) => one.completed),
      errors: sum((one) => one.errors),
      elapsedMs: performance.now() - started,
    });
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const ready = workers.map((worker) => nextMessage(worker, 'ready'));
    const results = workers.map((worker, index) => {
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'progress')
          progress[index] = { completed: message.completed, errors: message.errors };
      });
      return nextMessage(worker, 'result');
    });
    await Promise.all(ready);
    started = performance.now();
    timer = setInterval(report, PROGRESS_INTERVAL_MS);
    cpu.since = process.cpuUsage();
    for (const worker of workers) worker.postMessage('go');
    const encoded = (await Promise.all(results)) as Array<{ result: EncodedLoadResult }>;
    cpu.used = process.cpuUsage(cpu.since);
    return encoded.map(({ result }) => decodeResult(result));
  } finally {
    clearInterval(timer);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** The worker's first message of this type; rejects if the worker fails or exits first. */
function nextMessage<T extends WorkerMessage['type']>(
  worker: Worker,
  type: T,
): Promise<Extract<WorkerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: WorkerMessage) => {
      if (message.type !== type) return;
      worker.off('message', onMessage);
      resolve(message as Extract<WorkerMessage, { type: T }>);
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`a bench worker exited (code ${code}) before its ${type}`)),
    );
  });
}

export function errorCount(result: BenchResult): number {
  return countErrors(result.errors).total;
}
