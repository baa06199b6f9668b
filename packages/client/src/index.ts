/**
 * @kvdb/client: talk to a kvdb cluster from code.
 *
 * @example
 * ```ts
 * import { KVClient } from '@kvdb/client'
 *
 * const kv = new KVClient({ host: '127.0.0.1', port: 5878 })
 * await kv.set('greeting', 'hello')
 * console.log(await kv.get('greeting')) // 'hello'
 * await kv.close()
 * ```
 */
export {
  type CasResult,
  ConnectionError,
  type Consistency,
  InvalidParamsError,
  InvalidRequestError,
  type JsonValue,
  type KeyPage,
  KVError,
  MAX_TTL_SECONDS,
  type MemberInfo,
  MethodNotFoundError,
  type MultiKeyFailure,
  type NodeStats,
  OutcomeUnknownError,
  QuorumNotReachedError,
  TimeoutError,
  TooLargeError,
  type TtlResult,
  UnauthorizedError,
  UnavailableError,
} from '@kvdb/core';
export { DEFAULT_CLIENT_TIMEOUT_MS, DEFAULT_MAX_SOCKETS } from './constants.js';
export {
  type CallOptions,
  type CasOptions,
  type KeysOptions,
  KVClient,
  type KVClientOptions,
  type KVClientTls,
  type ListKeysOptions,
  type ListKeysPageOptions,
  type SetOptions,
} from './kv-client.js';
