// What the bench scripts share (not a script to run): their command line, and starting `kvdb-bench`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The `kvdb-bench` binary of this package. */
export const benchBin = fileURLToPath(new URL('../bin/kvdb-bench.js', import.meta.url));

/**
 * Splits the command line at `--`: the script's own options before it, parsed with `options`, and the arguments
 * for `kvdb-bench` after it.
 */
export function scriptArgs(options) {
  const dash = process.argv.indexOf('--');
  const own = dash === -1 ? process.argv.slice(2) : process.argv.slice(2, dash);
  const benchArgs = dash === -1 ? [] : process.argv.slice(dash + 1);
  return { values: parseArgs({ args: own, options }).values, benchArgs };
}

/** Runs `kvdb-bench` with `benchArgs` against `targets`, on this terminal; resolves with its exit status. */
export function runBench(benchArgs, targets) {
  const bench = spawn(process.execPath, [benchBin, ...benchArgs, '--targets', targets], {
    stdio: 'inherit',
  });
  return new Promise((resolve) => bench.once('exit', (code) => resolve(code ?? 1)));
}
