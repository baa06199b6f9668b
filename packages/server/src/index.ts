/**
 * @kvdb/server: a kvdb node you can run from code, and the `kvdb-server` binary.
 *
 * @example
 * ```ts
 * import { KVNode } from '@kvdb/server'
 *
 * const node = await KVNode.start({ port: 5878, members: ['127.0.0.1:5879', '127.0.0.1:5880'] })
 * // …
 * await node.stop()
 * ```
 */
export { DEFAULT_FSYNC_INTERVAL_MS } from '@kvdb/store-level';
export { type Limits, type NodeConfig, type NodeConfigInit, resolveConfig } from './config.js';

export {
  freePorts,
  LocalCluster,
  type LocalClusterInit,
  type LocalNode,
  type NodeExit,
  type ReadyWhen,
  SERVER_BIN,
  type StartNodeOptions,
  startLocalCluster,
} from './local-cluster.js';
export {
  createLogger,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogDestination,
  type LogFormat,
  type LoggerInit,
  type LogLevel,
} from './logger.js';
export { METHODS, type MethodContext, type MethodDefinition } from './methods/index.js';
export { KVNode, type NodeComponents } from './node.js';
export type { TlsOptions } from './node-tls.js';
export { FrameReader, PEER_PATH, PEER_PROTOCOL } from './peer-stream.js';
export { StreamPeerTransport, type StreamPeerTransportInit } from './stream-peer-transport.js';
