import { isTombstone, type KVRecord, supersedes } from './record.js';
import type { EntriesOptions, MergeResult, Store, StoreCounts } from './store.js';
import { compareVersions, type Version } from './version.js';

/** The default store: a `Map` from key to its newest record. Nothing survives the process. */
export class MemoryStore implements Store {
  private readonly records = new Map<string, KVRecord>();
  private tombstones = 0;

  async get(key: string): Promise<KVRecord | undefined> {
    return this.records.get(key);
  }

  async merge(key: string, record: KVRecord): Promise<MergeResult> {
    return this.mergeSync(key, record);
  }

  /** The synchronous core of `merge`, for callers that hold many records at once. */
  mergeSync(key: string, record: KVRecord): MergeResult {
    const previous = this.records.get(key);
    if (!supersedes(record, previous)) return { applied: false, previous };
    if (previous !== undefined && isTombstone(previous)) this.tombstones--;
    if (isTombstone(record)) this.tombstones++;
    this.records.set(key, record);
    return { applied: true, previous };
  }

  async remove(key: string, version: Version): Promise<boolean> {
    const current = this.records.get(key);
    if (current === undefined || compareVersions(current.version, version) !== 0) return false;
    if (isTombstone(current)) this.tombstones--;
    this.records.delete(key);
    return true;
  }

  *entries(options: EntriesOptions = {}): Iterable<[string, KVRecord]> {
    const { prefix } = options;
    for (const entry of this.records) {
      if (prefix === undefined || entry[0].startsWith(prefix)) yield entry;
    }
  }

  async counts(): Promise<StoreCounts> {
    return { live: this.records.size - this.tombstones, tombstones: this.tombstones };
  }

  async close(): Promise<void> {}
}
