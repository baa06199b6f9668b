import type { Logger } from '@kvdb/coordinator';
import { InternalError, KVError } from '@kvdb/core';

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** The JSON-RPC error object for anything a method threw; unexpected errors are logged and never leak a stack. */
export function toRpcError(error: unknown, log: Logger): RpcErrorObject {
  if (error instanceof KVError) return error.toJSON();
  log.error(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return new InternalError('Internal error').toJSON();
}
