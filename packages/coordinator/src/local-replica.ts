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
  /** Writes sent to the store whose digest update has not been made yet. */
  private inFlight = 0;

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
    this.inFlight++;
    try {
      const result = await this.store.merge(key, record);
      if (result.applied) this.index.replace(key, result.previous, record);
      return result;
    } finally {
      this.inFlight--;
    }
  }

  async remove(key: string, version: Version): Promise<boolean> {
    this.inFlight++;
    try {
      const current = await this.store.get(key);
      if (current === undefined) return false;
      const removed = await this.store.remove(key, version);
      if (removed) this.index.replace(key, current, undefined);
      return removed;
    } finally {
      this.inFlight--;
    }
  }

  counts(): Promise<StoreCounts> {
    return this.store.counts();
  }

  entries(): Iterable<[string, KVRecord]> {
    return this.store.entries();
  }

  /**
   * `[key, version, deleted]` of every record in the given segments of the index's ring. When no write is half
   * done, the scan also resets those segments' digests to what the store holds: a write whose store commit and
   * digest update straddled a ring change (the rebuild may or may not have seen it) leaves a digest off, and
   * anti-entropy, which asks for the key versions of exactly the segments whose digests differ, heals it.
   */
  keyVersions(segments?: ReadonlySet<number>): KeyVersion[] {
    const result: KeyVersion[] = [];
    const index = this.index;
    const ring = index.ring;
    const heal =
      segments !== undefined && this.inFlight === 0 && ring.size > 1 ? new DigestIndex(ring) : undefined;
    for (const [key, record] of this.store.entries()) {
      const segment = segments === undefined ? -1 : ring.segmentOf(key);
      if (segments === undefined || segments.has(segment)) {
        result.push([key, record.version, isTombstone(record)]);
        heal?.replace(key, undefined, record);
      }
    }
    if (heal !== undefined) for (const segment of segments!) index.assign(segment, heal.segment(segment));
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
