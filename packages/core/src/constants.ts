/** Defaults shared by every package. Options elsewhere resolve to these with `??`. */

/** Replication factor: how many distinct nodes hold each key. */
export const DEFAULT_REPLICAS = 3;

/** Virtual nodes per member on the hash ring; 256 keeps each of 5 members within ~10% of its fair share. */
export const DEFAULT_VNODES = 256;

/** Name of the default ring hasher. */
export const DEFAULT_HASHER = 'md5';

/** Port a node listens on, and the one the shell and client dial. */
export const DEFAULT_PORT = 5878;

/** Address a node binds and the shell dials: loopback unless told otherwise. */
export const DEFAULT_HOST = '127.0.0.1';

/** How long a coordinator waits for replicas before failing a request, in ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 2_000;

/** Largest key, in UTF-8 bytes. */
export const DEFAULT_MAX_KEY_BYTES = 1_024;

/** Largest value, in bytes of its JSON text. */
export const DEFAULT_MAX_VALUE_BYTES = 1_048_576;

/** Largest HTTP request body a node reads, in bytes; a larger one is refused without being buffered. */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1_048_576;

/** Most requests in one JSON-RPC batch. */
export const DEFAULT_MAX_BATCH = 1_000;

/** The kvdb release, reported by `stats` and `--version`. */
export const KVDB_VERSION = '0.1.0';

/**
 * Most keys in one page of `list_keys`, and most entries a replica scans for one `peer.keys` call: 10,000 keys keep
 * a page well under the ~100 ms a node may spend on one request without holding up the others.
 */
export const MAX_LIST_LIMIT = 10_000;

/**
 * Most keys `list_keys` returns in one unpaged answer (no `limit`, no `cursor`); a longer listing is refused and
 * must be paged.
 */
export const MAX_UNPAGED_KEYS = 100_000;

/** The HTTP header a session token travels in, both ways (see `formatSession`). */
export const SESSION_HEADER = 'kvdb-session';
/**
 * Longest time to live a write may take, in seconds: 10 years of 365 days. A longer one is more likely a unit
 * mistake (ms for seconds) than a wish; a key meant to outlive it is written without one.
 */
export const MAX_TTL_SECONDS = 315_360_000;
