import {
  compareVersions,
  type HashRing,
  HybridClock,
  isDeletedAt,
  type KeyVersion,
  type KVRecord,
  MAX_LIST_LIMIT,
  type MemberAddress,
  type MergeResult,
  type PaxosLog,
  type PeerMethod,
  type PeerParams,
  type PeerResult,
  type PutResult,
  type ScanOptions,
  type Store,
  type StoreCounts,
  type Version,
} from '@kvdb/core';
import { type Clock, systemClock } from './clock.js';
import type { DigestIndex } from './digest-index.js';
import type { OwnAnswer } from './executor.js';
import { PaxosAcceptor } from './paxos-acceptor.js';
import { type Answer, dispatchPeer, type PeerHandler, type PeerHandlers } from './peer-transport.js';
import { ReplicaDigests, scanPages } from './replica-digests.js';
import { allSettledOrThrow } from './runs-under-way.js';
import { entryBytes } from './transfer.js';

/** The replica calls a node's replica answers, for every coordinator (its own node's included). */
export type DataMethod =
  | 'peer.get'
  | 'peer.put'
  | 'peer.get_many'
  | 'peer.put_many'
  | 'peer.keys'
  | 'peer.ring_keys'
  | 'peer.purge'
  | 'peer.prepare'
  | 'peer.propose'
  | 'peer.commit';

export type DataHandlers = Pick<PeerHandlers, DataMethod>;

export interface LocalReplicaComponents {
  store: Store;
  /** The ring the anti-entropy digests are keyed to, until `useRing` names another. */
  ring: HashRing;
  /** This node's address: the writer named in every version this replica stamps. */
  self: MemberAddress;
  /** The wall time of the hybrid logical clock. @default systemClock */
  clock?: Clock;
  /** Where the acceptor of serial rounds keeps its promises, on a durable node. @default kept in memory only */
  paxosLog?: PaxosLog;
}

/**
 * This node's replica, and the one way to it. It owns the store, the hybrid logical clock that stamps the versions
 * of writes coordinated here and moves past every version the store takes, the digest index anti-entropy compares,
 * and `handlers`, which answer the replica calls of every coordinator: a peer's over the network, this node's own
 * directly (see `answer`). Background tasks (anti-entropy, rebalancing, tombstone collection) read and write through
 * it as well, so the clock and the digests never drift from the data.
 *
 * When the store answers at once (`Store.getSync` and `mergeSync`), so do the handlers: a request a node can
 * answer from its own store alone costs no promise on the way (every request to a single node).
 */
export class LocalReplica implements PeerHandler {
  readonly self: MemberAddress;
  readonly store: Store;
  /** Each replica call, by method. */
  readonly handlers: DataHandlers;
  /** The store, when it answers at once. */
  private readonly sync: SynchronousStore | undefined;
  private readonly hlc: HybridClock;
  private readonly index: ReplicaDigests;
  /** The acceptor of serial rounds on this node's keys. */
  readonly acceptor: PaxosAcceptor;
  /** Decides which records have expired, where this replica reports or removes them. */
  private readonly clock: Clock;

  constructor(components: LocalReplicaComponents) {
    const clock = components.clock ?? systemClock;
    this.clock = clock;
    this.self = components.self;
    this.store = components.store;
    this.sync = isSynchronous(this.store) ? this.store : undefined;
    this.hlc = new HybridClock(this.self, () => clock.now());
    this.index = new ReplicaDigests(this.store, components.ring);
    this.acceptor = new PaxosAcceptor({ replica: this, log: components.paxosLog, clock });
    this.handlers = {
      'peer.get': ({ key, known }) =>
        known !== undefined && this.holds(key, known) ? { same: true } : this.read(key),
      'peer.put': ({ key, record }) => this.put(key, record),
      'peer.get_many': ({ keys, maxBytes }) =>
        maxBytes === undefined ? this.readMany(keys) : this.readWithin(keys, maxBytes),
      'peer.put_many': ({ entries }) => this.putMany(entries),
      'peer.keys': ({ prefix, after, limit }) =>
        this.scanKeys({ prefix, after, limit: limit ?? MAX_LIST_LIMIT, now: clock.now() }),
      'peer.ring_keys': (params) => this.index.ringKeys(params, clock.now()),
      'peer.purge': ({ entries }) => this.purge(entries),
      'peer.prepare': (params) => this.acceptor.prepare(params),
      'peer.propose': (params) => this.acceptor.propose(params),
      'peer.commit': (params) => this.acceptor.commit(params),
    };
  }

  /** Whether the store answers at once: then so does every handler but `peer.purge`. */
  get synchronous(): boolean {
    return this.sync !== undefined;
  }

  get digests(): DigestIndex {
    return this.index.index;
  }

  /** A version for a write coordinated here: newer than every version this replica has stamped or seen. */
  stamp(): Version {
    return this.hlc.now();
  }

  /** Moves the clock past a version seen elsewhere (a read's newest answer, a replica's newer record). */
  observe(version: Version): void {
    this.hlc.observe(version);
  }

  /** The clock's latest reading, at least every version this replica has stamped or seen (see `formatSession`). */
  clockReading(): Version {
    return this.hlc.reading();
  }

  /** Answers one replica call: at once when the store answers at once, else as a promise. */
  answer<M extends DataMethod>(method: M, params: PeerParams<M>): Answer<PeerResult<M>> {
    return this.handlers[method](params);
  }

  /** `answer` as the executor takes this node's own: begun now, settled when the store answered at once. */
  ownAnswer<M extends DataMethod>(method: M, params: PeerParams<M>): OwnAnswer<PeerResult<M>> {
    try {
      const answer = this.answer(method, params);
      if (answer instanceof Promise) return { target: this.self, pending: answer };
      return { target: this.self, ok: true, value: answer };
    } catch (error) {
      return { target: this.self, ok: false, error };
    }
  }

  /** `answer` as a promise, for a caller that takes any peer method (an in-memory network, a test). */
  handlePeer<M extends PeerMethod>(method: M, params: PeerParams<M>): Promise<PeerResult<M>> {
    return dispatchPeer(this.handlers, method, params);
  }

  get(key: string): Promise<KVRecord | undefined> {
    return this.store.get(key);
  }

  /** Keeps `record` unless the store holds a version at least as new; the clock moves past its version either way. */
  merge(key: string, record: KVRecord): Promise<MergeResult> {
    if (this.sync === undefined) return this.mergeLater(key, record);
    try {
      return Promise.resolve(this.mergeSync(key, record, this.sync));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async remove(key: string, version: Version): Promise<boolean> {
    this.index.writing();
    try {
      const current = this.store.headSync(key);
      if (current === undefined) return false;
      const removed = await this.store.remove(key, version);
      if (removed) this.index.replace(key, current, undefined);
      return removed;
    } finally {
      this.index.settled();
    }
  }

  counts(): Promise<StoreCounts> {
    return this.store.counts();
  }

  /**
   * One bounded page of keys in `compareKeys` order, tombstones included (and, with `now`, expired records as
   * tombstones): what a paged listing asks each member.
   */
  scanKeys(options: ScanOptions): KeyVersion[] {
    return this.store.scanKeys(options);
  }

  /**
   * Every record's head, a page at a time with a turn of the event loop between pages (see `scanPages`); with
   * `now`, a record expired by then is reported deleted.
   */
  pages(signal?: AbortSignal, now?: number): AsyncIterable<KeyVersion[]> {
    return scanPages(this.store, { signal, now });
  }

  /** The heads of the records in these segments of the digests' ring, one at a time in key order (see `ReplicaDigests.heads`). */
  heads(
    segments: ReadonlySet<number>,
    options: { after?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<KeyVersion> {
    return this.index.heads(segments, options);
  }

  /** The heads of the records in these segments of the digests' ring, by segment (see `ReplicaDigests.keyVersions`). */
  keyVersions(segments: ReadonlySet<number>, signal?: AbortSignal): Promise<Map<number, KeyVersion[]>> {
    return this.index.keyVersions(segments, signal);
  }

  /** One page of the heads of the records in these segments (see `ReplicaDigests.keyVersionsPage`). */
  keyVersionsPage(
    segments: ReadonlySet<number>,
    page: { after?: string; limit: number },
    signal?: AbortSignal,
  ): Promise<KeyVersion[]> {
    return this.index.keyVersionsPage(segments, page, signal);
  }

  /** Re-keys the digests to a new ring (see `ReplicaDigests.useRing`). */
  useRing(ring: HashRing): void {
    this.index.useRing(ring);
  }

  /** Drops a digest rebuild in progress: the store is about to close. */
  stop(): void {
    this.index.stop();
  }

  /** Whether the key's record has version `known`: read from its head, which every store keeps in memory. */
  private holds(key: string, known: Version): boolean {
    const head = this.store.headSync(key);
    return head !== undefined && compareVersions(head.version, known) === 0;
  }

  private read(key: string): Answer<KVRecord | null> {
    if (this.sync !== undefined) return this.sync.getSync(key) ?? null;
    return this.store.get(key).then((record) => record ?? null);
  }

  private readMany(keys: string[]): Answer<Array<KVRecord | null>> {
    const sync = this.sync;
    if (sync !== undefined) return keys.map((key) => sync.getSync(key) ?? null);
    return Promise.all(keys.map((key) => this.read(key)));
  }

  /**
   * The first of `keys`' records that fit in `maxBytes` (at least one), read one at a time: a reply to a
   * background pull that stays within a frame however large the values (see `GetManyParams.maxBytes`).
   */
  private async readWithin(keys: string[], maxBytes: number): Promise<Array<KVRecord | null>> {
    const records: Array<KVRecord | null> = [];
    let bytes = 0;
    for (const key of keys) {
      const record = await this.read(key);
      const size = record === null ? 5 : entryBytes(key, record);
      if (records.length > 0 && bytes + size > maxBytes) break;
      records.push(record);
      bytes += size;
    }
    return records;
  }

  private put(key: string, record: KVRecord): Answer<PutResult> {
    if (this.sync !== undefined) return putResult(record, this.mergeSync(key, record, this.sync));
    return this.mergeLater(key, record).then((result) => putResult(record, result));
  }

  private putMany(entries: Array<[string, KVRecord]>): Answer<PutResult[]> {
    const sync = this.sync;
    if (sync !== undefined) {
      return entries.map(([key, record]) => putResult(record, this.mergeSync(key, record, sync)));
    }
    return Promise.all(entries.map(([key, record]) => this.put(key, record)));
  }

  /**
   * Removes each tombstone (or expired record) still at exactly that version; the removals go together, so a
   * durable store commits them as one.
   */
  private async purge(entries: Array<[string, Version]>): Promise<number> {
    const now = this.clock.now();
    const removed = await allSettledOrThrow(
      entries.map(async ([key, version]) => {
        const head = this.store.headSync(key);
        return head !== undefined && isDeletedAt(head, now) && this.remove(key, version);
      }),
    );
    return removed.filter(Boolean).length;
  }

  private mergeSync(key: string, record: KVRecord, store: SynchronousStore): MergeResult {
    this.hlc.observe(record.version);
    this.index.wrote();
    const result = store.mergeSync(key, record);
    if (result.applied) this.index.replace(key, result.previous, record);
    return result;
  }

  private async mergeLater(key: string, record: KVRecord): Promise<MergeResult> {
    this.hlc.observe(record.version);
    this.index.writing();
    try {
      const result = await this.store.merge(key, record);
      if (result.applied) this.index.replace(key, result.previous, record);
      return result;
    } finally {
      this.index.settled();
    }
  }
}

type SynchronousStore = Store & Required<Pick<Store, 'getSync' | 'mergeSync'>>;

function isSynchronous(store: Store): store is SynchronousStore {
  return typeof store.getSync === 'function' && typeof store.mergeSync === 'function';
}

/** A replica's answer to a write: stored, or not because it holds a newer version (which it names). */
function putResult(record: KVRecord, { applied, previous }: MergeResult): PutResult {
  if (!applied && previous !== undefined && compareVersions(previous.version, record.version) > 0) {
    return { stored: false, newer: previous.version };
  }
  return { stored: true };
}
