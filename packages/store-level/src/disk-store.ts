import {
  type FillLog,
  type FillProgress,
  type HintLog,
  isFillProgress,
  isReplicationSetting,
  type KeyVersion,
  type KVRecord,
  MemoryStore,
  type MergeResult,
  type PaxosLog,
  type PaxosState,
  type RecordHead,
  type ReplicationLog,
  type ReplicationSetting,
  type ScanOptions,
  type Store,
  type StoreCounts,
  storeClosed,
  UnavailableError,
  type Version,
} from '@kvdb/core';
import type { ClassicLevel } from 'classic-level';
import { type Commit, CommitQueue, type Operation } from './commit.js';
import { DEFAULT_FSYNC_INTERVAL_MS } from './constants.js';
import {
  type DataDirIdentity,
  HEADS,
  HEADS_END,
  HINTS,
  HINTS_END,
  openDataDir,
  PAXOS,
  PAXOS_END,
  RECORDS,
} from './data-dir.js';
import { decodeRecord, encodeRecord } from './record-codec.js';

export interface DiskStoreOptions {
  /**
   * The longest a commit waits to be flushed to the disk (fsync of LevelDB's log), in milliseconds. A commit
   * resolves once its writes are in the OS (so they survive `kill -9`); a later commit, or a flush of its own when
   * none comes, is fsynced at most this long after, so a power cut loses at most about this much of the writes
   * (which survive where other machines' replicas acknowledged them). 0: every commit waits for the disk before it
   * resolves. @default DEFAULT_FSYNC_INTERVAL_MS (1000)
   */
  fsyncIntervalMs?: number;
}

/** The cluster's replication setting as this node last agreed to it (see `ReplicationLog`). */
const REPLICATION = 'meta/replication';
/** How far a range fetch had got (see `FillLog`). */
const FILL = 'meta/fill';

/** Entries read a step at a time when a store opens. */
const LOAD_STEP = 1_000;

/** A record key's newest write while its commit is on its way: the record's text on disk, or none for a removal. */
interface Pending {
  commit: Commit;
  text: string | undefined;
}

/**
 * The durable store. Values live in LevelDB alone (an embedded log-structured store: a write appends to its log,
 * and compaction keeps the files to the live records); memory holds a keydir, as Bitcask's: each key and its
 * record's head (version, tombstone, expiry), in a `MemoryStore` that keeps no values. So a node's memory grows
 * with its keys, not with the size of its values, and heads, scans and digests answer at once, as the `Store`
 * interface requires; a read of a live record goes to LevelDB. Hints and the states of serial rounds stay in
 * memory as well as on disk: hints are dropped after the tombstone grace, serial states are a few per key with
 * serial operations.
 *
 * A merge or removal updates the keydir at once, and its write goes in the next commit (see `CommitQueue`): it
 * resolves once that commit is done, so an acknowledged write survives `kill -9`, and commits are fsynced within
 * `fsyncIntervalMs`. Until then the record's text is kept here and reads answer from it: a read never sees the
 * disk behind the keydir. A merge that keeps nothing resolves once the write that beat it is committed.
 *
 * Each head is also written under a key of its own, in the same batch as its record, and a store that opens reads
 * those alone. Measured on 200,000 records of 10 KB: iterating their heads took 0.4 s, iterating the records
 * about 6 s, and left the 2 GB of table files mapped into the process (LevelDB reads them through `mmap`); a
 * node restarted on such a dir loaded its keydir in 1.2 s, and answered 2.4 s after it started.
 *
 * If LevelDB fails a commit (a full or failing disk), the keydir holds writes the disk does not: the store stops,
 * and every later call fails with the cause, rather than answer with records it may not have kept.
 */
export class DiskStore implements Store, HintLog, ReplicationLog, FillLog, PaxosLog {
  private readonly keydir = new MemoryStore({ values: false });
  private readonly queue: CommitQueue;
  /** For a record key with a write not yet committed: its newest. */
  private readonly pending = new Map<string, Pending>();
  /** Hints for other replicas, keyed by `hintId`. */
  private readonly hints = new Map<string, KVRecord>();
  /** The acceptor's state of each key with serial rounds: the PaxosLog. */
  private readonly paxos = new Map<string, PaxosState>();
  private replication: ReplicationSetting | undefined;
  private fill: FillProgress | undefined;
  /** What `open` read from the disk, and how long it took. */
  loaded = { records: 0, hints: 0, ms: 0 };
  private closed = false;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    private readonly db: ClassicLevel<string, string>,
    fsyncIntervalMs: number,
  ) {
    this.queue = new CommitQueue(db, fsyncIntervalMs, {
      committed: (commit) => {
        for (const key of commit.keys) {
          if (this.pending.get(key)?.commit === commit) this.pending.delete(key);
        }
      },
      failed: (cause) => {
        this.failure = cause;
        this.closed = true;
        void this.keydir.close();
        return this.unavailable();
      },
    });
  }

  /** Opens (creating if needed) the store in `dir`, checking that it was written by this cluster and address. */
  static async open(
    dir: string,
    identity: DataDirIdentity,
    options: DiskStoreOptions = {},
  ): Promise<DiskStore> {
    const db = await openDataDir(dir, identity);
    try {
      const store = new DiskStore(dir, db, options.fsyncIntervalMs ?? DEFAULT_FSYNC_INTERVAL_MS);
      await store.readDisk();
      return store;
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  async get(key: string): Promise<KVRecord | undefined> {
    this.checkOpen();
    const head = this.keydir.headSync(key);
    if (head === undefined) return undefined;
    if (head.deleted) return { version: head.version, deleted: true };
    const pending = this.pending.get(key);
    const text = pending === undefined ? await this.db.get(RECORDS + key) : pending.text;
    return text === undefined ? undefined : decodeRecord(text);
  }

  async merge(key: string, record: KVRecord): Promise<MergeResult> {
    this.checkOpen();
    const { head, text } = encodeRecord(record);
    const result = this.keydir.mergeSync(key, record);
    if (!result.applied) {
      await this.pending.get(key)?.commit.done;
      return result;
    }
    await this.write(
      key,
      text,
      { type: 'put', key: RECORDS + key, value: text },
      { type: 'put', key: HEADS + key, value: head },
    );
    return result;
  }

  async remove(key: string, version: Version): Promise<boolean> {
    this.checkOpen();
    if (!this.keydir.removeSync(key, version)) {
      await this.pending.get(key)?.commit.done;
      return false;
    }
    await this.write(key, undefined, { type: 'del', key: RECORDS + key }, { type: 'del', key: HEADS + key });
    return true;
  }

  headSync(key: string): RecordHead | undefined {
    this.checkOpen();
    return this.keydir.headSync(key);
  }

  scanKeys(options: ScanOptions): KeyVersion[] {
    this.checkOpen();
    return this.keydir.scanKeys(options);
  }

  /** Hints for other replicas: the HintLog of hinted handoff. */
  *load(): Iterable<[string, string, KVRecord]> {
    this.checkOpen();
    for (const [id, record] of this.hints) {
      const split = id.indexOf('\0');
      yield [id.slice(0, split), id.slice(split + 1), record];
    }
  }

  async put(member: string, key: string, record: KVRecord): Promise<void> {
    this.checkOpen();
    const id = hintId(member, key);
    const { text } = encodeRecord(record);
    this.hints.set(id, record);
    await this.queue.add({ type: 'put', key: HINTS + id, value: text }).done;
  }

  async delete(member: string, key: string): Promise<void> {
    this.checkOpen();
    const id = hintId(member, key);
    this.hints.delete(id);
    await this.queue.add({ type: 'del', key: HINTS + id }).done;
  }

  /** Serial rounds' states, read when the store opened: the PaxosLog. */
  loadPaxos(): Iterable<[string, PaxosState]> {
    return this.paxos.entries();
  }

  /** Stores a key's serial state (or forgets it), committed with the writes around it. */
  async savePaxos(key: string, state: PaxosState | undefined): Promise<void> {
    this.checkOpen();
    if (state === undefined) this.paxos.delete(key);
    else this.paxos.set(key, state);
    await this.queue.add(
      state === undefined
        ? { type: 'del', key: PAXOS + key }
        : { type: 'put', key: PAXOS + key, value: JSON.stringify(state) },
    ).done;
  }

  /** The replication setting stored last, read when the store opened. */
  loadReplication(): ReplicationSetting | undefined {
    return this.replication;
  }

  /** Stores the replication setting, committed with the writes around it. */
  async saveReplication(setting: ReplicationSetting): Promise<void> {
    this.checkOpen();
    this.replication = setting;
    await this.queue.add({ type: 'put', key: REPLICATION, value: JSON.stringify(setting) }).done;
  }

  /** The range fetch's progress stored last, read when the store opened. */
  loadFill(): FillProgress | undefined {
    return this.fill;
  }

  /** Stores the range fetch's progress, committed with the writes around it. */
  async saveFill(progress: FillProgress): Promise<void> {
    this.checkOpen();
    this.fill = progress;
    await this.queue.add({ type: 'put', key: FILL, value: JSON.stringify(progress) }).done;
  }

  counts(): Promise<StoreCounts> {
    return this.keydir.counts();
  }

  /** False once closed, or once the disk refused a commit (see the class). */
  isOpen(): boolean {
    return !this.closed;
  }

  /** Refuses new calls at once; writes already accepted are committed before LevelDB closes. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      await this.queue.close();
      await this.keydir.close();
      await this.db.close();
    })();
    return this.closing;
  }

  /** Reads the heads, hints and serial states on disk into memory: once, when the store opens. */
  private async readDisk(): Promise<void> {
    const start = performance.now();
    // A head read from disk carries no value, and the keydir reads none.
    const takeHead = (key: string, text: string) => this.keydir.mergeSync(key, JSON.parse(text) as KVRecord);
    const takeHint = (id: string, text: string) => this.hints.set(id, decodeRecord(text));
    const takePaxos = (key: string, text: string) => this.paxos.set(key, JSON.parse(text) as PaxosState);
    for (const [from, to, take] of [
      [HEADS, HEADS_END, takeHead],
      [HINTS, HINTS_END, takeHint],
      [PAXOS, PAXOS_END, takePaxos],
    ] as const) {
      const iterator = this.db.iterator({ gte: from, lt: to });
      try {
        for (;;) {
          const step = await iterator.nextv(LOAD_STEP);
          if (step.length === 0) break;
          for (const [key, text] of step) take(key.slice(from.length), text);
        }
      } finally {
        await iterator.close();
      }
    }
    const replication: unknown = JSON.parse((await this.db.get(REPLICATION)) ?? 'null');
    if (isReplicationSetting(replication)) this.replication = replication;
    const fill: unknown = JSON.parse((await this.db.get(FILL)) ?? 'null');
    if (isFillProgress(fill)) this.fill = fill;
    const { live, tombstones } = await this.keydir.counts();
    this.loaded = { records: live + tombstones, hints: this.hints.size, ms: performance.now() - start };
  }

  /** Commits a record key's writes, keeping its text for reads until they are done. */
  private write(key: string, text: string | undefined, ...operations: Operation[]): Promise<void> {
    const commit = this.queue.add(...operations);
    commit.keys.push(key);
    this.pending.set(key, { commit, text });
    return commit.done;
  }

  private checkOpen(): void {
    if (this.closed) throw this.unavailable();
  }

  private unavailable(): UnavailableError {
    if (this.failure === undefined) return storeClosed();
    return new UnavailableError(
      `the data dir failed (${this.failure.message}): this node no longer serves its records`,
    );
  }
}

/** A hint's key in `hints` and (after `HINTS`) on disk: `member NUL key`, split again by `load`. */
const hintId = (member: string, key: string): string => `${member}\0${key}`;
