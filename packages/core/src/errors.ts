/**
 * Every failure kvdb reports is a `KVError` with a numeric JSON-RPC `code`, so the server can put it on the wire
 * as is and the client can map the code back to the same class. Protocol faults use the JSON-RPC 2.0 codes;
 * application errors use codes outside -32768…-32000.
 */
export const ErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  QUORUM_NOT_REACHED: 1001,
  TIMEOUT: 1002,
  UNAVAILABLE: 1003,
  UNAUTHORIZED: 1004,
  TOO_LARGE: 1005,
  CONNECTION_FAILED: 1006,
  DATA_DIR: 1007,
  USAGE: 1008,
  OUTCOME_UNKNOWN: 1009,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface KVErrorOptions {
  data?: unknown;
  cause?: unknown;
}

export class KVError extends Error {
  static readonly code: number = ErrorCode.INTERNAL_ERROR;
  override name = 'KVError';
  readonly code: number;
  readonly data: unknown;

  constructor(message: string, options: KVErrorOptions & { code?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? (this.constructor as typeof KVError).code;
    this.data = options.data;
  }

  /** The JSON-RPC error object for this error. */
  toJSON(): { code: number; message: string; data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

export class ParseError extends KVError {
  static override readonly code = ErrorCode.PARSE_ERROR;
  override name = 'ParseError';
}

export class InvalidRequestError extends KVError {
  static override readonly code = ErrorCode.INVALID_REQUEST;
  override name = 'InvalidRequestError';
}

export class MethodNotFoundError extends KVError {
  static override readonly code = ErrorCode.METHOD_NOT_FOUND;
  override name = 'MethodNotFoundError';
}

export class InvalidParamsError extends KVError {
  static override readonly code = ErrorCode.INVALID_PARAMS;
  override name = 'InvalidParamsError';
}

export class InternalError extends KVError {
  static override readonly code = ErrorCode.INTERNAL_ERROR;
  override name = 'InternalError';
}

/** What a quorum failure says about who was asked and who answered. */
export interface QuorumFailure {
  operation: string;
  key?: string;
  required: number;
  acked: number;
  replicas: string[];
  failed: Array<{ replica: string; reason: string }>;
  timedOut: boolean;
}

export class QuorumNotReachedError extends KVError {
  static override readonly code = ErrorCode.QUORUM_NOT_REACHED;
  override name = 'QuorumNotReachedError';

  static fromFailure(failure: QuorumFailure): QuorumNotReachedError {
    const why = failure.timedOut ? 'timed out' : 'failed';
    const subject =
      failure.key === undefined ? failure.operation : `${failure.operation} ${JSON.stringify(failure.key)}`;
    return new QuorumNotReachedError(
      `${subject} ${why}: ${failure.acked} of ${failure.required} required replicas answered (replicas: ${failure.replicas.join(', ')})`,
      { data: failure },
    );
  }
}

export class TimeoutError extends KVError {
  static override readonly code = ErrorCode.TIMEOUT;
  override name = 'TimeoutError';
}

export class UnavailableError extends KVError {
  static override readonly code = ErrorCode.UNAVAILABLE;
  override name = 'UnavailableError';
}

export class UnauthorizedError extends KVError {
  static override readonly code = ErrorCode.UNAUTHORIZED;
  override name = 'UnauthorizedError';
}

export class TooLargeError extends KVError {
  static override readonly code = ErrorCode.TOO_LARGE;
  override name = 'TooLargeError';
}

/** The server could not be reached at all (refused, reset, DNS): raised by clients, never sent on the wire. */
export class ConnectionError extends KVError {
  static override readonly code = ErrorCode.CONNECTION_FAILED;
  override name = 'ConnectionError';
}

/** A data dir that belongs to someone else, is in use, or that this version cannot read: raised at start, never sent on the wire. */
export class DataDirError extends KVError {
  static override readonly code = ErrorCode.DATA_DIR;
  override name = 'DataDirError';
}

/** A command line or shell command that cannot run as typed: raised by the tools, never sent on the wire. */
export class UsageError extends KVError {
  static override readonly code = ErrorCode.USAGE;
  override name = 'UsageError';
}

/**
 * A write whose outcome is not known: it timed out or lost its replicas after a replica may have accepted it, so
 * it may or may not take effect (Cassandra's CAS_WRITE_UNKNOWN). Never retried blindly: read the key to find out.
 */
export class OutcomeUnknownError extends KVError {
  static override readonly code = ErrorCode.OUTCOME_UNKNOWN;
  override name = 'OutcomeUnknownError';
}

const classesByCode = new Map<number, typeof KVError>(
  [
    ParseError,
    InvalidRequestError,
    MethodNotFoundError,
    InvalidParamsError,
    InternalError,
    QuorumNotReachedError,
    TimeoutError,
    UnavailableError,
    UnauthorizedError,
    TooLargeError,
    ConnectionError,
    OutcomeUnknownError,
  ].map((cls) => [cls.code, cls as typeof KVError]),
);

/** Rebuilds the error class a JSON-RPC error object stands for; unknown codes become a plain `KVError`. */
export function errorFromRpc(error: { code: number; message: string; data?: unknown }): KVError {
  const Cls = classesByCode.get(error.code) ?? KVError;
  return new Cls(error.message, { code: error.code, data: error.data });
}

/** A short reason for logs and error data, whatever was thrown. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
