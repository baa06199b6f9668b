import { DEFAULT_REQUEST_TIMEOUT_MS } from '@kvdb/core';

/** Every default of the client package; the shared ones (host, port, limits) are `@kvdb/core`'s. */

/**
 * How long a client waits for a reply: the node's own quorum timeout and 3 s more, so that a quorum failure
 * arrives as a `QuorumNotReachedError` rather than a `TimeoutError`.
 */
export const DEFAULT_CLIENT_TIMEOUT_MS = DEFAULT_REQUEST_TIMEOUT_MS + 3_000;

/** Keep-alive sockets a client keeps open to its node. */
export const DEFAULT_MAX_SOCKETS = 64;

/** How often a client given several nodes asks one of them for the members and the ring. */
export const DEFAULT_REFRESH_MS = 5_000;
