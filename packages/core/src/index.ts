/**
 * @kvdb/core: the pieces every kvdb package shares, with no I/O.
 *
 * @example
 * ```ts
 * import { HashRing } from '@kvdb/core'
 *
 * const ring = new HashRing(['127.0.0.1:5878', '127.0.0.1:5879', '127.0.0.1:5880'])
 * ring.preferenceList('user:42', 2) // e.g. ['127.0.0.1:5880', '127.0.0.1:5878']
 * ```
 */
export * from './cluster-status.js';
export * from './constants.js';
export * from './errors.js';
export { HashRing, type HashRingInit } from './hash-ring.js';
export { cryptoHasher, type Hasher, md5Hasher, RING_SIZE } from './hasher.js';
export * from './json-text.js';
export { compareKeys, scanPage } from './keys.js';
export * from './member.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export * from './peer-protocol.js';
export * from './protocol.js';
export * from './record.js';
export * from './replication.js';
export { type RingShare, ringShares } from './ring-shares.js';
export { pick, seededRandom } from './seeded-random.js';
export {
  type EntriesOptions,
  type FillLog,
  type FillProgress,
  type HintLog,
  isFillProgress,
  type MergeResult,
  type PaxosLog,
  type PaxosState,
  type ScanOptions,
  type Store,
  type StoreCounts,
  storeClosed,
} from './store.js';
export { SPEAKS_TLS_MESSAGE, tlsFailure } from './tls-failure.js';
export * from './version.js';
