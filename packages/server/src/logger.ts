import type { Logger } from '@kvdb/coordinator';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One line per event on stderr: `time LEVEL [address] message`. */
export function createLogger(
  address: string,
  level: LogLevel,
  write = (line: string) => process.stderr.write(line),
): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const at =
    (name: LogLevel) =>
    (message: string): void => {
      if (LOG_LEVELS.indexOf(name) < threshold) return;
      write(`${new Date().toISOString()} ${name.toUpperCase().padEnd(5)} [${address}] ${message}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
