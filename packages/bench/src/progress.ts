import cliProgress from 'cli-progress';
import type { LoadProgress } from './load-generator.js';
import type { StopCondition } from './options.js';

export interface ProgressView {
  warmup(keys: number): void;
  warmupLoad(durationMs: number): void;
  update(progress: LoadProgress & { elapsedMs: number }): void;
  stop(): void;
}

const SILENT: ProgressView = { warmup() {}, warmupLoad() {}, update() {}, stop() {} };

/**
 * A progress bar on stderr, toward the duration or the request count, with live ops/s and errors. Only on a
 * terminal and never with `--json`: piped output gets the report alone.
 */
export function createProgress(
  stop: StopCondition,
  options: { enabled: boolean; label: string },
): ProgressView {
  if (!options.enabled) return SILENT;
  const total = stop.requests ?? stop.durationMs;
  const bar = new cliProgress.SingleBar({
    format: `${options.label} {bar} {percentage}% | {rate} ops/s | {done} requests | {errors} errors`,
    barsize: 30,
    hideCursor: true,
    clearOnComplete: true,
    stream: process.stderr,
  });
  let started = false;
  return {
    warmup(keys) {
      process.stderr.write(`${options.label} warming up: setting ${keys.toLocaleString('en-US')} keys…\r`);
    },
    warmupLoad(durationMs) {
      process.stderr.write(
        `\x1b[2K${options.label} warming up: ${durationMs / 1_000} s of unmeasured load…\r`,
      );
    },
    update({ completed, errors, elapsedMs }) {
      const payload = {
        rate: elapsedMs > 0 ? Math.round((completed * 1_000) / elapsedMs).toLocaleString('en-US') : '0',
        done: completed.toLocaleString('en-US'),
        errors: errors.toLocaleString('en-US'),
      };
      const value = Math.min(total, stop.requests === undefined ? elapsedMs : completed);
      if (!started) {
        process.stderr.write('\x1b[2K');
        bar.start(total, value, payload);
        started = true;
      } else {
        bar.update(value, payload);
      }
    },
    stop() {
      if (started) bar.stop();
      else process.stderr.write('\x1b[2K');
    },
  };
}
