/**
 * @kvdb/coordinator: the distributed logic of a kvdb node, with every socket, file and clock injected, so a whole
 * cluster can run in one process.
 *
 * @example
 * ```ts
 * import { MemoryStore } from '@kvdb/core'
 * import { Coordinator, Membership } from '@kvdb/coordinator'
 *
 * const membership = new Membership('127.0.0.1:5878', ['127.0.0.1:5879', '127.0.0.1:5880'])
 * const coordinator = new Coordinator({ membership, store: new MemoryStore(), transport }, { replicas: 3 })
 * await coordinator.set('user:42', { name: 'Ada' })
 * ```
 */
export { type Clock, systemClock, type TimerHandle } from './clock.js';
export {
  type ConsistencyOptions,
  Coordinator,
  type CoordinatorComponents,
  type CoordinatorInit,
  type DefaultOptions,
} from './coordinator.js';
export {
  ParallelExecutor,
  type ParallelExecutorInit,
  type QuorumOptions,
  type QuorumOutcome,
  type Settled,
} from './executor.js';
export { type Logger, silentLogger } from './logger.js';
export { type MemberState, Membership, type MembershipListener } from './membership.js';
export type { PeerCallOptions, PeerHandler, PeerTransport } from './peer-transport.js';
