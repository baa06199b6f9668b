import {
  compareKeys,
  type Hasher,
  type HashRing,
  type KeyVersion,
  type RecordHead,
  type RingKeysParams,
  type RingKeysReply,
  type ScanOptions,
  type Store,
  UnavailableError,
} from '@kvdb/core';
import { SCAN_PAGE, SEGMENT_GATHER_LIMIT } from './defaults.js';
import { DigestIndex } from './digest-index.js';
import { KeyPositions } from './key-positions.js';
import { ringKeysPage } from './ring-listing.js';

/**
 * The anti-entropy digests of this node's replica, and its keys in ring order (`KeyPositions`), kept in step with
 * its store: the replica reports every write it makes here (see `LocalReplica`), and a ring change re-keys the
 * digests from a scan of the store, a page at a time. On a ring of one member there are no peers to compare with,
 * and neither index keeps anything.
 */
export class ReplicaDigests {
  /** The index in use, with how it was built. */
  private current: IndexBuild;
  /** Every key in ring order, once a build has read the whole store; ring changes keep it. */
  private ordered: KeyPositions | undefined;
  private readonly hasher: Hasher;
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
    this.hasher = ring.hasher;
    this.current = new IndexBuild(ring, true);
    // Before the node serves anything, the whole store is read at once.
    while (!this.current.complete) this.readPage(this.current);
  }

  get index(): DigestIndex {
    return this.current.index;
  }

  /** Every key held, in ring order; undefined on a ring of one member and until a build has read the store. */
  get positions(): KeyPositions | undefined {
    return this.ordered;
  }

  /**
   * A page of this replica's keys in ranges of ring positions (`peer.ring_keys`), a record expired by `now`
   * reported deleted: see `ringKeysPage`.
   */
  ringKeys(params: RingKeysParams, now: number): RingKeysReply {
    if (this.ordered === undefined) {
      throw new UnavailableError(
        'this replica has no ring order of its keys yet: it is still reading its store',
      );
    }
    return ringKeysPage(this.ordered, this.store, (key) => this.hasher.hash(key), params, now);
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

  /**
   * A write's digest update: into the index in use, and into the one being built once its scan passed the key.
   * A key added or removed is also added to or removed from the ring order.
   */
  replace(key: string, previous: RecordHead | undefined, next: RecordHead | undefined): void {
    const rebuild = this.rebuild?.passed(key) === true ? this.rebuild : undefined;
    if (this.current.index.ring.size <= 1 && rebuild === undefined) return;
    const position = this.hasher.hash(key);
    this.current.index.replace(key, previous, next, position);
    rebuild?.index.replace(key, previous, next, position);
    if ((previous === undefined) === (next === undefined)) return;
    for (const positions of [this.ordered, rebuild?.positions]) {
      if (previous === undefined) positions?.add(key, position);
      else positions?.delete(key, position);
    }
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
    const few = this.segmentKeys(ring, segments, after);
    const found =
      few !== undefined
        ? headsOf(this.store, few, signal)
        : inSegments(this.store, ring, segments, signal, after);
    for await (const page of found) {
      for (const [entry, segment] of page) {
        heal?.include(segment, entry[0], scannedHead(entry));
        yield entry;
      }
    }
    if (heal !== undefined && quiet === this.writes && this.inFlight === 0 && index === this.current.index) {
      for (const segment of segments) index.assign(segment, heal.segment(segment));
    }
  }

  /**
   * The keys of `segments` after `after`, in key order, taken from the ring order when they are few
   * (`SEGMENT_GATHER_LIMIT`): then a repair costs what the segments that differ hold, not what the store holds.
   * Undefined when there is no ring order yet, or the segments hold too many keys, to scan the store instead.
   */
  private segmentKeys(
    ring: HashRing,
    segments: ReadonlySet<number>,
    after?: string,
  ): Array<[string, number]> | undefined {
    const positions = this.ordered;
    if (positions === undefined || ring.size <= 1) return undefined;
    const ranges = [...segments].flatMap((segment) =>
      ring.segmentRanges(segment).map(([low, high]) => ({ segment, low, high })),
    );
    let total = 0;
    for (const { low, high } of ranges) {
      total += positions.countBetween(low, high);
      if (total > SEGMENT_GATHER_LIMIT) return undefined;
    }
    const segmentOf = new Map<string, number>();
    for (const { segment, low, high } of ranges) {
      for (const [key] of positions.between(low, high)) {
        if (after === undefined || compareKeys(key, after) > 0) segmentOf.set(key, segment);
      }
    }
    return sortKeys([...segmentOf.keys()]).map((key) => [key, segmentOf.get(key) as number]);
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
    if (ring.size <= 1) this.ordered = undefined;
    if (ring.id === this.current.index.ring.id) return;
    const build = new IndexBuild(ring, this.ordered === undefined);
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
    build.add(page, last, this.hasher);
    if (!last) return false;
    this.current = build;
    this.rebuild = undefined;
    if (build.positions !== undefined) this.ordered = build.positions;
    return true;
  }
}

/**
 * Every record's `[key, version, deleted]`, in key order, a page of the store's key scan at a time with a turn of
 * the event loop between pages: how background tasks read a large store without holding requests up. Writes made
 * meanwhile may or may not be seen. With `from`, the scan starts after that key; with `now`, a record expired by
 * then is reported deleted. When `signal` aborts, the next page throws the signal's reason instead.
 */
export async function* scanPages(
  store: Pick<Store, 'scanKeys'>,
  { signal, from, now }: { signal?: AbortSignal; from?: string; now?: number } = {},
): AsyncIterable<KeyVersion[]> {
  let after = from;
  for (;;) {
    signal?.throwIfAborted();
    const options: ScanOptions = { after, limit: SCAN_PAGE, now };
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

/**
 * Sorts keys in `compareKeys` order: JavaScript's own string order, which is several times faster, is the same
 * unless a key holds a surrogate pair (it puts U+10000 and up before U+E000–U+FFFF).
 */
function sortKeys(keys: string[]): string[] {
  return keys.some((key) => /[\ud800-\udfff]/.test(key)) ? keys.sort(compareKeys) : keys.sort();
}

/**
 * The heads of `keys` (each with its segment) as the store holds them, read a page at a time as the caller takes
 * them (a caller after one page reads only that much); a key removed meanwhile is left out.
 */
function* headsOf(
  store: Pick<Store, 'headSync'>,
  keys: ReadonlyArray<[string, number]>,
  signal?: AbortSignal,
): Iterable<Array<[KeyVersion, number]>> {
  for (let start = 0; start < keys.length; start += SCAN_PAGE) {
    signal?.throwIfAborted();
    const page: Array<[KeyVersion, number]> = [];
    for (const [key, segment] of keys.slice(start, start + SCAN_PAGE)) {
      const head = store.headSync(key);
      if (head !== undefined) page.push([[key, head.version, head.deleted === true], segment]);
    }
    yield page;
  }
}

/** The store's records in `segments`, each with its segment, from a paged scan of the whole store. */
async function* inSegments(
  store: Pick<Store, 'scanKeys'>,
  ring: HashRing,
  segments: ReadonlySet<number>,
  signal?: AbortSignal,
  after?: string,
): AsyncIterable<Array<[KeyVersion, number]>> {
  for await (const page of scanPages(store, { signal, from: after })) {
    const found: Array<[KeyVersion, number]> = [];
    for (const entry of page) {
      const segment = ring.segmentOf(entry[0]);
      if (segments.has(segment)) found.push([entry, segment]);
    }
    yield found;
  }
}

/**
 * A key the ring order can keep: a store's scan cuts its keys out of the records it holds, and V8 keeps a cut of
 * 13 characters or more as a view of the whole string, value included, which would then outlive the record.
 */
function ownCopy(key: string): string {
  return key.length < 13 ? key : Buffer.from(key, 'utf8').toString('utf8');
}

/** The head of a record as a key scan gives it. */
function scannedHead([, version, deleted]: KeyVersion): RecordHead {
  return deleted ? { version, deleted } : { version };
}

/**
 * A digest index for a ring, filled from the store's key scan a page at a time, in key order; with the ring order
 * of the keys too, when there is none yet (it does not depend on the ring, so one build of it lasts).
 */
class IndexBuild {
  readonly index: DigestIndex;
  readonly positions: KeyPositions | undefined;
  /** The last key read so far: the next page starts after it. */
  private lastKey: string | undefined;
  private done: boolean;

  constructor(ring: HashRing, withPositions: boolean) {
    this.index = new DigestIndex(ring);
    this.done = ring.size <= 1;
    this.positions = withPositions && !this.done ? new KeyPositions() : undefined;
  }

  /** Whether every page has been read; at once on a ring of one member, where the index keeps nothing. */
  get complete(): boolean {
    return this.done;
  }

  get after(): string | undefined {
    return this.lastKey;
  }

  add(page: readonly KeyVersion[], final: boolean, hasher: Hasher): void {
    for (const entry of page) {
      const position = hasher.hash(entry[0]);
      this.index.replace(entry[0], undefined, scannedHead(entry), position);
      this.positions?.add(ownCopy(entry[0]), position);
    }
    const last = page.at(-1);
    if (last !== undefined) this.lastKey = last[0];
    if (final) this.done = true;
  }

  /** Whether the scan has read the page that holds `key`: a write to it from now on must go into the index. */
  passed(key: string): boolean {
    return this.done || (this.lastKey !== undefined && compareKeys(key, this.lastKey) <= 0);
  }
}
