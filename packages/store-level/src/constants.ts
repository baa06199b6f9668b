/** With a data dir, the longest an acknowledged write waits to be fsynced, in ms: Redis' `appendfsync everysec`. */
export const DEFAULT_FSYNC_INTERVAL_MS = 1_000;

/**
 * LevelDB's memory, which with the heads in memory is all a data dir costs beyond its keys (see `DiskStore`):
 * - `writeBufferSize`: the memtable, where writes wait to be sorted into a table file; up to two (one being
 *   written out) are held, so 32 MB at most. Larger than LevelDB's 4 MB default: a bulk load of 10 KB values ran
 *   about twice as fast (41 s against 79 s for 2 GB), and a restart replays at most this much of the log.
 * - `cacheSize`: LevelDB's cache of uncompressed blocks, 8 MB (its default). Blocks of table files LevelDB maps
 *   into memory (all on 64-bit Linux, up to a thousand) skip it and are read from the OS's page cache.
 * - `maxOpenFiles`: table files open at once (LevelDB's default, 1,000, beyond which it reopens them as reads
 *   need them).
 */
export const LEVEL_OPTIONS = {
  writeBufferSize: 16 * 1024 * 1024,
  cacheSize: 8 * 1024 * 1024,
  maxOpenFiles: 1_000,
} as const;
