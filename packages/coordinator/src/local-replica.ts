import type {
  HashRing,
  KeyVersion,
  KVRecord,
  MergeResult,
  ScanOptions,
  Store,
  StoreCounts,
  Version,
} from '@kvdb/core';
import { isTombstone } from '@kvdb/core';
import { DigestIndex } from './digest-index.js';

/**
 * This node's replica: the store, plus the digest index that anti-entropy compares. Every local write goes
 * through here so the digests never drift from the data (on a ring of one member there are none to keep).
 */
export class LocalReplica {
  readonly store: Store;
  private index: DigestIndex;

  constructor(store: Store, ring: HashRing) {
    this.store = store;
    this.index = this.build(ring);
  }

  get digests(): DigestIndex {
    return this.index;
  }

  get(key: string): Promise<KVRecord | undefined> {
    return this.store.get(key);
  }

  async merge(key: string, record: KVRecord): Promise<MergeResult> {
    const result = await this.store.merge(key, record);
    if (result.applied) this.index.replace(key, result.previous, record);
    return result;
  }

  async remove(key: string, version: Version): Promise<boolean> {
    const current = await this.store.get(key);
    if (current === undefined) return false;
    const removed = await this.store.remove(key, version);
    if (removed) this.index.replace(key, current, undefined);
    return removed;
  }

  counts(): Promise<StoreCounts> {
    return this.store.counts();
  }

  entries(): Iterable<[string, KVRecord]> {
    return this.store.entries();
  }

  /** `[key, version, deleted]` of every record in the given segments of the index's ring. */
  keyVersions(segments?: ReadonlySet<number>): KeyVersion[] {
    const result: KeyVersion[] = [];
    const ring = this.index.ring;
    for (const [key, record] of this.store.entries()) {
      if (segments === undefined || segments.has(ring.segmentOf(key))) {
        result.push([key, record.version, isTombstone(record)]);
      }
    }
    return result;
  }

  /** One bounded page of keys in `compareKeys` order, tombstones included: what a paged listing asks each member. */
  scanKeys(options: ScanOptions): KeyVersion[] {
    return this.store.scanKeys(options);
  }

  /** Re-keys the digests to a new ring: one synchronous scan, so no write can slip between scan and swap. */
  useRing(ring: HashRing): void {
    if (ring.id !== this.index.ring.id) this.index = this.build(ring);
  }

  private build(ring: HashRing): DigestIndex {
    const index = new DigestIndex(ring);
    if (ring.size <= 1) return index; // it keeps nothing: no need to read every record
    for (const [key, record] of this.store.entries()) index.replace(key, undefined, record);
    return index;
  }
}
