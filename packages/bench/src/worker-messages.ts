import type { LoadProgress, LoadResult } from './load-generator.js';

/** A worker's result as it crosses the thread boundary: the histogram in hdr-histogram's compressed base64. */
export type EncodedLoadResult = Omit<LoadResult, 'histogram'> & { histogram: string };

export type WorkerMessage =
  | { type: 'ready' }
  | ({ type: 'progress' } & LoadProgress)
  | { type: 'result'; result: EncodedLoadResult };
