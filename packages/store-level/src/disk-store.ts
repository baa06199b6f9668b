import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  DataDirError,
  type EntriesOptions,
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
import { ClassicLevel } from 'classic-level';
import { Commit, type Operation } from './commit.js';
import { DEFAULT_FSYNC_INTERVAL_MS } from './constants.js';
import { checkIdentity, type DataDirIdentity, FORMAT } from './data-dir.js';

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

/**
 * Key prefixes: records, hints (`member NUL key`), serial rounds' states, and the dir's identity. '0' is the
 * character after '/'.
 */
const RECORDS = 'r/';
const RECORDS_END = 'r0';
const HINTS = 'h/';
const HINTS_END = 'h0';
const PAXOS = 'p/';
const PAXOS_END = 'p0';
const IDENTITY = 'meta/identity';
/** The cluster's replication setting as this node last agreed to it (see `ReplicationLog`). */
const REPLICATION = 'meta/replication';
/** How far a range fetch had got (see `FillLog`). */
const FILL = 'meta/fill';
/** Written by a flush that has no commit to ride with: LevelDB fsyncs its log only with a write. */
const FLUSHED = 'meta/flushed';

/** Records read a step at a time when a store opens. */
const LOAD_STEP = 1_000;

/**
 * The durable store: every record and tombstone in memory (a `MemoryStore`, which answers reads, scans and the
 * comparison of a merge), and written to LevelDB (an embedded log-structured store: a write appends to its log,
 * and compaction keeps the files to the live records), from which a node reloads them at start.
 *
 * Writes are committed in groups: those made while a commit is on its way wait and go together in the next
 * LevelDB batch, one append to its log for all of them. A merge or removal resolves once the commit holding its
 * write is done, so an acknowledged write survives `kill -9`; commits are fsynced within `fsyncIntervalMs` (see
 * `DiskStoreOptions`), which bounds what a power cut can take. A merge that keeps nothing resolves once the write
 * that beat it is committed.
 * Reads answer from memory, so they may see a write whose commit is still on its way, as on a node without a
 * data dir.
 *
 * If LevelDB fails a commit (a full or failing disk), memory holds writes the disk does not: the store stops,
 * and every later call fails with the cause, rather than answer with records it may not have kept.
 */
export class DiskStore implements Store, HintLog, ReplicationLog, FillLog, PaxosLog {
  private readonly db: ClassicLevel<string, string>;
  private readonly fsyncIntervalMs: number;
  /** When commits since the last fsync exist, the timer of the flush that will cover them. */
  private flushTimer: NodeJS.Timeout | undefined;
  /** Whether the next commit is to be fsynced: the interval since the first unflushed commit has passed. */
  private flushDue = false;
  private readonly memory = new MemoryStore();
  /** Hints for other replicas, keyed by `hintId`. */
  private readonly hints = new Map<string, KVRecord>();
  /** The acceptor's state of each key with serial rounds: the PaxosLog. */
  private readonly paxos = new Map<string, PaxosState>();
  private replication: ReplicationSetting | undefined;
  private fill: FillProgress | undefined;
  /** The commit taking writes, not yet started. */
  private next: Commit | undefined;
  /** The commit under way. */
  private writing: Commit | undefined;
  /** For a record key with a write not yet committed: the commit of its newest write. */
  private readonly unsettled = new Map<string, Promise<void>>();
  /** What `open` read from the disk, and how long it took: a large data dir takes seconds to load. */
  loaded = { records: 0, hints: 0, ms: 0 };
  private closed = false;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    db: ClassicLevel<string, string>,
    fsyncIntervalMs: number,
  ) {
    this.db = db;
    this.fsyncIntervalMs = fsyncIntervalMs;
  }

  /** Opens (creating if needed) the store in `dir`, checking that it was written by this cluster and address. */
  static async open(
    dir: string,
    identity: DataDirIdentity,
    options: DiskStoreOptions = {},
  ): Promise<DiskStore> {
    if (existsSync(join(dir, 'data.mdb'))) {
      throw new DataDirError(
        `${dir} holds data format 1 (LMDB), written by an earlier kvdb; this kvdb reads format ${FORMAT} (LevelDB): start it with an empty --data-dir, and the node's replicas will resync it`,
      );
    }
    mkdirSync(dir, { recursive: true });
    const db = new ClassicLevel<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    try {
      await db.open();
    } catch (error) {
      const cause = ((error as { cause?: Error }).cause ?? error) as NodeJS.ErrnoException;
      if (cause.code === 'LEVEL_LOCKED') {
        throw new DataDirError(`${dir} is in use by another kvdb-server (${cause.message})`);
      }
      throw new DataDirError(`${dir} cannot be opened: ${cause.message}`);
    }
    try {
      const found = await db.get(IDENTITY);
      if (found === undefined) {
        await db.put(IDENTITY, JSON.stringify({ ...identity, format: FORMAT }), { sync: true });
      } else {
        checkIdentity(dir, JSON.parse(found) as DataDirIdentity & { format: number }, identity);
      }
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
    return this.memory.getSync(key);
  }

  async merge(key: string, record: KVRecord): Promise<MergeResult> {
    this.checkOpen();
    const result = this.memory.mergeSync(key, record);
    if (result.applied) {
      await this.write({ type: 'put', key: RECORDS + key, value: JSON.stringify(record) }, key);
    } else {
      await this.unsettled.get(key);
    }
    return result;
  }

  async remove(key: string, version: Version): Promise<boolean> {
    this.checkOpen();
    const removed = this.memory.removeSync(key, version);
    if (removed) await this.write({ type: 'del', key: RECORDS + key }, key);
    else await this.unsettled.get(key);
    return removed;
  }

  entries(options?: EntriesOptions): Iterable<[string, KVRecord]> {
    this.checkOpen();
    return this.memory.entries(options);
  }

  headSync(key: string): RecordHead | undefined {
    this.checkOpen();
    return this.memory.headSync(key);
  }

  scanKeys(options: ScanOptions): KeyVersion[] {
    this.checkOpen();
    return this.memory.scanKeys(options);
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
    this.hints.set(id, record);
    await this.write({ type: 'put', key: HINTS + id, value: JSON.stringify(record) });
  }

  async delete(member: string, key: string): Promise<void> {
    this.checkOpen();
    const id = hintId(member, key);
    this.hints.delete(id);
    await this.write({ type: 'del', key: HINTS + id });
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
    await this.write(
      state === undefined
        ? { type: 'del', key: PAXOS + key }
        : { type: 'put', key: PAXOS + key, value: JSON.stringify(state) },
    );
  }

  /** The replication setting stored last, read when the store opened. */
  loadReplication(): ReplicationSetting | undefined {
    return this.replication;
  }

  /** Stores the replication setting, committed with the writes around it. */
  async saveReplication(setting: ReplicationSetting): Promise<void> {
    this.checkOpen();
    this.replication = setting;
    await this.write({ type: 'put', key: REPLICATION, value: JSON.stringify(setting) });
  }

  /** The range fetch's progress stored last, read when the store opened. */
  loadFill(): FillProgress | undefined {
    return this.fill;
  }

  /** Stores the range fetch's progress, committed with the writes around it. */
  async saveFill(progress: FillProgress): Promise<void> {
    this.checkOpen();
    this.fill = progress;
    await this.write({ type: 'put', key: FILL, value: JSON.stringify(progress) });
  }

  counts(): Promise<StoreCounts> {
    return this.memory.counts();
  }

  /** Refuses new calls at once; writes already accepted are committed before LevelDB closes. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      await this.memory.close();
      await Promise.allSettled([this.writing?.done, this.next?.done]);
      clearTimeout(this.flushTimer);
      if (this.flushTimer !== undefined && this.failure === undefined) {
        await this.db.put(FLUSHED, String(Date.now()), { sync: true }).catch(() => {});
      }
      await this.db.close();
    })();
    return this.closing;
  }

  /** Reads the records, hints and serial states on disk into memory: once, when the store opens. */
  private async readDisk(): Promise<void> {
    const start = performance.now();
    for (const [from, to, take] of [
      [
        RECORDS,
        RECORDS_END,
        (key: string, record: unknown) => this.memory.mergeSync(key, record as KVRecord),
      ],
      [HINTS, HINTS_END, (id: string, record: unknown) => this.hints.set(id, record as KVRecord)],
      [PAXOS, PAXOS_END, (key: string, state: unknown) => this.paxos.set(key, state as PaxosState)],
    ] as const) {
      const iterator = this.db.iterator({ gte: from, lt: to });
      try {
        for (;;) {
          const step = await iterator.nextv(LOAD_STEP);
          if (step.length === 0) break;
          for (const [key, value] of step) take(key.slice(from.length), JSON.parse(value) as KVRecord);
        }
      } finally {
        await iterator.close();
      }
    }
    const replication: unknown = JSON.parse((await this.db.get(REPLICATION)) ?? 'null');
    if (isReplicationSetting(replication)) this.replication = replication;
    const fill: unknown = JSON.parse((await this.db.get(FILL)) ?? 'null');
    if (isFillProgress(fill)) this.fill = fill;
    const { live, tombstones } = await this.memory.counts();
    this.loaded = { records: live + tombstones, hints: this.hints.size, ms: performance.now() - start };
  }

  /** Adds a write to the next commit, which starts once the one under way (if any) is done. */
  private write(operation: Operation, recordKey?: string): Promise<void> {
    let commit = this.next;
    if (commit === undefined) {
      commit = this.next = new Commit();
      if (this.writing === undefined) setImmediate(() => this.commit());
    }
    commit.operations.push(operation);
    if (recordKey !== undefined) {
      this.unsettled.set(recordKey, commit.done);
      commit.keys.push(recordKey);
    }
    return commit.done;
  }

  private commit(): void {
    const commit = this.next;
    if (commit === undefined || this.writing !== undefined) return;
    this.next = undefined;
    this.writing = commit;
    const sync = this.fsyncIntervalMs === 0 || this.flushDue;
    if (sync) {
      this.flushDue = false;
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    } else {
      this.flushTimer ??= setTimeout(() => this.flush(), this.fsyncIntervalMs).unref();
    }
    this.db.batch(commit.operations, { sync }).then(
      () => {
        for (const key of commit.keys) {
          if (this.unsettled.get(key) === commit.done) this.unsettled.delete(key);
        }
        this.writing = undefined;
        commit.resolve();
        this.commit();
      },
      (error: unknown) => {
        this.failure = error instanceof Error ? error : new Error(String(error));
        this.closed = true;
        void this.memory.close();
        const failed = this.unavailable();
        this.writing = undefined;
        commit.reject(failed);
        this.next?.reject(failed);
        this.next = undefined;
      },
    );
  }

  /**
   * The interval since the first unflushed commit has passed: the next commit is fsynced (which covers those
   * before it in LevelDB's log), and if none is waiting, one of our own is made for it.
   */
  private flush(): void {
    this.flushTimer = undefined;
    if (this.closed) return;
    this.flushDue = true;
    if (this.next === undefined) {
      this.write({ type: 'put', key: FLUSHED, value: String(Date.now()) }).catch(() => {});
    }
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
