/** With a data dir, the longest an acknowledged write waits to be fsynced, in ms: Redis' `appendfsync everysec`. */
export const DEFAULT_FSYNC_INTERVAL_MS = 1_000;

/**
 * LevelDB's memory, which with the keydir is all a data dir costs a node beyond its keys (see `DiskStore`):
 * - `writeBufferSize`: the memtable, where writes wait to be sorted into a table file; up to two are held (one
 *   being written out), so 32 MB at most. Larger than LevelDB's 4 MB default: a bulk load of 2 GB of 10 KB values
 *   took 41 s against 79 s, and a restart replays at most this much of the log.
 * - `cacheSize`: the cache of uncompressed blocks, 8 MB (LevelDB's default). Blocks of the table files LevelDB maps
 *   into memory (on 64-bit Linux, all it has open) skip it: they are read from the OS's page cache.
 * - `maxOpenFiles`: table files open at once (about 2 MB each), 100 where LevelDB's default is 1,000. Every open
 *   table file is mapped into the process, and the pages read from it count in the node's resident memory until
 *   the file is closed: reading back 600 MB of 10 KB values took a node to 750 MB resident (636 MB of it mapped
 *   files) with 1,000 files open, and to 328 MB (234 MB mapped) with 100. The price is a reopened file (a read of
 *   its index) for a read that misses them: about 4,000 random reads/s straight from a 2 GB LevelDB against
 *   16,000, which a node reading back 10 KB values through HTTP (2,000–4,600/s here) did not feel.
 */
export const LEVEL_OPTIONS = {
  writeBufferSize: 16 * 1024 * 1024,
  cacheSize: 8 * 1024 * 1024,
  maxOpenFiles: 100,
} as const;
