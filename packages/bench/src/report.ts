import {
  CORE_WORKLOADS,
  type CoreWorkloadName,
  OPERATION_KINDS,
  type OperationKind,
} from './core-workloads.js';
import { countErrors, type ErrorTally } from './errors-tally.js';
import { encodeHistogram, type Histogram, type LatencySummary, summarize } from './histogram.js';
import { formatLatencyChart, type LatencyBucket, latencyBuckets } from './latency-chart.js';
import { type BenchOperation, formatTarget } from './options.js';
import { median } from './rounds.js';
import type { BenchResult } from './runner.js';
import { alignRow, columnWidths } from './text-table.js';

/** A run as `--json` prints it: one plain object, every figure named with its unit. */
export interface BenchSummary {
  operation: BenchOperation;
  /** The YCSB core workload, when the run was one. */
  workload?: CoreWorkloadName;
  targets: string[];
  concurrency: number;
  workers: number;
  keyspace: number;
  valueSize: number;
  /** get:set, for mixed runs. */
  ratio?: string;
  consistency?: string;
  /** The unmeasured load before the run (`--warmup-time`), when there was one. */
  warmupMs?: number;
  /** Requests that completed, successful or not. */
  requests: number;
  ok: number;
  gets: number;
  sets: number;
  /** Gets that found no value. */
  misses: number;
  errors: { total: number; rpc: Record<string, number>; transport: Record<string, number> };
  /** The first message seen for each error code or kind. */
  errorSamples: Record<string, string>;
  durationMs: number;
  /** Successful operations per second. */
  throughput: number;
  /**
   * Open loop: the operations per second asked for, and those that completed per second. The latencies are then
   * from each operation's intended start.
   */
  rate?: { target: number; achieved: number };
  /** Open loop, stopped on a duration: operations meant to start before the end that never did. */
  unsent?: number;
  latencyMs: LatencySummary;
  /** Successful operations of each kind, with their latencies, when the run mixed kinds. */
  operations?: Partial<Record<OperationKind, { count: number; latencyMs: LatencySummary }>>;
  /** The generator's own CPU time (this process, all workers) per completed request, in µs. */
  clientCpuMicrosPerRequest: number;
  /** The generator's own CPU time as a share of one core over the run: near 1 × workers, the generator is the limit. */
  clientCpuCores: number;
  /** The latency histogram in microseconds, HdrHistogram's compressed base64 form (decodable by any HdrHistogram). */
  hdrHistogram: string;
  latencyChart?: LatencyBucket[];
}

export function summarizeResult(result: BenchResult, options: { chart?: boolean } = {}): BenchSummary {
  const { options: run } = result;
  const kinds = OPERATION_KINDS.filter((kind) => result.operations[kind] !== undefined);
  return {
    operation: run.operation,
    ...(run.workload === undefined ? {} : { workload: run.workload }),
    targets: run.targets.map(formatTarget),
    concurrency: run.concurrency,
    workers: run.workers,
    keyspace: run.keyspace,
    valueSize: run.valueSize,
    ...(run.operation === 'mixed' && run.workload === undefined
      ? { ratio: `${run.ratio.get}:${run.ratio.set}` }
      : {}),
    ...(run.consistency === undefined ? {} : { consistency: run.consistency }),
    ...(run.warmupMs > 0 ? { warmupMs: run.warmupMs } : {}),
    requests: result.completed,
    ok: result.ok,
    gets: result.gets,
    sets: result.sets,
    misses: result.misses,
    errors: errorSummary(result.errors),
    errorSamples: result.errors.samples,
    durationMs: round(result.durationMs, 1),
    throughput: round(result.throughput, 1),
    ...(run.rate === undefined
      ? {}
      : {
          rate: {
            target: run.rate,
            achieved: result.durationMs > 0 ? round((result.completed * 1_000) / result.durationMs, 1) : 0,
          },
          unsent: result.unsent,
        }),
    latencyMs: summarize(result.histogram),
    ...(run.operation === 'mixed' || kinds.length > 1
      ? {
          operations: Object.fromEntries(
            kinds.map((kind) => {
              const histogram = result.operations[kind] as Histogram;
              return [kind, { count: histogram.totalCount, latencyMs: summarize(histogram) }];
            }),
          ),
        }
      : {}),
    clientCpuMicrosPerRequest:
      result.completed > 0 ? round((result.clientCpuMs * 1_000) / result.completed, 1) : 0,
    clientCpuCores: result.durationMs > 0 ? round(result.clientCpuMs / result.durationMs, 2) : 0,
    hdrHistogram: encodeHistogram(result.histogram),
    ...(options.chart ? { latencyChart: latencyBuckets(result.histogram) } : {}),
  };
}

function errorSummary(tally: ErrorTally): BenchSummary['errors'] {
  return { total: countErrors(tally).total, rpc: tally.rpc, transport: tally.transport };
}

/** What the run sent: `SET`, or `YCSB A`. */
export function runTitle(summary: Pick<BenchSummary, 'operation' | 'workload'>): string {
  return summary.workload === undefined
    ? summary.operation.toUpperCase()
    : `YCSB ${summary.workload.toUpperCase()}`;
}

/** The human report, redis-benchmark style, with a loud block when any request failed. */
export function formatReport(summary: BenchSummary, title = runTitle(summary)): string {
  const lines = [`====== ${title} ======`];
  const row = (label: string, text: string) => lines.push(`  ${label.padEnd(12)} ${text}`);
  row('targets', summary.targets.join(', '));
  const workers = summary.workers === 1 ? '1 worker' : `${summary.workers} workers`;
  const extras = [
    summary.ratio && `get:set ${summary.ratio}`,
    summary.consistency && `consistency ${summary.consistency}`,
    summary.warmupMs && `after ${summary.warmupMs / 1_000} s of unmeasured load`,
  ]
    .filter(Boolean)
    .join(', ');
  const values = summary.workload
    ? `${group(summary.valueSize)}-byte records (10 fields)`
    : `${summary.valueSize}-byte values`;
  if (summary.workload) row('ycsb', workloadLine(summary.workload));
  row(
    'workload',
    `${summary.concurrency} in flight (${workers}), ${group(summary.keyspace)} keys, ${values}` +
      (extras ? `, ${extras}` : ''),
  );
  row(
    summary.workload ? 'operations' : 'requests',
    `${group(summary.requests)} in ${(summary.durationMs / 1_000).toFixed(2)} s, ` +
      (summary.errors.total === 0 ? 'no errors' : `${group(summary.errors.total)} ERRORS`),
  );
  if (summary.operation === 'mixed' && !summary.workload) {
    row('mix', `${group(summary.gets)} gets, ${group(summary.sets)} sets`);
  }
  row('throughput', `${group(Math.round(summary.throughput))} ops/s`);
  if (summary.rate) {
    row(
      'open loop',
      `${group(summary.rate.target)} ops/s asked, ${group(Math.round(summary.rate.achieved))} ops/s done; ` +
        'latency from each operation’s intended start',
    );
  }
  row('latency ms', formatPercentiles(summary.latencyMs));
  for (const [kind, figures] of Object.entries(summary.operations ?? {})) {
    row(`  ${kind}`, `${formatPercentiles(figures.latencyMs)}  (${group(figures.count)})`);
  }
  if (summary.requests > 0) {
    const share = `${Math.round(summary.clientCpuCores * 100)}% of a core`;
    row('client cpu', `${share} (${summary.clientCpuMicrosPerRequest} µs a request)`);
  }
  const reads = summary.gets + (summary.operations?.rmw?.count ?? 0);
  if (reads > 0 && summary.misses > 0) {
    const share = ((summary.misses / reads) * 100).toFixed(1);
    row('misses', `${group(summary.misses)} gets (${share}%) found no value; --warmup sets every key first`);
  }
  if (summary.unsent) {
    lines.push(
      `!!! ${group(summary.unsent)} operations meant to start before the end were never sent: every connection ` +
        'was busy, the target fell behind the rate',
    );
  }
  if (summary.latencyChart) lines.push('  latency distribution:', formatLatencyChart(summary.latencyChart));
  if (summary.errors.total > 0) lines.push(formatErrors(summary));
  return lines.join('\n');
}

function workloadLine(name: CoreWorkloadName): string {
  const { summary, distribution } = CORE_WORKLOADS[name];
  return `${name.toUpperCase()}, ${summary}; ${distribution === 'latest' ? 'latest' : 'scrambled zipfian'} keys`;
}

export function formatPercentiles(latency: LatencySummary): string {
  const ms = (value: number) => value.toFixed(value >= 100 ? 0 : 3);
  return [
    `p50 ${ms(latency.p50)}`,
    `p90 ${ms(latency.p90)}`,
    `p99 ${ms(latency.p99)}`,
    `p99.9 ${ms(latency.p999)}`,
    `max ${ms(latency.max)}`,
  ].join('  ');
}

/** The block a run with failures ends with: how many, of which kind, and what the first of each said. */
export function formatErrors(summary: BenchSummary): string {
  const { errors, errorSamples } = summary;
  const share = summary.requests === 0 ? 100 : (errors.total / summary.requests) * 100;
  const lines = [
    `!!! ${group(errors.total)} of ${group(summary.requests)} requests FAILED (${share.toFixed(2)}%): ` +
      'the figures above do not describe a healthy run',
  ];
  for (const [code, count] of Object.entries(errors.rpc)) {
    lines.push(`!!!   JSON-RPC error ${code} × ${group(count)}: ${errorSamples[code] ?? ''}`.trimEnd());
  }
  for (const [kind, count] of Object.entries(errors.transport)) {
    lines.push(`!!!   transport ${kind} × ${group(count)}: ${errorSamples[kind] ?? ''}`.trimEnd());
  }
  return lines.join('\n');
}

/** Target throughput as a share of the reference's, measured with the same generator. */
export function throughputRatio(target: BenchSummary, reference: BenchSummary): number {
  return reference.throughput > 0 ? target.throughput / reference.throughput : 0;
}

/**
 * The two side by side, and target ÷ reference: the median of the per-round ratios when the run alternated
 * rounds, else the ratio of the throughputs.
 */
export function formatComparison(
  reference: BenchSummary,
  target: BenchSummary,
  roundRatios: readonly number[] = [],
): string {
  const ratio = roundRatios.length > 1 ? median(roundRatios) : throughputRatio(target, reference);
  const how =
    roundRatios.length > 1
      ? `median of ${roundRatios.length} alternating rounds: ${roundRatios.map((one) => one.toFixed(2)).join(', ')}`
      : 'target ops/s ÷ reference ops/s';
  const rows = [
    ['', 'ops/s', 'p50 ms', 'p99 ms', 'errors'],
    ['reference', ...figures(reference)],
    ['target', ...figures(target)],
  ];
  const widths = columnWidths(rows);
  const table = rows.map((row) => `  ${alignRow(row, widths)}`);
  return [
    '====== target vs reference (bare node:http + Map, same generator) ======',
    ...table,
    `  ratio        ${ratio.toFixed(2)} (${how})`,
  ].join('\n');
}

function figures(summary: BenchSummary): string[] {
  return [
    group(Math.round(summary.throughput)),
    summary.latencyMs.p50.toFixed(3),
    summary.latencyMs.p99.toFixed(3),
    group(summary.errors.total),
  ];
}

/** 12345 → `12,345`. */
export function group(value: number): string {
  return value.toLocaleString('en-US');
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
