import type { Consistency, JsonValue, KVError } from '@kvdb/core';
import type { NodeTransport } from './node-transport.js';
import type { RetryPolicy } from './retry-policy.js';

export interface KVClientOptions {
  /**
   * Nodes of the cluster, as `host:port`: the client learns the other members from whichever answers, follows
   * membership changes, sends each key's calls to one of its replicas, and moves a call to another node when one
   * does not answer. Not with `host`/`port`. @default `[host:port]`
   */
  nodes?: readonly string[];
  /** The one node to talk to, when `nodes` is not given. @default DEFAULT_HOST */
  host?: string;
  /** @default DEFAULT_PORT */
  port?: number;
  /**
   * Learn the cluster's members and ring from the nodes (every `refreshMs`), rather than calling only the nodes
   * given. @default true with `nodes`, false with `host`/`port`
   */
  discover?: boolean;
  /** How often to ask a node for the members and the ring. @default DEFAULT_REFRESH_MS */
  refreshMs?: number;
  /**
   * Send each key's calls to one of the key's replicas, which saves the coordinating node a hop to a replica; once
   * the ring is known (`discover`). @default true
   */
  routeByKey?: boolean;
  /** How calls that get no answer are retried. @default DEFAULT_RETRY_POLICY */
  retry?: RetryPolicy;
  /**
   * Stamp each plain `set` and `mset` with a version from the client's own clock (kept past every node's clock it
   * hears from), so that a write that got no answer can be sent again, to another node even: the second copy
   * carries the same version and changes nothing where the first landed. Nodes refuse a stamp more than 1 s ahead
   * of their clock; `false` has the nodes stamp writes, and a write that may have reached a node that then failed
   * rejects with `OutcomeUnknownError` instead. @default true
   */
  stampWrites?: boolean;
  /**
   * Give up on one node's answer after this many ms (then the call may move to another node, see `retry`). Leave
   * room for the server's own quorum timeout (2 s by default), so that a quorum failure arrives as a
   * `QuorumNotReachedError` rather than a `TimeoutError`.
   * @default DEFAULT_CLIENT_TIMEOUT_MS
   */
  timeoutMs?: number;
  /** Give up on a call, retries included, after this many ms. @default 2 × timeoutMs */
  deadlineMs?: number;
  /**
   * Keep-alive sockets kept open to each node.
   * @default DEFAULT_MAX_SOCKETS
   */
  maxSockets?: number;
  /** Sent as `Authorization: Bearer …`, for nodes started with `--auth-token`. */
  authToken?: string;
  /**
   * A session token to start from (another client's `session`): this client's writes then win over everything
   * that one had read or written too. @default none
   */
  session?: string;
  /**
   * Speak TLS (https) to a node started with `--tls-cert`; `{}` trusts the system's CAs.
   * @default undefined: plain HTTP
   */
  tls?: KVClientTls;
}

/** How a client speaks TLS to its node; PEM text or its bytes, as node:tls takes them. */
export interface KVClientTls {
  /** The CA certificates that sign the node's certificate. @default the system's CAs */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** This client's certificate, for nodes that require one (`--tls-client-auth`); with `key`. @default none */
  cert?: string | Buffer;
  /** The private key of `cert`. @default none */
  key?: string | Buffer;
  /**
   * Refuse a node whose certificate is not signed by `ca` or not valid for `host`. Turn off only to try a node
   * whose certificate is not at hand: anyone in between can then read and change the traffic. @default true
   */
  rejectUnauthorized?: boolean;
}

/** What every call takes. */
export interface RequestOptions {
  /** Abandons the call: it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** This call's deadline, retries included. @default the client's `deadlineMs` */
  deadlineMs?: number;
}

export interface CallOptions extends RequestOptions {
  /**
   * How many replicas must answer: `one`, `quorum` (a majority, the default) or `all`; or `serial`, a consensus
   * round that makes the call linearizable with every other serial call on the key.
   */
  consistency?: Consistency;
}

export interface SetOptions extends CallOptions {
  /**
   * Seconds until the value expires (above 0, at most `MAX_TTL_SECONDS`, 10 years): from then on it reads as
   * absent everywhere. @default none: the value stays until overwritten or popped
   */
  ttl?: number;
  /** Store only if the key holds no value (a serial call): resolves with whether it stored. */
  ifAbsent?: boolean;
  /** Store only if the key holds a value (a serial call): resolves with whether it stored. */
  ifPresent?: boolean;
}

export interface CasOptions extends RequestOptions {
  /** Store only if the key's value deep-equals this (`null` included); left out, only if it holds no value. */
  expected?: JsonValue;
  /** Seconds until a stored value expires, as `set` takes it. @default none */
  ttl?: number;
}

export interface ListKeysOptions extends RequestOptions {
  /** Only keys that start with this. */
  prefix?: string;
}

export interface ListKeysPageOptions extends ListKeysOptions {
  /**
   * Most keys in the page, 1 to `MAX_LIST_LIMIT`.
   * @default MAX_LIST_LIMIT
   */
  limit?: number;
  /** The `cursor` of the previous page; leave out for the first. */
  cursor?: string;
}

export interface KeysOptions extends ListKeysOptions {
  /**
   * Keys fetched per request, 1 to `MAX_LIST_LIMIT`.
   * @default MAX_LIST_LIMIT
   */
  pageSize?: number;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set<keyof KVClientOptions>([
  'nodes',
  'host',
  'port',
  'discover',
  'refreshMs',
  'routeByKey',
  'retry',
  'stampWrites',
  'timeoutMs',
  'deadlineMs',
  'maxSockets',
  'authToken',
  'session',
  'tls',
]);

/**
 * The nodes a client is given, after refusing with a TypeError what it would otherwise ignore: an unknown option
 * (`hosts` for `nodes`), `nodes` beside `host`/`port`, an address that is not `host:port`.
 */
export function checkOptions(options: KVClientOptions, check: (address: string) => unknown): string[] {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected the client's options to be an object, got \`${String(options)}\``);
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) {
      const hint =
        name === 'hosts' || name === 'addresses' || name === 'servers' ? ' (did you mean `nodes`?)' : '';
      throw new TypeError(
        `Unknown option \`${name}\`${hint}: expected one of ${[...KNOWN_OPTIONS].join(', ')}`,
      );
    }
  }
  const { nodes, tls } = options;
  if (tls !== undefined && (tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError('Expected `tls.cert` and `tls.key` together: a client certificate and its key');
  }
  for (const name of ['timeoutMs', 'deadlineMs', 'refreshMs'] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
      throw new TypeError(`Expected \`${name}\` to be a number of ms above 0, got \`${value}\``);
    }
  }
  if (nodes === undefined) return [];
  if (options.host !== undefined || options.port !== undefined) {
    throw new TypeError('Expected either `nodes` or `host`/`port`, not both');
  }
  if (!Array.isArray(nodes) || nodes.length === 0 || nodes.some((node) => typeof node !== 'string')) {
    throw new TypeError('Expected `nodes` to be a non-empty array of `host:port` strings');
  }
  for (const node of nodes) check(node);
  return [...new Set(nodes as string[])];
}

/** Every option some call takes (each method reads its own): a name outside them is a typo. */
const CALL_OPTIONS: ReadonlySet<string> = new Set([
  'signal',
  'deadlineMs',
  'consistency',
  'ttl',
  'ifAbsent',
  'ifPresent',
  'expected',
  'prefix',
  'limit',
  'cursor',
  'pageSize',
]);

/** The TypeError a call's options deserve: an option no call takes (`deadlinMs`), a deadline not above 0. */
export function refusedCallOptions(options: RequestOptions): TypeError | undefined {
  if (typeof options !== 'object' || options === null) {
    return new TypeError(`Expected the call's options to be an object, got \`${String(options)}\``);
  }
  const unknown = Object.keys(options).find((name) => !CALL_OPTIONS.has(name));
  if (unknown !== undefined) {
    return new TypeError(
      `Unknown call option \`${unknown}\`: expected one of ${[...CALL_OPTIONS].join(', ')}`,
    );
  }
  const { deadlineMs } = options;
  if (deadlineMs !== undefined && (!Number.isFinite(deadlineMs) || deadlineMs <= 0)) {
    return new TypeError(`Expected \`deadlineMs\` to be a number of ms above 0, got \`${deadlineMs}\``);
  }
  return undefined;
}

/** Collaborators a test swaps for fakes. */
export interface KVClientComponents {
  /** @default JSON-RPC over HTTP(S) */
  transport?: NodeTransport;
  /** Jitter of backoffs. @default Math.random */
  random?: () => number;
  /** @default Date.now */
  now?: () => number;
}

/** The events a `KVClient` emits, with their arguments. */
export interface KVClientEvents {
  /** A node answered for the first time: the client can reach the cluster. */
  ready: [];
  /** A node did not answer; calls skip it until a background probe finds it answering again. */
  nodeDown: [address: string, error: KVError];
  nodeUp: [address: string];
  /** Learning the members failed on every node; emitted only while someone listens for it. */
  error: [error: Error];
  /** The members changed (a node joined or left the cluster). */
  members: [addresses: readonly string[]];
}

/** Drops undefined members, so optional params are left out of the request rather than sent as null. */
export function compact<T extends object>(params: T): T {
  return Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined)) as T;
}
