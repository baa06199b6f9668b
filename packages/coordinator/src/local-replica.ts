import {
  compareKeys,
  type HashRing,
  type KeyVersion,
  type KVRecord,
  type MergeResult,
  type RecordHead,
  type ScanOptions,
  type Store,
  type StoreCounts,
  type Version,
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
  /** The index in use, with how it was built. */
  private current: IndexBuild;
  /** Writes sent to the store whose digest update has not been made yet. */
  private inFlight = 0;
  /** Writes begun, ever: a scan that sees it unchanged saw no write. */
  private writes = 0;
  /** The index being built for a new ring, while its scan runs. */
  private rebuild: IndexBuild | undefined;
  /** Pages the rebuilds have read, ever: a write notes it when it begins. */
  private pagesRead = 0;

  constructor(store: Store, ring: HashRing) {
    this.store = store;
    this.current = new IndexBuild(this.build(ring), 0);
  }

  get digests(): DigestIndex {
    return this.current.index;
  }

  get(key: string): Promise<KVRecord | undefined> {
    return this.store.get(key);
  }

  async merge(key: string, record: KVRecord): Promise<MergeResult> {
    this.writes++;
    this.inFlight++;
    const began = this.pagesRead;
    try {
      const result = await this.store.merge(key, record);
      if (result.applied) this.replace(key, result.previous, record, began);
      return result;
    } finally {
      this.inFlight--;
    }
  }

  async remove(key: string, version: Version): Promise<boolean> {
    this.writes++;
    this.inFlight++;
    const began = this.pagesRead;
    try {
      const current = await this.store.get(key);
      if (current === undefined) return false;
      const removed = await this.store.remove(key, version);
      if (removed) this.replace(key, current, undefined, began);
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
    const index = this.current.index;
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
    if (heal !== undefined && quiet === this.writes && this.inFlight === 0 && index === this.current.index) {
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

  /**
   * Re-keys the digests to a new ring. A store of one scan page is read at once; a larger one a page at a time
   * with a turn of the event loop between pages, so a ring change does not hold a large node up. Until the scan
   * ends, the old index (and its ring, which anti-entropy names to its peers) stays in use, and the new one is
   * kept up with the writes made meanwhile (see `IndexBuild.includes`).
   */
  useRing(ring: HashRing): void {
    if (ring.id === (this.rebuild ?? this.current).index.ring.id) return;
    this.rebuild = undefined;
    if (ring.id === this.current.index.ring.id) return;
    if (ring.size <= 1) {
      // It keeps nothing: no need to read every record.
      this.current = new IndexBuild(new DigestIndex(ring), 0);
      return;
    }
    const build = new IndexBuild(new DigestIndex(ring));
    this.rebuild = build;
    if (!this.readPage(build)) void this.finishBuild(build);
  }

  private async finishBuild(build: IndexBuild): Promise<void> {
    do {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.rebuild !== build) return; // the ring changed again
    } while (!this.readPage(build));
  }

  /** Reads the build's next page; when it was the last, puts the new index in use and returns true. */
  private readPage(build: IndexBuild): boolean {
    const page = this.store.scanKeys({ after: build.after, limit: SCAN_PAGE });
    const last = page.length < SCAN_PAGE;
    build.add(page, ++this.pagesRead, last);
    if (!last) return false;
    this.current = build;
    this.rebuild = undefined;
    return true;
  }

  /** A write's digest update, into the index in use and the one being built, each if its scan did not see it. */
  private replace(
    key: string,
    previous: RecordHead | undefined,
    next: RecordHead | undefined,
    began: number,
  ): void {
    if (this.current.includes(key, began)) this.current.index.replace(key, previous, next);
    if (this.rebuild?.includes(key, began)) this.rebuild.index.replace(key, previous, next);
  }

  private build(ring: HashRing): DigestIndex {
    const index = new DigestIndex(ring);
    if (ring.size <= 1) return index; // it keeps nothing: no need to read every record
    for (const [key, record] of this.store.entries()) index.replace(key, undefined, record);
    return index;
  }
}

/**
 * A digest index for a ring, filled from the store's key scan a page at a time. Each page covers the keys after
 * the previous page's last key up to its own last key (the final page, every key after), and is numbered by when
 * it was read, counting every build's pages.
 */
class IndexBuild {
  readonly index: DigestIndex;
  private readonly lastKeys: string[] = [];
  private readonly readAt: number[] = [];
  /** When the final page was read. */
  private completedAt: number;

  /** An empty index to fill; or, with `completedAt` 0, one built before any write began, which takes every write. */
  constructor(index: DigestIndex, completedAt = Number.POSITIVE_INFINITY) {
    this.index = index;
    this.completedAt = completedAt;
  }

  /** Where the next page starts: after the last key read. */
  get after(): string | undefined {
    return this.lastKeys.at(-1);
  }

  add(page: readonly KeyVersion[], readAt: number, final: boolean): void {
    for (const [key, version, deleted] of page) {
      this.index.replace(key, undefined, deleted ? { version, deleted } : { version });
    }
    if (page.length > 0) {
      this.lastKeys.push(page.at(-1)![0]);
      this.readAt.push(readAt);
    }
    if (final) this.completedAt = readAt;
  }

  /**
   * Whether a write to `key` that began when `began` pages had been read goes into this index. Yes when the page
   * holding the key was read before the write began: that page held the record the write replaced. No when it is
   * not read yet: it will see the write itself. No when it was read while the write was under way (a store that
   * commits later allows it): it may have seen either record, and anti-entropy's next quiet scan of the segment
   * resets its digest.
   */
  includes(key: string, began: number): boolean {
    if (began >= this.completedAt) return true;
    let low = 0;
    let high = this.lastKeys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareKeys(this.lastKeys[middle]!, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low < this.lastKeys.length && this.readAt[low]! <= began;
  }
}
