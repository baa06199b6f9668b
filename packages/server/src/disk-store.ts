import { mkdirSync } from 'node:fs';
import type { HintLog } from '@kvdb/coordinator';
import {
  compareVersions,
  type EntriesOptions,
  headOf,
  isTombstone,
  type KeyVersion,
  type KVRecord,
  type MergeResult,
  type ScanOptions,
  type Store,
  type StoreCounts,
  scanPage,
  storeClosed,
  supersedes,
  type Version,
} from '@kvdb/core';
import { open, type RootDatabase } from 'lmdb';

/** Who wrote a data dir: a node refuses a dir written by another cluster or under another address. */
export interface DataDirIdentity {
  cluster: string;
  address: string;
}

/** LMDB's own bound on key size, in bytes. */
export const LMDB_MAX_KEY_BYTES = 1_978;

const FORMAT = 1;

/** A data dir that belongs to someone else, or that this version cannot read. */
export class DataDirError extends Error {
  override name = 'DataDirError';
}

/**
 * The durable store: records and tombstones in LMDB (an embedded, memory-mapped B+tree with ACID transactions).
 * A merge reads, compares and writes in one transaction and resolves once that transaction has committed, so an
 * acknowledged write survives `kill -9`: the committed pages are in the file, through the OS. lmdb-js flushes
 * each commit to the disk just after it (its default `overlappingSync` on Linux), so a power cut of the machine
 * can lose the commits not yet flushed; they survive where replicas on other machines acknowledged them.
 */
export class DiskStore implements Store, HintLog {
  private readonly root: RootDatabase;
  private readonly records;
  private readonly hints;
  private live = 0;
  private tombstones = 0;
  /**
   * Set at `close`. lmdb-js does not refuse a write to a closed environment: it throws from a callback of its own,
   * which ends the process, and the write's promise never settles. So every call checks this first.
   */
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(root: RootDatabase) {
    this.root = root;
    this.records = root.openDB<KVRecord, string>({ name: 'records', encoding: 'json' });
    this.hints = root.openDB<KVRecord, string>({ name: 'hints', encoding: 'json' });
    for (const { value } of this.records.getRange()) {
      if (isTombstone(value)) this.tombstones++;
      else this.live++;
    }
  }

  /** Opens (creating if needed) the store in `dir`, checking that it was written by this cluster and address. */
  static async open(dir: string, identity: DataDirIdentity): Promise<DiskStore> {
    mkdirSync(dir, { recursive: true });
    const root = open({ path: dir, maxDbs: 8, encoding: 'json', compression: false });
    try {
      const meta = root.openDB<unknown, string>({ name: 'meta', encoding: 'json' });
      const found = meta.get('identity') as (DataDirIdentity & { format: number }) | undefined;
      if (found === undefined) {
        await meta.put('identity', { ...identity, format: FORMAT });
      } else {
        if (found.format !== FORMAT) {
          throw new DataDirError(
            `${dir} holds data format ${found.format}; this kvdb reads format ${FORMAT}`,
          );
        }
        if (found.cluster !== identity.cluster) {
          throw new DataDirError(
            `${dir} belongs to cluster "${found.cluster}", not "${identity.cluster}" (--cluster-name); refusing to mix their data`,
          );
        }
        if (found.address !== identity.address) {
          throw new DataDirError(
            `${dir} was written by the node at ${found.address}, not ${identity.address}; start that node with it, or use an empty --data-dir`,
          );
        }
      }
      return new DiskStore(root);
    } catch (error) {
      await root.close();
      throw error;
    }
  }

  async get(key: string): Promise<KVRecord | undefined> {
    this.checkOpen();
    return this.records.get(key);
  }

  async merge(key: string, record: KVRecord): Promise<MergeResult> {
    this.checkOpen();
    return this.records.transaction(() => {
      const stored = this.records.get(key);
      const previous = stored === undefined ? undefined : headOf(stored);
      if (!supersedes(record, previous)) return { applied: false, previous };
      this.records.put(key, record);
      this.count(stored, -1);
      this.count(record, 1);
      return { applied: true, previous };
    });
  }

  async remove(key: string, version: Version): Promise<boolean> {
    this.checkOpen();
    return this.records.transaction(() => {
      const current = this.records.get(key);
      if (current === undefined || compareVersions(current.version, version) !== 0) return false;
      this.records.remove(key);
      this.count(current, -1);
      return true;
    });
  }

  *entries(options: EntriesOptions = {}): Iterable<[string, KVRecord]> {
    const { prefix } = options;
    for (const entry of this.range(prefix)) {
      if (prefix !== undefined && !entry[0].startsWith(prefix)) return;
      yield entry;
    }
  }

  scanKeys(options: ScanOptions): KeyVersion[] {
    return scanPage(
      (from) => this.range(from),
      options,
      (record) => ({ version: record.version, deleted: isTombstone(record) }),
    );
  }

  /** Records in key order from `from` (inclusive; from the first key when undefined). */
  private *range(from: string | undefined): Iterable<[string, KVRecord]> {
    this.checkOpen();
    for (const { key, value } of this.records.getRange(from === undefined ? {} : { start: from })) {
      yield [key, value];
    }
  }

  /** Hints for other replicas, keyed `member NUL key`: the HintLog of hinted handoff. */
  *load(): Iterable<[string, string, KVRecord]> {
    this.checkOpen();
    for (const { key, value } of this.hints.getRange()) {
      const split = key.indexOf('\0');
      yield [key.slice(0, split), key.slice(split + 1), value];
    }
  }

  async put(member: string, key: string, record: KVRecord): Promise<void> {
    this.checkOpen();
    await this.hints.put(`${member}\0${key}`, record);
  }

  async delete(member: string, key: string): Promise<void> {
    this.checkOpen();
    await this.hints.remove(`${member}\0${key}`);
  }

  async counts(): Promise<StoreCounts> {
    return { live: this.live, tombstones: this.tombstones };
  }

  close(): Promise<void> {
    this.closed = true;
    this.closing ??= this.root.close();
    return this.closing;
  }

  private checkOpen(): void {
    if (this.closed) throw storeClosed();
  }

  private count(record: KVRecord | undefined, delta: number): void {
    if (record === undefined) return;
    if (isTombstone(record)) this.tombstones += delta;
    else this.live += delta;
  }
}
