import type { ClusterNode, Coordinator, PeerHandlers } from '@kvdb/coordinator';
import { type JsonText, RawJson } from '@kvdb/core';
import type { ClusterView } from '../cluster-view.js';
import type { Limits } from '../config.js';
import type { Params } from '../params.js';

export interface MethodContext {
  node: ClusterNode;
  coordinator: Coordinator;
  /** The handler of each `peer.` method (the node's `peerHandlers`). */
  peer: PeerHandlers;
  limits: Limits;
  /** The requests answered, recent events and the other members' counters, for `stats` and `cluster_status`. */
  view: ClusterView;
  /** Called once this node has left the cluster, to shut the process down after the reply is sent. */
  onLeft: () => void;
}

/**
 * One JSON-RPC method: its param names (in positional order) and what it does with them once validated. `call`
 * gives its result, or the promise of it; it may throw (or reject) a `KVError`, which becomes the error reply.
 */
export interface MethodDefinition {
  readonly name: string;
  readonly params: readonly string[];
  call(params: Params, context: MethodContext): unknown;
  /** Turns the call's result into what the reply carries (a value's text into `RawJson`). @default the result */
  readonly reply?: (result: never) => unknown;
}

/** A value's text as a method's result: the reply carries it as it is (see `encodeJson`). */
export const rawJson = (text: JsonText): RawJson => new RawJson(text);
