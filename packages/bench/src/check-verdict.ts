import { median } from './rounds.js';
import { alignRow, columnWidths } from './text-table.js';

/**
 * The verdict of `npm run bench:check`: each run's throughput as a share of the reference server's (bare node:http
 * + Map, same generator, same machine, measured in alternating rounds with it), against thresholds derived from the
 * performance targets.
 * Ratios, not absolute figures, so that a slower or busier machine does not fail the check by itself.
 */

/**
 * What the reference server did on the machine the targets were set for (2 cores, loopback, 32 in flight,
 * 10,000 keys, 100-byte values; the median of three 10 s runs in BENCHMARKS.md). The absolute cluster targets
 * divided by these are the cluster thresholds: 10,000 / 29,500 = 0.34 for sets, 15,000 / 33,800 = 0.44 for gets,
 * and 5,000 / 29,500 = 0.17 for sets with `--data-dir`.
 */
export const REFERENCE_MACHINE_OPS = { set: 29_500, get: 33_800 };

/**
 * The targets: a 3-node R=3 quorum cluster in memory and with `--data-dir` (durable), and a single R=1 node
 * relative to the reference.
 */
export const TARGETS = { clusterSet: 10_000, clusterGet: 15_000, durableSet: 5_000, singleShare: 0.7 };

export type CheckName =
  | 'single set'
  | 'single get'
  | 'single set 16k'
  | 'single get 16k'
  | 'cluster set'
  | 'cluster get'
  | 'durable set';

/** The value size of the `16k` rows, where a node's cost per byte of value shows. */
export const LARGE_VALUE_SIZE = 16_384;

/** Lowest passing share of the reference throughput, per run. */
export type Thresholds = Record<CheckName, number>;

export const DEFAULT_THRESHOLDS: Thresholds = {
  'single set': TARGETS.singleShare,
  'single get': TARGETS.singleShare,
  'single set 16k': TARGETS.singleShare,
  'single get 16k': TARGETS.singleShare,
  'cluster set': round2(TARGETS.clusterSet / REFERENCE_MACHINE_OPS.set),
  'cluster get': round2(TARGETS.clusterGet / REFERENCE_MACHINE_OPS.get),
  'durable set': round2(TARGETS.durableSet / REFERENCE_MACHINE_OPS.set),
};

export interface RunFigures {
  throughput: number;
  p99Ms: number;
  errors: number;
}

/** A checked run and the reference measured alongside it, in alternating rounds. */
export interface PairFigures {
  target: RunFigures;
  reference: RunFigures;
  /** Target ÷ reference throughput of each round. */
  ratios: number[];
}

export interface CheckRow extends PairFigures {
  name: CheckName;
  /** The median of the round ratios. */
  ratio: number;
  threshold: number;
  passed: boolean;
}

/** A run passes when the median of its round ratios reaches its threshold and no request failed on either side. */
export function evaluateChecks(
  pairs: Partial<Record<CheckName, PairFigures>>,
  thresholds: Thresholds = DEFAULT_THRESHOLDS,
): CheckRow[] {
  return (Object.entries(pairs) as Array<[CheckName, PairFigures]>).map(([name, pair]) => {
    const ratio = median(pair.ratios);
    const threshold = thresholds[name];
    const clean = pair.target.errors === 0 && pair.reference.errors === 0;
    return { name, ...pair, ratio, threshold, passed: clean && ratio >= threshold };
  });
}

export function formatCheckTable(rows: readonly CheckRow[]): string {
  const header = [
    'run',
    'ops/s',
    'p99 ms',
    'reference ops/s',
    'errors',
    'rounds',
    'ratio',
    'threshold',
    'result',
  ];
  const cells = rows.map((row) => [
    row.name,
    Math.round(row.target.throughput).toLocaleString('en-US'),
    row.target.p99Ms.toFixed(2),
    Math.round(row.reference.throughput).toLocaleString('en-US'),
    (row.target.errors + row.reference.errors).toLocaleString('en-US'),
    row.ratios.map((ratio) => ratio.toFixed(2)).join(' '),
    row.ratio.toFixed(2),
    `≥ ${row.threshold.toFixed(2)}`,
    row.passed ? 'ok' : 'FAIL',
  ]);
  const widths = columnWidths([header, ...cells]);
  const line = (values: string[]) => alignRow(values, widths);
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n');
}

/** The failures in a sentence each, or an empty list. */
export function failures(rows: readonly CheckRow[]): string[] {
  return rows
    .filter((row) => !row.passed)
    .map((row) => {
      const errors = row.target.errors + row.reference.errors;
      if (errors > 0) return `${row.name}: ${errors.toLocaleString('en-US')} requests failed`;
      return `${row.name}: ${row.ratio.toFixed(2)} of the reference, below ${row.threshold.toFixed(2)}`;
    });
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
