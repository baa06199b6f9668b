import { KVError, OutcomeUnknownError, TimeoutError, UnavailableError } from '@kvdb/core';
import type { ClusterMap } from './cluster-map.js';
import type { NodeReply, NodeTransport } from './node-transport.js';
import { transportFailure } from './node-transport.js';
import { backoffDelay, delay, type RetryPolicy } from './retry-policy.js';

/** Calls that change nothing: moved to another node on any failure to answer, whether or not the node got them. */
const READS: ReadonlySet<string> = new Set([
  'ping',
  'get',
  'has',
  'ttl',
  'mget',
  'list_keys',
  'list_members',
  'locate',
  'ring',
  'stats',
  'cluster_status',
]);

/**
 * Whether a call changes nothing, so that it may be sent again after a failure that may have reached the node (a
 * reset connection, a timeout). A write may be sent again only when it carries its own version (`stamped`): a write
 * stamped by each node that coordinates it would be two writes, and the second, stamped later, could overwrite a
 * write made by someone else in between (a value readers saw replaced would come back). A serial operation
 * (`cas`, a conditional or serial `set`, `pop`) may have been decided. A write that never reached any node (the
 * connection was refused) is moved to another node like a read.
 */
export function isRead(method: string): boolean {
  return READS.has(method);
}

/** One call as the failover loop runs it. */
export interface FailoverCall {
  method: string;
  params: object | unknown[];
  /** A write that carries its version (a `stamp`): sent again, it changes nothing where it landed. */
  stamped?: boolean;
  /** The key it is about, to send it to one of the key's replicas. */
  key?: string;
  /** Go to the first node given that is up, rather than taking turns (see `ClusterMap.candidates`). */
  pinned?: boolean;
  /** Only this node, never another (`leave` without an address). */
  only?: string;
  timeoutMs: number;
  deadlineMs: number;
  signal?: AbortSignal;
}

/** What the loop needs of its client. */
export interface FailoverContext {
  transport: NodeTransport;
  map: ClusterMap;
  policy: Required<RetryPolicy>;
  random: () => number;
  now: () => number;
  session(): string | undefined;
  /** A node answered (a result or its own error): it is up. */
  answered(address: string, reply?: NodeReply): void;
  /** A node did not answer. */
  failed(address: string, error: KVError): void;
}

/**
 * Sends the call to the best node, and on a failure to answer moves it to the next: at once to a node not yet
 * tried in the call, with a backoff to one already tried; within `attempts` and `deadlineMs`. A node's own error
 * (a bad param, a quorum not reached) is the node's answer and comes back as it is; so does the first error of an
 * unstamped write that may have reached its node, as an `OutcomeUnknownError` (see `isRead`).
 */
export async function runWithFailover(context: FailoverContext, call: FailoverCall): Promise<unknown> {
  const { transport, map, policy } = context;
  const started = context.now();
  const deadline = started + call.deadlineMs;
  const tried: string[] = [];
  let rounds = 0;
  // Whether a write was sent to a node that then failed to answer: if no retry succeeds, it may have landed.
  let mayHaveLanded = false;
  for (let attempt = 1; ; attempt++) {
    const candidates = call.only === undefined ? map.candidates(call.key, call.pinned) : [call.only];
    const fresh = candidates.find((address) => !tried.includes(address));
    const address = fresh ?? candidates[0] ?? call.only ?? '';
    const timeoutMs = Math.min(call.timeoutMs, Math.max(1, deadline - context.now()));
    try {
      const { method, params, signal } = call;
      const reply = await transport.request({
        address,
        method,
        params,
        timeoutMs,
        signal,
        session: context.session(),
      });
      context.answered(address, reply);
      return reply.result;
    } catch (error) {
      if (call.signal?.aborted) throw call.signal.reason;
      if (!(error instanceof KVError)) throw error;
      tried.push(address);
      const failure = transportFailure(error);
      if (failure === undefined && !(error instanceof UnavailableError)) {
        context.answered(address);
        throw error;
      }
      if (failure !== undefined) context.failed(address, error);
      if (failure?.sent && !isRead(call.method)) {
        if (call.stamped !== true) throw outcomeUnknown(call.method, address, error);
        mayHaveLanded = true;
      }
      const more = call.only === undefined ? map.candidates(call.key, call.pinned) : [call.only];
      const wait = more.some((next) => !tried.includes(next))
        ? 0
        : backoffDelay(++rounds, policy, context.random);
      const left = deadline - context.now() - wait;
      if (attempt >= policy.attempts || left <= 0) {
        const last = exhausted(call, error, tried, context.now() - started);
        throw mayHaveLanded ? mayHaveLandedError(last) : last;
      }
      if (wait > 0) await delay(wait, call.signal);
    }
  }
}

function outcomeUnknown(method: string, address: string, error: KVError): OutcomeUnknownError {
  return new OutcomeUnknownError(
    `${method} on ${address}: ${error.message}, after the request was sent: it may or may not have taken effect, so it was not sent again`,
    { cause: error, data: { node: address, tried: [address] } },
  );
}

/** A stamped write's last failure, when an earlier copy reached a node that failed before answering. */
function mayHaveLandedError(last: KVError): OutcomeUnknownError {
  return new OutcomeUnknownError(
    `${last.message}; a copy reached a node that failed before answering: it may or may not have taken effect`,
    { cause: last, data: last.data },
  );
}

/** The last failure, its class kept, saying which nodes were tried, how often, over how long. */
function exhausted(call: FailoverCall, error: KVError, tried: string[], elapsedMs: number): KVError {
  const data = { ...(error.data as object | undefined), tried: [...new Set(tried)] };
  const Cls = (error instanceof TimeoutError ? TimeoutError : error.constructor) as typeof KVError;
  // One try of one node: its error says it all.
  if (tried.length === 1) return new Cls(error.message, { cause: error, data, code: error.code });
  const counts = new Map<string, number>();
  for (const address of tried) counts.set(address, (counts.get(address) ?? 0) + 1);
  // Each node's count, when any was tried more than once: "a (once), b (4 times)".
  const again = [...counts.values()].some((times) => times > 1);
  const nodes = [...counts].map(([address, times]) =>
    !again ? address : `${address} (${times === 1 ? 'once' : `${times} times`})`,
  );
  const why = elapsedMs >= call.deadlineMs - 1 ? `, the call's deadline (${call.deadlineMs} ms)` : '';
  const message = `${error.message}; ${call.method} tried ${nodes.join(', ')} in ${Math.round(elapsedMs)} ms${why}`;
  return new Cls(message, { cause: error, data, code: error.code });
}
