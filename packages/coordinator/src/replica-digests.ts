import {
  compareKeys,
  type HashRing,
  type KeyVersion,
  type RecordHead,
  type ScanOptions,
  type Store,
} from '@kvdb/core';
import { SCAN_PAGE } from './defaults.js';
import { DigestIndex } from './digest-index.js';

/**
 * The anti-entropy digests of this node's replica, kept in step with its store: the replica reports every write it
 * makes here (see `LocalReplica`), and a ring change re-keys the index from a scan of the store, a page at a time.
 * On a ring of one member there are no peers to compare with, and the index keeps nothing.
 */
export class ReplicaDigests {
  /** The index in use, with how it was built. */
  private current: IndexBuild;
  /** Writes sent to the store whose digest update has not been made yet. */
  private inFlight = 0;
  /** Writes begun, ever: a scan that sees it unchanged saw no write. */
  private writes = 0;
  /** The index being built for a new ring, while its scan runs. */
  private rebuild: IndexBuild | undefined;

  constructor(
    private readonly store: Store,
    ring: HashRing,
  ) {
    this.current = new IndexBuild(ring);
    // Before the node serves anything, the whole store is read at once.
    while (!this.current.complete) this.readPage(this.current);
  }

  get index(): DigestIndex {
    return this.current.index;
  }

  /** A write that the store takes at once: counted, so that a scan running across it does not heal. */
  wrote(): void {
    this.writes++;
  }

  /** A write that the store takes later: no scan heals until `settled` is called for it. */
  writing(): void {
    this.writes++;
    this.inFlight++;
  }

  settled(): void {
    this.inFlight--;
  }

  /** A write's digest update: into the index in use, and into the one being built once its scan passed the key. */
  replace(key: string, previous: RecordHead | undefined, next: RecordHead | undefined): void {
    this.current.index.replace(key, previous, next);
    if (this.rebuild?.passed(key)) this.rebuild.index.replace(key, previous, next);
  }

  /**
   * `[key, version, deleted]` of every record in the given segments of the index's ring, one at a time in key order
   * from after `after`. Segments are hash ranges, so this reads every key; it does so in pages of the store's key
   * scan and lets the event loop run between them, and it holds one page at a time, so that anti-entropy on a
   * large node never holds other requests up for long nor gathers every key in memory.
   *
   * A scan from the first key to the last with no write running meanwhile also resets those segments' digests to
   * what the store holds: a write whose store commit and digest update straddled a ring change (the rebuild may or
   * may not have seen it) leaves a digest off, and anti-entropy, which asks for exactly the segments whose digests
   * differ, heals it.
   *
   * When `signal` aborts, the scan ends at its next page by throwing the signal's reason.
   */
  async *heads(
    segments: ReadonlySet<number>,
    { after, signal }: { after?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<KeyVersion> {
    const index = this.current.index;
    const ring = index.ring;
    const heal = ring.size > 1 && after === undefined ? new DigestIndex(ring) : undefined;
    const quiet = this.inFlight === 0 ? this.writes : undefined;
    for await (const page of scanPages(this.store, signal, after)) {
      for (const entry of page) {
        const segment = ring.segmentOf(entry[0]);
        if (!segments.has(segment)) continue;
        heal?.include(segment, entry[0], scannedHead(entry));
        yield entry;
      }
    }
    if (heal !== undefined && quiet === this.writes && this.inFlight === 0 && index === this.current.index) {
      for (const segment of segments) index.assign(segment, heal.segment(segment));
    }
  }

  /** Every record's head in the given segments (see `heads`), by segment, in key order within each. */
  async keyVersions(segments: ReadonlySet<number>, signal?: AbortSignal): Promise<Map<number, KeyVersion[]>> {
    const result = new Map<number, KeyVersion[]>();
    const ring = this.current.index.ring;
    for await (const entry of this.heads(segments, { signal })) {
      const segment = ring.segmentOf(entry[0]);
      const found = result.get(segment);
      if (found === undefined) result.set(segment, [entry]);
      else found.push(entry);
    }
    return result;
  }

  /** The first `limit` heads after `after` in the given segments, in key order (see `heads`). */
  async keyVersionsPage(
    segments: ReadonlySet<number>,
    { after, limit }: { after?: string; limit: number },
    signal?: AbortSignal,
  ): Promise<KeyVersion[]> {
    const found: KeyVersion[] = [];
    if (limit <= 0) return found;
    for await (const entry of this.heads(segments, { after, signal })) {
      found.push(entry);
      if (found.length >= limit) break;
    }
    return found;
  }

  /**
   * Re-keys the digests to a new ring. A store of one scan page is read at once; a larger one a page at a time
   * with a turn of the event loop between pages, so a ring change does not hold a large node up. Until the scan
   * ends, the old index (and its id, which anti-entropy names to its peers) stays in use, and the new one takes
   * every write to a key the scan has passed (the scan itself sees the rest).
   *
   * As with a scan all at once, a write under way while its key's page is read is taken into the new index: right
   * if the page saw the record it replaced (a store that commits later), counted twice if the page already saw the
   * write (a store that commits at once but reports later, as `MemoryStore` and `DiskStore`, whose memory takes
   * the write before its disk). The next quiet scan of that segment by anti-entropy resets its digest (see
   * `keyVersions`).
   */
  useRing(ring: HashRing): void {
    if (ring.id === (this.rebuild ?? this.current).index.ring.id) return;
    this.rebuild = undefined;
    if (ring.id === this.current.index.ring.id) return;
    const build = new IndexBuild(ring);
    if (build.complete) {
      this.current = build;
      return;
    }
    this.rebuild = build;
    if (!this.readPage(build)) void this.finishBuild(build);
  }

  /** Drops a rebuild in progress: the store is about to close. */
  stop(): void {
    this.rebuild = undefined;
  }

  private async finishBuild(build: IndexBuild): Promise<void> {
    try {
      do {
        await nextTurn();
        if (this.rebuild !== build) return; // the ring changed again, or the node is stopping
      } while (!this.readPage(build));
    } catch {
      // The store failed under the scan (closed, or a read error): keep the old index rather than a partial one.
      if (this.rebuild === build) this.rebuild = undefined;
    }
  }

  /** Reads the build's next page; when it was the last, puts the new index in use and returns true. */
  private readPage(build: IndexBuild): boolean {
    const page = this.store.scanKeys({ after: build.after, limit: SCAN_PAGE });
    const last = page.length < SCAN_PAGE;
    build.add(page, last);
    if (!last) return false;
    this.current = build;
    this.rebuild = undefined;
    return true;
  }
}

/**
 * Every record's `[key, version, deleted]`, in key order, a page of the store's key scan at a time with a turn of
 * the event loop between pages: how background tasks read a large store without holding requests up. Writes made
 * meanwhile may or may not be seen. With `from`, the scan starts after that key. When `signal` aborts, the next
 * page throws the signal's reason instead.
 */
export async function* scanPages(
  store: Pick<Store, 'scanKeys'>,
  signal?: AbortSignal,
  from?: string,
): AsyncIterable<KeyVersion[]> {
  let after = from;
  for (;;) {
    signal?.throwIfAborted();
    const options: ScanOptions = { after, limit: SCAN_PAGE };
    const page = store.scanKeys(options);
    const last = page.at(-1);
    if (last !== undefined) yield page;
    if (last === undefined || page.length < SCAN_PAGE) return;
    after = last[0];
    await nextTurn();
  }
}

/** Lets the event loop run other work (I/O included) before going on. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The head of a record as a key scan gives it. */
function scannedHead([, version, deleted]: KeyVersion): RecordHead {
  return deleted ? { version, deleted } : { version };
}

/** A digest index for a ring, filled from the store's key scan a page at a time, in key order. */
class IndexBuild {
  readonly index: DigestIndex;
  /** The last key read so far: the next page starts after it. */
  private lastKey: string | undefined;
  private done: boolean;

  constructor(ring: HashRing) {
    this.index = new DigestIndex(ring);
    this.done = ring.size <= 1;
  }

  /** Whether every page has been read; at once on a ring of one member, where the index keeps nothing. */
  get complete(): boolean {
    return this.done;
  }

  get after(): string | undefined {
    return this.lastKey;
  }

  add(page: readonly KeyVersion[], final: boolean): void {
    for (const entry of page) this.index.replace(entry[0], undefined, scannedHead(entry));
    const last = page.at(-1);
    if (last !== undefined) this.lastKey = last[0];
    if (final) this.done = true;
  }

  /** Whether the scan has read the page that holds `key`: a write to it from now on must go into the index. */
  passed(key: string): boolean {
    return this.done || (this.lastKey !== undefined && compareKeys(key, this.lastKey) <= 0);
  }
}
