import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';
import { HISTOGRAM_MAX_MICROS } from './constants.js';

export type { Histogram };

/** Latency percentiles of a run, in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  min: number;
}

/**
 * A latency histogram in microseconds, 3 significant digits. This is hdr-histogram-js's pure JavaScript build:
 * recording is a few array operations, needs no WebAssembly instance to set up or `destroy()`, and it encodes to
 * the standard compressed form that carries a worker's histogram to the main thread.
 */
export function createHistogram(): Histogram {
  return build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HISTOGRAM_MAX_MICROS,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
    useWebAssembly: false,
  });
}

/** Records one latency, given in milliseconds (as `performance.now()` differences are). */
export function recordMillis(histogram: Histogram, ms: number): void {
  histogram.recordValue(Math.min(HISTOGRAM_MAX_MICROS, Math.max(1, Math.round(ms * 1_000))));
}

export function encodeHistogram(histogram: Histogram): string {
  return encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): Histogram {
  return decodeFromCompressedBase64(encoded, 32, false);
}

/** One histogram holding every value of the given ones, e.g. one per worker. */
export function mergeHistograms(parts: ReadonlyArray<Histogram | string>): Histogram {
  const merged = createHistogram();
  for (const part of parts) merged.add(typeof part === 'string' ? decodeHistogram(part) : part);
  return merged;
}

/** Percentiles as HdrHistogram reports them: the highest value equivalent to the recorded one (3 digits). */
export function summarize(histogram: Histogram): LatencySummary {
  const ms = (micros: number) => micros / 1_000;
  const empty = histogram.totalCount === 0;
  return {
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(empty ? 0 : histogram.getValueAtPercentile(100)),
    mean: empty ? 0 : ms(histogram.mean),
    min: empty ? 0 : ms(histogram.minNonZeroValue),
  };
}
