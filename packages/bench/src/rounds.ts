import { UsageError } from '@kvdb/core';
import type { BenchOptions } from './options.js';
import { type BenchResult, summarize } from './runner.js';

/**
 * Interleaved rounds. On a shared machine the capacity drifts by tens of percent within a minute, so a reference
 * measured first and a target measured next can be compared unfairly. Alternating short slices (reference,
 * target, reference, target, …) and taking the median of the per-round ratios cancels slow drift and shrugs off
 * one disturbed slice.
 */

/**
 * The options of one of `rounds` slices: the duration or the requests split evenly; only the first prefills and
 * runs the unmeasured warmup load.
 */
export function roundOptions(options: BenchOptions, rounds: number, round: number): BenchOptions {
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new UsageError(`Expected \`--rounds\` to be an integer from 1 and up, got ${rounds}`);
  }
  const { stop } = options;
  let sliced: BenchOptions['stop'];
  if (stop.requests !== undefined) {
    const requests = Math.floor(stop.requests / rounds) + (round < stop.requests % rounds ? 1 : 0);
    if (requests < options.workers) {
      throw new UsageError(`Expected \`--requests\` to be at least \`--rounds\` × \`--workers\``);
    }
    sliced = { requests };
  } else {
    const durationMs = Math.floor(stop.durationMs / rounds);
    if (durationMs < 1) throw new UsageError('Expected `--duration` to give each round at least 1 ms');
    sliced = { durationMs };
  }
  return {
    ...options,
    stop: sliced,
    warmup: options.warmup && round === 0,
    warmupMs: round === 0 ? options.warmupMs : 0,
  };
}

/** Several slices of one side as one run: counts and times added, histograms and errors merged. */
export function combineResults(parts: readonly BenchResult[]): BenchResult {
  const [first] = parts;
  if (first === undefined) throw new Error('combineResults: no results to combine');
  if (parts.length === 1) return first;
  const total = (pick: (part: BenchResult) => number) => parts.reduce((sum, part) => sum + pick(part), 0);
  return summarize(
    first.options,
    parts,
    total((part) => part.durationMs),
    total((part) => part.clientCpuMs),
  );
}

/** Target ÷ reference throughput of each round. */
export function roundRatios(reference: readonly BenchResult[], target: readonly BenchResult[]): number[] {
  return target.map((part, index) => {
    const base = reference[index]?.throughput ?? 0;
    return base > 0 ? part.throughput / base : 0;
  });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? 0;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? 0) + upper) / 2;
}
