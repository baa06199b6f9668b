import type { OperationKind } from './core-workloads.js';
import { decodeHistogram, encodeHistogram, type Histogram, mergeHistograms } from './histogram.js';
import type { LoadProgress, LoadResult } from './load-generator.js';

/** A worker's result as it crosses the thread boundary: every histogram in hdr-histogram's compressed base64. */
export type EncodedLoadResult = Omit<LoadResult, 'histogram' | 'operations'> & {
  histogram: string;
  operations: Partial<Record<OperationKind, string>>;
};

export type WorkerMessage =
  | { type: 'ready' }
  | ({ type: 'progress' } & LoadProgress)
  | { type: 'result'; result: EncodedLoadResult };

export function encodeResult(result: LoadResult): EncodedLoadResult {
  return {
    ...result,
    histogram: encodeHistogram(result.histogram),
    operations: mapOperations(result.operations, encodeHistogram),
  };
}

export function decodeResult(result: EncodedLoadResult): LoadResult {
  return {
    ...result,
    histogram: decodeHistogram(result.histogram),
    operations: mapOperations(result.operations, decodeHistogram),
  };
}

/** The histograms of each kind of operation, merged across parts (workers, rounds). */
export function mergeOperations(
  parts: ReadonlyArray<Partial<Record<OperationKind, Histogram>>>,
): Partial<Record<OperationKind, Histogram>> {
  const kinds = new Set(parts.flatMap((part) => Object.keys(part) as OperationKind[]));
  const merged: Partial<Record<OperationKind, Histogram>> = {};
  for (const kind of kinds) {
    merged[kind] = mergeHistograms(parts.flatMap((part) => part[kind] ?? []));
  }
  return merged;
}

function mapOperations<A, B>(
  operations: Partial<Record<OperationKind, A>>,
  map: (value: A) => B,
): Partial<Record<OperationKind, B>> {
  const mapped: Partial<Record<OperationKind, B>> = {};
  for (const [kind, value] of Object.entries(operations) as Array<[OperationKind, A]>)
    mapped[kind] = map(value);
  return mapped;
}
