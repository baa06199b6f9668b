/**
 * Facts a log line carries besides its message (a member's address, counts), kept as fields of the JSON line so
 * that they can be searched for without parsing the message. Never values or tokens.
 */
export type LogFields = Readonly<Record<string, unknown>>;

/** Where the coordinator narrates what it does. The server supplies one that honours `--log-level`. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
