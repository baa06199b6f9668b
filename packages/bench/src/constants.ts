/** Defaults of `kvdb-bench`, in the spirit of redis-benchmark. */
import { DEFAULT_CLIENT_TIMEOUT_MS } from '@kvdb/client/cli';

/** Requests in flight at once, across all targets and workers. */
export const DEFAULT_CONCURRENCY = 32;

/** How long a request may take, as the `kvdb` shell waits: room for the node's own quorum timeout. */
export const DEFAULT_BENCH_TIMEOUT_MS = DEFAULT_CLIENT_TIMEOUT_MS;

/** How long a run lasts when neither `--duration` nor `--requests` is given. */
export const DEFAULT_BENCH_DURATION_MS = 10_000;

/** Distinct keys the run draws from, uniformly: `key:0` … `key:9999`. */
export const DEFAULT_KEYSPACE = 10_000;

/** Length of each value, a string of this many characters. */
export const DEFAULT_VALUE_SIZE = 100;

/** get:set of a mixed run. */
export const DEFAULT_RATIO = '9:1';

/** Keep values below a node's default `--max-value-bytes` (1 MiB of JSON). */
export const MAX_VALUE_SIZE = 1_000_000;

/** More worker threads than this only fight over the cores. */
export const MAX_WORKERS = 64;

/**
 * Latencies are recorded in microseconds with 3 significant digits, up to this many (an hour); slower replies
 * still count and are clamped to it.
 */
export const HISTOGRAM_MAX_MICROS = 3_600_000_000;

/** How often workers report progress, and the progress bar redraws. */
export const PROGRESS_INTERVAL_MS = 250;

/** After a transport error a request slot waits this long before it sends again, so a dead node is not spun on. */
export const TRANSPORT_ERROR_BACKOFF_MS = 10;
