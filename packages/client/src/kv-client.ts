import { Agent, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  type CasResult,
  type ClusterStatus,
  ConnectionError,
  type Consistency,
  compareKeys,
  DEFAULT_HOST,
  DEFAULT_PORT,
  errorFromRpc,
  type JsonValue,
  type KeyPage,
  KVError,
  type LeaveResult,
  laterSession,
  MAX_LIST_LIMIT,
  type MemberInfo,
  type NodeStats,
  type PublicMethod,
  type PublicMethods,
  SESSION_HEADER,
  type SetReplicasResult,
  TimeoutError,
  type TtlResult,
  tlsFailure,
} from '@kvdb/core';
import jayson from 'jayson';
import { DEFAULT_CLIENT_TIMEOUT_MS, DEFAULT_MAX_SOCKETS } from './constants.js';

export interface KVClientOptions {
  /** @default DEFAULT_HOST */
  host?: string;
  /** @default DEFAULT_PORT */
  port?: number;
  /**
   * Give up on a call after this many ms. Leave room for the server's own quorum timeout (2 s by default),
   * so that a quorum failure arrives as a `QuorumNotReachedError` rather than a `TimeoutError`.
   * @default DEFAULT_CLIENT_TIMEOUT_MS
   */
  timeoutMs?: number;
  /**
   * Keep-alive sockets kept open to the node.
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

export interface CallOptions {
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

export interface CasOptions {
  /** Store only if the key's value deep-equals this (`null` included); left out, only if it holds no value. */
  expected?: JsonValue;
  /** Seconds until a stored value expires, as `set` takes it. @default none */
  ttl?: number;
}

export interface ListKeysOptions {
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

type RpcReply = { result?: unknown; error?: { code: number; message: string; data?: unknown } };

/**
 * A typed client for one kvdb node. Any node coordinates any request, so one client is enough; failures reject
 * with `KVError` subclasses (`ConnectionError`, `TimeoutError`, `InvalidParamsError`, `QuorumNotReachedError`, …).
 *
 * @example
 * ```ts
 * const kv = new KVClient({ port: 5878 })
 * await kv.set('user:42', { name: 'Ada' })
 * await kv.get('user:42') // { name: 'Ada' }
 * await kv.close()
 * ```
 */
export class KVClient {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  private readonly agent: Agent;
  private readonly rpc: jayson.HttpClient;
  private readonly tls: KVClientTls | undefined;
  private latestSession: string | undefined;

  constructor(options: KVClientOptions = {}) {
    this.host = options.host ?? DEFAULT_HOST;
    this.port = options.port ?? DEFAULT_PORT;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    const { tls } = options;
    if (tls !== undefined && (tls.cert === undefined) !== (tls.key === undefined)) {
      throw new TypeError('Expected `tls.cert` and `tls.key` together: a client certificate and its key');
    }
    this.tls = tls;
    const sockets = { keepAlive: true, maxSockets: options.maxSockets ?? DEFAULT_MAX_SOCKETS };
    this.agent =
      tls === undefined ? new Agent(sockets) : new HttpsAgent({ ...sockets, ...tls, ca: tls.ca as string[] });
    const headers = options.authToken === undefined ? {} : { authorization: `Bearer ${options.authToken}` };
    const rpcOptions = {
      headers,
      host: this.host,
      port: this.port,
      agent: this.agent,
      timeout: this.timeoutMs,
    };
    this.rpc = tls === undefined ? jayson.Client.http(rpcOptions) : jayson.Client.https(rpcOptions);
    this.latestSession = laterSession(undefined, options.session);
    // Every reply carries the node's clock reading; every call sends back the highest one seen (see `session`).
    this.rpc.on('http request', (request: ClientRequest) => {
      if (this.latestSession !== undefined) request.setHeader(SESSION_HEADER, this.latestSession);
    });
    this.rpc.on('http response', (response: IncomingMessage) => {
      const token = response.headers[SESSION_HEADER];
      if (typeof token === 'string') this.latestSession = laterSession(this.latestSession, token);
    });
  }

  /**
   * The highest session token the nodes have sent this client: at least the version of every value it has read
   * or written. Each call sends it, and the node that coordinates the call stamps its writes above it, so a write
   * through this client wins over everything it has seen, through any node, whatever the clocks' skew.
   */
  get session(): string | undefined {
    return this.latestSession;
  }

  /** `host:port` of the node this client talks to. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  ping(): Promise<'pong'> {
    return this.call('ping', {});
  }

  /** The key's value, or `defaultValue` (else `null`) when it has none. */
  get(key: string, defaultValue?: JsonValue, options: CallOptions = {}): Promise<JsonValue> {
    return this.call('get', compact({ key, default: defaultValue, consistency: options.consistency }));
  }

  /** Stores the value: `true`; with `ifAbsent` or `ifPresent`, whether it stored. */
  set(key: string, value: JsonValue, options: SetOptions = {}): Promise<boolean> {
    const { consistency, ttl, ifAbsent, ifPresent } = options;
    return this.call('set', compact({ key, value, consistency, ttl, ifAbsent, ifPresent }));
  }

  /**
   * A compare-and-set, linearizable with every serial call on the key: stores `value` if the key's value
   * deep-equals `options.expected`, or, without `expected`, if the key holds no value.
   */
  cas(key: string, value: JsonValue, options: CasOptions = {}): Promise<CasResult> {
    const { ttl } = options;
    const params =
      'expected' in options ? { key, value, expected: options.expected ?? null, ttl } : { key, value, ttl };
    return this.call('cas', compact(params));
  }

  has(key: string, options: CallOptions = {}): Promise<boolean> {
    return this.call('has', compact({ key, consistency: options.consistency }));
  }

  /** Removes the key; resolves with the value it held, or `defaultValue` (else `null`). */
  pop(key: string, defaultValue?: JsonValue, options: CallOptions = {}): Promise<JsonValue> {
    return this.call('pop', compact({ key, default: defaultValue, consistency: options.consistency }));
  }

  /**
   * The keys' values in the order given, `null` for a key that holds none: each key read as `get` reads it, all in
   * parallel on the node, at most the node's `--max-batch` (1,000) keys a call. When any key fails it rejects with
   * the first failed key's error class, and `data` (a `MultiKeyFailure`) names every key that failed.
   */
  mget(keys: readonly string[], options: CallOptions = {}): Promise<JsonValue[]> {
    return this.call('mget', compact({ keys: [...keys], consistency: options.consistency }));
  }

  /**
   * Writes every `[key, value]` (an array of pairs, a `Map`, `Object.entries(…)`), each key once, each as `set`
   * writes it, all in parallel on the node, at most `--max-batch` (1,000) a call; resolves once every key is
   * acknowledged. Not atomic: when some keys fail it rejects with the first failed key's error class, `data` (a
   * `MultiKeyFailure`) names them, and the other keys stay written.
   */
  mset(entries: Iterable<readonly [string, JsonValue]>, options: CallOptions = {}): Promise<true> {
    const pairs = Array.from(entries, ([key, value]): [string, JsonValue] => [key, value]);
    return this.call('mset', compact({ entries: pairs, consistency: options.consistency }));
  }

  /**
   * Whether the key holds a value, and the seconds (ms precision) until it expires: `{exists: true, ttl: 1.5}`;
   * `ttl` is `null` for a value without one, and for a key that holds no value (`exists: false`).
   */
  ttl(key: string, options: CallOptions = {}): Promise<TtlResult> {
    return this.call('ttl', compact({ key, consistency: options.consistency }));
  }

  /**
   * Every live key in the cluster (that starts with `prefix`), in code point order. Fetched a page at a time, so
   * it works whatever the number of keys, as long as they fit in memory; `keys()` iterates without holding them.
   */
  async listKeys(options: ListKeysOptions = {}): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of this.keys(options)) keys.push(key);
    return keys.sort(compareKeys);
  }

  /**
   * One page of keys: pass back the `cursor` it returns for the next, until it is `null`. A page may be shorter
   * than `limit` (empty, even) without being the last. A single node lists in code point order; a cluster lists in
   * ring order (by each key's place on the ring), so that each page asks only the replicas of the ring segments
   * it covers.
   */
  async listKeysPage(options: ListKeysPageOptions = {}): Promise<KeyPage> {
    const params = compact({
      prefix: options.prefix,
      limit: options.limit ?? MAX_LIST_LIMIT,
      cursor: options.cursor,
    });
    return (await this.call('list_keys', params)) as KeyPage;
  }

  /** Every live key (that starts with `prefix`), in the order of `listKeysPage`, fetched `pageSize` keys at a time. */
  async *keys(options: KeysOptions = {}): AsyncGenerator<string, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.listKeysPage({ prefix: options.prefix, limit: options.pageSize, cursor });
      yield* page.keys;
      if (page.cursor !== null && cursor !== undefined && compareKeys(page.cursor, cursor) <= 0) {
        throw new KVError(`list_keys on ${this.address} returned a cursor that does not advance`);
      }
      cursor = page.cursor ?? undefined;
    } while (cursor !== undefined);
  }

  listMembers(): Promise<MemberInfo[]> {
    return this.call('list_members', {});
  }

  /** The key's replicas, primary first. */
  locate(key: string): Promise<string[]> {
    return this.call('locate', { key });
  }

  stats(): Promise<NodeStats> {
    return this.call('stats', {});
  }

  /** The node's view of the whole cluster: members with their counters and ring shares, and recent events. */
  clusterStatus(): Promise<ClusterStatus> {
    return this.call('cluster_status', {});
  }

  /**
   * Takes a member out of the cluster for good. Without `address`, the node this client talks to hands its data
   * to the new owners, answers, and shuts down. With the address of a member that is down, that member is removed
   * and the others re-replicate its keys.
   */
  leave(address?: string): Promise<LeaveResult> {
    return this.call('leave', address === undefined ? {} : { address });
  }

  /**
   * Changes the cluster's replication factor; resolves once every new replica holds its data (a large store may
   * take longer than `timeoutMs`: `stats` shows the change under way, and the node sees it through anyway).
   */
  setReplicas(replicas: number): Promise<SetReplicasResult> {
    return this.call('set_replicas', { replicas });
  }

  /** Calls any method by name: the typed methods above are shorthands for this. */
  call<M extends PublicMethod>(method: M, params: PublicMethods[M][0]): Promise<PublicMethods[M][1]>;
  call(method: string, params?: object | unknown[]): Promise<unknown>;
  call(method: string, params: object | unknown[] = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new TimeoutError(`${method} to ${this.address} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.rpc.request(
        method,
        params as jayson.RequestParamsLike,
        (error: unknown, reply: RpcReply | undefined) => {
          clearTimeout(timer);
          if (error) reject(this.transportError(method, error));
          else if (reply?.error) reject(errorFromRpc(reply.error));
          else resolve(reply?.result);
        },
      );
    });
  }

  /** Closes the keep-alive sockets; the client cannot be used afterwards. */
  async close(): Promise<void> {
    this.agent.destroy();
  }

  private transportError(method: string, error: unknown): KVError {
    const { code, message } = error as { code?: unknown; message?: string };
    if (typeof code === 'number') {
      try {
        const body = JSON.parse(message ?? '') as RpcReply;
        if (body.error) return errorFromRpc(body.error);
      } catch {}
      return new ConnectionError(`${method} to ${this.address} failed with HTTP ${code}`, {
        cause: error,
        data: { status: code },
      });
    }
    const tlsReason = this.tls === undefined ? undefined : tlsFailure(error);
    if (tlsReason !== undefined) {
      return new ConnectionError(`cannot reach kvdb at ${this.address} over TLS: ${tlsReason}`, {
        cause: error,
      });
    }
    const reasons: Record<string, string> = {
      ECONNREFUSED: 'connection refused (is kvdb-server running there?)',
      // A node that requires client certificates resets a client whose certificate it does not trust.
      ECONNRESET:
        this.tls?.cert === undefined
          ? 'connection reset'
          : 'connection reset (a node started with --tls-client-auth resets clients whose certificate it does not trust)',
      ENOTFOUND: 'host not found',
      EHOSTUNREACH: 'host unreachable',
    };
    const reason = reasons[String(code)] ?? message ?? String(error);
    return new ConnectionError(`cannot reach kvdb at ${this.address}: ${reason}`, { cause: error });
  }
}

/** Drops undefined members, so optional params are left out of the request rather than sent as null. */
function compact<T extends object>(params: T): T {
  return Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined)) as T;
}
