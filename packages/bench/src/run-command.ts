/**
 * What `kvdb-bench` does once its options are parsed. Loaded only when the command runs, so that `--help` and a
 * mistyped flag do not load the client, the histogram and the progress bar.
 */
import { tlsFromArgs } from '@kvdb/client/cli';
import { KVError, UsageError } from '@kvdb/core';
import { type Child, spawnReferenceServer } from './child-process.js';
import type { BenchArgs } from './command.js';
import { type BenchOptions, resolveBenchOptions } from './options.js';
import { createProgress } from './progress.js';
import { type BenchSummary, formatComparison, formatReport, runTitle, summarizeResult } from './report.js';
import { combineResults, median, roundOptions, roundRatios } from './rounds.js';
import { type BenchResult, runBenchmark } from './runner.js';

export async function benchHandler(argv: BenchArgs): Promise<void> {
  let options: BenchOptions;
  const rounds = argv.rounds ?? 1;
  try {
    if (argv.reference && argv['compare-reference']) {
      throw new UsageError('Give either `--reference` or `--compare-reference`, not both');
    }
    if (argv.reference && argv.targets !== undefined) {
      throw new UsageError('`--reference` benchmarks its own server: leave out `--targets`');
    }
    if (argv.rounds !== undefined && !argv['compare-reference']) {
      throw new UsageError('`--rounds` applies to `--compare-reference` only');
    }
    options = resolveBenchOptions(argv);
    const tls = tlsFromArgs(argv);
    if (tls !== undefined) options.tls = tls;
    roundOptions(options, rounds, 0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`kvdb-bench: ${error.message}`);
    process.exitCode = 2;
    return;
  }
  const output = { json: argv.json === true, chart: argv.histogram === true };
  let reference: { child: Child; host: string; port: number } | undefined;
  try {
    if (argv.reference || argv['compare-reference']) reference = await spawnReferenceServer();
    if (reference === undefined) {
      return finish(summarizeResult(await measure(options, 'target', output), output), undefined, output);
    }
    // The reference server speaks plain HTTP.
    const referenceOptions = {
      ...options,
      targets: [{ host: reference.host, port: reference.port }],
      tls: undefined,
    };
    if (argv.reference) {
      return finish(
        summarizeResult(await measure(referenceOptions, 'reference', output), output),
        undefined,
        output,
      );
    }
    const referenceParts: BenchResult[] = [];
    const targetParts: BenchResult[] = [];
    for (let round = 0; round < rounds; round++) {
      const label = (who: string) => (rounds === 1 ? who : `${who} ${round + 1}/${rounds}`);
      referenceParts.push(
        await measure(roundOptions(referenceOptions, rounds, round), label('reference'), output),
      );
      targetParts.push(await measure(roundOptions(options, rounds, round), label('target'), output));
    }
    finish(
      summarizeResult(combineResults(targetParts), output),
      {
        summary: summarizeResult(combineResults(referenceParts), output),
        ratios: roundRatios(referenceParts, targetParts),
      },
      output,
    );
  } catch (error) {
    if (!(error instanceof KVError)) throw error;
    console.error(`kvdb-bench: ${error.message}`);
    process.exitCode = 1;
  } finally {
    await reference?.child.stop();
  }
}

async function measure(
  options: BenchOptions,
  label: string,
  output: { json: boolean },
): Promise<BenchResult> {
  const enabled = !output.json && process.stdout.isTTY === true && process.stderr.isTTY === true;
  const progress = createProgress(options.stop, {
    enabled,
    label: `${label} ${runTitle(options).toLowerCase()}`,
  });
  try {
    return await runBenchmark(options, {
      onWarmup: (keys) => progress.warmup(keys),
      onWarmupLoad: (durationMs) => progress.warmupLoad(durationMs),
      onProgress: (state) => progress.update(state),
    });
  } finally {
    progress.stop();
  }
}

/** Prints the report (or the JSON object) and sets the exit status: 1 if any request failed. */
function finish(
  target: BenchSummary,
  reference: { summary: BenchSummary; ratios: number[] } | undefined,
  output: { json: boolean },
): void {
  const failed = target.errors.total + (reference?.summary.errors.total ?? 0);
  if (output.json) {
    const body = reference
      ? {
          reference: reference.summary,
          target,
          ratio: round2(median(reference.ratios)),
          roundRatios: reference.ratios.map(round2),
        }
      : target;
    process.stdout.write(`${JSON.stringify(body)}\n`);
  } else if (reference) {
    const title = (summary: BenchSummary, who: string) => `${runTitle(summary)} · ${who}`;
    process.stdout.write(
      `${formatReport(reference.summary, title(reference.summary, 'reference server'))}\n\n`,
    );
    process.stdout.write(`${formatReport(target, title(target, 'target'))}\n\n`);
    process.stdout.write(`${formatComparison(reference.summary, target, reference.ratios)}\n`);
  } else {
    process.stdout.write(`${formatReport(target)}\n`);
  }
  if (failed > 0) {
    console.error(`kvdb-bench: ${failed.toLocaleString('en-US')} requests FAILED; see the report`);
    process.exitCode = 1;
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
