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
import { DigestIndex } from './digest-index.js';

/** Keys read between two turns of the event loop when scanning every key: a few milliseconds of work. */
const SCAN_PAGE = 2_000;

/**
 * This node's replica: the store, plus the digest index that anti-entropy compares. Every local write goes
 * through here so the digests never drift from the data (on a ring of one member there are none to keep).
 */
export class LocalReplica {
  readonly store: Store;
  private index: DigestIndex;
  /** Writes sent to the store whose digest update has not been made yet. */
  private inFlight = 0;
  /** Writes begun, ever: a scan that sees it unchanged saw no write. */
  private writes = 0;

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
    this.writes++;
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
    this.writes++;
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
   * `[key, version, deleted]` of every record in the given segments of the index's ring. Segments are hash ranges,
   * so this reads every key; it does so in pages of the store's key scan and lets the event loop run between
   * them, so that anti-entropy on a large node never holds other requests up for long.
   *
   * When no write ran meanwhile, the scan also resets those segments' digests to what the store holds: a write
   * whose store commit and digest update straddled a ring change (the rebuild may or may not have seen it) leaves
   * a digest off, and anti-entropy, which asks for exactly the segments whose digests differ, heals it.
   */
  async keyVersions(segments: ReadonlySet<number>): Promise<KeyVersion[]> {
    const result: KeyVersion[] = [];
    const index = this.index;
    const ring = index.ring;
    const heal = ring.size > 1 ? new DigestIndex(ring) : undefined;
    const quiet = this.inFlight === 0 ? this.writes : undefined;
    for await (const page of this.pages()) {
      for (const entry of page) {
        const segment = ring.segmentOf(entry[0]);
        if (!segments.has(segment)) continue;
        result.push(entry);
        heal?.include(
          segment,
          entry[0],
          entry[2] ? { version: entry[1], deleted: true } : { version: entry[1] },
        );
      }
    }
    if (heal !== undefined && quiet === this.writes && this.inFlight === 0 && index === this.index) {
      for (const segment of segments) index.assign(segment, heal.segment(segment));
    }
    return result;
  }

  /**
   * Every record's `[key, version, deleted]`, in key order, a page of the store's key scan at a time with a turn of
   * the event loop between pages: how background tasks read a large store without holding requests up. Writes
   * made meanwhile may or may not be seen.
   */
  async *pages(): AsyncIterable<KeyVersion[]> {
    let after: string | undefined;
    for (;;) {
      const page = this.store.scanKeys({ after, limit: SCAN_PAGE });
      if (page.length > 0) yield page;
      if (page.length < SCAN_PAGE) return;
      after = page.at(-1)![0];
      await new Promise((resolve) => setImmediate(resolve));
    }
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
