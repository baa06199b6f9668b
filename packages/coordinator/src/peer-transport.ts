import {
  type MemberAddress,
  MethodNotFoundError,
  type PeerMethod,
  type PeerParams,
  type PeerResult,
} from '@kvdb/core';

export interface PeerCallOptions {
  /** Give up on the call after this many ms; the coordinator's own quorum timer bounds the request anyway. */
  timeoutMs?: number;
}

/**
 * How one node calls the peer methods of another. The server implements it over HTTP; tests implement it with an
 * in-memory network. A call rejects when the peer cannot be reached, times out, or answers with an error.
 */
export interface PeerTransport {
  call<M extends PeerMethod>(
    to: MemberAddress,
    method: M,
    params: PeerParams<M>,
    options?: PeerCallOptions,
  ): Promise<PeerResult<M>>;
  close?(): Promise<void>;
}

/** An answer given at once when it can be, else the promise of one. */
export type Answer<T> = T | Promise<T>;

/** The handler of each peer method: one typed entry a method, answered by the part that owns it. */
export type PeerHandlers = { readonly [M in PeerMethod]: (params: PeerParams<M>) => Answer<PeerResult<M>> };

/** What answers peer calls: a node (every method), or a replica alone (its data methods), as a test wires it. */
export interface PeerHandler {
  handlePeer<M extends PeerMethod>(method: M, params: PeerParams<M>): Promise<PeerResult<M>>;
}

/**
 * Answers a peer call from `handlers`, as a promise that never throws synchronously; a method with no handler
 * (a name from a peer is only a string) is refused with `MethodNotFoundError`.
 */
export function dispatchPeer<M extends PeerMethod>(
  handlers: Partial<PeerHandlers>,
  method: M,
  params: PeerParams<M>,
): Promise<PeerResult<M>> {
  const handler = Object.hasOwn(handlers, method) ? handlers[method] : undefined;
  if (handler === undefined) {
    return Promise.reject(new MethodNotFoundError(`Unknown peer method \`${method}\``));
  }
  try {
    return Promise.resolve(handler(params));
  } catch (error) {
    return Promise.reject(error);
  }
}
