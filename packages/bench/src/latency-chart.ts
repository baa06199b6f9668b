import type { Histogram } from './histogram.js';

/** One bar of the chart: requests whose latency fell in [fromMs, toMs). */
export interface LatencyBucket {
  fromMs: number;
  toMs: number;
  /** Share of the requests, 0 to 1, to a resolution of 1/QUANTILES. */
  share: number;
}

/** The chart reads the latency at this many evenly spaced quantiles and counts them into buckets. */
const QUANTILES = 1_000;

/**
 * How the requests spread over latency buckets that double in width (…, 0.5–1 ms, 1–2 ms, 2–4 ms, …), from the
 * fastest request's bucket to the slowest's. Built from the histogram's quantiles only, so it works the same on a
 * merged or decoded histogram.
 */
export function latencyBuckets(histogram: Histogram): LatencyBucket[] {
  if (histogram.totalCount === 0) return [];
  const values: number[] = [];
  for (let q = 1; q <= QUANTILES; q++)
    values.push(histogram.getValueAtPercentile((q * 100) / QUANTILES) / 1_000);
  const lowest = Math.min(...values);
  let from = 2 ** Math.floor(Math.log2(Math.max(lowest, 0.001)));
  const buckets: LatencyBucket[] = [];
  let index = 0;
  const sorted = values.sort((a, b) => a - b);
  while (index < sorted.length) {
    const to = from * 2;
    let count = 0;
    for (let value = sorted[index]; value !== undefined && value < to; value = sorted[++index]) count++;
    buckets.push({ fromMs: from, toMs: to, share: count / QUANTILES });
    from = to;
  }
  return buckets;
}

/** The buckets as text bars, the longest `width` characters wide. */
export function formatLatencyChart(buckets: readonly LatencyBucket[], width = 40): string {
  if (buckets.length === 0) return '  (no successful requests)';
  const top = Math.max(...buckets.map((bucket) => bucket.share));
  const labels = buckets.map((bucket) => `${trim(bucket.fromMs)}–${trim(bucket.toMs)} ms`);
  const labelWidth = Math.max(...labels.map((label) => label.length));
  return buckets
    .map((bucket, index) => {
      const length = top === 0 ? 0 : Math.round((bucket.share / top) * width);
      const bar = bucket.share > 0 && length === 0 ? '▏' : '█'.repeat(length);
      const percent = `${(bucket.share * 100).toFixed(1)}%`.padStart(6);
      return `  ${(labels[index] ?? '').padStart(labelWidth)} ${percent} ${bar}`.trimEnd();
    })
    .join('\n');
}

function trim(ms: number): string {
  return ms >= 1 ? String(ms) : String(Number(ms.toPrecision(3)));
}
