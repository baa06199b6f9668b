import type { MemberAddress, PeerMethod, PeerParams, PeerResult } from '@kvdb/core';

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

/** What answers peer calls on a node: the coordinator. */
export interface PeerHandler {
  handlePeer<M extends PeerMethod>(method: M, params: PeerParams<M>): Promise<PeerResult<M>>;
}
