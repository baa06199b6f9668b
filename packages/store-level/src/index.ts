/**
 * @kvdb/store-level: the durable `Store` (and hint log) of a kvdb node, on LevelDB through classic-level. It is the
 * one kvdb package with a native module: apps that embed @kvdb/core or @kvdb/coordinator without a data dir never
 * install it.
 *
 * @example
 * ```ts
 * import { DiskStore } from '@kvdb/store-level'
 *
 * const store = await DiskStore.open('./data', { cluster: 'kvdb', address: '127.0.0.1:5878' })
 * // a Store, and the HintLog of hinted handoff
 * await store.close()
 * ```
 */
export { DEFAULT_FSYNC_INTERVAL_MS } from './constants.js';
export type { DataDirIdentity } from './data-dir.js';
export { DiskStore, type DiskStoreOptions } from './disk-store.js';
