import type { LogFields, Logger } from '@kvdb/coordinator';
import { type DestinationStream, type LogFn, pino, stdTimeFunctions } from 'pino';
import { prettyFactory } from 'pino-pretty';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Where log lines go: anything with a `write` that takes a whole line. */
export interface LogDestination {
  write(line: string): unknown;
  /** Whether a person reads it (picks `pretty` when no format is given). */
  isTTY?: boolean;
}

export interface LoggerInit {
  /** `json`: one JSON object a line; `pretty`: `time LEVEL [node] message {fields}`. @default pretty on a terminal, else json */
  format?: LogFormat;
  /** @default process.stderr, written synchronously (a line logged just before the process exits is not lost) */
  destination?: LogDestination;
}

/**
 * A node's logger, on pino: each line names the node (`node`, its advertised address) and carries the call's
 * fields. The readable format is pino-pretty's, formatted in this thread as each line is written (no worker).
 */
export function createLogger(address: string, level: LogLevel, init: LoggerInit = {}): Logger {
  const destination = init.destination ?? process.stderr;
  const format = init.format ?? (destination.isTTY === true ? 'pretty' : 'json');
  const write = (line: string) => destination.write(line);
  let stream: DestinationStream = { write };
  if (format === 'pretty') {
    const prettify = prettyFactory({
      colorize: destination.isTTY === true,
      translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'",
      ignore: 'node',
      messageFormat: '[{node}] {msg}',
      singleLine: true,
    });
    stream = { write: (line: string) => write(prettify(line)) };
  }
  const base = pino(
    {
      level,
      base: { node: address },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  const at =
    (log: LogFn) =>
    (message: string, fields?: LogFields): void => {
      if (fields === undefined) log.call(base, message);
      else log.call(base, fields, message);
    };
  return { debug: at(base.debug), info: at(base.info), warn: at(base.warn), error: at(base.error) };
}
