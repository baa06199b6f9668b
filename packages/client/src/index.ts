/**
 * @kvdb/client: talk to a kvdb cluster from code.
 *
 * @example
 * ```ts
 * import { KVClient } from '@kvdb/client'
 *
 * const kv = new KVClient({ nodes: ['127.0.0.1:5878', '127.0.0.1:5879', '127.0.0.1:5880'] })
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
export { DEFAULT_CLIENT_TIMEOUT_MS, DEFAULT_MAX_SOCKETS, DEFAULT_REFRESH_MS } from './constants.js';
export {
  type CallOptions,
  type CasOptions,
  type KeysOptions,
  KVClient,
  type KVClientComponents,
  type KVClientEvents,
  type KVClientOptions,
  type KVClientTls,
  type ListKeysOptions,
  type ListKeysPageOptions,
  type RequestOptions,
  type SetOptions,
} from './kv-client.js';
export type { NodeReply, NodeRequest, NodeTransport, TransportFailure } from './node-transport.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy.js';
