import { UnavailableError } from './errors.js';
import type { MemberAddress } from './member.js';
import type { CommitNote, KeyVersion, Proposal, WriteNote } from './peer-protocol.js';
import type { KVRecord, RecordHead } from './record.js';
import type { Version } from './version.js';

export interface StoreCounts {
  /** Keys whose newest record holds a value. */
  live: number;
  /** Keys whose newest record is a tombstone. */
  tombstones: number;
}

/** What a merge did: whether the record was kept, and what the store held for the key before the call. */
export interface MergeResult {
  applied: boolean;
  /**
   * The head (version, whether a tombstone, expiry) of the record held before: the one replaced when applied, else
   * the one (as new or newer) that stays. Only the head: decoding the value on every write would be wasted work.
   */
  previous: RecordHead | undefined;
}

/** Which records `MemoryStore.entries` yields. */
export interface EntriesOptions {
  /** Only keys that start with this. */
  prefix?: string;
}

/** A page of keys in order: the first `limit` keys after `after` (exclusive) that start with `prefix`. */
export interface ScanOptions {
  prefix?: string;
  /** Start after this key; the cursor of paged listings. */
  after?: string;
  limit: number;
  /**
   * Report a record that has expired by this wall-clock time (ms) as deleted (see `isDeletedAt`). @default only
   * tombstones are reported deleted: what digests hash, which must not change with the clock
   */
  now?: number;
}

/**
 * A node's local replica of the records it holds. Implementations keep, per key, only the record with the
 * highest version; a write is committed (as far as the implementation is durable: `DiskStore`'s survive a
 * process crash, see there for power loss) when `merge` resolves. A store keeps no reference to a record it is
 * given, and every record it gives out is its caller's to change: values cross it as they would cross the wire,
 * so the node never has to copy them on its way to or from its own store.
 */
export interface Store {
  get(key: string): Promise<KVRecord | undefined>;

  /**
   * Keeps `record` unless the store already holds a version at least as new, atomically for the key; resolves
   * with what it did and what it replaced, so callers can keep digests without reading first.
   */
  merge(key: string, record: KVRecord): Promise<MergeResult>;

  /**
   * Removes the key's record if its version is still `version`: used to collect tombstones every replica has,
   * and to drop keys handed to their new owners, without racing a newer write.
   */
  remove(key: string, version: Version): Promise<boolean>;

  /**
   * `get` answered at once, by a store that keeps its records in memory; a store that waits for I/O leaves it (and
   * `mergeSync`) out. With both, a node answers a key it alone holds (every key of a single node) without a
   * promise at each layer between the request and the store.
   */
  getSync?(key: string): KVRecord | undefined;

  /** `merge` done at once: see `getSync`. */
  mergeSync?(key: string, record: KVRecord): MergeResult;

  /**
   * The head (version, whether a tombstone, and the expiry if any) of the key's record, at once: what a scan in another order than
   * the store's (a ring segment's keys, see `KeyPositions` in @kvdb/coordinator) reads for each key it finds.
   * Every store keeps its keys and their heads in memory (a store that keeps its values on disk, as a keydir), so
   * this never waits for I/O.
   */
  headSync(key: string): RecordHead | undefined;

  /**
   * Keys in the order of `compareKeys` (code point order, as UTF-8 bytes sort) with their newest version and
   * whether it is deleted (a tombstone, or expired by `now` when given): one bounded, synchronous page, so a listing of millions of keys never holds the
   * event loop for long.
   */
  scanKeys(options: ScanOptions): KeyVersion[];

  counts(): Promise<StoreCounts>;

  /**
   * Closes the store. Afterwards every read, write and scan of records fails with `storeClosed()` and changes
   * nothing (`counts` still answers), so that work still under way when a node stops (a replica call, a repair,
   * a handoff) ends with an error it can report rather than a write into a store that is gone. Closing again is
   * harmless.
   */
  close(): Promise<void>;

  /**
   * Whether the store takes calls: false once closed, and for a store that has failed (a disk that refused a
   * commit) from then on. A readiness probe reports it. @default taken as open
   */
  isOpen?(): boolean;
}

/**
 * Where hints (writes kept for a replica that missed them) are kept durably, so a coordinator that restarts still
 * delivers them. A store that keeps its data on disk can offer one beside its records.
 */
export interface HintLog {
  /** Every hint kept, as `[member, key, record]`. */
  load(): Iterable<[MemberAddress, string, KVRecord]>;
  put(member: MemberAddress, key: string, record: KVRecord): Promise<void>;
  delete(member: MemberAddress, key: string): Promise<void>;
}

/**
 * How far a node had got fetching the ranges it is about to own (`RangeFill` in @kvdb/coordinator), kept so that
 * a restart takes the fetch up where it was rather than starting it over.
 */
export interface FillProgress {
  /** The move it is for (`Placement.fillId`): progress for another move is dropped. */
  fill: string;
  /** Each segment, with the members it has been streamed from in full. */
  from: Array<[segment: number, sources: MemberAddress[]]>;
  /** Streams cut short: the source, the segments asked of it, and the last key received. */
  cut: Array<[source: MemberAddress, segments: number[], after: string]>;
}

/** Where a durable node keeps its `FillProgress` (the disk store provides one). */
export interface FillLog {
  /** The progress stored last, if any. */
  loadFill(): FillProgress | undefined;
  /** Stores the progress in place of the last. */
  saveFill(progress: FillProgress): Promise<void>;
}

const isText = (item: unknown): item is string => typeof item === 'string' && item.length > 0;
const isSegmentNumber = (item: unknown): item is number =>
  Number.isSafeInteger(item) && (item as number) >= 0;

/** Whether `input` is a well-formed `FillProgress` (as read back from a disk written by any build). */
export function isFillProgress(input: unknown): input is FillProgress {
  if (typeof input !== 'object' || input === null) return false;
  const { fill, from, cut } = input as Record<string, unknown>;
  return (
    isText(fill) &&
    Array.isArray(from) &&
    from.every(
      (entry) =>
        Array.isArray(entry) &&
        isSegmentNumber(entry[0]) &&
        Array.isArray(entry[1]) &&
        (entry[1] as unknown[]).every(isText),
    ) &&
    Array.isArray(cut) &&
    cut.every(
      (entry) =>
        Array.isArray(entry) &&
        isText(entry[0]) &&
        Array.isArray(entry[1]) &&
        (entry[1] as unknown[]).every(isSegmentNumber) &&
        isText(entry[2]),
    )
  );
}

/** What an acceptor of serial rounds remembers of one key (see `PaxosAcceptor` in @kvdb/coordinator). */
export interface PaxosState {
  /** The highest ballot promised: no proposal under a lower one is accepted. */
  promised?: Version;
  /** The proposal accepted last, until a commit at least as high makes it history. */
  accepted?: Proposal;
  /** The latest proposal committed here. */
  committed?: CommitNote;
  /** The latest writes committed, oldest first (at most `WRITE_NOTES`): what lets a proposer trace a key's writes. */
  writes?: WriteNote[];
}

/**
 * Where a durable node keeps its acceptors' states, so that a promise or an acceptance survives a restart: an
 * acceptor that forgot one could let two proposals be chosen. The disk store provides one.
 */
export interface PaxosLog {
  loadPaxos(): Iterable<[string, PaxosState]>;
  /** Stores the key's state (or forgets it, given undefined); resolves once it is committed. */
  savePaxos(key: string, state: PaxosState | undefined): Promise<void>;
}

/** What a closed store answers with: the node is stopping, so the caller should try another replica. */
export function storeClosed(): UnavailableError {
  return new UnavailableError('the store is closed: this node is stopping');
}
