/**
 * @kvdb/coordinator: the distributed logic of a kvdb node, with every socket, file and clock injected, so a whole
 * cluster can run in one process.
 *
 * @example
 * ```ts
 * import { MemoryStore } from '@kvdb/core'
 * import { ClusterNode } from '@kvdb/coordinator'
 *
 * const node = new ClusterNode(
 *   { store: new MemoryStore(), transport },
 *   { self: '127.0.0.1:5878', seeds: ['127.0.0.1:5879', '127.0.0.1:5880'], replicas: 3 },
 * )
 * await node.start()
 * await node.coordinator.set('user:42', { name: 'Ada' })
 * ```
 */
export type { AntiEntropyStats, HintLog } from '@kvdb/core';
export { seededRandom } from '@kvdb/core';
export { AntiEntropy, type AntiEntropyInit } from './anti-entropy.js';
export { type Clock, type Repeating, repeat, systemClock, type TimerHandle } from './clock.js';
export { ClusterNode, type ClusterNodeComponents, type ClusterNodeInit } from './cluster-node.js';
export {
  type ConsistencyOptions,
  Coordinator,
  type CoordinatorComponents,
  type CoordinatorInit,
  type DefaultOptions,
  type ListAllKeysOptions,
  type ListKeysOptions,
} from './coordinator.js';
export * from './defaults.js';
export { DigestIndex, recordHash } from './digest-index.js';
export {
  type OwnAnswer,
  ParallelExecutor,
  type ParallelExecutorInit,
  type QuorumOptions,
  type QuorumOutcome,
  type Settled,
} from './executor.js';
export { FailureDetector, type FailureDetectorComponents } from './failure-detector.js';
export { HintedHandoff, type HintedHandoffInit } from './hinted-handoff.js';
export { type CollectKeysOptions, collectKeys, mergeKeyPages } from './key-listing.js';
export {
  type DataHandlers,
  type DataMethod,
  LocalReplica,
  type LocalReplicaComponents,
} from './local-replica.js';
export { type LogFields, type Logger, silentLogger } from './logger.js';
export { MemberNames, type MemberNamesComponents, type MemberNamesInit } from './member-names.js';
export { type MemberState, Membership, type MembershipListener } from './membership.js';
export { getMany, type KeyRequests, MULTI_KEY_CONCURRENCY, setMany } from './multi-key.js';
export {
  type Answer,
  dispatchPeer,
  type PeerCallOptions,
  type PeerHandler,
  type PeerHandlers,
  type PeerTransport,
} from './peer-transport.js';
export { type KeyPlacement, type PendingSegment, Placement } from './placement.js';
export { RangeFill, type RangeFillInit } from './range-fill.js';
export { isBehind, ReadRepair, type ReadRepairComponents } from './read-repair.js';
export { type HandoffResult, Rebalancer, type RebalancerInit } from './rebalancer.js';
export { ReplicaDigests, scanPages } from './replica-digests.js';
export type { SetOptions } from './request-options.js';
export { parseRingKey, ringKey } from './ring-listing.js';
export { allSettledOrThrow, RunsUnderWay } from './runs-under-way.js';
export { Throttle } from './throttle.js';
export { TombstoneCollector, type TombstoneCollectorInit } from './tombstone-collector.js';
export {
  type BatchLimits,
  type Entry,
  type EntryBatch,
  entryBatches,
  entryBytes,
  readEntries,
} from './transfer.js';
