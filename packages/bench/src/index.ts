/**
 * @kvdb/bench: kvdb's benchmark. `kvdb-bench` and `npm run bench:check` are its command lines; from code, the same
 * load generator runs against any nodes.
 *
 * @example
 * ```ts
 * import { resolveBenchOptions, runBenchmark } from '@kvdb/bench'
 *
 * const result = await runBenchmark(resolveBenchOptions({ operation: 'get', port: 5878, duration: '5s' }))
 * console.log(result.throughput)
 * ```
 */
import { fileURLToPath } from 'node:url';

/** The `kvdb-bench` shim of this package (this file is `dist/src/index.js`). */
export const BENCH_BIN = fileURLToPath(new URL('../../bin/kvdb-bench.js', import.meta.url));
/** The script behind `npm run bench:check`. */
export const CHECK_SCRIPT = fileURLToPath(new URL('./check.js', import.meta.url));

export { CORE_WORKLOAD_NAMES, type CoreWorkloadName } from './core-workloads.js';
export {
  type BenchOperation,
  type BenchOptions,
  type RawBenchArgs,
  resolveBenchOptions,
  type Target,
} from './options.js';
export { type BenchResult, type RunHooks, runBenchmark } from './runner.js';
