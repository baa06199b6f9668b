import {
  type KeyVersion,
  type KVRecord,
  MemoryStore,
  type MergeResult,
  type RecordHead,
  type ScanOptions,
  type Store,
  type StoreCounts,
  type Version,
} from '@kvdb/core';

/**
 * A store that passes every call to the `MemoryStore` behind it, but answers reads and writes only through
 * promises (no `getSync` or `mergeSync`), as a store that waits for I/O does. Tests change what they test in it.
 */
export class DelegatingStore implements Store {
  constructor(readonly inner: MemoryStore = new MemoryStore()) {}

  get(key: string): Promise<KVRecord | undefined> {
    return this.inner.get(key);
  }

  merge(key: string, record: KVRecord): Promise<MergeResult> {
    return this.inner.merge(key, record);
  }

  remove(key: string, version: Version): Promise<boolean> {
    return this.inner.remove(key, version);
  }

  headSync(key: string): RecordHead | undefined {
    return this.inner.headSync(key);
  }

  scanKeys(options: ScanOptions): KeyVersion[] {
    return this.inner.scanKeys(options);
  }

  counts(): Promise<StoreCounts> {
    return this.inner.counts();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
