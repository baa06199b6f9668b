import type { TlsPem } from '@kvdb/client/cli';
import {
  CONSISTENCY_LEVELS,
  type Consistency,
  DEFAULT_HOST,
  DEFAULT_PORT,
  formatAddress,
  UsageError,
} from '@kvdb/core';
import {
  DEFAULT_BENCH_DURATION_MS,
  DEFAULT_BENCH_TIMEOUT_MS,
  DEFAULT_CONCURRENCY,
  DEFAULT_KEYSPACE,
  DEFAULT_RATIO,
  DEFAULT_VALUE_SIZE,
  MAX_VALUE_SIZE,
  MAX_WORKERS,
} from './constants.js';
import { type CoreWorkloadName, DEFAULT_RECORD_SIZE, parseWorkload } from './core-workloads.js';
import { SCRAMBLED_ITEM_COUNT } from './zipfian.js';

export const BENCH_OPERATIONS = ['set', 'get', 'mixed'] as const;
export type BenchOperation = (typeof BENCH_OPERATIONS)[number];

export interface Target {
  host: string;
  port: number;
}

/** get:set weights of a mixed run; `{ get: 9, set: 1 }` sends nine gets for each set on average. */
export interface Ratio {
  get: number;
  set: number;
}

/** When a run stops: after a wall-clock time, or once a number of requests have completed. */
export type StopCondition =
  | { durationMs: number; requests?: never }
  | { requests: number; durationMs?: never };

/** A validated benchmark: what the load generator and the report need, nothing left to default. */
export interface BenchOptions {
  /** What to send; a run of a `workload` is `mixed`, with the workload's own mix. */
  operation: BenchOperation;
  /**
   * A YCSB core workload (core-workloads.ts): its mix of reads, updates, inserts, scans and read-modify-writes,
   * its key choice and its records, in place of `operation` and `ratio`.
   */
  workload?: CoreWorkloadName;
  /**
   * Open loop: operations started per second, across every connection and worker, on a fixed timetable, each timed
   * from when it was meant to start (open-loop.ts). Without it, a closed loop: each connection sends its next
   * request when its last reply is in.
   */
  rate?: number;
  targets: Target[];
  concurrency: number;
  stop: StopCondition;
  /** get:set weights of the mixed operation; 0:0 when a `workload` sets the mix. */
  ratio: Ratio;
  keyspace: number;
  /** Characters of each value set: a plain string, or with a `workload` the fields of a record together. */
  valueSize: number;
  /** Set every key of the keyspace once, unmeasured, before the run, so that gets hit. */
  warmup: boolean;
  /**
   * Run the load this long, unmeasured, before the measured run (after the prefill): a node's JIT compiler is
   * still optimising its hot functions in its first seconds under load, and that costs throughput and p99.
   */
  warmupMs: number;
  workers: number;
  timeoutMs: number;
  consistency?: Consistency;
  authToken?: string;
  /** Speak TLS to the targets, with these CA and client certificates (PEM text). @default undefined: plain HTTP */
  tls?: TlsPem;
}

/** What the command line hands over, as yargs parsed it. */
export interface RawBenchArgs {
  operation?: string;
  workload?: string;
  rate?: number | string;
  host?: string;
  port?: number;
  targets?: string | string[];
  concurrency?: number;
  duration?: string | number;
  requests?: number;
  ratio?: string;
  keyspace?: number;
  'value-size'?: number;
  warmup?: boolean;
  'warmup-time'?: string | number;
  workers?: number;
  timeout?: number;
  consistency?: string;
  'auth-token'?: string;
}

/** `10s`, `500ms`, `1.5s`, `2m`; a bare number is seconds. At least 1 ms, unless `minMs` is 0. */
export function parseDuration(text: string | number, flag = '--duration', minMs: 0 | 1 = 1): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(String(text));
  const scale = { ms: 1, s: 1_000, m: 60_000 } as const;
  const ms = match ? Number(match[1]) * scale[(match[2] ?? 's') as keyof typeof scale] : Number.NaN;
  if (!(ms >= minMs)) {
    const least = minMs === 1 ? ' of at least 1 ms' : '';
    throw new UsageError(
      `Expected \`${flag}\` to be a time${least} such as 10s, 500ms or 2m, got ${JSON.stringify(text)}`,
    );
  }
  return Math.round(ms);
}

/** `get:set`, e.g. `9:1`; either side may be 0, not both. */
export function parseRatio(text: string): Ratio {
  const match = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  const ratio = match ? { get: Number(match[1]), set: Number(match[2]) } : undefined;
  if (!ratio || ratio.get + ratio.set === 0) {
    throw new UsageError(
      `Expected \`--ratio\` to be get:set as two whole numbers, not both 0, such as 9:1, got ${JSON.stringify(text)}`,
    );
  }
  return ratio;
}

/** `host:port[,host:port…]`, as one string or repeated; `[::1]:5878` for IPv6. */
export function parseTargets(values: string | readonly string[]): Target[] {
  const words = (Array.isArray(values) ? values : [values]).flatMap((value) => String(value).split(','));
  const targets = words
    .map((word) => word.trim())
    .filter((word) => word !== '')
    .map((word) => {
      const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(word);
      const host = match?.[1];
      const port = Number(match?.[2]);
      if (host === undefined || !isPort(port)) {
        throw new UsageError(
          `Expected each of \`--targets\` to be host:port with a port from 1 to 65535, got ${JSON.stringify(word)}`,
        );
      }
      return { host: host.replace(/^\[(.*)\]$/, '$1'), port };
    });
  if (targets.length === 0) throw new UsageError('Expected `--targets` to name at least one host:port');
  const seen = new Set<string>();
  for (const target of targets) {
    const address = formatTarget(target);
    if (seen.has(address)) throw new UsageError(`\`--targets\` names ${address} twice`);
    seen.add(address);
  }
  return targets;
}

export function formatTarget(target: Target): string {
  return formatAddress(target.host, target.port);
}

/** Validates the command line and resolves every default, naming the expectation of the first bad flag. */
export function resolveBenchOptions(raw: RawBenchArgs): BenchOptions {
  const workload = raw.workload === undefined ? undefined : parseWorkload(raw.workload);
  if (workload !== undefined && raw.operation !== undefined) {
    throw new UsageError('Give either an operation (set, get, mixed) or `--workload`, not both');
  }
  const operation = raw.operation ?? (workload === undefined ? 'set' : 'mixed');
  if (!(BENCH_OPERATIONS as readonly string[]).includes(operation)) {
    throw new UsageError(
      `Expected the operation to be one of ${BENCH_OPERATIONS.join(', ')}, got ${JSON.stringify(operation)}`,
    );
  }
  const concurrency = integerFlag('--concurrency', raw.concurrency ?? DEFAULT_CONCURRENCY, 1);
  const workers = integerFlag('--workers', raw.workers ?? 1, 1, MAX_WORKERS);
  if (workers > concurrency) {
    throw new UsageError(
      `Expected \`--workers\` (${workers}) to be at most \`--concurrency\` (${concurrency}): each worker drives at least one request at a time`,
    );
  }
  if (raw.duration !== undefined && raw.requests !== undefined) {
    throw new UsageError('Give either `--duration` or `--requests`, not both');
  }
  const stop: StopCondition =
    raw.requests !== undefined
      ? { requests: integerFlag('--requests', raw.requests, 1) }
      : { durationMs: raw.duration === undefined ? DEFAULT_BENCH_DURATION_MS : parseDuration(raw.duration) };
  if (stop.requests !== undefined && stop.requests < workers) {
    throw new UsageError(`Expected \`--requests\` to be at least \`--workers\` (${workers})`);
  }
  if (raw.ratio !== undefined && (operation !== 'mixed' || workload !== undefined)) {
    throw new UsageError('`--ratio` applies to the mixed operation only (kvdb-bench mixed --ratio 9:1)');
  }
  const consistency = raw.consistency;
  if (consistency !== undefined && !(CONSISTENCY_LEVELS as readonly string[]).includes(consistency)) {
    throw new UsageError(
      `Expected \`--consistency\` to be one of ${CONSISTENCY_LEVELS.join(', ')}, got ${JSON.stringify(consistency)}`,
    );
  }
  if (raw['auth-token'] !== undefined && /[\r\n]/.test(raw['auth-token'])) {
    throw new UsageError('Expected `--auth-token` to be one line, without CR or LF');
  }
  const timeoutMs = raw.timeout ?? DEFAULT_BENCH_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new UsageError('Expected `--timeout` to be a number of milliseconds above 0');
  const targets =
    raw.targets !== undefined && (typeof raw.targets === 'string' || raw.targets.length > 0)
      ? parseTargets(raw.targets)
      : [defaultTarget(raw)];
  return {
    operation: operation as BenchOperation,
    ...(workload === undefined ? {} : { workload }),
    ...(raw.rate === undefined ? {} : { rate: parseRate(raw.rate) }),
    targets,
    concurrency,
    stop,
    ratio: resolveRatio(operation, workload, raw.ratio),
    keyspace: integerFlag(
      '--keyspace',
      raw.keyspace ?? DEFAULT_KEYSPACE,
      1,
      // The scrambled zipfian draws among this many items: a larger keyspace would have keys it never draws.
      workload === undefined ? Number.MAX_SAFE_INTEGER : SCRAMBLED_ITEM_COUNT,
    ),
    valueSize: integerFlag(
      '--value-size',
      raw['value-size'] ?? (workload === undefined ? DEFAULT_VALUE_SIZE : DEFAULT_RECORD_SIZE),
      0,
      MAX_VALUE_SIZE,
    ),
    warmup: raw.warmup ?? (workload !== undefined || operation !== 'set'),
    warmupMs: raw['warmup-time'] === undefined ? 0 : parseDuration(raw['warmup-time'], '--warmup-time', 0),
    workers,
    timeoutMs,
    ...(consistency === undefined ? {} : { consistency: consistency as Consistency }),
    ...(raw['auth-token'] === undefined ? {} : { authToken: raw['auth-token'] }),
  };
}

function defaultTarget(raw: RawBenchArgs): Target {
  const port = raw.port ?? DEFAULT_PORT;
  if (!isPort(port)) throw new UsageError('Expected `--port` to be an integer from 1 to 65535');
  return { host: raw.host ?? DEFAULT_HOST, port };
}

function resolveRatio(
  operation: string,
  workload: CoreWorkloadName | undefined,
  ratio: string | undefined,
): Ratio {
  if (workload !== undefined) return { get: 0, set: 0 };
  if (operation === 'mixed') return parseRatio(ratio ?? DEFAULT_RATIO);
  return operation === 'get' ? { get: 1, set: 0 } : { get: 0, set: 1 };
}

/** Operations per second, a number above 0 (fractions allowed: 0.5 is one every two seconds). */
export function parseRate(value: number | string): number {
  const rate = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
    throw new UsageError(
      `Expected \`--rate\` to be a number of operations per second above 0, such as 5000, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
    );
  }
  return rate;
}

/** A flag's value as an integer from `min` to `max` (a string is read as a number); else an error that names it. */
export function integerFlag(
  flag: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `from ${min} and up` : `from ${min} to ${max}`;
    throw new UsageError(`Expected \`${flag}\` to be an integer ${range}, got ${JSON.stringify(value)}`);
  }
  return number;
}

function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65_535;
}
