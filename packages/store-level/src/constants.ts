/** With a data dir, the longest an acknowledged write waits to be fsynced, in ms: Redis' `appendfsync everysec`. */
export const DEFAULT_FSYNC_INTERVAL_MS = 1_000;
